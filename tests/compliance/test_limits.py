"""Limits against the wallet's real activity: loss, wager and deposit limits refused server-side, cooling-off on a
ManualClock, the session-time limit, and the KYC gates on deposits."""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from croupier.compliance.errors import ActionRefused
from croupier.identity.schemas import MoveKycRequest, ProfileOut, SubmitKycRequest, UpdateBrandRequest
from croupier.kit.clock import ManualClock
from croupier.kit.config import Settings
from croupier.wallet.client import ReverseTransferRequest
from tests.compliance.conftest import DOCUMENT, Casino, _casino
from tests.identity.conftest import BRAND


async def _refused(casino: Casino, action: str, player: ProfileOut, amount: int) -> dict[str, Any]:
    """Try the action as the game or the cashier would; assert the gate refused it and nothing moved."""
    balance = await casino.balance(player)
    attempt = casino.bet if action == "bet" else casino.deposit
    with pytest.raises(ActionRefused) as refused:
        await attempt(player, amount)
    assert await casino.balance(player) == balance
    assert refused.value.status == 403
    assert refused.value.code == "compliance_refused"
    decision = await casino.decision(refused.value.extensions["decision_id"])
    assert decision["allowed"] is False
    assert decision["amount"] == amount
    assert decision["reason"] == refused.value.extensions["reason"]
    return decision


@pytest.fixture
async def player(casino: Casino) -> ProfileOut:
    player = await casino.register()
    await casino.deposit(player, 10_000)
    return player


# -- money limits, measured on what the wallet committed ---------------------------------------------------------


async def test_bet_when_it_would_pass_the_loss_limit_is_refused_and_nothing_moves(
    casino: Casino, player: ProfileOut
) -> None:
    await casino.compliance.set_limit(str(player.id), "loss", "day", 1000)
    await casino.bet(player, 400)
    await casino.bet(player, 400)
    decision = await _refused(casino, "bet", player, 300)
    assert (decision["reason"], decision["rule"]) == ("loss_limit_exceeded", "loss_limit")
    facts = decision["inputs"]["facts"]
    assert facts == {"period": "day", "limit": 1000, "used": 800, "amount": 300}
    assert decision["inputs"]["activity"]["day"]["wagered"] == 800
    assert await casino.balance(player) == 10_000 - 800
    assert (await casino.bet(player, 200)).allowed  # exactly up to the limit is allowed


async def test_loss_limit_when_money_moved_without_the_gate_still_counts_what_the_wallet_committed(
    casino: Casino, player: ProfileOut
) -> None:
    await casino.compliance.set_limit(str(player.id), "loss", "day", 1000)
    await casino.move(player, "bet", 900, to_player=False)  # a stake the gate was never told about
    decision = await _refused(casino, "bet", player, 200)
    assert decision["inputs"]["facts"]["used"] == 900


async def test_loss_limit_when_the_player_won_counts_wins_against_stakes(casino: Casino, player: ProfileOut) -> None:
    await casino.compliance.set_limit(str(player.id), "loss", "day", 1000)
    await casino.bet(player, 800)
    await casino.win(player, 500)  # net loss 300
    assert (await casino.bet(player, 700)).allowed  # 300 + 700 = 1000
    decision = await _refused(casino, "bet", player, 1)
    assert decision["inputs"]["facts"] == {"period": "day", "limit": 1000, "used": 1000, "amount": 1}


async def test_loss_limit_when_a_bet_is_reversed_no_longer_counts_its_stake(casino: Casino, player: ProfileOut) -> None:
    await casino.compliance.set_limit(str(player.id), "loss", "day", 1000)
    await casino.bet(player, 900)
    page = await casino.wallet.list_transfers(account_id=player.wallet_account_id, limit=1)
    (stake,) = page.items
    await casino.wallet.reverse(ReverseTransferRequest(idempotency_key="void-round", transfer_id=stake.id))
    assert (await casino.bet(player, 1000)).allowed


async def test_bet_when_it_would_pass_the_wager_limit_is_refused_and_wins_do_not_help(
    casino: Casino, player: ProfileOut
) -> None:
    await casino.compliance.set_limit(str(player.id), "wager", "day", 1000)
    await casino.bet(player, 600)
    await casino.win(player, 2000)
    decision = await _refused(casino, "bet", player, 500)
    assert (decision["reason"], decision["rule"]) == ("wager_limit_exceeded", "wager_limit")
    assert decision["inputs"]["facts"] == {"period": "day", "limit": 1000, "used": 600, "amount": 500}
    assert (await casino.bet(player, 400)).allowed


