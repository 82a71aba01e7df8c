import random
from fractions import Fraction

import pytest

from croupier.games.math import plinko
from croupier.games.math.confidence import ReturnSample
from croupier.games.math.plinko import Risk

TABLES = [(rows, risk) for rows in range(plinko.MIN_ROWS, plinko.MAX_ROWS + 1) for risk in Risk]


@pytest.mark.parametrize(("rows", "risk"), TABLES)
def test_plinko_pay_table_when_any_is_symmetric_with_rows_plus_one_slots(rows: int, risk: Risk) -> None:
    table = plinko.pay_table(rows, risk)
    assert len(table) == rows + 1
    assert table == table[::-1]


@pytest.mark.parametrize(("rows", "risk"), TABLES)
def test_plinko_rtp_when_any_table_is_about_99_percent(rows: int, risk: Risk) -> None:
    assert Fraction(989, 1000) <= plinko.rtp(rows, risk) <= Fraction(9917, 10000)


def test_plinko_rtp_when_8_rows_low_is_exact() -> None:
    # (2 * 5.6 + 2 * 8 * 2.1 + 2 * 28 * 1.1 + 2 * 56 * 1 + 70 * 0.5) / 256 = 253.4 / 256
    assert plinko.rtp(8, Risk.LOW) == Fraction(1267, 1280)


def test_plinko_rtp_when_16_rows_high_is_exact() -> None:
    assert plinko.rtp(16, Risk.HIGH) == Fraction(162163, 163840)


def test_plinko_settle_when_all_right_pays_edge_slot() -> None:
    assert plinko.settle([1] * 16, Risk.HIGH) == 1000


def test_plinko_settle_when_rows_out_of_range_refuses() -> None:
    with pytest.raises(ValueError, match="rows"):
        plinko.settle([0] * 7, Risk.LOW)


def test_plinko_simulation_when_seeded_lies_in_confidence_interval() -> None:
    rng = random.Random(4004)
    rows, risk = 12, Risk.MEDIUM
    table = [float(m) for m in plinko.pay_table(rows, risk)]
    sample = ReturnSample()
    for _ in range(200_000):
        sample.add(table[rng.getrandbits(rows).bit_count()])
    assert sample.contains(float(plinko.rtp(rows, risk)))
