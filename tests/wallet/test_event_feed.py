"""The wallet's event feed: every committed event exactly once, in order, and never one behind the cursor."""

import asyncio

import asyncpg
import pytest

from croupier.wallet.client import AccountOut, CreateTransferRequest, WalletClient
from croupier.wallet.events import TransferCommitted, parse_payload
from tests.wallet.conftest import OpenPlayer, key, read_all


async def test_feed_returns_every_committed_transfer_once_in_pages(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    keys = [key("bet") for _ in range(20)]
    for idempotency_key in keys:
        await wallet_client.transfer(
            CreateTransferRequest(
                idempotency_key=idempotency_key,
                debit_account_id=player.id,
                credit_account_id=house.id,
                amount=5,
                currency="EUR",
                type="bet",
            )
        )
    events, cursor = await read_all(wallet_client)
    bets = [e for e in events if e["type"] == "wallet.transfer.committed" and e["payload"]["type"] == "bet"]  # type: ignore[index]
    assert sorted(e["payload"]["idempotency_key"] for e in bets) == sorted(keys)  # type: ignore[index]
    assert len({e["id"] for e in events}) == len(events)
    payload = parse_payload("wallet.transfer.committed", bets[0]["payload"])  # type: ignore[arg-type]
    assert isinstance(payload, TransferCommitted)
    assert payload.amount == 5
    more, same = await read_all(wallet_client, cursor)
    assert more == []
    assert same == cursor


async def test_feed_hides_an_event_until_every_older_transaction_has_finished(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, database_url: str
) -> None:
    player = await open_player(1000)
    _, cursor = await read_all(wallet_client)
    # An open transaction that started before the transfer (it took a transaction id): until it ends, an event
    # committed after it could still be followed by one of its own with a smaller txid, so the feed must wait.
    blocker = await asyncpg.connect(database_url)
    transaction = blocker.transaction()
    await transaction.start()
    await blocker.fetchval("SELECT pg_current_xact_id()")
    try:
        await wallet_client.transfer(
            CreateTransferRequest(
                idempotency_key=key("bet"),
                debit_account_id=player.id,
                credit_account_id=house.id,
                amount=7,
                currency="EUR",
                type="bet",
            )
        )
        hidden, _ = await read_all(wallet_client, cursor)
        assert hidden == []
    finally:
        await transaction.rollback()
        await blocker.close()
    shown, _ = await read_all(wallet_client, cursor)
    assert [e["payload"]["amount"] for e in shown] == [7]  # type: ignore[index]


@pytest.mark.parametrize("after", ["nonsense", "12:not-a-uuid", "x:00000000-0000-0000-0000-000000000000"])
async def test_feed_with_a_malformed_cursor_is_refused(wallet_client: WalletClient, after: str) -> None:
    from croupier.kit.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        await wallet_client.read_events(after=after)


async def test_feed_under_concurrent_writers_misses_nothing(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(100_000)
    _, cursor = await read_all(wallet_client)
    seen: list[dict[str, object]] = []
    done = asyncio.Event()

    async def consume() -> None:
        nonlocal cursor
        while True:
            page = await wallet_client.read_events(after=cursor, limit=50)
            seen.extend(event.model_dump() for event in page.items)
            cursor = page.next_cursor
            if done.is_set() and not page.items:
                return
            await asyncio.sleep(0.001)

    async def bet() -> None:
        await wallet_client.transfer(
            CreateTransferRequest(
                idempotency_key=key("bet"),
                debit_account_id=player.id,
                credit_account_id=house.id,
                amount=1,
                currency="EUR",
                type="bet",
            )
        )

    consumer = asyncio.create_task(consume())
    await asyncio.gather(*(bet() for _ in range(150)))
    done.set()
    await consumer
    assert len([e for e in seen if e["payload"]["type"] == "bet"]) == 150  # type: ignore[index]
    assert len({e["id"] for e in seen}) == len(seen)


async def burn_transaction_ids_to_just_below_a_power_of_ten(database_url: str) -> None:
    """Move the transaction counter to 3 below the next power of ten, so the next transactions cross a digit.

    The ids are taken by a loop inside the server, one transaction per pass (a DO block may COMMIT when it is not
    inside a transaction block): the whole test session shares the counter, and once it has passed 100,000 the next
    boundary is 900,000 ids away, far too many for a round trip each.
    """
    connection = await asyncpg.connect(database_url)
    try:
        current = int(await connection.fetchval("SELECT pg_current_xact_id()::text"))
        boundary = 10 ** len(str(current))
        # Most of the way in one go, then the last ids from a fresh reading: other sessions of the server (an
        # autovacuum's ANALYZE, say) may take ids meanwhile, and the second reading absorbs what they took.
        for target in (boundary - 50, boundary - 3):
            burn = target - current - 1
            if burn > 0:
                await connection.execute(
                    f"DO $$ BEGIN FOR i IN 1..{burn} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$"
                )
            current = int(await connection.fetchval("SELECT pg_current_xact_id()::text"))
        assert boundary - 10 < current < boundary, f"transaction counter at {current}, wanted just below {boundary}"
    finally:
        await connection.close()


async def test_feed_when_transaction_ids_gain_a_digit_keeps_numeric_order_and_skips_nothing(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, database_url: str
) -> None:
    player = await open_player(1000)
    _, cursor = await read_all(wallet_client)
    await burn_transaction_ids_to_just_below_a_power_of_ten(database_url)
    keys = [key("bet") for _ in range(8)]
    for idempotency_key in keys:  # one transaction each: their ids run from 99..97 to 100..04 (or similar)
        await wallet_client.transfer(
            CreateTransferRequest(
                idempotency_key=idempotency_key,
                debit_account_id=player.id,
                credit_account_id=house.id,
                amount=1,
                currency="EUR",
                type="bet",
            )
        )
    events: list[dict[str, object]] = []
    after = cursor
    while True:  # pages of 2: a page in text order ('1000' < '999') would move the cursor past older events
        page = await wallet_client.read_events(after=after, limit=2)
        if not page.items:
            break
        events.extend(event.model_dump() for event in page.items)
        after = page.next_cursor
    got = [e["payload"]["idempotency_key"] for e in events if e["type"] == "wallet.transfer.committed"]  # type: ignore[index]
    assert got == keys
