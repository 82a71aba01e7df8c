"""Roulette engine: European single-zero wheel (pockets 0 … 36), any mix of inside and outside bets in one spin.

Params (player):   {"bets": [{"kind": str, "numbers": [int, ...], "amount": int}, ...]}
                   1 … 100 bets; amounts are positive minor units summing to the round's stake. Kinds: straight,
                   split, street, trio, corner, first_four, six_line, dozen, column, red, black, odd, even, low,
                   high. "numbers" names the covered numbers (any order) and is required where the kind has more
                   than one layout (straight … six_line, dozen, column); for first_four and the even-money bets it
                   may be left out. Normalised: every bet lists its numbers sorted; bets keep the player's order.
Settings (brand):  {} (no options: the wheel and the pay table are the standard European ones).
Actions:           none (settles at once).
Outcome:           {"rng": {"pocket": 12, "color": "red"},  # `croupier fair verify --game roulette`'s "outcome"
                    "bets": [{"kind", "numbers", "amount", "win": bool,
                              "multiplier": "36" | "0",     # paid per unit of this bet (36 / numbers covered)
                              "payout": int}, ...],
                    "multiplier": exact text,              # round payout / stake
                    "payout": int}                          # sum of the bets' payouts
Every bet returns 36 / n times its amount on a win (n numbers covered): RTP 36/37 for every bet.
"""

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from croupier.games.engine import JSON, InvalidGameInput
from croupier.games.engines.inputs import choice, exact_text, integer, json_object, rate_text
from croupier.games.engines.single_step import SingleStepEngine
from croupier.games.math import roulette
from croupier.games.math.payout import payout_amount
from croupier.games.rng.outcomes import outcome_json
from croupier.games.rng.versions import RngVersion

MAX_BETS = 100


def _pays(kind: roulette.BetKind) -> str:
    covered = len(roulette.layouts(kind)[0])
    return f"{36 // covered - 1}:1"


def _bet(raw_bet: Any, index: int, stake: int) -> JSON:
    where = f"bets[{index}]"
    raw = json_object(raw_bet, where, required=("kind", "amount"), optional=("numbers",))
    kind = roulette.BetKind(choice(raw["kind"], f"{where}.kind", [k.value for k in roulette.BetKind]))
    amount = integer(raw["amount"], f"{where}.amount", 1, stake)
    numbers: set[int] | None = None
    if "numbers" in raw:
        listed = raw["numbers"]
        if not isinstance(listed, list):
            raise InvalidGameInput(f"{where}.numbers must be a list of pocket numbers")
        numbers = {integer(n, f"{where}.numbers[]", 0, roulette.POCKETS - 1) for n in listed}
        if len(numbers) != len(listed):
            raise InvalidGameInput(f"{where}.numbers must not repeat a number")
    try:
        placed = roulette.bet(kind, numbers)
    except roulette.InvalidBet as error:
        raise InvalidGameInput(f"{where}: {error}") from None
    return {"kind": kind.value, "numbers": sorted(placed.numbers), "amount": amount}


class RouletteEngine(SingleStepEngine):
    name = "roulette"

    def check_settings(self, settings: Mapping[str, Any]) -> JSON:
        json_object(settings, "roulette settings")
        return {}

    def check_params(self, params: Mapping[str, Any], stake: int, settings: Mapping[str, Any]) -> JSON:
        raw = json_object(params, "roulette params", required=("bets",))
        bets = raw["bets"]
        if not isinstance(bets, list) or not 1 <= len(bets) <= MAX_BETS:
            raise InvalidGameInput(f"bets must be a list of 1 … {MAX_BETS} bets")
        normalised = [_bet(b, i, stake) for i, b in enumerate(bets)]
        total = sum(b["amount"] for b in normalised)
        if total != stake:
            raise InvalidGameInput(f"the bets' amounts sum to {total}, not to the stake {stake}")
        return {"bets": normalised}

    def describe(self, settings: Mapping[str, Any]) -> JSON:
        self.check_settings(settings)
        return {
            "game": self.name,
            "wheel": "european",
            "pockets": roulette.POCKETS,
            "max_bets": MAX_BETS,
            "bets": [
                {
                    "kind": kind.value,
                    "covers": len(roulette.layouts(kind)[0]),
                    "pays": _pays(kind),
                    "multiplier": exact_text(Fraction(36, len(roulette.layouts(kind)[0]))),
                    "numbers_required": len(roulette.layouts(kind)) > 1,
                }
                for kind in roulette.BetKind
            ],
            "rtp": rate_text(Fraction(36, 37)),
        }

    def settle(self, rng: RngVersion[Any], seeds: Any, params: JSON, settings: JSON, stake: int) -> tuple[int, JSON]:
        pocket = rng.roulette(seeds)
        results = []
        for placed in params["bets"]:
            bet = roulette.bet(roulette.BetKind(placed["kind"]), set(placed["numbers"]))
            paid = roulette.settle(pocket, bet)
            amount = payout_amount(placed["amount"], paid)
            results.append({**placed, "win": paid > 0, "multiplier": exact_text(paid), "payout": amount})
        payout = sum(r["payout"] for r in results)
        return payout, {
            "rng": outcome_json("roulette", pocket),
            "bets": results,
            "multiplier": exact_text(Fraction(payout, stake)),
            "payout": payout,
        }


ENGINE = RouletteEngine()
