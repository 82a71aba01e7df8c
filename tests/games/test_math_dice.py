import random
from fractions import Fraction

import pytest

from croupier.games.math import dice
from croupier.games.math.confidence import ReturnSample
from croupier.games.math.dice import Direction


def test_dice_rtp_when_over_50_is_exact() -> None:
    # 5000 winning rolls (50.01 … 100.00) of 10001; multiplier floor(0.99 * 10001 / 5000, 4 places) = 1.9801
    assert dice.winning_outcomes(5000, Direction.OVER) == 5000
    assert dice.multiplier(5000, Direction.OVER) == Fraction(19801, 10000)
    assert dice.rtp(5000, Direction.OVER) == Fraction(19801, 20002)


def test_dice_rtp_when_enumerated_over_all_rolls_matches_closed_form() -> None:
    for target, direction in [(200, Direction.OVER), (4321, Direction.UNDER), (9800, Direction.OVER)]:
        total = sum((dice.settle(roll, target, direction) for roll in range(dice.OUTCOMES)), Fraction(0))
        assert total / dice.OUTCOMES == dice.rtp(target, direction)


def test_dice_rtp_when_any_target_never_exceeds_one_minus_edge() -> None:
    rtps = [dice.rtp(t, d) for t in range(dice.MIN_TARGET, dice.MAX_TARGET + 1) for d in Direction]
    assert max(rtps) == Fraction(99, 100)
    assert min(rtps) > Fraction(9899, 10000)


def test_dice_house_edge_when_configured_changes_multiplier() -> None:
    assert dice.rtp(5000, Direction.UNDER, house_edge=Fraction(2, 100)) <= Fraction(98, 100)


@pytest.mark.parametrize("target", [199, 9801])
def test_dice_target_when_out_of_range_refuses(target: int) -> None:
    with pytest.raises(ValueError, match="target"):
        dice.multiplier(target, Direction.OVER)


def test_dice_simulation_when_seeded_lies_in_confidence_interval() -> None:
    rng = random.Random(4001)
    target, direction = 6600, Direction.UNDER
    paid = float(dice.multiplier(target, direction))
    sample = ReturnSample()
    for _ in range(200_000):
        sample.add(paid if dice.wins(rng.randrange(dice.OUTCOMES), target, direction) else 0.0)
    assert sample.contains(float(dice.rtp(target, direction)))
