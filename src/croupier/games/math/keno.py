"""Keno: 40 squares, 10 drawn without replacement; the player picks 1 … 10 squares and is paid by hits.

P(h hits | n picks) = C(10, h) * C(30, n - h) / C(40, n) (hypergeometric). One pay table per pick count
(multiplier by hits, stake included); `rtp` is its exact expectation.
"""

from collections.abc import Iterable
from fractions import Fraction
from math import comb

SQUARES = 40
DRAWN = 10
MAX_PICKS = 10

# PAY_TABLES[n][h]: multiplier for h hits with n picks.
_PAY_TABLES: dict[int, tuple[str, ...]] = {
    1: ("0", "3.96"),
    2: ("0", "1.9", "4.5"),
    3: ("0", "1", "3.1", "10.4"),
    4: ("0", "0.8", "1.8", "5", "22.5"),
    5: ("0", "0.25", "1.4", "4.1", "16.5", "36"),
    6: ("0", "0", "1", "3.68", "7", "16.5", "40"),
    7: ("0", "0", "0.47", "3", "4.5", "14", "31", "60"),
    8: ("0", "0", "0", "2.2", "4", "13", "22", "55", "70"),
    9: ("0", "0", "0", "1.55", "3", "8", "15", "44", "60", "85"),
    10: ("0", "0", "0", "1.4", "2.25", "4.5", "8", "17", "50", "80", "100"),
}


def pay_table(picks: int) -> tuple[Fraction, ...]:
    if not 1 <= picks <= MAX_PICKS:
        raise ValueError(f"keno picks must be 1 … {MAX_PICKS}")
    return tuple(Fraction(m) for m in _PAY_TABLES[picks])


def hit_probability(picks: int, hits: int) -> Fraction:
    return Fraction(comb(DRAWN, hits) * comb(SQUARES - DRAWN, picks - hits), comb(SQUARES, picks))


def check_squares(squares: Iterable[int], count_range: tuple[int, int], what: str) -> frozenset[int]:
    chosen = list(squares)
    result = frozenset(chosen)
    lo, hi = count_range
    if len(result) != len(chosen) or not lo <= len(result) <= hi or not all(1 <= s <= SQUARES for s in result):
        raise ValueError(f"{what} must be {lo} … {hi} distinct squares of 1 … {SQUARES}")
    return result


def settle(picks: Iterable[int], drawn: Iterable[int]) -> Fraction:
    chosen = check_squares(picks, (1, MAX_PICKS), "picks")
    draw = check_squares(drawn, (DRAWN, DRAWN), "the draw")
    return pay_table(len(chosen))[len(chosen & draw)]


def rtp(picks: int) -> Fraction:
    """Exact return to player for `picks` squares (hypergeometric expectation)."""
    return sum((hit_probability(picks, h) * m for h, m in enumerate(pay_table(picks))), Fraction(0))
