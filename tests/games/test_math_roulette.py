import random
from fractions import Fraction

import pytest

from croupier.games.math import roulette
from croupier.games.math.confidence import ReturnSample
from croupier.games.math.roulette import BetKind, InvalidBet

EXPECTED_LAYOUTS = {
    BetKind.STRAIGHT: (37, 1, 35),
    BetKind.SPLIT: (60, 2, 17),
    BetKind.STREET: (12, 3, 11),
    BetKind.TRIO: (2, 3, 11),
    BetKind.CORNER: (22, 4, 8),
    BetKind.FIRST_FOUR: (1, 4, 8),
    BetKind.SIX_LINE: (11, 6, 5),
    BetKind.DOZEN: (3, 12, 2),
    BetKind.COLUMN: (3, 12, 2),
    BetKind.RED: (1, 18, 1),
    BetKind.BLACK: (1, 18, 1),
    BetKind.ODD: (1, 18, 1),
    BetKind.EVEN: (1, 18, 1),
    BetKind.LOW: (1, 18, 1),
    BetKind.HIGH: (1, 18, 1),
}


@pytest.mark.parametrize("kind", list(BetKind))
def test_roulette_layouts_when_listed_have_standard_count_size_and_payout(kind: BetKind) -> None:
    count, size, pays_to_one = EXPECTED_LAYOUTS[kind]
    options = roulette.layouts(kind)
    assert len(set(options)) == count
    for numbers in options:
        placed = roulette.bet(kind, numbers)
        assert len(numbers) == size
        assert placed.multiplier == pays_to_one + 1


@pytest.mark.parametrize("kind", list(BetKind))
def test_roulette_rtp_when_any_valid_layout_is_36_over_37(kind: BetKind) -> None:
    for numbers in roulette.layouts(kind):
        assert roulette.rtp(roulette.bet(kind, numbers)) == Fraction(36, 37)


def test_roulette_layouts_when_outside_bets_cover_numbers_without_zero() -> None:
    for kind in (BetKind.DOZEN, BetKind.COLUMN):
        assert frozenset().union(*roulette.layouts(kind)) == frozenset(range(1, 37))
    assert roulette.layouts(BetKind.RED)[0] | roulette.layouts(BetKind.BLACK)[0] == frozenset(range(1, 37))
    assert 0 not in roulette.layouts(BetKind.EVEN)[0]


@pytest.mark.parametrize(
    ("kind", "numbers"),
    [(BetKind.SPLIT, {3, 4}), (BetKind.SPLIT, {0, 4}), (BetKind.CORNER, {3, 4, 6, 7}), (BetKind.STREET, {2, 3, 4})],
)
def test_roulette_bet_when_numbers_not_adjacent_refuses(kind: BetKind, numbers: set[int]) -> None:
    with pytest.raises(InvalidBet):
        roulette.bet(kind, numbers)


def test_roulette_settle_when_zero_hits_even_money_loses() -> None:
    assert roulette.settle(0, roulette.bet(BetKind.RED)) == 0
    assert roulette.settle(0, roulette.bet(BetKind.STRAIGHT, {0})) == 36


def test_roulette_simulation_when_seeded_lies_in_confidence_interval() -> None:
    rng = random.Random(4003)
    placed = roulette.bet(BetKind.CORNER, {17, 18, 20, 21})
    sample = ReturnSample()
    for _ in range(200_000):
        sample.add(9.0 if rng.randrange(roulette.POCKETS) in placed.numbers else 0.0)
    assert sample.contains(36 / 37)
