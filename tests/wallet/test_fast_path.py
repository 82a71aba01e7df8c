"""The ledger writer's fast path (ADR 0005): new transfers applied from the totals the writer last committed.

A batch of new transfers, batches and holds reads neither its idempotency records nor the accounts the writer knows;
its write checks both (the idempotency key's unique index, each account's compare-and-swap). These tests make each
assumption wrong on purpose, through both client transports, and check that the answer is what a serial ledger
would give: a retry gets the original result, a reused key a conflict, a tombstoned key a refusal, and a balance that
changed elsewhere is neither overdrawn nor wrongly refused.
"""

import asyncpg
import pytest

from croupier.bootstrap import Platform
from croupier.wallet.client import (
    AccountOut,
    CreateTransferRequest,
    IdempotencyConflict,
    InProcessWalletClient,
    InsufficientFunds,
    ReverseTransferRequest,
    TransferTombstoned,
    WalletClient,
)
from croupier.wallet.service import WalletService
from croupier.wallet.verify import verify_ledger
from tests.wallet.conftest import OpenPlayer, bet, key, writer_of


async def stored_transfers(db: asyncpg.Connection, idempotency_key: str) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM wallet.transfers WHERE request_key = $1", idempotency_key)
    return count


async def test_retry_of_a_committed_transfer_gets_the_original_result_and_moves_money_once(
    platform: Platform, wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    player = await open_player(100)
    writer = writer_of(platform)
    bet_key = key("bet")
    first = await wallet_client.transfer(bet(player, house, 30, bet_key))
    fast_before, failures_before, locked_before = writer.fast_batches, writer.optimistic_failures, writer.locked_batches

    retry = await wallet_client.transfer(bet(player, house, 30, bet_key))

    assert retry == first  # the same transfer id and the balance snapshot as it was then
    assert (await wallet_client.get_balance(player.id)).posted == 70
    assert await stored_transfers(db, bet_key) == 1
    # The retry went the fast way, met its stored key in the write, and was answered by the locked path.
    assert writer.fast_batches == fast_before + 1
    assert writer.optimistic_failures == failures_before + 1
    assert writer.locked_batches == locked_before + 1
    # A client's retry is no race: the next transfers are not sent down the locked path.
    for amount in (1, 2, 3):
        await wallet_client.transfer(bet(player, house, amount, key("bet")))
    assert writer.locked_batches == locked_before + 1
    assert (await wallet_client.get_balance(player.id)).posted == 64


async def test_committed_key_reused_with_other_content_is_a_conflict_and_moves_nothing(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    player = await open_player(100)
    bet_key = key("bet")
    await wallet_client.transfer(bet(player, house, 30, bet_key))

    with pytest.raises(IdempotencyConflict) as conflict:
        await wallet_client.transfer(bet(player, house, 31, bet_key))

    assert conflict.value.extensions.get("idempotency_key") == bet_key

    assert (await wallet_client.get_balance(player.id)).posted == 70
    assert await stored_transfers(db, bet_key) == 1


async def test_transfer_arriving_after_its_tombstone_is_refused(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    player = await open_player(100)
    bet_key = key("bet")
    await wallet_client.reverse(ReverseTransferRequest(idempotency_key=key("cancel"), original_idempotency_key=bet_key))

    with pytest.raises(TransferTombstoned):
        await wallet_client.transfer(bet(player, house, 30, bet_key))

    assert (await wallet_client.get_balance(player.id)).posted == 100
    assert await stored_transfers(db, bet_key) == 0


async def test_balance_raised_by_another_writer_is_spent_not_refused(
    platform: Platform,
    wallet_client: WalletClient,
    house: AccountOut,
    open_player: OpenPlayer,
    second_writer: WalletService,
) -> None:
    player = await open_player(50)  # this writer committed the deposit: it knows the balance as 50
    await InProcessWalletClient(second_writer).transfer(
        CreateTransferRequest(
            idempotency_key=key("deposit"),
            debit_account_id=house.id,
            credit_account_id=player.id,
            amount=100,
            currency="EUR",
            type="deposit",
        )
    )

    result = await wallet_client.transfer(bet(player, house, 120, key("bet")))  # more than 50, less than 150

    assert result.debit_balance.posted == 30
    assert (await wallet_client.get_balance(player.id)).posted == 30
    report = await verify_ledger(platform.db)
    assert report.clean, report


async def test_balance_lowered_by_another_writer_is_never_overdrawn(
    platform: Platform,
    wallet_client: WalletClient,
    house: AccountOut,
    open_player: OpenPlayer,
    second_writer: WalletService,
    db: asyncpg.Connection,
) -> None:
    player = await open_player(100)  # this writer knows the balance as 100
    await InProcessWalletClient(second_writer).transfer(bet(player, house, 70, key("bet")))
    late_key = key("bet")

    with pytest.raises(InsufficientFunds):
        await wallet_client.transfer(bet(player, house, 50, late_key))  # fits the 100 it knew, not the 30 left

    assert (await wallet_client.get_balance(player.id)).posted == 30
    assert await stored_transfers(db, late_key) == 0
    report = await verify_ledger(platform.db)
    assert report.clean, report
