"""Dice: a roll 0.00 … 100.00 (an integer of hundredths 0 … 10000, 10001 equally likely outcomes).

The player picks a target and a direction: "over" wins when roll > target, "under" wins when roll < target.
The multiplier is (1 - house edge) * 10001 / winning outcomes, rounded down to ten-thousandths; the exact RTP
of every target is therefore at most 1 - house edge.
"""

from enum import StrEnum
from fractions import Fraction

OUTCOMES = 10001  # rolls 0 … 10000 hundredths
MIN_TARGET = 200  # 2.00
MAX_TARGET = 9800  # 98.00
DEFAULT_HOUSE_EDGE = Fraction(1, 100)
MULTIPLIER_SCALE = 10_000  # multipliers are quoted in ten-thousandths


class Direction(StrEnum):
    OVER = "over"
    UNDER = "under"


def check_target(target: int) -> None:
    if not MIN_TARGET <= target <= MAX_TARGET:
        raise ValueError(f"dice target must be between {MIN_TARGET} and {MAX_TARGET} hundredths")


def winning_outcomes(target: int, direction: Direction) -> int:
    """How many of the 10001 rolls win."""
    check_target(target)
    return OUTCOMES - 1 - target if direction is Direction.OVER else target


def win_chance(target: int, direction: Direction) -> Fraction:
    return Fraction(winning_outcomes(target, direction), OUTCOMES)


def multiplier(target: int, direction: Direction, house_edge: Fraction = DEFAULT_HOUSE_EDGE) -> Fraction:
    """Payout multiplier (stake included) of a winning roll, rounded down to ten-thousandths."""
    exact = (1 - house_edge) / win_chance(target, direction)
    return Fraction(exact.numerator * MULTIPLIER_SCALE // exact.denominator, MULTIPLIER_SCALE)


def wins(roll: int, target: int, direction: Direction) -> bool:
    if not 0 <= roll < OUTCOMES:
        raise ValueError("dice roll must be 0 … 10000 hundredths")
    return roll > target if direction is Direction.OVER else roll < target


def settle(roll: int, target: int, direction: Direction, house_edge: Fraction = DEFAULT_HOUSE_EDGE) -> Fraction:
    """Multiplier paid for `roll` (0 on a loss)."""
    return multiplier(target, direction, house_edge) if wins(roll, target, direction) else Fraction(0)


def rtp(target: int, direction: Direction, house_edge: Fraction = DEFAULT_HOUSE_EDGE) -> Fraction:
    """Exact return to player over the 10001 equally likely rolls."""
    return multiplier(target, direction, house_edge) * win_chance(target, direction)
