"""Commands that arrive while a chained write waits its turn join that write (LedgerWriter._join_waiting_write).

Each test holds the first write of a batch on the house bankroll at the database's door, so that the next batch on
the bankroll is applied on top of it and waits behind it. What arrives then is applied into that waiting batch if it
can be, and written with it: one write earlier, and in one statement with it.
"""

import asyncio
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from croupier.bootstrap import Platform
from croupier.wallet import batch_write
from croupier.wallet.client import AccountOut, CreateTransferRequest, InsufficientFunds, TransferResultOut, WalletClient
from croupier.wallet.verify import verify_ledger
from tests.wallet.conftest import OpenPlayer, bet, key, writer_of


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"never happened: {what}")


class HeldWrite:
    """Holds the first optimistic write that touches `account` until `release()`; it then fails if told to."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, account: UUID, fail: bool = False) -> None:
        self.account = account
        self.fail = fail
        self.held = False
        self.written: list[set[str]] = []  # the keys of every write sent, in order
        self._release = asyncio.Event()
        real_write = batch_write.write_batch

        async def write(connection: Any, write: Any) -> None:
            if self.account in write.applier.touched and not self.held and not connection.is_in_transaction():
                self.held = True
                await self._release.wait()
                if self.fail:
                    raise asyncpg.SerializationError("simulated: the held batch's accounts changed")
            self.written.append({request_key for request_key, *_ in write.applier.new_requests})
            await real_write(connection, write)

        monkeypatch.setattr(batch_write, "write_batch", write)

    def release(self) -> None:
        self._release.set()


@pytest.fixture
def hold_write(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., HeldWrite]]:
    """Make a HeldWrite; every one is released at the end, so that a failed test does not leave its write held."""
    made: list[HeldWrite] = []

    def hold(account: UUID, fail: bool = False) -> HeldWrite:
        made.append(HeldWrite(monkeypatch, account, fail))
        return made[-1]

    yield hold
    for held in made:
        held.release()


def player_transfer(debit: AccountOut, credit: AccountOut, amount: int) -> CreateTransferRequest:
    return CreateTransferRequest(
        idempotency_key=key("p2p"),
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        amount=amount,
        currency="EUR",
        type="transfer",
    )


async def start_chained(
    platform: Platform,
    client: WalletClient,
    held: HeldWrite,
    first: CreateTransferRequest,
    second: CreateTransferRequest,
) -> tuple["asyncio.Future[TransferResultOut]", "asyncio.Future[TransferResultOut]"]:
    """Submit `first` and hold its write; then `second`, which is applied on it and waits behind it."""
    writer = writer_of(platform)
    chained_before = writer.chained_writes
    first_call = asyncio.ensure_future(client.transfer(first))
    await until(lambda: held.held, "the first batch reached its write")
    second_call = asyncio.ensure_future(client.transfer(second))
    await until(lambda: writer.chained_writes > chained_before, "the second batch was chained behind the first")
    return first_call, second_call


async def created_at(db: asyncpg.Connection, request: CreateTransferRequest) -> Any:
    rows = await db.fetch("SELECT created_at FROM wallet.transfers WHERE request_key = $1", request.idempotency_key)
    assert len(rows) == 1, (request.idempotency_key, rows)  # stored exactly once
    return rows[0]["created_at"]


async def test_commands_arriving_while_a_write_waits_its_turn_join_it_and_are_written_with_it(
    platform: Platform,
    wallet_client: WalletClient,
    house: AccountOut,
    open_player: OpenPlayer,
    hold_write: Callable[..., HeldWrite],
    db: asyncpg.Connection,
) -> None:
    p1, p2, p3, p4 = [await open_player(100) for _ in range(4)]  # the house is at -400
    writer = writer_of(platform)
    held = hold_write(p1.id)
    first, second = bet(p1, house, 10), bet(p2, house, 20)
    first_call, second_call = await start_chained(platform, wallet_client, held, first, second)
    joined_before, batches_before = writer.joined_commands, writer.batches

    # The waiting batch holds p2 and the bankroll; p3 and p4 are known from their deposits. p1 is being written by
    # the held write, so a command on p1 cannot join: it waits for a batch of its own, after the held write.
    # Each is sent once the one before it has reached the writer, so that they arrive in this order on any transport.
    third, fourth, across = bet(p3, house, 30), bet(p4, house, 40), player_transfer(p3, p4, 7)
    on_p1 = bet(p1, house, 5)
    later = []
    for count, request in enumerate((third, fourth, across), start=1):
        later.append(asyncio.ensure_future(wallet_client.transfer(request)))
        await until(lambda count=count: writer.joined_commands == joined_before + count, f"command {count} joined")
    later.append(asyncio.ensure_future(wallet_client.transfer(on_p1)))
    await until(lambda: writer.stats()["queued"] == 1, "the command on p1 reached the writer")
    await asyncio.sleep(0.05)
    assert writer.joined_commands == joined_before + 3  # not the one on p1
    assert writer.stats()["queued"] == 1  # it waits for a batch of its own
    assert not any(call.done() for call in (first_call, second_call, *later))  # nothing was written yet

    held.release()
    results = await asyncio.wait_for(asyncio.gather(first_call, second_call, *later), timeout=10)

    # Applied in the order they arrived: the bankroll's balance in each result counts every earlier bet.
    assert [result.credit_balance.posted for result in results[:4]] == [-390, -370, -340, -300]
    assert (results[4].debit_balance.posted, results[4].credit_balance.posted) == (63, 67)
    assert (results[5].debit_balance.posted, results[5].credit_balance.posted) == (85, -295)
    # Three writes: the held one, the waiting one with the three that joined it, and the one on p1 after them.
    assert writer.batches - batches_before == 3
    assert held.written[-3:] == [
        {first.idempotency_key},
        {second.idempotency_key, third.idempotency_key, fourth.idempotency_key, across.idempotency_key},
        {on_p1.idempotency_key},
    ]
    # Written in one statement: the joined transfers carry the waiting batch's time.
    times = [await created_at(db, request) for request in (first, second, third, fourth, across, on_p1)]
    assert times[1] == times[2] == times[3] == times[4]
    assert times[0] <= times[1] <= times[5]
    balances = {player.id: (await wallet_client.get_balance(player.id)).posted for player in (p1, p2, p3, p4)}
    assert balances == {p1.id: 85, p2.id: 80, p3.id: 63, p4.id: 67}
    assert (await wallet_client.get_balance(house.id)).posted == -295
    report = await verify_ledger(platform.db)
    assert report.clean, report


async def test_commands_that_joined_a_write_whose_predecessor_failed_are_applied_once_under_locks(
    platform: Platform,
    wallet_client: WalletClient,
    house: AccountOut,
    open_player: OpenPlayer,
    hold_write: Callable[..., HeldWrite],
    db: asyncpg.Connection,
) -> None:
    p1, p2, p3 = [await open_player(100) for _ in range(3)]
    writer = writer_of(platform)
    held = hold_write(p1.id, fail=True)
    first, second = bet(p1, house, 10), bet(p2, house, 20)
    first_call, second_call = await start_chained(platform, wallet_client, held, first, second)
    joined_before, failures_before = writer.joined_commands, writer.optimistic_failures
    third, fourth = bet(p3, house, 30), bet(p2, house, 25)
    later = [asyncio.ensure_future(wallet_client.transfer(request)) for request in (third, fourth)]
    await until(lambda: writer.joined_commands == joined_before + 2, "two commands joined the waiting write")

    held.release()  # the held write fails: the waiting one, applied on it, is not sent, and goes the locked path
    results = await asyncio.wait_for(asyncio.gather(first_call, second_call, *later), timeout=10)

    assert writer.optimistic_failures == failures_before + 1
    assert [result.debit_balance.posted for result in results] == [90, 80, 70, 55]
    for request in (first, second, third, fourth):
        await created_at(db, request)  # each stored exactly once
    # The failed write is not recorded; each batch is then written once on the locked path, the joined commands
    # in the batch they joined.
    assert held.written[-2:] == [
        {first.idempotency_key},
        {second.idempotency_key, third.idempotency_key, fourth.idempotency_key},
    ]
    assert (await wallet_client.get_balance(house.id)).posted == -300 + 10 + 20 + 30 + 25
    report = await verify_ledger(platform.db)
    assert report.clean, report


async def test_command_refused_on_the_waiting_writes_totals_does_not_join_and_is_decided_after_it(
    platform: Platform,
    wallet_client: WalletClient,
    house: AccountOut,
    open_player: OpenPlayer,
    hold_write: Callable[..., HeldWrite],
) -> None:
    p1, p2, p3 = [await open_player(100) for _ in range(3)]
    writer = writer_of(platform)
    held = hold_write(p1.id)
    first_call, second_call = await start_chained(platform, wallet_client, held, bet(p1, house, 10), bet(p2, house, 60))
    joined_before = writer.joined_commands
    # 50 of p2's 40 left is refused on the waiting batch's totals, so it does not join, and neither does the bet on
    # p3 behind it: commands keep their order.
    too_much = asyncio.ensure_future(wallet_client.transfer(bet(p2, house, 50)))
    await until(lambda: writer.stats()["queued"] == 1, "the bet of 50 reached the writer")
    behind = asyncio.ensure_future(wallet_client.transfer(bet(p3, house, 30)))
    await until(lambda: writer.stats()["queued"] == 2, "the bet behind it reached the writer")
    await asyncio.sleep(0.05)
    assert writer.joined_commands == joined_before
    assert not too_much.done()  # not refused while the totals it would be refused on are not written

    held.release()
    assert (await asyncio.wait_for(first_call, timeout=10)).debit_balance.posted == 90
    assert (await asyncio.wait_for(second_call, timeout=10)).debit_balance.posted == 40
    with pytest.raises(InsufficientFunds):
        await asyncio.wait_for(too_much, timeout=10)
    assert (await asyncio.wait_for(behind, timeout=10)).debit_balance.posted == 70
    assert (await wallet_client.get_balance(p2.id)).posted == 40
    report = await verify_ledger(platform.db)
    assert report.clean, report
