"""Transfer events by reference (migration 0005): the batch write names its transfers in one wallet.transfer_events
row, in the same statement, and the feed renders each event from its transfer row. Events written whole (by earlier
versions, or with `wallet_events_by_reference` off) and by reference come back from the feed alike, once each, in
commit order."""

import asyncio
import contextvars
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from croupier.bootstrap import Platform
from croupier.kit.tracing import current_trace_id
from croupier.wallet.client import (
    AccountOut,
    CreateBatchRequest,
    CreateTransferRequest,
    InProcessWalletClient,
    PostHoldRequest,
    ReverseTransferRequest,
    TransferLegIn,
    TransferOut,
    VoidHoldRequest,
    WalletClient,
)
from croupier.wallet.events import parse_payload
from croupier.wallet.service import WalletService
from croupier.wallet.verify import verify_ledger
from tests.wallet.conftest import OpenPlayer, bet, key, other_wallet_process, withdrawal_hold

METADATA = {"round": "r-7", "game": "dice", "nested": {"z": 1, "b": [2, 1]}}


@pytest.fixture
async def whole_events_writer(platform: Platform, database_url: str) -> AsyncIterator[WalletService]:
    """A wallet process that writes transfer events whole to wallet.outbox: an earlier version, or the setting off."""
    async with other_wallet_process(platform, database_url, events_by_reference=False) as service:
        yield service


def _bet(player: AccountOut, house: AccountOut, amount: int) -> CreateTransferRequest:
    return bet(player, house, amount, metadata=METADATA)


async def _feed(client: WalletClient, after: str | None, page_size: int = 3) -> tuple[list[dict[str, Any]], str]:
    events: list[dict[str, Any]] = []
    while True:
        page = await client.read_events(after=after, limit=page_size)
        events.extend(event.model_dump(mode="json") for event in page.items)
        after = page.next_cursor
        if not page.items:
            return events, after


async def _cursor_now(client: WalletClient) -> str:
    return (await _feed(client, None, page_size=100))[1]


