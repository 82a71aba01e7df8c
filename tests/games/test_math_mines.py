import random
from fractions import Fraction

import pytest

from croupier.games.math import mines
from croupier.games.math.confidence import ReturnSample
from croupier.games.math.mines import MinesError, MinesStatus


def test_mines_multiplier_when_3_mines_one_reveal_is_exact() -> None:
    assert mines.multiplier(3, 1) == Fraction(99, 100) * Fraction(25, 22)


def test_mines_rtp_when_any_mine_count_and_reveal_count_is_one_minus_edge() -> None:
    for m in range(mines.MIN_MINES, mines.MAX_MINES + 1):
        for k in range(1, mines.TILES - m + 1):
            assert mines.rtp(m, k) == Fraction(99, 100)


def test_mines_rtp_when_edge_configured_is_one_minus_that_edge() -> None:
    assert mines.rtp(5, 7, house_edge=Fraction(3, 100)) == Fraction(97, 100)


def test_mines_round_when_safe_tiles_revealed_then_cashed_out_pays_multiplier() -> None:
    state = mines.start({0, 1, 2})
    state = mines.reveal(state, 10)
    state = mines.reveal(state, 11)
    assert state.current_multiplier == mines.multiplier(3, 2)
    state = mines.cash_out(state)
    assert state.status is MinesStatus.CASHED_OUT
    assert state.payout_multiplier == mines.multiplier(3, 2)


def test_mines_round_when_mine_revealed_is_lost_and_pays_nothing() -> None:
    state = mines.reveal(mines.reveal(mines.start({4, 9}), 3), 9)
    assert state.status is MinesStatus.LOST
    assert state.payout_multiplier == 0
    with pytest.raises(MinesError):
        mines.reveal(state, 5)


def test_mines_round_when_last_safe_tile_revealed_cashes_out() -> None:
    state = mines.start(set(range(1, 25)))
    state = mines.reveal(state, 0)
    assert state.status is MinesStatus.CASHED_OUT
    assert state.payout_multiplier == Fraction(99, 100) * 25


def test_mines_round_when_tile_revealed_twice_refuses() -> None:
    with pytest.raises(MinesError):
        mines.reveal(mines.reveal(mines.start({0}), 5), 5)


def test_mines_simulation_when_seeded_lies_in_confidence_interval() -> None:
    rng = random.Random(4005)
    mine_count, reveals = 5, 4
    sample = ReturnSample()
    for _ in range(40_000):
        state = mines.start(set(rng.sample(range(mines.TILES), mine_count)))
        for tile in range(reveals):
            state = mines.reveal(state, tile)
            if state.status is MinesStatus.LOST:
                break
        else:
            state = mines.cash_out(state)
        sample.add(float(state.payout_multiplier))
    assert sample.contains(0.99)
