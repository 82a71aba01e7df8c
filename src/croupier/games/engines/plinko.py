"""Plinko engine: a ball falls through 8 … 16 rows, left or right with probability 1/2 at each; slot = rights.

Params (player):   {"rows": int 8 … 16 (offered by the brand), "risk": "low" | "medium" | "high" (offered)}
Settings (brand):  {"rows": [int, ...] offered, default 8 … 16; "risks": [str, ...] offered, default all three}
                   (normalised in increasing order).
Actions:           none (settles at once).
Outcome:           {"rng": {"path": [0, 1, ...], "slot": 7},  # exactly `croupier fair verify --game plinko --rows N`
                    "rows": 16, "risk": "low",
                    "multiplier": "1.1",                     # the slot's pay-table multiplier (stake included)
                    "payout": int}
Pay tables and their exact binomial RTP per rows and risk are in math/plinko.py and in `describe`.
"""

from collections.abc import Mapping
from typing import Any

from croupier.games.engine import JSON, InvalidGameInput
from croupier.games.engines.inputs import choice, exact_text, integer, json_object, rate_text, subset
from croupier.games.engines.single_step import SingleStepEngine
from croupier.games.math import plinko
from croupier.games.math.payout import payout_amount
from croupier.games.rng.outcomes import outcome_json
from croupier.games.rng.versions import RngVersion

ROWS = list(range(plinko.MIN_ROWS, plinko.MAX_ROWS + 1))
RISKS = [risk.value for risk in plinko.Risk]


def _pay_table(rows: int, risk: str) -> list[str]:
    return [exact_text(m) for m in plinko.pay_table(rows, plinko.Risk(risk))]


class PlinkoEngine(SingleStepEngine):
    name = "plinko"

    def check_settings(self, settings: Mapping[str, Any]) -> JSON:
        raw = json_object(settings, "plinko settings", optional=("rows", "risks"))
        return {
            "rows": subset(raw.get("rows", ROWS), "rows", ROWS, int),
            "risks": subset(raw.get("risks", RISKS), "risks", RISKS, str),
        }

    def check_params(self, params: Mapping[str, Any], stake: int, settings: Mapping[str, Any]) -> JSON:
        offered = self.check_settings(settings)
        raw = json_object(params, "plinko params", required=("rows", "risk"))
        rows = integer(raw["rows"], "rows", plinko.MIN_ROWS, plinko.MAX_ROWS)
        if rows not in offered["rows"]:
            raise InvalidGameInput(f"rows must be one of {', '.join(map(str, offered['rows']))}")
        return {"rows": rows, "risk": choice(raw["risk"], "risk", offered["risks"])}

    def describe(self, settings: Mapping[str, Any]) -> JSON:
        offered = self.check_settings(settings)
        return {
            "game": self.name,
            "rows": offered["rows"],
            "risks": offered["risks"],
            "pay_tables": {
                str(rows): {
                    risk: [exact_text(m) for m in plinko.pay_table(rows, plinko.Risk(risk))]
                    for risk in offered["risks"]
                }
                for rows in offered["rows"]
            },
            "rtp": {
                str(rows): {risk: rate_text(plinko.rtp(rows, plinko.Risk(risk))) for risk in offered["risks"]}
                for rows in offered["rows"]
            },
        }

    def settle(self, rng: RngVersion[Any], seeds: Any, params: JSON, settings: JSON, stake: int) -> tuple[int, JSON]:
        rows, risk = params["rows"], plinko.Risk(params["risk"])
        drop = rng.plinko(seeds, rows)
        paid = plinko.settle(drop.path, risk)
        payout = payout_amount(stake, paid)
        return payout, {
            "rng": outcome_json("plinko", drop),
            "rows": rows,
            "risk": risk.value,
            "multiplier": exact_text(paid),
            "payout": payout,
        }


ENGINE = PlinkoEngine()
