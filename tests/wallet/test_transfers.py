"""Transfers, batches, idempotency and reversals, through the client contract (in-process and HTTP alike)."""

import asyncio

import asyncpg
import pytest

from croupier.kit.errors import ValidationFailed
from croupier.wallet.client import (
    AccountExists,
    AccountNotFound,
    AccountOut,
    AlreadyReversed,
    BrandMismatch,
    CreateBatchRequest,
    CreateTransferRequest,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    NotReversible,
    OpenAccountRequest,
    PostHoldRequest,
    ReverseTransferRequest,
    TransferLegIn,
    TransferTombstoned,
    VoidHoldRequest,
    WalletClient,
)
from croupier.wallet.events import TransferCommitted, parse_payload
from tests.wallet.conftest import OpenPlayer, bet, key, read_all, withdrawal_hold


async def test_transfer_when_funds_suffice_moves_money_between_accounts(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    result = await wallet_client.transfer(bet(player, house, 250))
    assert result.transfer.amount == 250
    assert result.transfer.kind == "transfer"
    assert result.transfer.metadata == {"round": "r-1", "game": "dice"}
    assert result.debit_balance.posted == 750
    assert (await wallet_client.get_balance(player.id)).available == 750
    assert (await wallet_client.get_balance(house.id)).posted == -1000 + 250


async def test_transfer_when_replayed_returns_original_result_with_balance_as_then(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    request = bet(player, house, 100)
    first = await wallet_client.transfer(request)
    await wallet_client.transfer(bet(player, house, 300))
    replay = await wallet_client.transfer(request)
    assert replay == first
    assert replay.debit_balance.posted == 900  # as it was then, not the 600 of now
    assert (await wallet_client.get_balance(player.id)).posted == 600


async def test_transfer_when_key_reused_with_other_content_is_conflict_naming_key(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    await wallet_client.transfer(bet(player, house, 100, "same-key"))
    with pytest.raises(IdempotencyConflict) as raised:
        await wallet_client.transfer(bet(player, house, 101, "same-key"))
    assert raised.value.extensions["idempotency_key"] == "same-key"
    assert (await wallet_client.get_balance(player.id)).posted == 900


async def test_transfer_when_funds_short_is_refused_and_changes_nothing(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    player = await open_player(100)
    before = await db.fetchval("SELECT count(*) FROM wallet.transfers")
    with pytest.raises(InsufficientFunds) as raised:
        await wallet_client.transfer(bet(player, house, 101))
    assert raised.value.extensions["available"] == 100
    assert await db.fetchval("SELECT count(*) FROM wallet.transfers") == before
    assert (await wallet_client.get_balance(player.id)).posted == 100


async def test_transfer_when_refused_can_be_retried_with_same_key_after_deposit(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(50)
    request = bet(player, house, 80)
    with pytest.raises(InsufficientFunds):
        await wallet_client.transfer(request)
    await wallet_client.transfer(
        CreateTransferRequest(
            idempotency_key=key(),
            debit_account_id=house.id,
            credit_account_id=player.id,
            amount=50,
            currency="EUR",
            type="deposit",
        )
    )
    result = await wallet_client.transfer(request)
    assert result.debit_balance.posted == 20


async def test_transfer_when_currency_differs_from_account_is_refused(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100)
    request = bet(player, house, 10).model_copy(update={"currency": "USD"})
    with pytest.raises(CurrencyMismatch):
        await wallet_client.transfer(request)


async def test_transfer_when_account_unknown_is_refused(wallet_client: WalletClient, house: AccountOut) -> None:
    request = CreateTransferRequest(
        idempotency_key=key(),
        debit_account_id=house.id,
        credit_account_id="01a2014c-0000-7000-8000-000000000000",
        amount=1,
        currency="EUR",
        type="deposit",
    )
    with pytest.raises(AccountNotFound):
        await wallet_client.transfer(request)


async def test_transfer_when_accounts_of_different_brands_is_refused(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    other_brand_player = await open_player(0, brand="other-brand")
    request = CreateTransferRequest(
        idempotency_key=key(),
        debit_account_id=house.id,
        credit_account_id=other_brand_player.id,
        amount=1,
        currency="EUR",
        type="deposit",
    )
    with pytest.raises(BrandMismatch):
        await wallet_client.transfer(request)


async def test_batch_when_all_legs_fit_applies_all(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100)
    legs = [
        TransferLegIn(debit_account_id=player.id, credit_account_id=house.id, amount=60, currency="EUR", type="bet"),
        TransferLegIn(debit_account_id=house.id, credit_account_id=player.id, amount=200, currency="EUR", type="win"),
    ]
    result = await wallet_client.transfer_batch(CreateBatchRequest(idempotency_key=key(), transfers=legs))
    assert [t.position for t in result.transfers] == [0, 1]
    assert result.balances[str(player.id)].posted == 240
    assert (await wallet_client.get_balance(player.id)).posted == 240


async def test_batch_when_one_leg_fails_applies_none(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100)
    legs = [
        TransferLegIn(debit_account_id=player.id, credit_account_id=house.id, amount=60, currency="EUR", type="bet"),
        TransferLegIn(debit_account_id=player.id, credit_account_id=house.id, amount=60, currency="EUR", type="bet"),
    ]
    with pytest.raises(InsufficientFunds) as raised:
        await wallet_client.transfer_batch(CreateBatchRequest(idempotency_key=key(), transfers=legs))
    assert raised.value.extensions["transfer_index"] == 1
    assert (await wallet_client.get_balance(player.id)).posted == 100
    assert (await wallet_client.list_transfers(account_id=player.id)).items[0].type == "deposit"


async def test_reversal_by_id_moves_money_back_and_names_original(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100)
    original = await wallet_client.transfer(bet(player, house, 40))
    reversal = await wallet_client.reverse(
        ReverseTransferRequest(idempotency_key=key(), transfer_id=original.transfer.id, type="bet_rollback")
    )
    assert reversal.status == "reversed"
    assert reversal.transfers[0].reverses_id == original.transfer.id
    assert reversal.transfers[0].debit_account_id == house.id
    assert reversal.transfers[0].type == "bet_rollback"
    assert (await wallet_client.get_balance(player.id)).posted == 100


async def test_reversal_when_already_reversed_is_refused(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100)
    original = await wallet_client.transfer(bet(player, house, 40))
    await wallet_client.reverse(ReverseTransferRequest(idempotency_key=key(), transfer_id=original.transfer.id))
    with pytest.raises(AlreadyReversed):
        await wallet_client.reverse(ReverseTransferRequest(idempotency_key=key(), transfer_id=original.transfer.id))
    assert (await wallet_client.get_balance(player.id)).posted == 100


async def test_reversal_when_replayed_does_not_move_money_again(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100)
    await wallet_client.transfer(bet(player, house, 40, "bet-77"))
    request = ReverseTransferRequest(idempotency_key="rollback-77", original_idempotency_key="bet-77")
    first = await wallet_client.reverse(request)
    again = await wallet_client.reverse(request)
    assert again == first
    assert (await wallet_client.get_balance(player.id)).posted == 100


async def test_reversal_of_a_reversal_is_refused(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100)
    original = await wallet_client.transfer(bet(player, house, 40))
    reversal = await wallet_client.reverse(
        ReverseTransferRequest(idempotency_key=key(), transfer_id=original.transfer.id)
    )
    with pytest.raises(NotReversible):
        await wallet_client.reverse(ReverseTransferRequest(idempotency_key=key(), transfer_id=reversal.transfers[0].id))


async def test_reversal_when_original_unseen_tombstones_and_refuses_it_later(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100)
    tombstone = await wallet_client.reverse(
        ReverseTransferRequest(idempotency_key="rollback-timed-out", original_idempotency_key="bet-timed-out")
    )
    assert tombstone.status == "tombstoned"
    assert tombstone.transfers == []
    with pytest.raises(TransferTombstoned):
        await wallet_client.transfer(bet(player, house, 40, "bet-timed-out"))
    assert (await wallet_client.get_balance(player.id)).posted == 100


async def test_reversal_of_a_tombstoned_key_under_a_new_key_is_tombstoned_again_and_moves_nothing(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    # A studio that resends its rollback under a new id learns the same outcome: the bet is cancelled (docs/wallet.md,
    # "Tombstones"). Nothing was reversed the first time, so there is nothing to reverse twice; no money moves.
    player = await open_player(100)
    bet_key, first_key, second_key = key("bet"), key("rollback"), key("rollback")
    await wallet_client.reverse(ReverseTransferRequest(idempotency_key=first_key, original_idempotency_key=bet_key))
    second = await wallet_client.reverse(
        ReverseTransferRequest(idempotency_key=second_key, original_idempotency_key=bet_key)
    )
    assert (second.status, second.original_idempotency_key, second.transfers) == ("tombstoned", bet_key, [])
    # The second reversal's key is recorded like any other: a replay returns it, other content under it conflicts.
    assert (
        await wallet_client.reverse(
            ReverseTransferRequest(idempotency_key=second_key, original_idempotency_key=bet_key)
        )
        == second
    )
    with pytest.raises(IdempotencyConflict):
        await wallet_client.reverse(ReverseTransferRequest(idempotency_key=second_key, original_idempotency_key=key()))
    with pytest.raises(TransferTombstoned):
        await wallet_client.transfer(bet(player, house, 40, bet_key))
    assert (await wallet_client.get_balance(player.id)).posted == 100
    events, _ = await read_all(wallet_client)
    tombstoned = [event["payload"] for event in events if event["type"] == "wallet.transfer.tombstoned"]
    assert tombstoned == [{"idempotency_key": bet_key, "reversal_idempotency_key": first_key}]


async def test_reversal_of_a_win_when_player_spent_it_is_refused(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(0)
    win = await wallet_client.transfer(
        CreateTransferRequest(
            idempotency_key=key(),
            debit_account_id=house.id,
            credit_account_id=player.id,
            amount=50,
            currency="EUR",
            type="win",
        )
    )
    await wallet_client.transfer(bet(player, house, 30))
    with pytest.raises(InsufficientFunds):
        await wallet_client.reverse(ReverseTransferRequest(idempotency_key=key(), transfer_id=win.transfer.id))
    assert (await wallet_client.get_balance(player.id)).posted == 20


async def test_transfer_list_pages_newest_first_without_gaps(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    for _ in range(7):
        await wallet_client.transfer(bet(player, house, 1))
    seen = []
    cursor = None
    while True:
        page = await wallet_client.list_transfers(account_id=player.id, cursor=cursor, limit=3)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 8  # deposit + 7 bets
    assert [t.id for t in seen] == sorted((t.id for t in seen), reverse=True)
    assert seen[-1].type == "deposit"


async def test_transfers_cannot_be_updated_or_deleted_in_the_database(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    await open_player(100)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("UPDATE wallet.transfers SET amount = amount + 1")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("DELETE FROM wallet.transfers")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("DELETE FROM wallet.requests")


async def test_batch_when_a_leg_names_an_unknown_account_reports_its_index(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100)
    legs = [
        TransferLegIn(debit_account_id=player.id, credit_account_id=house.id, amount=1, currency="EUR", type="bet"),
        TransferLegIn(
            debit_account_id=house.id,
            credit_account_id="01a2014c-0000-7000-8000-000000000000",
            amount=1,
            currency="EUR",
            type="win",
        ),
    ]
    with pytest.raises(AccountNotFound) as raised:
        await wallet_client.transfer_batch(CreateBatchRequest(idempotency_key=key(), transfers=legs))
    assert raised.value.extensions["transfer_index"] == 1
    assert (await wallet_client.get_balance(player.id)).posted == 100


async def test_open_account_when_same_owner_other_settings_is_account_exists(
    wallet_client: WalletClient, house: AccountOut
) -> None:
    with pytest.raises(AccountExists):
        await wallet_client.open_account(
            OpenAccountRequest(
                brand_id="brand-test",
                owner_type="house",
                owner_id="house",
                kind="bankroll",
                currency="EUR",
                allow_negative=False,
            )
        )


async def test_open_account_when_identical_returns_the_existing_one(
    wallet_client: WalletClient, house: AccountOut
) -> None:
    again = await wallet_client.open_account(
        OpenAccountRequest(
            brand_id="brand-test",
            owner_type="house",
            owner_id="house",
            kind="bankroll",
            currency="EUR",
            allow_negative=True,
        )
    )
    assert again.id == house.id


async def test_bet_replay_and_its_rollback_in_one_batch_reverse_the_bet(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100)
    request = bet(player, house, 40, "bet-in-flight")
    await wallet_client.transfer(request)
    rollback = ReverseTransferRequest(idempotency_key="rollback-in-flight", original_idempotency_key="bet-in-flight")
    # The studio retries the bet and sends the rollback at once: both can land in one ledger batch.
    replay, reversal = await asyncio.gather(wallet_client.transfer(request), wallet_client.reverse(rollback))
    assert replay.transfer.amount == 40
    assert reversal.status == "reversed"
    assert [t.reverses_id for t in reversal.transfers] == [replay.transfer.id]
    assert (await wallet_client.get_balance(player.id)).posted == 100


async def test_transfer_event_parses_into_its_public_payload_type(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100)
    result = await wallet_client.transfer(bet(player, house, 10))
    page = await wallet_client.read_events(limit=100)
    event = next(event for event in page.items if event.id == result.transfer.id)
    payload = parse_payload(event.type, event.payload)
    assert isinstance(payload, TransferCommitted)
    assert payload.id == result.transfer.id
    assert payload.amount == 10


async def test_reserved_keys_are_refused_for_every_command_and_write_nothing(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    player = await open_player(1000)
    hold = await wallet_client.create_hold(withdrawal_hold(player, house, 100))
    placed = await wallet_client.transfer(bet(player, house, 10))
    reserved = f"wallet:hold-expiry:{hold.transfer.id}"  # the very key the wallet's own expiry of this hold uses
    leg = TransferLegIn(debit_account_id=player.id, credit_account_id=house.id, amount=5, currency="EUR", type="bet")
    attempts = {
        "idempotency_key": [
            wallet_client.transfer(bet(player, house, 5, reserved)),
            wallet_client.transfer_batch(CreateBatchRequest(idempotency_key=reserved, transfers=[leg])),
            wallet_client.create_hold(
                withdrawal_hold(player, house, 5).model_copy(update={"idempotency_key": reserved})
            ),
            wallet_client.post_hold(hold.transfer.id, PostHoldRequest(idempotency_key=reserved)),
            wallet_client.void_hold(hold.transfer.id, VoidHoldRequest(idempotency_key=reserved)),
            wallet_client.reverse(ReverseTransferRequest(idempotency_key=reserved, transfer_id=placed.transfer.id)),
        ],
        "original_idempotency_key": [
            wallet_client.reverse(
                ReverseTransferRequest(idempotency_key=key("undo"), original_idempotency_key=reserved)
            ),
        ],
    }
    for field, calls in attempts.items():
        for call in calls:
            with pytest.raises(ValidationFailed) as refused:
                await call
            assert refused.value.code == "validation_error"
            assert field in refused.value.detail
            assert "reserved" in refused.value.detail

    assert await db.fetchval("SELECT count(*) FROM wallet.requests WHERE key LIKE 'wallet:%'") == 0
    assert await db.fetchval("SELECT count(*) FROM wallet.transfers WHERE request_key LIKE 'wallet:%'") == 0
    assert (await wallet_client.get_hold(hold.transfer.id)).status == "open"
    assert (await wallet_client.get_balance(player.id)).posted == 990
