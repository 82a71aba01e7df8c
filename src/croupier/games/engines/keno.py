"""Keno engine: 10 of the squares 1 … 40 are drawn; the player's picks are paid by how many were drawn (hits).

Params (player):   {"picks": [int, ...]}  1 … 10 distinct squares of 1 … 40 (normalised: sorted increasing).
Settings (brand):  {} (the pay tables are fixed; see `describe`).
Actions:           none (settles at once).
Outcome:           {"rng": {"draw": [14, 15, ...]},   # exactly `croupier fair verify --game keno`'s "outcome"
                                                     # (the 10 squares in the order drawn)
                    "picks": [3, 14, 22],            # normalised picks
                    "hits": [3, 14],                 # picks that were drawn, increasing
                    "multiplier": "3.1",             # pay table[len(picks)][len(hits)], stake included
                    "payout": int}
"""

from collections.abc import Mapping
from typing import Any

from croupier.games.engine import JSON, InvalidGameInput
from croupier.games.engines.inputs import exact_text, integer, json_object, rate_text
from croupier.games.engines.single_step import SingleStepEngine
from croupier.games.math import keno
from croupier.games.math.payout import payout_amount
from croupier.games.rng.outcomes import outcome_json
from croupier.games.rng.versions import RngVersion


class KenoEngine(SingleStepEngine):
    name = "keno"

    def check_settings(self, settings: Mapping[str, Any]) -> JSON:
        json_object(settings, "keno settings")
        return {}

    def check_params(self, params: Mapping[str, Any], stake: int, settings: Mapping[str, Any]) -> JSON:
        raw = json_object(params, "keno params", required=("picks",))
        picks = raw["picks"]
        if not isinstance(picks, list) or not 1 <= len(picks) <= keno.MAX_PICKS:
            raise InvalidGameInput(f"picks must be a list of 1 … {keno.MAX_PICKS} squares")
        squares = [integer(p, "picks[]", 1, keno.SQUARES) for p in picks]
        if len(set(squares)) != len(squares):
            raise InvalidGameInput("picks must not repeat a square")
        return {"picks": sorted(squares)}

    def describe(self, settings: Mapping[str, Any]) -> JSON:
        self.check_settings(settings)
        counts = range(1, keno.MAX_PICKS + 1)
        return {
            "game": self.name,
            "squares": keno.SQUARES,
            "drawn": keno.DRAWN,
            "picks": {"min": 1, "max": keno.MAX_PICKS},
            "pay_tables": {str(n): [exact_text(m) for m in keno.pay_table(n)] for n in counts},
            "rtp": {str(n): rate_text(keno.rtp(n)) for n in counts},
        }

    def settle(self, rng: RngVersion[Any], seeds: Any, params: JSON, settings: JSON, stake: int) -> tuple[int, JSON]:
        picks = params["picks"]
        draw = rng.keno(seeds)
        paid = keno.settle(picks, draw)
        payout = payout_amount(stake, paid)
        return payout, {
            "rng": outcome_json("keno", draw),
            "picks": picks,
            "hits": sorted(set(picks) & set(draw)),
            "multiplier": exact_text(paid),
            "payout": payout,
        }


ENGINE = KenoEngine()
