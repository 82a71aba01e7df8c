import itertools
import random
from fractions import Fraction

import pytest

from croupier.games.math import limbo
from croupier.games.math.confidence import ReturnSample


def test_limbo_result_when_float_is_half_is_198() -> None:
    assert limbo.result_hundredths(2**31) == 198


def test_limbo_result_when_float_is_zero_beats_every_target() -> None:
    assert limbo.beats(limbo.result_hundredths(0), limbo.MAX_TARGET)


def test_limbo_result_when_float_near_one_is_at_least_one() -> None:
    assert limbo.result_hundredths(2**32 - 1) == 100


def test_limbo_result_when_k_grows_never_increases() -> None:
    rng = random.Random(7)
    ks = sorted(rng.randrange(1, 2**32) for _ in range(20_000))
    results = [limbo.result_hundredths(k) for k in ks]
    assert all(a >= b for a, b in itertools.pairwise(results))


@pytest.mark.parametrize("target", [101, 150, 200, 1000, 12345, 10**6, limbo.MAX_TARGET])
def test_limbo_winning_count_when_bisected_is_the_boundary_of_the_float_formula(target: int) -> None:
    count = limbo.winning_count(target)
    assert limbo.beats(limbo.result_hundredths(count - 1), target)
    assert not limbo.beats(limbo.result_hundredths(count), target)


def test_limbo_winning_count_when_compared_with_exact_arithmetic_differs_only_at_ties() -> None:
    # exact rationals would give floor(99 * 2^32 / T) + 1 (k = 0 included); the doubles lose exactly one k when
    # 99 * 2^32 / T is an integer (e.g. T = 1.32: x * 100 comes out as 131.999…)
    for target in [*range(101, 3000), *range(3000, 10**8, 99_991)]:
        exact = 99 * 2**32 // target + 1
        tie = (99 * 2**32) % target == 0
        assert limbo.winning_count(target) in ({exact, exact - 1} if tie else {exact})
    assert limbo.winning_count(132) == 3 * 2**30


def test_limbo_rtp_when_target_two_is_exact() -> None:
    assert limbo.rtp(200) == Fraction(2126008812 * 2, 2**32)
    assert limbo.rtp(200) == Fraction(531502203, 536870912)


def test_limbo_rtp_when_any_target_is_at_least_99_percent() -> None:
    assert all(limbo.rtp(t) >= Fraction(99, 100) for t in [101, 102, 333, 5000, 77777, limbo.MAX_TARGET])


def test_limbo_simulation_when_seeded_lies_in_confidence_interval() -> None:
    rng = random.Random(4002)
    target = 250
    sample = ReturnSample()
    for _ in range(200_000):
        won = limbo.beats(limbo.result_hundredths(rng.getrandbits(32)), target)
        sample.add(2.5 if won else 0.0)
    assert sample.contains(float(limbo.rtp(target)))