async def test_deposit_when_it_would_pass_the_deposit_limit_is_refused(casino: Casino) -> None:
    player = await casino.register()
    await casino.compliance.set_limit(str(player.id), "deposit", "week", 1000)
    await casino.deposit(player, 700)
    decision = await _refused(casino, "deposit", player, 400)
    assert (decision["reason"], decision["rule"]) == ("deposit_limit_exceeded", "deposit_limit")
    assert decision["inputs"]["facts"] == {"period": "week", "limit": 1000, "used": 700, "amount": 400}
    assert (await casino.deposit(player, 300)).allowed
    assert await casino.balance(player) == 1000


async def test_deposit_limit_when_money_was_withdrawn_still_counts_every_deposit(casino: Casino) -> None:
    player = await casino.register()
    await casino.identity.brands.update(BRAND, UpdateBrandRequest(kyc_required_for_withdrawal=False))
    await casino.compliance.set_limit(str(player.id), "deposit", "day", 1000)
    await casino.deposit(player, 800)
    await casino.withdraw(player, 800)
    await _refused(casino, "deposit", player, 300)


# -- cooling-off ----------------------------------------------------------------------------------------------------


async def test_limit_when_lowered_applies_at_once(casino: Casino) -> None:
    player = await casino.register()
    await casino.compliance.set_limit(str(player.id), "deposit", "day", 5000)
    change = await casino.compliance.set_limit(str(player.id), "deposit", "day", 1000)
    assert change["immediate"] is True
    assert change["in_force"] == 1000
    await _refused(casino, "deposit", player, 1500)


async def test_limit_when_raised_stays_at_the_old_value_until_exactly_the_cooling_off_has_passed(
    casino: Casino,
) -> None:
    player = await casino.register()
    pid = str(player.id)
    await casino.compliance.set_limit(pid, "deposit", "day", 1000)
    asked_at = casino.clock()
    change = await casino.compliance.set_limit(pid, "deposit", "day", 5000)
    assert change["immediate"] is False
    assert change["in_force"] == 1000
    assert change["effective_at"] == asked_at + timedelta(hours=24)
    (shown,) = await casino.compliance.get_limits(pid)
    assert shown["amount"] == 1000
    assert shown["pending_amount"] == 5000
    assert shown["pending_effective_at"] == asked_at + timedelta(hours=24)
    casino.clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    await _refused(casino, "deposit", player, 2000)
    casino.clock.advance(timedelta(seconds=1))
    assert (await casino.deposit(player, 2000)).allowed
    (shown,) = await casino.compliance.get_limits(pid)
    assert (shown["amount"], shown["pending_amount"]) == (5000, None)


async def test_limit_when_removed_stays_in_force_until_the_cooling_off_has_passed(casino: Casino) -> None:
    player = await casino.register()
    pid = str(player.id)
    await casino.compliance.set_limit(pid, "deposit", "day", 1000)
    change = await casino.compliance.set_limit(pid, "deposit", "day", None)
    assert (change["immediate"], change["in_force"]) == (False, 1000)
    (shown,) = await casino.compliance.get_limits(pid)
    assert (shown["amount"], shown["pending_removal"]) == (1000, True)
    casino.clock.advance(timedelta(hours=23, minutes=59))
    await _refused(casino, "deposit", player, 1500)
    casino.clock.advance(timedelta(minutes=1))
    assert (await casino.deposit(player, 1500)).allowed
    assert [limit["amount"] for limit in await casino.compliance.get_limits(pid)] in ([], [None])


async def test_limit_when_lowered_again_cancels_the_pending_raise(casino: Casino) -> None:
    player = await casino.register()
    pid = str(player.id)
    await casino.compliance.set_limit(pid, "deposit", "day", 1000)
    await casino.compliance.set_limit(pid, "deposit", "day", 5000)  # pending
    change = await casino.compliance.set_limit(pid, "deposit", "day", 800)
    assert (change["immediate"], change["in_force"]) == (True, 800)
    (shown,) = await casino.compliance.get_limits(pid)
    assert (shown["amount"], shown["pending_amount"], shown["pending_effective_at"]) == (800, None, None)
    casino.clock.advance(timedelta(hours=48))
    await _refused(casino, "deposit", player, 900)


