"""Time-outs and self-exclusions: their bounds, what they stop (deposits, bets) and what they never stop
(withdrawals), their exact end, and that neither they nor the decision log can be changed, not even in SQL."""

from datetime import timedelta

import asyncpg
import pytest

from croupier.compliance.errors import ActionRefused, ExclusionNotAllowed
from croupier.identity.schemas import ProfileOut, UpdateBrandRequest
from tests.compliance.conftest import Casino
from tests.identity.conftest import BRAND


@pytest.fixture
async def player(casino: Casino) -> ProfileOut:
    player = await casino.register()
    await casino.deposit(player, 5000)
    return player


async def _reason_refused(casino: Casino, action: str, player: ProfileOut, amount: int = 100) -> str:
    balance = await casino.balance(player)
    attempt = casino.bet if action == "bet" else casino.deposit
    with pytest.raises(ActionRefused) as refused:
        await attempt(player, amount)
    assert await casino.balance(player) == balance
    return str(refused.value.extensions["reason"])


@pytest.mark.parametrize("hours", [23, 1009, 0, -24])
async def test_timeout_when_shorter_than_24_hours_or_longer_than_6_weeks_is_refused(
    casino: Casino, player: ProfileOut, hours: int
) -> None:
    with pytest.raises(ExclusionNotAllowed):
        await casino.compliance.exclude(str(player.id), "timeout", hours=hours)
    assert await casino.compliance.get_exclusions(str(player.id)) == []
    assert (await casino.bet(player, 100)).allowed


@pytest.mark.parametrize("months", [5, 61, 0])
async def test_self_exclusion_when_shorter_than_6_months_or_longer_than_5_years_is_refused(
    casino: Casino, player: ProfileOut, months: int
) -> None:
    with pytest.raises(ExclusionNotAllowed):
        await casino.compliance.exclude(str(player.id), "self_exclusion", months=months)
    assert await casino.compliance.get_exclusions(str(player.id)) == []


async def test_timeout_when_at_its_bounds_is_accepted(casino: Casino, player: ProfileOut) -> None:
    now = casino.clock()
    short = await casino.compliance.exclude(str(player.id), "timeout", hours=24)
    long = await casino.compliance.exclude(str(player.id), "timeout", hours=1008)
    assert short["ends_at"] == now + timedelta(hours=24)
    assert long["ends_at"] == now + timedelta(weeks=6)


async def test_timeout_when_active_refuses_deposits_and_bets_timed_out_but_not_withdrawals(
    casino: Casino, player: ProfileOut
) -> None:
    await casino.verify_kyc(player)
    await casino.compliance.exclude(str(player.id), "timeout", hours=48)
    assert await _reason_refused(casino, "bet", player) == "timed_out"
    assert await _reason_refused(casino, "deposit", player) == "timed_out"
    assert (await casino.withdraw(player, 1000)).allowed
    assert await casino.balance(player) == 4000


async def test_self_exclusion_when_active_refuses_deposits_and_bets_but_not_withdrawals_without_kyc(
    casino: Casino, player: ProfileOut
) -> None:
    await casino.identity.brands.update(BRAND, UpdateBrandRequest(kyc_required_for_withdrawal=False))
    await casino.compliance.exclude(str(player.id), "self_exclusion", months=6, reason="taking a break")
    assert await _reason_refused(casino, "bet", player) == "self_excluded"
    assert await _reason_refused(casino, "deposit", player) == "self_excluded"
    assert (await casino.withdraw(player, 5000)).allowed
    assert await casino.balance(player) == 0


async def test_withdrawal_when_brand_requires_kyc_and_player_unverified_is_refused_kyc_required(
    casino: Casino, player: ProfileOut
) -> None:
    with pytest.raises(ActionRefused) as refused:
        await casino.withdraw(player, 100)
    assert refused.value.extensions["reason"] == "kyc_required"
    assert await casino.balance(player) == 5000


async def test_self_exclusion_when_both_are_active_reports_self_excluded(casino: Casino, player: ProfileOut) -> None:
    await casino.compliance.exclude(str(player.id), "timeout", hours=24 * 40)
    await casino.compliance.exclude(str(player.id), "self_exclusion", months=6)
    assert await _reason_refused(casino, "bet", player) == "self_excluded"


async def test_timeout_when_its_end_is_reached_allows_bets_again_exactly_then(
    casino: Casino, player: ProfileOut
) -> None:
    await casino.compliance.exclude(str(player.id), "timeout", hours=24)
    casino.clock.advance(timedelta(hours=24) - timedelta(microseconds=1))
    assert await _reason_refused(casino, "bet", player) == "timed_out"
    casino.clock.advance(timedelta(microseconds=1))
    assert (await casino.bet(player, 100)).allowed
    (shown,) = await casino.compliance.get_exclusions(str(player.id))
    assert shown["active"] is False


async def test_self_exclusion_when_its_end_is_reached_allows_deposits_again_exactly_then(
    casino: Casino, player: ProfileOut
) -> None:
    result = await casino.compliance.exclude(str(player.id), "self_exclusion", months=6)
    casino.clock.now = result["ends_at"] - timedelta(seconds=1)
    assert await _reason_refused(casino, "deposit", player) == "self_excluded"
    casino.clock.now = result["ends_at"]
    assert (await casino.deposit(player, 100)).allowed


async def test_login_when_timed_out_gives_a_restricted_session(casino: Casino, player: ProfileOut) -> None:
    await casino.compliance.exclude(str(player.id), "timeout", hours=24)
    tokens = await casino.login(player)
    assert (tokens.restricted, tokens.restriction_reason) == (True, "timed_out")
    casino.clock.advance(timedelta(hours=24))
    assert (await casino.login(player)).restricted is False


async def test_exclusions_when_changed_in_sql_are_refused_by_the_database(casino: Casino, player: ProfileOut) -> None:
    await casino.compliance.exclude(str(player.id), "self_exclusion", months=6)
    for statement in (
        "UPDATE compliance.exclusions SET ends_at = starts_at + interval '1 second'",
        "DELETE FROM compliance.exclusions",
    ):
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await casino.db.execute(statement)
    assert await casino.db.fetchval("SELECT count(*) FROM compliance.exclusions") == 1
    assert await _reason_refused(casino, "bet", player) == "self_excluded"


async def test_decision_log_when_changed_in_sql_is_refused_by_the_database(casino: Casino, player: ProfileOut) -> None:
    await casino.bet(player, 100)
    count = await casino.db.fetchval("SELECT count(*) FROM compliance.decisions")
    for statement in (
        "UPDATE compliance.decisions SET allowed = NOT allowed",
        "DELETE FROM compliance.decisions",
        "TRUNCATE compliance.decisions",
    ):
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await casino.db.execute(statement)
    assert await casino.db.fetchval("SELECT count(*) FROM compliance.decisions") == count
    assert await casino.db.fetchval("SELECT count(*) FROM compliance.decisions WHERE NOT allowed") == 0


async def test_limit_changes_when_changed_in_sql_are_refused_by_the_database(
    casino: Casino, player: ProfileOut
) -> None:
    await casino.compliance.set_limit(str(player.id), "loss", "day", 100)
    for statement in ("UPDATE compliance.limit_changes SET new_amount = 999", "DELETE FROM compliance.limit_changes"):
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await casino.db.execute(statement)
    assert await casino.db.fetchval("SELECT new_amount FROM compliance.limit_changes") == 100
