"""Money meets multipliers in exactly one place."""

from fractions import Fraction


def payout_amount(stake: int, multiplier: Fraction | int) -> int:
    """Amount paid back for `stake` minor units at `multiplier` (stake included), rounded down to the minor unit.

    Rounding down is the documented rule: the player never receives a fraction of a minor unit, and the
    casino never pays more than the exact multiplier says. Integer arithmetic only.
    """
    if stake < 0:
        raise ValueError("stake must not be negative")
    m = Fraction(multiplier)
    if m < 0:
        raise ValueError("multiplier must not be negative")
    return (stake * m.numerator) // m.denominator