async def test_transfer_event_is_written_by_reference_in_the_transfers_transaction(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    player = await open_player(100)
    cursor = await _cursor_now(wallet_client)
    result = await wallet_client.transfer(_bet(player, house, 10))

    row = await db.fetchrow(
        """SELECT e.transfer_ids, e.txid::text::numeric % 4294967296 AS xid, t.xmin::text::numeric AS transfer_xid
           FROM wallet.transfer_events e JOIN wallet.transfers t ON t.id = ANY(e.transfer_ids)
           WHERE t.id = $1""",
        result.transfer.id,
    )
    assert row is not None, "no transfer_events row names the transfer"
    assert row["transfer_ids"] == [result.transfer.id]
    assert row["xid"] == row["transfer_xid"]  # written by the transaction that wrote the transfer
    assert await db.fetchval("SELECT count(*) FROM wallet.outbox WHERE id = $1", result.transfer.id) == 0

    events, _ = await _feed(wallet_client, cursor)
    assert len(events) == 1
    event = events[0]
    assert event["id"] == str(result.transfer.id)
    assert event["type"] == "wallet.transfer.committed"
    assert event["version"] == 1
    assert event["brand_id"] == "brand-test"
    assert datetime.fromisoformat(event["occurred_at"]) == result.transfer.created_at
    assert TransferOut.model_validate(event["payload"]) == result.transfer
    assert event["payload"]["debit_account_id"] == str(player.id)  # as a payload written whole has it: text
    assert list(event["payload"]) == list(TransferOut.model_fields)


async def test_events_written_whole_and_by_reference_come_back_alike_once_each_in_commit_order(
    wallet_client: WalletClient,
    house: AccountOut,
    open_player: OpenPlayer,
    whole_events_writer: WalletService,
    db: asyncpg.Connection,
) -> None:
    """Two versions side by side: whatever form each process wrote, the feed gives the same events."""
    whole = InProcessWalletClient(whole_events_writer)
    player = await open_player(1000)
    cursor = await _cursor_now(wallet_client)
    made: list[tuple[str, str, int]] = []  # (event type, transfer id, amount), in commit order
    for client in (whole, wallet_client, whole, wallet_client):
        placed = await client.transfer(_bet(player, house, 5))
        made.append(("wallet.transfer.committed", str(placed.transfer.id), 5))
        hold = await client.create_hold(withdrawal_hold(player, house, 20))
        made.append(("wallet.hold.created", str(hold.transfer.id), 20))
        posted = await client.post_hold(hold.transfer.id, PostHoldRequest(idempotency_key=key("post"), amount=15))
        made.append(("wallet.hold.posted", str(posted.transfer.id), 15))
        other = await client.create_hold(withdrawal_hold(player, house, 7))
        made.append(("wallet.hold.created", str(other.transfer.id), 7))
        voided = await client.void_hold(other.transfer.id, VoidHoldRequest(idempotency_key=key("void")))
        made.append(("wallet.hold.voided", str(voided.transfer.id), 7))
        reversal = await client.reverse(
            ReverseTransferRequest(idempotency_key=key("rev"), transfer_id=placed.transfer.id)
        )
        made.append(("wallet.transfer.committed", str(reversal.transfers[0].id), 5))

    whole_ids = {row["id"] for row in await db.fetch("SELECT id::text FROM wallet.outbox WHERE type LIKE 'wallet.%'")}
    by_reference = await db.fetchval("SELECT count(*) FROM wallet.transfer_events")
    assert sum(1 for _, transfer_id, _ in made if transfer_id in whole_ids) == 12  # the whole writer's dozen
    assert by_reference >= 12  # one row per batch written by reference (each call above was its own batch)

    for page_size in (1, 4, 100):
        events, _ = await _feed(wallet_client, cursor, page_size)
        assert [(e["type"], e["id"], e["payload"]["amount"]) for e in events] == made
        for event in events:
            assert event["payload"]["id"] == event["id"]
            assert datetime.fromisoformat(event["occurred_at"]) == datetime.fromisoformat(
                event["payload"]["created_at"]
            )
            assert event["brand_id"] == event["payload"]["brand_id"]
            parse_payload(event["type"], event["payload"])
    whole_event = next(e for e in events if e["id"] in whole_ids)
    reference_event = next(e for e in events if e["id"] not in whole_ids)
    assert set(whole_event) == set(reference_event)
    assert list(whole_event["payload"]) == list(reference_event["payload"])
    for field in ("id", "debit_account_id", "created_at", "hold_id", "expires_at"):  # the same JSON types
        assert type(whole_event["payload"][field]) is type(reference_event["payload"][field])
    assert whole_event["payload"]["metadata"] == reference_event["payload"]["metadata"] == METADATA
    report = await verify_ledger(whole_events_writer.db)
    assert report.clean, report


async def test_events_of_one_batch_share_a_row_and_page_out_in_id_order(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    player = await open_player(0)
    cursor = await _cursor_now(wallet_client)
    batch = await wallet_client.transfer_batch(
        CreateBatchRequest(
            idempotency_key=key("batch"),
            transfers=[
                TransferLegIn(
                    debit_account_id=house.id,
                    credit_account_id=player.id,
                    amount=amount,
                    currency="EUR",
                    type="deposit",
                )
                for amount in range(1, 11)
            ],
        )
    )
    ids = [str(transfer.id) for transfer in batch.transfers]
    row = await db.fetchrow(
        "SELECT transfer_ids, trace_ids FROM wallet.transfer_events WHERE $1 = ANY(transfer_ids)", batch.transfers[0].id
    )
    assert sorted(str(transfer_id) for transfer_id in row["transfer_ids"]) == sorted(ids)

    for page_size in (1, 3, 7, 10, 11):
        events, end = await _feed(wallet_client, cursor, page_size)
        assert [e["id"] for e in events] == sorted(ids)  # one transaction: in id order
        assert sorted(e["payload"]["amount"] for e in events) == list(range(1, 11))
        more, same = await _feed(wallet_client, end, page_size)
        assert more == []
        assert same == end


async def test_each_transfers_trace_id_reaches_its_event(
    platform: Platform, house: AccountOut, open_player: OpenPlayer
) -> None:
    """Commands of one batch carry their own trace ids (or none); each event keeps its transfer's."""
    assert platform.wallet is not None
    client = InProcessWalletClient(platform.wallet)
    player = await open_player(100)
    cursor = await _cursor_now(client)
    traces = ["a" * 32, None, "b" * 32]
    bets = [_bet(player, house, amount) for amount in (1, 2, 3)]

    async def send(request: CreateTransferRequest, trace: str | None) -> str:
        current_trace_id.set(trace)
        return str((await client.transfer(request)).transfer.id)

    # Each in its own context, submitted together so that the writer takes them as one batch.
    tasks = [
        asyncio.get_running_loop().create_task(send(request, trace), context=contextvars.copy_context())
        for request, trace in zip(bets, traces, strict=True)
    ]
    transfer_ids = await asyncio.gather(*tasks)
    events, _ = await _feed(client, cursor)
    by_id = {e["id"]: e["trace_id"] for e in events}
    assert [by_id[transfer_id] for transfer_id in transfer_ids] == traces


async def test_transfer_events_cannot_be_changed_in_the_database(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    await open_player(100)
    assert await db.fetchval("SELECT count(*) FROM wallet.transfer_events") > 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("UPDATE wallet.transfer_events SET trace_ids = NULL")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("DELETE FROM wallet.transfer_events")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("TRUNCATE wallet.transfer_events")


async def test_a_batch_of_hundreds_of_transfers_is_named_by_one_row_and_every_event_is_read_once(
    platform: Platform, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    """Rows past a page's worth of ids are stored out of line by PostgreSQL; the feed pages through them alike."""
    assert platform.wallet is not None
    client = InProcessWalletClient(platform.wallet)
    players = [await open_player(0) for _ in range(4)]
    cursor = await _cursor_now(client)
    requests = [
        CreateBatchRequest(
            idempotency_key=key("batch"),
            transfers=[
                TransferLegIn(
                    debit_account_id=house.id,
                    credit_account_id=players[leg % 4].id,
                    amount=1,
                    currency="EUR",
                    type="deposit",
                )
                for leg in range(100)
            ],
        )
        for _ in range(12)
    ]
    results = await asyncio.gather(*(client.transfer_batch(request) for request in requests))
    ids = sorted(str(transfer.id) for result in results for transfer in result.transfers)
    largest = await db.fetchval(
        "SELECT max(cardinality(transfer_ids)) FROM wallet.transfer_events WHERE transfer_ids && $1::uuid[]",
        [transfer.id for result in results for transfer in result.transfers],
    )
    assert largest > 510  # more than 8 kB of ids in one row: the writer took several requests as one batch

    for page_size in (97, 500):
        events, _ = await _feed(client, cursor, page_size)
        assert sorted(e["id"] for e in events) == ids
        assert len(events) == 1200
    report = await verify_ledger(platform.db)
    assert report.clean, report
