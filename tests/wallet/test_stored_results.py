"""Results stored by reference (wallet/results.py): a key's row keeps each transfer's id and metadata, and a replay
reads the rest back from the ledger. Whatever form a result was stored in, and by whichever process, the replay is
the original result."""

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from croupier.bootstrap import Platform
from croupier.wallet.client import (
    AccountOut,
    CreateBatchRequest,
    CreateHoldRequest,
    CreateTransferRequest,
    InProcessWalletClient,
    PostHoldRequest,
    ReverseTransferRequest,
    TransferLegIn,
    WalletClient,
)
from croupier.wallet.service import WalletService
from croupier.wallet.verify import verify_ledger
from tests.wallet.conftest import OpenPlayer, bet, key, other_wallet_process

#: Keys out of the order jsonb would put them in: the replay must keep the order the client sent.
METADATA = {"round": "r-1", "game": "dice", "a": [3, 1, 2], "nested": {"z": 1, "b": 2}}


def _bet(player: AccountOut, house: AccountOut, amount: int, idempotency_key: str) -> CreateTransferRequest:
    return bet(player, house, amount, idempotency_key, metadata=METADATA)


@pytest.fixture
async def whole_writer(platform: Platform, database_url: str) -> AsyncIterator[WalletService]:
    """A wallet process that stores results whole: an earlier version, or `wallet_results_by_reference` off."""
    async with other_wallet_process(platform, database_url, results_by_reference=False) as service:
        yield service


async def _stored(db: asyncpg.Connection, idempotency_key: str) -> Any:
    return json.loads(await db.fetchval("SELECT result::text FROM wallet.requests WHERE key = $1", idempotency_key))


async def test_transfer_result_is_stored_by_reference_and_replayed_whole(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    player = await open_player(1000)
    bet_key = key("bet")
    first = await wallet_client.transfer(_bet(player, house, 300, bet_key))
    await wallet_client.transfer(_bet(player, house, 100, key("bet")))  # the balance moves on after the first

    stored = await _stored(db, bet_key)
    assert stored["transfer"] == {"id": str(first.transfer.id), "metadata": METADATA}
    assert list(stored["transfer"]["metadata"]) == list(METADATA)  # the client's key order, kept
    assert stored["debit_balance"] == {"posted": 700, "available": 700}

    replay = await wallet_client.transfer(_bet(player, house, 300, bet_key))  # read back from the database
    assert replay.model_dump() == first.model_dump()
    assert list(replay.transfer.metadata) == list(METADATA)
    assert replay.debit_balance.posted == 700  # the balance right after the bet, not the 600 of now


async def test_results_stored_whole_by_another_process_and_by_reference_replay_on_either(
    wallet_client: WalletClient,
    house: AccountOut,
    open_player: OpenPlayer,
    whole_writer: WalletService,
    db: asyncpg.Connection,
) -> None:
    """Processes of two versions side by side: each replays what the other stored."""
    whole = InProcessWalletClient(whole_writer)
    player = await open_player(1000)
    key_whole, key_reference = key("whole"), key("reference")
    stored_whole = await whole.transfer(_bet(player, house, 50, key_whole))
    stored_by_reference = await wallet_client.transfer(_bet(player, house, 70, key_reference))
    assert "amount" in (await _stored(db, key_whole))["transfer"]
    assert "amount" not in (await _stored(db, key_reference))["transfer"]

    replayed = await wallet_client.transfer(_bet(player, house, 50, key_whole))
    assert replayed.model_dump() == stored_whole.model_dump()
    replayed = await whole.transfer(_bet(player, house, 70, key_reference))
    assert replayed.model_dump() == stored_by_reference.model_dump()
    assert (await wallet_client.get_balance(player.id)).posted == 880


async def test_batch_hold_and_reversal_results_replay_whole_and_reverse_by_key(
    platform: Platform,
    wallet_client: WalletClient,
    house: AccountOut,
    open_player: OpenPlayer,
    db: asyncpg.Connection,
) -> None:
    player = await open_player(500)
    batch_key = key("batch")
    batch = CreateBatchRequest(
        idempotency_key=batch_key,
        transfers=[
            TransferLegIn(
                debit_account_id=house.id,
                credit_account_id=player.id,
                amount=amount,
                currency="EUR",
                type="deposit",
                metadata={"leg": str(amount), "b": 1, "a": 2},
            )
            for amount in (400, 600)
        ],
    )
    applied = await wallet_client.transfer_batch(batch)
    stored = await _stored(db, batch_key)
    assert [row["id"] for row in stored["transfers"]] == [str(row.id) for row in applied.transfers]
    assert all(set(row) == {"id", "metadata"} for row in stored["transfers"])
    assert (await wallet_client.transfer_batch(batch)).model_dump() == applied.model_dump()

    hold_request = CreateHoldRequest(
        idempotency_key=key("hold"),
        debit_account_id=player.id,
        credit_account_id=house.id,
        amount=300,
        currency="EUR",
        type="withdrawal",
    )
    hold = await wallet_client.create_hold(hold_request)
    post = PostHoldRequest(idempotency_key=key("post"), amount=200)
    posted = await wallet_client.post_hold(hold.transfer.id, post)
    assert (await wallet_client.create_hold(hold_request)).model_dump() == hold.model_dump()
    assert (await wallet_client.post_hold(hold.transfer.id, post)).model_dump() == posted.model_dump()

    # A reversal that names the batch by its key finds its transfers through the stored result.
    reversal = ReverseTransferRequest(idempotency_key=key("reverse"), original_idempotency_key=batch_key)
    reversed_ = await wallet_client.reverse(reversal)
    assert reversed_.status == "reversed"
    assert sorted(row.reverses_id for row in reversed_.transfers if row.reverses_id) == sorted(
        row.id for row in applied.transfers
    )
    assert (await wallet_client.reverse(reversal)).model_dump() == reversed_.model_dump()
    assert (await wallet_client.get_balance(player.id)).posted == 500 + 1000 - 200 - 1000
    report = await verify_ledger(platform.db)
    assert report.clean, report
