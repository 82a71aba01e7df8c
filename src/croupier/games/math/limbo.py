"""Limbo: the RNG's float f = k / 2^32 becomes a result multiplier; the player wins target * stake if result ≥ target.

The stake-v1 mapping is x = 1e8 / (f * 1e8) * 0.99, result = floor(x * 100) / 100, at least 1.00. We evaluate
that formula in IEEE-754 doubles exactly as the verifiers do (`result_hundredths`). Every step (*, /, floor) is
monotone, so the result never increases with k, and the winning k for a target form a prefix 0 … K(target):
`winning_count` finds K by bisection over the 2^32 values — an exact count, no simulation. f = 0 (k = 0) would
divide by zero; it counts as an infinite result that beats every target.
"""

from fractions import Fraction

FLOATS = 2**32
MIN_TARGET = 101  # 1.01
MAX_TARGET = 100_000_000  # 1,000,000.00
INFINITE = -1  # result_hundredths(0): f = 0 beats every target


def check_target(target: int) -> None:
    if not MIN_TARGET <= target <= MAX_TARGET:
        raise ValueError(f"limbo target must be between {MIN_TARGET} and {MAX_TARGET} hundredths")


def result_hundredths(k: int) -> int:
    """The result multiplier in hundredths for the RNG float k / 2^32 (`INFINITE` for k = 0)."""
    if not 0 <= k < FLOATS:
        raise ValueError("k must be in 0 … 2^32 - 1")
    if k == 0:
        return INFINITE
    f = k / FLOATS  # exact: k < 2^53
    x = 1e8 / (f * 1e8) * 0.99
    return max(100, int(x * 100))  # int() floors positive floats


def beats(result: int, target: int) -> bool:
    return result == INFINITE or result >= target


def winning_count(target: int) -> int:
    """How many of the 2^32 floats give a result ≥ target (exact, by bisection on the monotone formula)."""
    check_target(target)
    lo, hi = 0, FLOATS - 1  # invariant: k = lo wins; find the largest winning k
    if beats(result_hundredths(hi), target):
        return FLOATS
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if beats(result_hundredths(mid), target):
            lo = mid
        else:
            hi = mid
    return lo + 1


def win_chance(target: int) -> Fraction:
    return Fraction(winning_count(target), FLOATS)


def multiplier(target: int) -> Fraction:
    """Payout multiplier (stake included) of a win: the target itself."""
    check_target(target)
    return Fraction(target, 100)


def settle(result: int, target: int) -> Fraction:
    return multiplier(target) if beats(result, target) else Fraction(0)


def rtp(target: int) -> Fraction:
    """Exact return to player of a target over the 2^32 RNG floats."""
    return multiplier(target) * win_chance(target)
