"""Mines: 25 tiles (0 … 24, row-major 5 * 5), 1 … 24 mines; reveal tiles one at a time, cash out any time.

After k safe reveals the multiplier is (1 - edge) * C(25, k) / C(25 - m, k): the inverse of the probability of
surviving k reveals, times (1 - edge). Any strategy "reveal k tiles, then cash out" returns exactly 1 - edge,
because P(k safe reveals) = C(25 - m, k) / C(25, k). Multi-step play is a pure state machine: `start`,
`reveal`, `cash_out`; the mine positions come from the RNG (first m picks of a draw without replacement).
"""

from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction
from math import comb

TILES = 25
MIN_MINES = 1
MAX_MINES = 24
DEFAULT_HOUSE_EDGE = Fraction(1, 100)


class MinesStatus(StrEnum):
    ACTIVE = "active"
    LOST = "lost"
    CASHED_OUT = "cashed_out"


class MinesError(ValueError):
    pass


def check_mines(mines: int) -> None:
    if not MIN_MINES <= mines <= MAX_MINES:
        raise MinesError(f"mines must be {MIN_MINES} … {MAX_MINES}")


def multiplier(mines: int, safe_reveals: int, house_edge: Fraction = DEFAULT_HOUSE_EDGE) -> Fraction:
    """Cash-out multiplier (stake included) after `safe_reveals` safe tiles."""
    check_mines(mines)
    if not 0 <= safe_reveals <= TILES - mines:
        raise MinesError(f"with {mines} mines at most {TILES - mines} safe tiles can be revealed")
    if safe_reveals == 0:
        return Fraction(1)  # cashing out before any reveal refunds the stake
    return (1 - house_edge) * Fraction(comb(TILES, safe_reveals), comb(TILES - mines, safe_reveals))


def survival_probability(mines: int, safe_reveals: int) -> Fraction:
    return Fraction(comb(TILES - mines, safe_reveals), comb(TILES, safe_reveals))


def rtp(mines: int, safe_reveals: int, house_edge: Fraction = DEFAULT_HOUSE_EDGE) -> Fraction:
    """Exact return of the strategy "reveal `safe_reveals` tiles, then cash out" (1 - edge for k ≥ 1)."""
    return survival_probability(mines, safe_reveals) * multiplier(mines, safe_reveals, house_edge)


@dataclass(frozen=True)
class MinesRound:
    mine_positions: frozenset[int]
    revealed: tuple[int, ...] = ()
    status: MinesStatus = MinesStatus.ACTIVE
    house_edge: Fraction = DEFAULT_HOUSE_EDGE

    @property
    def mines(self) -> int:
        return len(self.mine_positions)

    @property
    def current_multiplier(self) -> Fraction:
        """What cashing out now would pay (0 once lost)."""
        if self.status is MinesStatus.LOST:
            return Fraction(0)
        return multiplier(self.mines, len(self.revealed), self.house_edge)

    @property
    def payout_multiplier(self) -> Fraction:
        """The settled multiplier: 0 if lost, the cash-out multiplier if cashed out."""
        if self.status is MinesStatus.ACTIVE:
            raise MinesError("the round is still active")
        return self.current_multiplier


def start(mine_positions: frozenset[int] | set[int], house_edge: Fraction = DEFAULT_HOUSE_EDGE) -> MinesRound:
    positions = frozenset(mine_positions)
    check_mines(len(positions))
    if not all(0 <= t < TILES for t in positions):
        raise MinesError("mine positions must be tiles 0 … 24")
    return MinesRound(positions, house_edge=house_edge)


def reveal(state: MinesRound, tile: int) -> MinesRound:
    """Reveal a tile: a mine ends the round lost; the last safe tile cashes out automatically."""
    if state.status is not MinesStatus.ACTIVE:
        raise MinesError("the round is over")
    if not 0 <= tile < TILES or tile in state.revealed:
        raise MinesError(f"tile {tile} cannot be revealed")
    revealed = (*state.revealed, tile)
    if tile in state.mine_positions:
        return replace(state, revealed=revealed, status=MinesStatus.LOST)
    done = len(revealed) == TILES - state.mines
    return replace(state, revealed=revealed, status=MinesStatus.CASHED_OUT if done else MinesStatus.ACTIVE)


def cash_out(state: MinesRound) -> MinesRound:
    if state.status is not MinesStatus.ACTIVE:
        raise MinesError("the round is over")
    return replace(state, status=MinesStatus.CASHED_OUT)
