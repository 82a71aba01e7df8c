"""Two-phase transfers: a hold reserves funds; it is posted (fully or partly), voided, or expires."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from croupier.wallet.client import (
    AccountOut,
    HoldAlreadyResolved,
    HoldExpired,
    HoldNotFound,
    InsufficientFunds,
    NotReversible,
    PostExceedsHold,
    PostHoldRequest,
    ReverseTransferRequest,
    VoidHoldRequest,
    WalletClient,
)
from croupier.wallet.events import HoldExpired as HoldExpiredEvent
from croupier.wallet.events import parse_payload
from tests.wallet.conftest import OpenPlayer, key, read_all, withdrawal_hold


async def test_hold_reserves_funds_without_moving_them(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    result = await wallet_client.create_hold(withdrawal_hold(player, house, 300))
    assert result.transfer.kind == "hold"
    balance = await wallet_client.get_balance(player.id)
    assert (balance.posted, balance.available, balance.pending_debits) == (1000, 700, 300)
    assert (await wallet_client.get_balance(house.id)).pending_credits == 300


async def test_hold_when_over_available_is_refused(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    await wallet_client.create_hold(withdrawal_hold(player, house, 700))
    with pytest.raises(InsufficientFunds):
        await wallet_client.create_hold(withdrawal_hold(player, house, 301))


async def test_hold_post_in_part_moves_that_part_and_releases_the_rest(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    hold = (await wallet_client.create_hold(withdrawal_hold(player, house, 300))).transfer
    posted = await wallet_client.post_hold(hold.id, PostHoldRequest(idempotency_key=key(), amount=120))
    assert posted.transfer.kind == "hold_post"
    assert posted.transfer.hold_id == hold.id
    balance = await wallet_client.get_balance(player.id)
    assert (balance.posted, balance.available, balance.pending_debits) == (880, 880, 0)
    status = await wallet_client.get_hold(hold.id)
    assert status.status == "posted"
    assert status.resolution is not None
    assert status.resolution.amount == 120


async def test_hold_post_without_amount_posts_all(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    hold = (await wallet_client.create_hold(withdrawal_hold(player, house, 300))).transfer
    await wallet_client.post_hold(hold.id, PostHoldRequest(idempotency_key=key()))
    assert (await wallet_client.get_balance(player.id)).posted == 700


async def test_hold_void_releases_everything(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    hold = (await wallet_client.create_hold(withdrawal_hold(player, house, 300))).transfer
    await wallet_client.void_hold(hold.id, VoidHoldRequest(idempotency_key=key()))
    balance = await wallet_client.get_balance(player.id)
    assert (balance.posted, balance.available, balance.pending_debits) == (1000, 1000, 0)
    assert (await wallet_client.get_balance(house.id)).pending_credits == 0
    assert (await wallet_client.get_hold(hold.id)).status == "voided"


async def test_hold_when_already_voided_cannot_be_posted(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    hold = (await wallet_client.create_hold(withdrawal_hold(player, house, 300))).transfer
    await wallet_client.void_hold(hold.id, VoidHoldRequest(idempotency_key=key()))
    with pytest.raises(HoldAlreadyResolved):
        await wallet_client.post_hold(hold.id, PostHoldRequest(idempotency_key=key()))
    assert (await wallet_client.get_balance(player.id)).posted == 1000


async def test_hold_post_when_replayed_posts_once(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    hold = (await wallet_client.create_hold(withdrawal_hold(player, house, 300))).transfer
    request = PostHoldRequest(idempotency_key=key(), amount=100)
    first = await wallet_client.post_hold(hold.id, request)
    assert await wallet_client.post_hold(hold.id, request) == first
    assert (await wallet_client.get_balance(player.id)).posted == 900


async def test_hold_post_over_held_amount_is_refused(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    hold = (await wallet_client.create_hold(withdrawal_hold(player, house, 300))).transfer
    with pytest.raises(PostExceedsHold):
        await wallet_client.post_hold(hold.id, PostHoldRequest(idempotency_key=key(), amount=301))


async def test_hold_post_of_unknown_hold_is_not_found(wallet_client: WalletClient, house: AccountOut) -> None:
    with pytest.raises(HoldNotFound):
        await wallet_client.post_hold(house.id, PostHoldRequest(idempotency_key=key()))


async def test_hold_cannot_be_reversed_only_voided(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    hold = (await wallet_client.create_hold(withdrawal_hold(player, house, 300))).transfer
    with pytest.raises(NotReversible):
        await wallet_client.reverse(ReverseTransferRequest(idempotency_key=key(), transfer_id=hold.id))


async def test_hold_post_can_be_reversed(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    hold = (await wallet_client.create_hold(withdrawal_hold(player, house, 300))).transfer
    posted = await wallet_client.post_hold(hold.id, PostHoldRequest(idempotency_key=key()))
    await wallet_client.reverse(ReverseTransferRequest(idempotency_key=key(), transfer_id=posted.transfer.id))
    assert (await wallet_client.get_balance(player.id)).posted == 1000


async def test_hold_when_expired_is_voided_by_the_sweeper(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    expires_at = datetime.now(UTC) + timedelta(milliseconds=300)
    hold = (await wallet_client.create_hold(withdrawal_hold(player, house, 300, expires_at=expires_at))).transfer
    for _ in range(100):  # the test settings sweep every 0.2 s
        if (await wallet_client.get_hold(hold.id)).status != "open":
            break
        await asyncio.sleep(0.05)
    status = await wallet_client.get_hold(hold.id)
    assert status.status == "expired"
    assert status.resolution is not None
    assert status.resolution.kind == "hold_expiry"
    assert (await wallet_client.get_balance(player.id)).available == 1000
    with pytest.raises(HoldAlreadyResolved):
        await wallet_client.post_hold(hold.id, PostHoldRequest(idempotency_key=key()))
    # The expiry is announced like any other resolution: one wallet.hold.expired event, naming the hold.
    events, _ = await read_all(wallet_client)
    expired = [event for event in events if event["type"] == "wallet.hold.expired"]
    assert len(expired) == 1
    payload = parse_payload("wallet.hold.expired", expired[0]["payload"])  # type: ignore[arg-type]
    assert isinstance(payload, HoldExpiredEvent)
    assert (payload.id, payload.kind, payload.hold_id, payload.amount) == (
        status.resolution.id,
        "hold_expiry",
        hold.id,
        300,
    )
    assert (payload.debit_account_id, payload.credit_account_id) == (hold.debit_account_id, hold.credit_account_id)


async def test_hold_post_after_expiry_time_is_refused_even_before_the_sweep(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    soon = datetime.now(UTC) + timedelta(milliseconds=150)
    hold = (await wallet_client.create_hold(withdrawal_hold(player, house, 300, expires_at=soon))).transfer
    await asyncio.sleep(0.2)
    # Past its expiry the hold cannot be posted, whether or not the sweeper has voided it yet.
    with pytest.raises((HoldExpired, HoldAlreadyResolved)):
        await wallet_client.post_hold(hold.id, PostHoldRequest(idempotency_key=key()))
    assert (await wallet_client.get_balance(player.id)).posted == 1000
