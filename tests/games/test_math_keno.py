import random
from fractions import Fraction

import pytest

from croupier.games.math import keno
from croupier.games.math.confidence import ReturnSample


def test_keno_hit_probabilities_when_summed_are_one() -> None:
    for picks in range(1, keno.MAX_PICKS + 1):
        assert sum(keno.hit_probability(picks, h) for h in range(picks + 1)) == 1


def test_keno_rtp_when_one_pick_is_exact() -> None:
    assert keno.rtp(1) == Fraction(99, 100)


def test_keno_rtp_when_three_picks_is_exact() -> None:
    # (4350 * 1 + 1350 * 3.1 + 120 * 10.4) / C(40, 3)
    assert keno.rtp(3) == Fraction(9783, 9880)


@pytest.mark.parametrize("picks", range(1, keno.MAX_PICKS + 1))
def test_keno_rtp_when_any_pick_count_is_about_99_percent(picks: int) -> None:
    assert Fraction(9895, 10000) <= keno.rtp(picks) <= Fraction(9905, 10000)


def test_keno_settle_when_three_of_four_hit_pays_table() -> None:
    assert keno.settle({1, 2, 3, 40}, range(1, 11)) == 5


def test_keno_settle_when_picks_repeat_refuses() -> None:
    with pytest.raises(ValueError, match="distinct"):
        keno.settle([1, 1], range(1, 11))


def test_keno_simulation_when_seeded_lies_in_confidence_interval() -> None:
    rng = random.Random(4006)
    picks = frozenset({3, 7, 11, 19, 23, 31})
    table = [float(m) for m in keno.pay_table(len(picks))]
    sample = ReturnSample()
    for _ in range(100_000):
        sample.add(table[len(picks.intersection(rng.sample(range(1, 41), keno.DRAWN)))])
    assert sample.contains(float(keno.rtp(len(picks))))
