"""The gate's rules on their own: ages, countries, exclusions, limits with cooling-off, session time, KYC gates."""

from datetime import UTC, date, datetime, timedelta

import pytest

from croupier.compliance import rules
from croupier.compliance.rules import Activity, Exclusion, Limit
from croupier.compliance.service import window_starts

NOW = datetime(2026, 6, 15, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("born", "minimum", "allowed"),
    [
        (date(2008, 6, 15), 18, True),  # 18 today
        (date(2008, 6, 16), 18, False),  # 18 tomorrow
        (date(2005, 6, 16), 21, False),
        (date(2005, 6, 15), 21, True),
        (date(2008, 2, 29), 18, True),  # leap-day birthday, checked on 15 June
    ],
)
def test_age_when_checked_on_a_birthday_boundary_counts_whole_years(born: date, minimum: int, allowed: bool) -> None:
    denial = rules.check_age(born, NOW.date(), minimum)
    assert (denial is None) is allowed
    if denial is not None:
        assert denial.reason == "underage"


def test_country_when_on_deny_list_or_missing_from_allow_list_is_refused() -> None:
    assert rules.check_country("GB", ["GB", "IE"], [], source="declared") is None
    assert rules.check_country("FR", ["GB", "IE"], [], source="declared").reason == "country_not_allowed"  # type: ignore[union-attr]
    assert rules.check_country("US", [], ["US"], source="ip").reason == "country_not_allowed"  # type: ignore[union-attr]
    assert rules.check_country(None, ["GB"], [], source="ip") is None  # unknown (private address): not a denial


def test_exclusion_when_active_denies_and_self_exclusion_wins_over_timeout() -> None:
    timeout = Exclusion("timeout", NOW - timedelta(hours=1), NOW + timedelta(hours=23))
    self_exclusion = Exclusion("self_exclusion", NOW - timedelta(days=1), NOW + timedelta(days=200))
    assert rules.check_exclusion([timeout], NOW).reason == "timed_out"  # type: ignore[union-attr]
    assert rules.check_exclusion([timeout, self_exclusion], NOW).reason == "self_excluded"  # type: ignore[union-attr]
    assert rules.check_exclusion([timeout], NOW + timedelta(hours=23)) is None  # ended


def test_limit_when_raise_is_pending_stays_at_old_value_until_cooling_off_ends() -> None:
    limit = Limit("deposit", "day", 100, pending_amount=500, pending_effective_at=NOW + timedelta(hours=24))
    assert limit.effective(NOW) == 100
    assert limit.effective(NOW + timedelta(hours=23, minutes=59)) == 100
    assert limit.effective(NOW + timedelta(hours=24)) == 500
    removal = Limit("deposit", "day", 100, pending_removal=True, pending_effective_at=NOW + timedelta(hours=24))
    assert removal.effective(NOW + timedelta(hours=24)) is None


@pytest.mark.parametrize(
    ("kind", "window", "amount", "reason"),
    [
        ("deposit", Activity(deposited=90), 10, None),
        ("deposit", Activity(deposited=90), 11, "deposit_limit_exceeded"),
        ("wager", Activity(wagered=95), 6, "wager_limit_exceeded"),
        ("loss", Activity(wagered=150, won=60), 10, None),  # net loss 90 + a stake of 10 = 100
        ("loss", Activity(wagered=150, won=60), 11, "loss_limit_exceeded"),
        ("loss", Activity(wagered=10, won=500), 100, None),  # winnings do not make the limit negative
    ],
)
def test_money_limit_when_the_amount_would_pass_it_is_refused(
    kind: str, window: Activity, amount: int, reason: str | None
) -> None:
    limits = [Limit(kind, "day", 100)]
    windows = {"day": window, "week": window, "month": window}
    denial = rules.check_money_limits(kind, limits, windows, amount, NOW)
    assert (denial.reason if denial else None) == reason


def test_money_limit_when_several_periods_applies_each_to_its_own_window() -> None:
    limits = [Limit("deposit", "day", 1000), Limit("deposit", "month", 1500)]
    windows = {"day": Activity(deposited=100), "week": Activity(deposited=900), "month": Activity(deposited=1400)}
    denial = rules.check_money_limits("deposit", limits, windows, 200, NOW)
    assert denial is not None
    assert denial.facts["period"] == "month"


def test_session_time_when_reached_denies_bets() -> None:
    limits = [Limit("session_time", "session", 60)]
    assert rules.check_session_time(limits, NOW - timedelta(minutes=59), NOW) is None
    denial = rules.check_session_time(limits, NOW - timedelta(minutes=60), NOW)
    assert denial is not None
    assert denial.reason == "session_time_limit_reached"


@pytest.mark.parametrize(
    ("action", "status", "amount", "for_deposit", "threshold", "for_withdrawal", "allowed"),
    [
        ("deposit", "unverified", 100, False, None, True, True),
        ("deposit", "unverified", 100, True, None, True, False),
        ("deposit", "pending", 5000, False, 2000, True, False),
        ("deposit", "pending", 2000, False, 2000, True, True),
        ("deposit", "verified", 10**9, True, 0, True, True),
        ("withdraw", "pending", 100, False, None, True, False),
        ("withdraw", "unverified", 100, False, None, False, True),
    ],
)
def test_kyc_gate_when_the_brand_requires_verification_refuses_unverified_players(
    action: str,
    status: str,
    amount: int,
    for_deposit: bool,
    threshold: int | None,
    for_withdrawal: bool,
    allowed: bool,
) -> None:
    denial = rules.check_kyc(
        action,
        status,
        amount,
        required_for_deposit=for_deposit,
        deposit_threshold=threshold,
        required_for_withdrawal=for_withdrawal,
    )
    assert (denial is None) is allowed


def test_windows_when_measured_in_whole_hours_are_never_shorter_than_their_period() -> None:
    starts = window_starts(NOW)
    assert NOW - starts["day"] >= timedelta(hours=24)
    assert NOW - starts["day"] < timedelta(hours=25)
    assert NOW - starts["week"] >= timedelta(days=7)
    assert NOW - starts["month"] >= timedelta(days=30)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2026, 8, 15, tzinfo=UTC), 6, datetime(2027, 2, 15, tzinfo=UTC)),
        (datetime(2028, 2, 29, tzinfo=UTC), 60, datetime(2033, 2, 28, tzinfo=UTC)),
    ],
)
def test_months_later_when_the_day_does_not_exist_clamps_to_month_end(
    start: datetime, months: int, end: datetime
) -> None:
    assert rules.months_later(start, months) == end
