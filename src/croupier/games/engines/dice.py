"""Dice engine: one roll 0.00 … 100.00 (10001 equally likely hundredths); win over or under a target.

Params (player):   {"target": int hundredths 200 … 9800, "direction": "over" | "under"}
                   "over" wins when roll > target, "under" when roll < target.
Settings (brand):  {"house_edge": decimal string 0 … 0.1, default "0.01"}
Actions:           none (settles at once).
Outcome:           {"rng": {"roll": "33.39"},          # exactly `croupier fair verify --game dice`'s "outcome"
                    "target": 5000, "direction": "over",
                    "win": bool,
                    "win_multiplier": "1.98",         # what a win pays per unit staked (stake included)
                    "multiplier": "0" | "1.98",      # what this round paid per unit staked
                    "payout": int}                   # minor units, stake included, rounded down
The win multiplier is (1 - house edge) * 10001 / winning rolls, rounded down to ten-thousandths (math/dice.py);
multipliers are exact text (a plain decimal when it terminates, else "p/q").
"""

from collections.abc import Mapping
from fractions import Fraction
from functools import cache
from typing import Any

from croupier.games.engine import JSON, InvalidGameInput
from croupier.games.engines.inputs import choice, exact_text, fraction, integer, json_object, rate_text
from croupier.games.engines.single_step import SingleStepEngine
from croupier.games.math import dice
from croupier.games.math.payout import payout_amount
from croupier.games.rng.outcomes import outcome_json
from croupier.games.rng.versions import RngVersion

MAX_HOUSE_EDGE = Fraction(1, 10)


@cache
def _rtp_range(house_edge: Fraction) -> tuple[Fraction, Fraction]:
    rtps = [
        dice.rtp(target, direction, house_edge)
        for direction in dice.Direction
        for target in range(dice.MIN_TARGET, dice.MAX_TARGET + 1)
    ]
    return min(rtps), max(rtps)


class DiceEngine(SingleStepEngine):
    name = "dice"

    def check_settings(self, settings: Mapping[str, Any]) -> JSON:
        raw = json_object(settings, "dice settings", optional=("house_edge",))
        edge = fraction(raw.get("house_edge", "0.01"), "house_edge", Fraction(0), MAX_HOUSE_EDGE)
        return {"house_edge": exact_text(edge)}

    def check_params(self, params: Mapping[str, Any], stake: int, settings: Mapping[str, Any]) -> JSON:
        raw = json_object(params, "dice params", required=("target", "direction"))
        target = integer(raw["target"], "target (hundredths)", dice.MIN_TARGET, dice.MAX_TARGET)
        direction = choice(raw["direction"], "direction", [d.value for d in dice.Direction])
        return {"target": target, "direction": direction}

    def describe(self, settings: Mapping[str, Any]) -> JSON:
        edge = Fraction(self.check_settings(settings)["house_edge"])
        low, high = _rtp_range(edge)
        return {
            "game": self.name,
            "roll": {"min": 0, "max": dice.OUTCOMES - 1, "unit": "hundredths"},
            "target": {"min": dice.MIN_TARGET, "max": dice.MAX_TARGET, "unit": "hundredths"},
            "directions": [d.value for d in dice.Direction],
            "house_edge": exact_text(edge),
            "win_multiplier": "(1 - house_edge) * 10001 / winning rolls, rounded down to 0.0001",
            "rtp": {"min": rate_text(low), "max": rate_text(high)},
        }

    def settle(self, rng: RngVersion[Any], seeds: Any, params: JSON, settings: JSON, stake: int) -> tuple[int, JSON]:
        edge = Fraction(settings["house_edge"])
        direction = dice.Direction(params["direction"])
        target = params["target"]
        drawn = rng.dice(seeds)
        roll = int(drawn.scaleb(2))
        if roll != drawn.scaleb(2):  # pragma: no cover - every version rolls whole hundredths
            raise InvalidGameInput(f"the RNG rolled {drawn}, not whole hundredths")
        paid = dice.settle(roll, target, direction, edge)
        payout = payout_amount(stake, paid)
        return payout, {
            "rng": outcome_json("dice", drawn),
            "target": target,
            "direction": direction.value,
            "win": paid > 0,
            "win_multiplier": exact_text(dice.multiplier(target, direction, edge)),
            "multiplier": exact_text(paid),
            "payout": payout,
        }


ENGINE = DiceEngine()
