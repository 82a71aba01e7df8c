"""Limbo engine: the RNG draws a result multiplier ≥ 1.00; the player wins target * stake if result ≥ target.

Params (player):   {"target": int hundredths 101 … max_target}   (101 = 1.01x)
Settings (brand):  {"max_target": int hundredths 101 … 100000000, default 100000000 (1,000,000.00x)}
Actions:           none (settles at once).
Outcome:           {"rng": {"multiplier": "2.96"},     # the drawn result, exactly `croupier fair verify --game limbo`'s
                                                     # "outcome" ("Infinity" for the float 0, which beats any target)
                    "target": 200, "win": bool,
                    "multiplier": "0" | "2",         # what this round paid per unit staked (the target on a win)
                    "payout": int}
RTP: 0.99 nominal; exactly (winning floats of 2^32) * target / 2^32 per target (math/limbo.py), listed in
`describe` for a few targets.
"""

from collections.abc import Mapping
from functools import cache
from typing import Any

from croupier.games.engine import JSON, InvalidGameInput
from croupier.games.engines.inputs import exact_text, integer, json_object, rate_text
from croupier.games.engines.single_step import SingleStepEngine
from croupier.games.math import limbo
from croupier.games.math.payout import payout_amount
from croupier.games.rng.outcomes import outcome_json
from croupier.games.rng.versions import RngVersion

RTP_EXAMPLES = (101, 150, 200, 500, 1000, 10_000, 100_000, 1_000_000)


@cache
def _rtp(target: int) -> str:
    return rate_text(limbo.rtp(target))


class LimboEngine(SingleStepEngine):
    name = "limbo"

    def check_settings(self, settings: Mapping[str, Any]) -> JSON:
        raw = json_object(settings, "limbo settings", optional=("max_target",))
        high = integer(raw.get("max_target", limbo.MAX_TARGET), "max_target", limbo.MIN_TARGET, limbo.MAX_TARGET)
        return {"max_target": high}

    def check_params(self, params: Mapping[str, Any], stake: int, settings: Mapping[str, Any]) -> JSON:
        high = self.check_settings(settings)["max_target"]
        raw = json_object(params, "limbo params", required=("target",))
        return {"target": integer(raw["target"], "target (hundredths)", limbo.MIN_TARGET, high)}

    def describe(self, settings: Mapping[str, Any]) -> JSON:
        high = self.check_settings(settings)["max_target"]
        return {
            "game": self.name,
            "target": {"min": limbo.MIN_TARGET, "max": high, "unit": "hundredths"},
            "house_edge": "0.01",
            "rtp": {f"{t / 100:.2f}": _rtp(t) for t in RTP_EXAMPLES if t <= high},
        }

    def settle(self, rng: RngVersion[Any], seeds: Any, params: JSON, settings: JSON, stake: int) -> tuple[int, JSON]:
        target = params["target"]
        drawn = rng.limbo(seeds)
        if drawn.is_infinite():
            result = limbo.INFINITE
        else:
            result = int(drawn.scaleb(2))
            if result != drawn.scaleb(2):  # pragma: no cover - every version draws whole hundredths
                raise InvalidGameInput(f"the RNG drew {drawn}, not whole hundredths")
        paid = limbo.settle(result, target)
        payout = payout_amount(stake, paid)
        return payout, {
            "rng": outcome_json("limbo", drawn),
            "target": target,
            "win": paid > 0,
            "multiplier": exact_text(paid),
            "payout": payout,
        }


ENGINE = LimboEngine()
