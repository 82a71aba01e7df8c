"""Mines engine: 25 tiles (0 … 24, row-major 5 x 5) hide 1 … 24 mines; reveal tiles one by one, cash out any time.

Params (player):   {"mines": int 1 … 24}
Settings (brand):  {"house_edge": decimal string 0 … 0.1, default "0.01"}
Actions:           {"action": "reveal", "tile": int 0 … 24}  a tile not revealed yet; a mine loses the round,
                                                            the last safe tile cashes out by itself
                   {"action": "cashout"}                     before any reveal it refunds the stake (multiplier 1)
                   An abandoned round is cashed out (`finish`).
View (active):     {"status": "active", "tiles": 25, "mines": 3,
                    "revealed": [{"tile": 7, "safe": true}, ...],   # in the order revealed; never a hidden mine
                    "safe_reveals": 1,
                    "multiplier": exact text,      # what cashing out now pays per unit staked
                    "cashout_payout": int,         # minor units cashing out now would pay
                    "next_multiplier": exact text} # after one more safe reveal
View (settled):    the outcome plus "tiles".
Outcome:           {"rng": {"mines": [8, 9, 18], "grid": [...]},   # exactly `croupier fair verify --game mines
                                                                 # --mines N`'s "outcome" (the mine positions)
                    "mines": 3, "status": "lost" | "cashed_out",
                    "revealed": [{"tile": 7, "safe": true}, ...], "safe_reveals": int,
                    "multiplier": exact text,      # paid per unit staked: 0 when lost
                    "payout": int}
After k safe reveals the multiplier is (1 - edge) · C(25, k) / C(25 - m, k) (1 for k = 0): every "reveal k, then
cash out" strategy returns exactly 1 - edge (math/mines.py).
"""

import copy
from collections.abc import Mapping, Sequence
from fractions import Fraction
from functools import cache
from typing import Any

from croupier.games.engine import JSON, InvalidGameInput, Progress
from croupier.games.engines.inputs import exact_text, fraction, integer, json_object, rate_text, stake_amount
from croupier.games.math import mines
from croupier.games.math.payout import payout_amount
from croupier.games.rng.outcomes import outcome_json
from croupier.games.rng.versions import RngVersion

MAX_HOUSE_EDGE = Fraction(1, 10)
REVEAL = "reveal"
CASHOUT = "cashout"


@cache
def _multiplier_table(house_edge: Fraction) -> dict[str, list[str]]:
    return {
        str(m): [exact_text(mines.multiplier(m, k, house_edge)) for k in range(mines.TILES - m + 1)]
        for m in range(mines.MIN_MINES, mines.MAX_MINES + 1)
    }


def _apply(state: mines.MinesRound, action: Any, index: int) -> mines.MinesRound:
    where = f"actions[{index}]"
    raw = json_object(action, where, required=("action",), optional=("tile",))
    name = raw["action"]
    try:
        if name == REVEAL:
            if "tile" not in raw:
                raise InvalidGameInput(f"{where}: reveal needs a tile")
            return mines.reveal(state, integer(raw["tile"], f"{where}.tile", 0, mines.TILES - 1))
        if name == CASHOUT:
            if "tile" in raw:
                raise InvalidGameInput(f"{where}: cashout takes no tile")
            return mines.cash_out(state)
    except mines.MinesError as error:
        raise InvalidGameInput(f"{where}: {error}") from None
    raise InvalidGameInput(f"{where}: action must be {REVEAL} or {CASHOUT}")


class MinesEngine:
    name = "mines"
    multi_step = True

    def check_settings(self, settings: Mapping[str, Any]) -> JSON:
        raw = json_object(settings, "mines settings", optional=("house_edge",))
        edge = fraction(raw.get("house_edge", "0.01"), "house_edge", Fraction(0), MAX_HOUSE_EDGE)
        return {"house_edge": exact_text(edge)}

    def check_params(self, params: Mapping[str, Any], stake: int, settings: Mapping[str, Any]) -> JSON:
        raw = json_object(params, "mines params", required=("mines",))
        return {"mines": integer(raw["mines"], "mines", mines.MIN_MINES, mines.MAX_MINES)}

    def describe(self, settings: Mapping[str, Any]) -> JSON:
        edge = Fraction(self.check_settings(settings)["house_edge"])
        return {
            "game": self.name,
            "tiles": mines.TILES,
            "mines": {"min": mines.MIN_MINES, "max": mines.MAX_MINES},
            "house_edge": exact_text(edge),
            "multipliers": _multiplier_table(edge),  # [mines][safe reveals]
            "rtp": rate_text(1 - edge),
        }

    def _replay(
        self,
        rng: RngVersion[Any],
        seeds: Any,
        params: Mapping[str, Any],
        settings: Mapping[str, Any],
        stake: int,
        actions: Sequence[Mapping[str, Any]],
    ) -> tuple[mines.MinesRound, tuple[int, ...]]:
        stake_amount(stake)
        edge = Fraction(self.check_settings(settings)["house_edge"])
        count = self.check_params(params, stake, settings)["mines"]
        positions = rng.mines(seeds, count)
        state = mines.start(set(positions), edge)
        for index, action in enumerate(actions):
            state = _apply(state, action, index)
        return state, positions

    def play(
        self,
        rng: RngVersion[Any],
        seeds: Any,
        params: Mapping[str, Any],
        settings: Mapping[str, Any],
        stake: int,
        actions: Sequence[Mapping[str, Any]],
    ) -> Progress:
        state, positions = self._replay(rng, seeds, params, settings, stake, actions)
        return _progress(state, positions, stake, rng)

    def finish(
        self,
        rng: RngVersion[Any],
        seeds: Any,
        params: Mapping[str, Any],
        settings: Mapping[str, Any],
        stake: int,
        actions: Sequence[Mapping[str, Any]],
    ) -> tuple[tuple[JSON, ...], Progress]:
        state, positions = self._replay(rng, seeds, params, settings, stake, actions)
        auto: tuple[JSON, ...] = ()
        if state.status is mines.MinesStatus.ACTIVE:
            auto = ({"action": CASHOUT},)
            state = mines.cash_out(state)
        return auto, _progress(state, positions, stake, rng)


def _progress(state: mines.MinesRound, positions: tuple[int, ...], stake: int, rng: RngVersion[Any]) -> Progress:
    revealed = [{"tile": tile, "safe": tile not in state.mine_positions} for tile in state.revealed]
    safe = sum(1 for tile in revealed if tile["safe"])
    detail = {"rng_version": rng.name}
    if state.status is mines.MinesStatus.ACTIVE:
        current = state.current_multiplier
        view = {
            "status": state.status.value,
            "tiles": mines.TILES,
            "mines": state.mines,
            "revealed": revealed,
            "safe_reveals": safe,
            "multiplier": exact_text(current),
            "cashout_payout": payout_amount(stake, current),
            "next_multiplier": exact_text(mines.multiplier(state.mines, safe + 1, state.house_edge)),
        }
        return Progress(
            staked=stake, settled=False, payout=None, view=view, allowed_actions=(REVEAL, CASHOUT), detail=detail
        )
    paid = state.payout_multiplier
    payout = payout_amount(stake, paid)
    outcome = {
        "rng": outcome_json("mines", positions),
        "mines": state.mines,
        "status": state.status.value,
        "revealed": revealed,
        "safe_reveals": safe,
        "multiplier": exact_text(paid),
        "payout": payout,
    }
    view = {"tiles": mines.TILES, **copy.deepcopy(outcome)}
    return Progress(staked=stake, settled=True, payout=payout, view=view, outcome=outcome, detail=detail)


ENGINE = MinesEngine()
