from fractions import Fraction

import pytest

from croupier.games.math.limits import (
    BetLimits,
    BetLimitTable,
    NoLimitsConfigured,
    StakeAboveMaximum,
    StakeBelowMinimum,
)
from croupier.games.math.payout import payout_amount


def test_payout_amount_when_fractional_rounds_down_to_minor_unit() -> None:
    assert payout_amount(101, Fraction(3, 2)) == 151
    assert payout_amount(3, Fraction(99, 100) * 2) == 5


def test_payout_amount_when_integer_multiplier_is_exact() -> None:
    assert payout_amount(250, 36) == 9000


def test_payout_amount_when_negative_stake_refuses() -> None:
    with pytest.raises(ValueError, match="stake"):
        payout_amount(-1, 2)


def test_bet_limits_when_stake_below_minimum_refuses() -> None:
    with pytest.raises(StakeBelowMinimum):
        BetLimits(min_stake=10, max_stake=1000, max_win=100_000).check_stake(9)


def test_bet_limits_when_stake_above_maximum_refuses() -> None:
    with pytest.raises(StakeAboveMaximum):
        BetLimits(min_stake=10, max_stake=1000, max_win=100_000).check_stake(1001)


def test_bet_limits_when_stake_within_limits_accepts() -> None:
    limits = BetLimits(min_stake=10, max_stake=1000, max_win=100_000)
    assert limits.check_stake(10) == 10
    assert limits.check_stake(1000) == 1000


def test_bet_limits_when_payout_exceeds_max_win_caps_it() -> None:
    limits = BetLimits(min_stake=10, max_stake=1000, max_win=100_000)
    assert limits.cap_payout(250_000) == 100_000
    assert limits.cap_payout(99_999) == 99_999


@pytest.mark.parametrize(("min_stake", "max_stake", "max_win"), [(0, 10, 10), (10, 9, 100), (10, 100, 99)])
def test_bet_limits_when_inconsistent_refuses(min_stake: int, max_stake: int, max_win: int) -> None:
    with pytest.raises(ValueError, match="must"):
        BetLimits(min_stake, max_stake, max_win)


def test_bet_limit_table_when_game_and_currency_configured_returns_their_limits() -> None:
    eur = BetLimits(10, 10_000, 1_000_000)
    table = BetLimitTable({("dice", "EUR"): eur, ("dice", "BTC"): BetLimits(1, 10**8, 10**10)})
    assert table.limits_for("dice", "EUR") is eur
    with pytest.raises(NoLimitsConfigured):
        table.limits_for("keno", "EUR")
