"""European (single-zero) roulette: pockets 0 … 36, every standard inside and outside bet.

A bet covering n numbers pays (36 / n - 1) to 1, i.e. returns 36 / n * stake including the stake; every bet's
exact RTP is n/37 * 36/n = 36/37 (house edge 1/37 ≈ 2.7027 %).
"""

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from functools import cache

POCKETS = 37
RED = frozenset({1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36})
BLACK = frozenset(range(1, 37)) - RED


class BetKind(StrEnum):
    STRAIGHT = "straight"  # 1 number, 35:1
    SPLIT = "split"  # 2 adjacent numbers (incl. 0-1, 0-2, 0-3), 17:1
    STREET = "street"  # a row of 3, 11:1
    TRIO = "trio"  # 0-1-2 or 0-2-3, 11:1
    CORNER = "corner"  # 4 numbers meeting at a corner, 8:1
    FIRST_FOUR = "first_four"  # 0-1-2-3, 8:1
    SIX_LINE = "six_line"  # two adjacent rows, 5:1
    DOZEN = "dozen"  # 1-12, 13-24, 25-36, 2:1
    COLUMN = "column"  # 1,4,…,34 / 2,5,…,35 / 3,6,…,36, 2:1
    RED = "red"  # 1:1 from here on
    BLACK = "black"
    ODD = "odd"
    EVEN = "even"
    LOW = "low"  # 1-18
    HIGH = "high"  # 19-36


def _row(r: int) -> frozenset[int]:
    return frozenset(range(3 * r + 1, 3 * r + 4))


@cache
def layouts(kind: BetKind) -> tuple[frozenset[int], ...]:
    """Every valid set of numbers for a bet kind on the European layout (3 columns * 12 rows)."""
    numbers = range(1, 37)
    match kind:
        case BetKind.STRAIGHT:
            return tuple(frozenset({n}) for n in range(POCKETS))
        case BetKind.SPLIT:
            across = [frozenset({n, n + 1}) for n in numbers if n % 3 != 0]
            down = [frozenset({n, n + 3}) for n in range(1, 34)]
            zero = [frozenset({0, n}) for n in (1, 2, 3)]
            return (*zero, *across, *down)
        case BetKind.STREET:
            return tuple(_row(r) for r in range(12))
        case BetKind.TRIO:
            return (frozenset({0, 1, 2}), frozenset({0, 2, 3}))
        case BetKind.CORNER:
            return tuple(frozenset({n, n + 1, n + 3, n + 4}) for n in range(1, 33) if n % 3 != 0)
        case BetKind.FIRST_FOUR:
            return (frozenset({0, 1, 2, 3}),)
        case BetKind.SIX_LINE:
            return tuple(_row(r) | _row(r + 1) for r in range(11))
        case BetKind.DOZEN:
            return tuple(frozenset(range(12 * d + 1, 12 * d + 13)) for d in range(3))
        case BetKind.COLUMN:
            return tuple(frozenset(range(c, 37, 3)) for c in (1, 2, 3))
        case BetKind.RED:
            return (RED,)
        case BetKind.BLACK:
            return (BLACK,)
        case BetKind.ODD:
            return (frozenset(range(1, 37, 2)),)
        case BetKind.EVEN:
            return (frozenset(range(2, 37, 2)),)
        case BetKind.LOW:
            return (frozenset(range(1, 19)),)
        case BetKind.HIGH:
            return (frozenset(range(19, 37)),)
    raise ValueError(f"unknown bet kind {kind}")  # pragma: no cover


class InvalidBet(ValueError):
    pass


@dataclass(frozen=True)
class RouletteBet:
    """A bet on a set of numbers; construct with `bet()`, which validates the layout."""

    kind: BetKind
    numbers: frozenset[int]

    @property
    def multiplier(self) -> Fraction:
        """Return on a win, stake included: 36 / n."""
        return Fraction(36, len(self.numbers))


def bet(kind: BetKind, numbers: frozenset[int] | set[int] | None = None) -> RouletteBet:
    """A validated bet. Outside bets (and first four) need no numbers; inside bets name theirs."""
    options = layouts(kind)
    if numbers is None:
        if len(options) != 1:
            raise InvalidBet(f"a {kind} bet must name its numbers")
        return RouletteBet(kind, options[0])
    chosen = frozenset(numbers)
    if chosen not in options:
        raise InvalidBet(f"{sorted(chosen)} is not a valid {kind} bet")
    return RouletteBet(kind, chosen)


def settle(pocket: int, placed: RouletteBet) -> Fraction:
    """Multiplier paid for `pocket` (0 on a loss)."""
    if not 0 <= pocket < POCKETS:
        raise ValueError("pocket must be 0 … 36")
    return placed.multiplier if pocket in placed.numbers else Fraction(0)


def rtp(placed: RouletteBet) -> Fraction:
    """Exact return to player over the 37 pockets."""
    return sum((settle(p, placed) for p in range(POCKETS)), Fraction(0)) / POCKETS