async def test_limit_changes_when_requested_are_all_recorded_as_asked_and_decided(casino: Casino) -> None:
    player = await casino.register()
    pid = str(player.id)
    start = casino.clock()
    await casino.compliance.set_limit(pid, "loss", "week", 1000)
    await casino.compliance.set_limit(pid, "loss", "week", 3000)
    await casino.compliance.set_limit(pid, "loss", "week", 500)
    await casino.compliance.set_limit(pid, "loss", "week", None)
    rows = await casino.db.fetch(
        """SELECT kind, period, old_amount, new_amount, effective_at, immediate FROM compliance.limit_changes
           WHERE player_id = $1 ORDER BY id""",
        pid,
    )
    later = start + timedelta(hours=24)
    assert [tuple(row) for row in rows] == [
        ("loss", "week", None, 1000, start, True),
        ("loss", "week", 1000, 3000, later, False),
        ("loss", "week", 1000, 500, start, True),
        ("loss", "week", 500, None, later, False),
    ]


@pytest.fixture
async def slow_cooling(settings: Settings, database_url: str, clock: ManualClock) -> AsyncIterator[Casino]:
    async for running in _casino(settings, database_url, clock):
        await running.brand("slow-brand", cooling_off_hours=72)
        yield running


async def test_limit_when_raised_on_a_brand_with_72_hours_cooling_off_waits_72_hours(slow_cooling: Casino) -> None:
    casino = slow_cooling
    player = await casino.register("slow-brand")
    pid = str(player.id)
    await casino.compliance.set_limit(pid, "deposit", "day", 1000)
    asked_at = casino.clock()
    change = await casino.compliance.set_limit(pid, "deposit", "day", 5000)
    assert change["effective_at"] == asked_at + timedelta(hours=72)
    casino.clock.advance(timedelta(hours=24))
    await _refused(casino, "deposit", player, 2000)
    casino.clock.advance(timedelta(hours=48) - timedelta(seconds=1))
    await _refused(casino, "deposit", player, 2000)
    casino.clock.advance(timedelta(seconds=1))
    assert (await casino.deposit(player, 2000)).allowed


# -- session time ---------------------------------------------------------------------------------------------------


async def test_bet_when_the_session_has_lasted_its_time_limit_is_refused_session_time_limit_reached(
    casino: Casino, player: ProfileOut
) -> None:
    await casino.compliance.set_limit(str(player.id), "session_time", "session", 60)
    tokens = await casino.login(player)
    context = {"session_id": str(tokens.session_id)}
    casino.clock.advance(timedelta(minutes=59))
    assert (await casino.bet(player, 100, context)).allowed
    casino.clock.advance(timedelta(minutes=2))
    balance = await casino.balance(player)
    with pytest.raises(ActionRefused) as refused:
        await casino.bet(player, 100, context)
    assert refused.value.extensions["reason"] == "session_time_limit_reached"
    assert refused.value.extensions["limit_minutes"] == 60
    assert refused.value.extensions["played_minutes"] == 61
    assert await casino.balance(player) == balance
    fresh = await casino.login(player)  # a new session starts a new count
    assert (await casino.bet(player, 100, {"session_id": str(fresh.session_id)})).allowed


# -- KYC gates ------------------------------------------------------------------------------------------------------


async def test_deposit_when_brand_requires_kyc_is_refused_until_an_admin_verifies_the_player(casino: Casino) -> None:
    await casino.identity.brands.update(BRAND, UpdateBrandRequest(kyc_required_for_deposit=True))
    player = await casino.register()
    decision = await _refused(casino, "deposit", player, 100)
    assert (decision["reason"], decision["rule"]) == ("kyc_required", "kyc")
    assert decision["inputs"]["facts"] == {"kyc_status": "unverified"}
    await casino.identity.submit_kyc(player.id, SubmitKycRequest.model_validate({"documents": [DOCUMENT]}))
    await _refused(casino, "deposit", player, 100)  # pending is not verified
    await casino.identity.move_kyc(player.id, MoveKycRequest(to="verified", reason="ok"), by_admin="risk-1")
    assert (await casino.deposit(player, 100)).allowed
    assert await casino.balance(player) == 100


async def test_deposit_when_above_the_kyc_threshold_is_refused_for_an_unverified_player(casino: Casino) -> None:
    await casino.identity.brands.update(BRAND, UpdateBrandRequest(kyc_deposit_threshold=1000))
    player = await casino.register()
    assert (await casino.deposit(player, 1000)).allowed
    decision = await _refused(casino, "deposit", player, 1001)
    assert decision["reason"] == "kyc_required"
    await casino.verify_kyc(player)
    assert (await casino.deposit(player, 5000)).allowed
