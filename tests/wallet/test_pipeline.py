"""The pipelined, optimistic ledger writer (ADR 0005): its guard, its failures, and two writers on one database.

The writer reads accounts without locks, applies batch k+1 on top of batch k while k is being written, and writes
each touched account only if its totals are still the ones it read. These tests make exactly the things happen that
the design must survive: another writer changing an account between read and write, a batch failing after the next
one was applied on top of it, and two writers competing for the same accounts.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from croupier.bootstrap import Platform
from croupier.kit.db import Database, DatabaseUnavailable
from croupier.wallet import batch_write, repository
from croupier.wallet.client import (
    AccountOut,
    CreateHoldRequest,
    CreateTransferRequest,
    IdempotencyConflict,
    InProcessWalletClient,
    InsufficientFunds,
    OpenAccountRequest,
    PostHoldRequest,
    ReverseTransferRequest,
    WalletClient,
)
from croupier.wallet.service import WalletService
from croupier.wallet.verify import verify_ledger
from tests.wallet.conftest import BRAND, key


@pytest.fixture
async def client(platform: Platform) -> WalletClient:
    return platform.wallet_client


@pytest.fixture
async def bankroll(client: WalletClient) -> AccountOut:
    return await client.open_account(
        OpenAccountRequest(
            brand_id=BRAND, owner_type="house", owner_id="house", kind="bankroll", currency="EUR", allow_negative=True
        )
    )


def bet(player: UUID, house: UUID, amount: int, idempotency_key: str | None = None) -> CreateTransferRequest:
    return CreateTransferRequest(
        idempotency_key=idempotency_key or key("bet"),
        debit_account_id=player,
        credit_account_id=house,
        amount=amount,
        currency="EUR",
        type="bet",
    )


def deposit(house: UUID, player: UUID, amount: int) -> CreateTransferRequest:
    return CreateTransferRequest(
        idempotency_key=key("deposit"),
        debit_account_id=house,
        credit_account_id=player,
        amount=amount,
        currency="EUR",
        type="deposit",
    )


async def open_funded(client: WalletClient, house: AccountOut, balance: int) -> AccountOut:
    player = await client.open_account(
        OpenAccountRequest(brand_id=BRAND, owner_type="player", owner_id=key("player"), kind="cash", currency="EUR")
    )
    if balance:
        await client.transfer(deposit(house.id, player.id, balance))
    return player


def once(action: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    done = False

    async def run() -> None:
        nonlocal done
        if not done:
            done = True
            await action()

    return run


@pytest.mark.parametrize(
    ("foreign_amount", "foreign_direction", "bet_applies", "final_balance"),
    [
        (50, "debit", False, 50),  # the other writer spent 50 of the 100: a bet of 80 is refused after all
        (10, "credit", True, 30),  # the other writer added 10: the bet of 80 applies, on the true balance of 110
    ],
)
async def test_account_changed_between_read_and_write_fails_the_guard_and_applies_on_fresh_totals(
    platform: Platform,
    client: WalletClient,
    bankroll: AccountOut,
    second_writer: WalletService,
    monkeypatch: pytest.MonkeyPatch,
    foreign_amount: int,
    foreign_direction: str,
    bet_applies: bool,
    final_balance: int,
) -> None:
    player = await open_funded(client, bankroll, 100)
    foreign = InProcessWalletClient(second_writer)
    foreign_request = (
        bet(player.id, bankroll.id, foreign_amount)
        if foreign_direction == "debit"
        else deposit(bankroll.id, player.id, foreign_amount)
    )
    interfere = once(lambda: foreign.transfer(foreign_request))  # type: ignore[arg-type,return-value]
    real_write = batch_write.write_batch

    async def let_the_other_writer_commit_then_write(connection: Any, write: Any) -> None:
        # Our batch took the player's totals (from its own last commit, or from a read) and applied the bet on
        # them; the other writer commits now, before our write. The other writer's own write passes through here
        # too, after `once` has fired, and goes straight on.
        if player.id in write.applier.touched:
            await interfere()
        await real_write(connection, write)

    monkeypatch.setattr(batch_write, "write_batch", let_the_other_writer_commit_then_write)
    assert platform.wallet is not None
    failures_before = platform.wallet.writer.optimistic_failures

    if bet_applies:
        result = await client.transfer(bet(player.id, bankroll.id, 80))
        assert result.debit_balance.posted == final_balance  # the snapshot counts the other writer's transfer
    else:
        with pytest.raises(InsufficientFunds):
            await client.transfer(bet(player.id, bankroll.id, 80))

    assert platform.wallet.writer.optimistic_failures == failures_before + 1  # the guard did fire
    assert (await client.get_balance(player.id)).posted == final_balance
    report = await verify_ledger(platform.db)
    assert report.clean, report


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        # k fails and is applied again with the same outcome: 60 and 30 apply, 20 is refused (10 left).
        ("race", {"a60": 40, "b30": 10, "c20": None}),
        ("connection", {"a60": 40, "b30": 10, "c20": None}),
        # Another writer spends 50 before k is written, so k's guard really fails. Applied again, 60 is refused and
        # 30 leaves 20, so 20 now applies. Had k+1 kept its result from k's discarded totals, 20 would be refused.
        ("foreign-spend", {"a60": None, "b30": 20, "c20": 0}),
    ],
)
async def test_batch_that_fails_after_the_next_was_applied_on_it_leaves_both_applied_once(
    platform: Platform,
    client: WalletClient,
    bankroll: AccountOut,
    second_writer: WalletService,
    monkeypatch: pytest.MonkeyPatch,
    db: asyncpg.Connection,
    fault: str,
    expected: dict[str, int | None],
) -> None:
    player = await open_funded(client, bankroll, 100)
    assert platform.wallet is not None
    writer = platform.wallet.writer
    keys = {name: key(name) for name in ("a60", "b30", "c20")}
    read_keys: set[str] = set()
    real_load = repository.load_requests

    async def recording_load(connection: Any, wanted: Any) -> Any:
        read_keys.update(wanted)
        return await real_load(connection, wanted)

    real_write = batch_write.write_batch
    failed = False

    async def write_failing_once_after_the_next_batch_was_read(connection: Any, *args: Any) -> None:
        nonlocal failed
        if not failed and not connection.is_in_transaction():
            failed = True
            for _ in range(500):  # wait until the writer has read (and so applied) the next batch
                if keys["c20"] in read_keys:
                    break
                await asyncio.sleep(0.002)
            assert keys["c20"] in read_keys, "the next batch was never prepared while this one was in flight"
            if fault == "race":
                raise asyncpg.SerializationError("simulated: account totals changed since the batch read them")
            if fault == "connection":
                raise DatabaseUnavailable("simulated: the connection dropped before the write reached the server")
            await InProcessWalletClient(second_writer).transfer(bet(player.id, bankroll.id, 50))
        await real_write(connection, *args)  # for "foreign-spend": the real guard fails

    monkeypatch.setattr(repository, "load_requests", recording_load)
    monkeypatch.setattr(batch_write, "write_batch", write_failing_once_after_the_next_batch_was_read)
    failures_before = writer.optimistic_failures

    # Submitted together while the writer is idle: the first two form batch k, the third batch k+1, which is
    # applied on top of k's totals (40, then 10 available) while k is being written, and is refused there.
    results = await asyncio.gather(
        client.transfer(bet(player.id, bankroll.id, 60, keys["a60"])),
        client.transfer(bet(player.id, bankroll.id, 30, keys["b30"])),
        client.transfer(bet(player.id, bankroll.id, 20, keys["c20"])),
        return_exceptions=True,
    )

    assert failed
    assert writer.optimistic_failures == failures_before + 1
    stored = await db.fetch("SELECT request_key, count(*) AS n FROM wallet.transfers GROUP BY request_key")
    counts = {row["request_key"]: row["n"] for row in stored}
    for (name, available), result in zip(expected.items(), results, strict=True):
        if available is None:
            assert isinstance(result, InsufficientFunds), name
            assert keys[name] not in counts
        else:
            assert not isinstance(result, BaseException), (name, result)
            assert result.debit_balance.available == available, name
            assert counts.get(keys[name]) == 1, name
    assert (await client.get_balance(player.id)).posted == min(v for v in expected.values() if v is not None)
    report = await verify_ledger(platform.db)
    assert report.clean, report


async def test_two_writers_on_the_same_accounts_conserve_money_and_never_overdraw(
    platform: Platform, client: WalletClient, bankroll: AccountOut, database_url: str
) -> None:
    """Two optimistic writers (two wallet processes) run overlapping bets, wins, holds and reversals."""
    db = Database(database_url, min_size=1, max_size=4)
    await db.connect()
    other = WalletService(db, platform.currencies, batch_max=8)  # small batches: many interleavings
    await other.start()
    try:
        clients: list[WalletClient] = [client, InProcessWalletClient(other)]
        players = [await open_funded(client, bankroll, 1_000) for _ in range(6)]
        rng = random.Random(20261122)
        applied: list[tuple[str, UUID, int]] = []  # (kind, player, amount) of every acknowledged money movement

        async def actor(seed: int) -> None:
            local = random.Random(seed)
            for _ in range(40):
                wallet = local.choice(clients)
                player = local.choice(players)
                amount = local.randint(1, 400)
                try:
                    roll = local.random()
                    if roll < 0.5:
                        await wallet.transfer(bet(player.id, bankroll.id, amount))
                        applied.append(("bet", player.id, amount))
                    elif roll < 0.7:
                        await wallet.transfer(deposit(bankroll.id, player.id, amount))
                        applied.append(("win", player.id, amount))
                    elif roll < 0.85:
                        hold = await wallet.create_hold(
                            CreateHoldRequest(
                                idempotency_key=key("hold"),
                                debit_account_id=player.id,
                                credit_account_id=bankroll.id,
                                amount=amount,
                                currency="EUR",
                                type="withdrawal",
                            )
                        )
                        posted = local.randint(1, amount)
                        await local.choice(clients).post_hold(
                            hold.transfer.id, PostHoldRequest(idempotency_key=key("post"), amount=posted)
                        )
                        applied.append(("bet", player.id, posted))
                    else:
                        original = key("bet")
                        await wallet.transfer(bet(player.id, bankroll.id, amount, original))
                        await local.choice(clients).reverse(
                            ReverseTransferRequest(
                                idempotency_key=key("reversal"), original_idempotency_key=original, type="rollback"
                            )
                        )
                except InsufficientFunds:
                    pass

        await asyncio.gather(*(actor(rng.randrange(1 << 30)) for _ in range(12)))

        for player in players:
            expected = 1_000
            for kind, player_id, amount in applied:
                if player_id == player.id:
                    expected += amount if kind == "win" else -amount
            balance = await client.get_balance(player.id)
            assert balance.posted == expected
            assert balance.available == expected >= 0
        report = await verify_ledger(platform.db)
        assert report.clean, report
        assert platform.wallet is not None
        # Both writers really did compete: at least one guard or key race sent a batch down the locked path.
        assert platform.wallet.writer.locked_batches + other.writer.locked_batches > 0
    finally:
        await other.stop()
        await db.close()


async def test_replay_through_the_other_writer_returns_the_original_result(
    platform: Platform, client: WalletClient, bankroll: AccountOut, second_writer: WalletService
) -> None:
    player = await open_funded(client, bankroll, 500)
    request = bet(player.id, bankroll.id, 120)
    first = await client.transfer(request)
    again = await InProcessWalletClient(second_writer).transfer(request)
    assert again == first
    with pytest.raises(IdempotencyConflict):  # same key, different content
        await InProcessWalletClient(second_writer).transfer(bet(player.id, bankroll.id, 121, request.idempotency_key))


@pytest.mark.parametrize("attempt", range(5))
async def test_duplicate_submitted_at_once_when_funds_cover_one_is_applied_once_and_replayed(
    platform: Platform, client: WalletClient, bankroll: AccountOut, db: asyncpg.Connection, attempt: int
) -> None:
    """The duplicate lands in the batch after its original, while the original is being written (a double click,
    or a client's retry after a timeout). It must be answered with the original result, not refused for lack of
    the funds its own original took."""
    player = await open_funded(client, bankroll, 100)
    request = bet(player.id, bankroll.id, 80)
    first, second = await asyncio.gather(client.transfer(request), client.transfer(request), return_exceptions=True)
    assert not isinstance(first, BaseException), first
    assert not isinstance(second, BaseException), second
    assert first == second
    assert (await client.get_balance(player.id)).posted == 20
    count = await db.fetchval("SELECT count(*) FROM wallet.transfers WHERE request_key = $1", request.idempotency_key)
    assert count == 1


@pytest.mark.parametrize("attempt", range(5))
async def test_reversal_by_key_arriving_while_its_original_is_written_reverses_it(
    platform: Platform, client: WalletClient, bankroll: AccountOut, db: asyncpg.Connection, attempt: int
) -> None:
    """The rollback lands in the batch after its bet, while the bet is being written. It must reverse the bet, not
    take it for one that never arrived and leave a tombstone behind."""
    player = await open_funded(client, bankroll, 100)
    original = bet(player.id, bankroll.id, 80)
    rollback = ReverseTransferRequest(
        idempotency_key=key("rollback"), original_idempotency_key=original.idempotency_key, type="rollback"
    )
    placed, reversal = await asyncio.gather(client.transfer(original), client.reverse(rollback), return_exceptions=True)
    assert not isinstance(placed, BaseException), placed
    assert not isinstance(reversal, BaseException), reversal
    assert reversal.status == "reversed"
    assert [row.reverses_id for row in reversal.transfers] == [placed.transfer.id]
    assert (await client.get_balance(player.id)).posted == 100
    kinds = await db.fetch(
        "SELECT kind FROM wallet.requests WHERE key = ANY($1::text[]) ORDER BY kind",
        [original.idempotency_key, rollback.idempotency_key],
    )
    assert [row["kind"] for row in kinds] == ["reversal", "transfer"]


async def test_original_arriving_with_its_tombstone_in_flight_is_refused_as_tombstoned(
    platform: Platform, client: WalletClient, bankroll: AccountOut
) -> None:
    from croupier.wallet.client import TransferTombstoned

    # 50 cannot cover the bet of 80: only the tombstone may explain its refusal.
    player = await open_funded(client, bankroll, 50)
    original = bet(player.id, bankroll.id, 80)
    rollback = ReverseTransferRequest(
        idempotency_key=key("rollback"), original_idempotency_key=original.idempotency_key, type="rollback"
    )
    reversal, late = await asyncio.gather(client.reverse(rollback), client.transfer(original), return_exceptions=True)
    assert not isinstance(reversal, BaseException), reversal
    assert reversal.status == "tombstoned"
    assert isinstance(late, TransferTombstoned)
    assert (await client.get_balance(player.id)).posted == 50


async def test_second_reversal_while_the_first_is_in_flight_is_refused_as_already_reversed(
    platform: Platform, client: WalletClient, bankroll: AccountOut
) -> None:
    from croupier.wallet.client import AlreadyReversed

    player = await open_funded(client, bankroll, 10)
    win = await client.transfer(deposit(bankroll.id, player.id, 90))
    first, second = await asyncio.gather(
        client.reverse(ReverseTransferRequest(idempotency_key=key("r1"), transfer_id=win.transfer.id)),
        client.reverse(ReverseTransferRequest(idempotency_key=key("r2"), transfer_id=win.transfer.id)),
        return_exceptions=True,
    )
    assert not isinstance(first, BaseException), first
    assert isinstance(second, AlreadyReversed)
    assert (await client.get_balance(player.id)).posted == 10


async def test_writer_cancelled_mid_batch_answers_every_waiting_caller(
    platform: Platform, client: WalletClient, bankroll: AccountOut, monkeypatch: pytest.MonkeyPatch
) -> None:
    from croupier.kit.errors import ServiceUnavailable

    player = await open_funded(client, bankroll, 1000)
    assert platform.wallet is not None
    writer = platform.wallet.writer
    real_write = batch_write.write_batch
    stuck = asyncio.Event()

    async def write_that_hangs(connection: Any, *args: Any) -> None:
        stuck.set()
        await asyncio.sleep(3600)
        await real_write(connection, *args)

    monkeypatch.setattr(batch_write, "write_batch", write_that_hangs)
    calls = [asyncio.create_task(client.transfer(bet(player.id, bankroll.id, 1))) for _ in range(6)]
    await asyncio.wait_for(stuck.wait(), 10)
    assert writer._task is not None
    writer._task.cancel()
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 10)
    assert all(isinstance(result, ServiceUnavailable) for result in results), results
    with pytest.raises(ServiceUnavailable):  # a stopped writer refuses new work instead of queueing it forever
        await client.transfer(bet(player.id, bankroll.id, 1))


@pytest.mark.parametrize("held_write_fails", [False, True])
async def test_write_of_other_accounts_goes_ahead_of_a_slow_write_and_both_apply_once(
    platform: Platform,
    client: WalletClient,
    bankroll: AccountOut,
    monkeypatch: pytest.MonkeyPatch,
    db: asyncpg.Connection,
    held_write_fails: bool,
) -> None:
    """Batches with no account in common are written side by side: one slow (or failing) write holds up no other."""
    slow_player = await open_funded(client, bankroll, 100)
    other_player = await open_funded(client, bankroll, 100)
    house = await client.open_account(
        OpenAccountRequest(
            brand_id=BRAND, owner_type="house", owner_id="house-2", kind="bankroll", currency="EUR", allow_negative=True
        )
    )
    assert platform.wallet is not None
    writer = platform.wallet.writer
    release = asyncio.Event()
    real_write = batch_write.write_batch
    held = False

    async def write_holding_the_slow_players_batch(connection: Any, write: Any) -> None:
        nonlocal held
        if slow_player.id in write.applier.touched and not held and not connection.is_in_transaction():
            held = True
            await release.wait()
            if held_write_fails:
                raise asyncpg.SerializationError("simulated: the slow batch's accounts changed")
        await real_write(connection, write)

    monkeypatch.setattr(batch_write, "write_batch", write_holding_the_slow_players_batch)
    side_by_side_before = writer.side_by_side_writes

    slow = asyncio.ensure_future(client.transfer(bet(slow_player.id, bankroll.id, 60)))
    for _ in range(500):
        if held:
            break
        await asyncio.sleep(0.002)
    assert held, "the slow player's batch never reached its write"
    other = await asyncio.wait_for(client.transfer(bet(other_player.id, house.id, 30)), timeout=10)

    assert not slow.done()  # answered while the slow write was still running
    assert other.debit_balance.posted == 70
    assert writer.side_by_side_writes == side_by_side_before + 1
    release.set()
    result = await asyncio.wait_for(slow, timeout=10)
    assert result.debit_balance.posted == 40
    for player, posted in ((slow_player, 40), (other_player, 70)):
        assert (await client.get_balance(player.id)).posted == posted
    stored = await db.fetchval(
        "SELECT count(*) FROM wallet.transfers WHERE debit_account_id = ANY($1::uuid[]) AND type = 'bet'",
        [slow_player.id, other_player.id],
    )
    assert stored == 2
    report = await verify_ledger(platform.db)
    assert report.clean, report


async def test_batch_on_the_accounts_of_a_write_in_flight_is_written_before_that_writes_callers_are_answered(
    platform: Platform,
    client: WalletClient,
    bankroll: AccountOut,
    monkeypatch: pytest.MonkeyPatch,
    db: asyncpg.Connection,
) -> None:
    """A batch applied on a write in flight is chained behind it: its write is encoded while that write runs, and sent
    the moment it succeeds.

    Answering the first write's callers (and letting them send their next requests) must not hold up the database:
    otherwise PostgreSQL and Python take turns instead of working at the same time.
    """
    player = await open_funded(client, bankroll, 100)
    assert platform.wallet is not None
    writer = platform.wallet.writer
    events: list[str] = []
    release = asyncio.Event()
    real_write = batch_write.write_batch
    first_key, second_key = key("first"), key("second")

    async def recording_write(connection: Any, write: Any) -> None:
        keys = {request_key for request_key, *_ in write.applier.new_requests}
        if first_key in keys and not connection.is_in_transaction():
            events.append("first written")
            await release.wait()
        if second_key in keys:
            events.append("second written")
        await real_write(connection, write)

    class RecordingBatchWrite(batch_write.BatchWrite):
        def __init__(self, applier: Any, *args: Any) -> None:
            super().__init__(applier, *args)
            if second_key in {request_key for request_key, *_ in applier.new_requests}:
                events.append("second encoded")

    monkeypatch.setattr(batch_write, "write_batch", recording_write)
    monkeypatch.setattr(batch_write, "BatchWrite", RecordingBatchWrite)
    chained_before = writer.chained_writes

    async def first_caller() -> None:
        result = await client.transfer(bet(player.id, bankroll.id, 60, first_key))
        events.append("first answered")
        assert result.debit_balance.posted == 40

    first = asyncio.ensure_future(first_caller())
    for _ in range(500):
        if events:
            break
        await asyncio.sleep(0.002)
    assert events == ["first written"], "the first batch never reached its write"
    second = asyncio.ensure_future(client.transfer(bet(player.id, bankroll.id, 30, second_key)))
    for _ in range(500):  # the second batch is applied on the first's totals and waits behind its write
        if writer.chained_writes > chained_before:
            break
        await asyncio.sleep(0.002)
    assert writer.chained_writes == chained_before + 1
    for _ in range(500):
        if len(events) > 1:
            break
        await asyncio.sleep(0.002)
    # Encoded while the first is in flight, so that it can go the moment the first succeeds; not sent before that.
    assert events == ["first written", "second encoded"]
    release.set()
    await asyncio.wait_for(first, timeout=10)
    assert (await asyncio.wait_for(second, timeout=10)).debit_balance.posted == 10

    assert events == ["first written", "second encoded", "second written", "first answered"]
    assert (await client.get_balance(player.id)).posted == 10
    stored = await db.fetchval(
        "SELECT count(*) FROM wallet.transfers WHERE request_key = ANY($1::text[])", [first_key, second_key]
    )
    assert stored == 2
    report = await verify_ledger(platform.db)
    assert report.clean, report
