"""The ledger writer: concurrent commands are applied in batches, many per database transaction.

Why: every bet touches the brand's house account. If each transfer locked that row in its own transaction, the
platform would run at the speed of one row lock. Here a single writer task takes whatever commands are waiting (up to
`batch_max`), applies them in memory (rules.BatchApplier) and writes all rows of the batch in one statement, with one
UPDATE per touched account. Callers are answered only after the commit. While one batch commits, the next one fills
up, so batches grow with the load (docs/adr/0002-batched-ledger-writer.md).

Pipelined and optimistic (docs/adr/0005-pipelined-optimistic-ledger-writer.md): batch k+1 is read and applied in
Python while batch k's write statement runs. Accounts are read without locks; an account batch k touches is taken from
batch k's result instead of the database. The write statement is its own transaction and updates an account only if
its totals are still the ones the batch started from (compare and swap); if any differs, nothing of the batch is
written. If batch k fails, batch k+1 (applied on top of it) is discarded before it is written. Every failed optimistic
batch is applied again on the locked path: BEGIN, the accounts locked in id order (FOR UPDATE), the rules, the same
write, COMMIT (locked_path.py). After a race the writer stays on the locked path for a while, so writers that
compete for the same accounts in several processes do not keep failing each other's guards.

Faults (locked_path.py): a unique-key race with another process (two writers, same idempotency key or hold) or a
deadlock rolls the batch back and applies it again from fresh reads. A lost database connection (PostgreSQL
restarting) is retried for a while: this is safe because every command carries an idempotency key, so a batch whose
commit did reach the disk is replayed, not applied twice. Past the deadline the callers get service_unavailable and
retry with the same key.
"""

import asyncio
import logging
from asyncio import FIRST_COMPLETED
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from croupier.kit.db import Database
from croupier.kit.errors import ServiceUnavailable
from croupier.wallet import batch_write, repository
from croupier.wallet.batches import AppliedBatch, apply_batch, copy_account, leg_accounts
from croupier.wallet.commands import Command, Outcome
from croupier.wallet.locked_path import CONNECTION_LOST, RACES, LockedPath, load_and_apply
from croupier.wallet.state import AccountState

logger = logging.getLogger(__name__)


# After a race (a guard that failed, a key or hold written by another process), this many batches take the locked path.
LOCKED_BATCHES_AFTER_RACE = 100
# After a fast batch met a key that was already stored (a client's retry), this many batches read their keys first.
READ_BATCHES_AFTER_REPLAY = 20
# Optimistic writes sent side by side (batches with no account in common), each on its own connection of the write pool.
MAX_WRITES_IN_FLIGHT = 3
# Commands that name no stored record: a fast batch of them reads nothing but the accounts it has never seen.
FAST_KINDS = frozenset(("transfer", "batch", "hold"))
# The committed-totals cache is cleared when it holds more accounts than this (players come back; the house stays hot).
ACCOUNT_CACHE_MAX = 200_000

_Entry = tuple[Command, "asyncio.Future[Outcome]"]


@dataclass(slots=True)
class _InFlight:
    entries: list[_Entry]
    applied: AppliedBatch
    write: "asyncio.Task[None]"
    after: tuple["asyncio.Task[None]", ...] = ()  # the writes this one is chained behind

    def waiting(self) -> bool:
        """Is this write still waiting for the writes it is chained behind?"""
        return not all(write.done() for write in self.after)


class LedgerWriter:
    def __init__(
        self,
        db: Database,
        *,
        batch_max: int = 1000,
        unavailable_after: float = 20.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        optimistic: bool = True,
        write_db: Database | None = None,
        results_by_reference: bool = True,
        events_by_reference: bool = True,
    ) -> None:
        self._db = db
        # The optimistic write statement runs on this pool (generic plans: planned once per connection, not per batch).
        self._write_db = write_db or db
        self._batch_max = batch_max
        self._clock = clock
        self._optimistic = optimistic
        self._by_reference = results_by_reference
        self._events_by_reference = events_by_reference
        self._queue: deque[_Entry] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._locked_batches_left = 0
        self._read_batches_left = 0
        # Totals of accounts as this writer last committed them (or read them under lock). A fast batch starts from
        # them instead of reading; the write's compare-and-swap fails if anyone changed them since.
        self._committed: dict[UUID, AccountState] = {}
        self.batches = 0
        self.commands = 0
        self.locked_batches = 0  # batches applied on the locked path (after a failure, or while racing)
        self.optimistic_failures = 0  # optimistic batches that were not written (and went the locked path)
        self.fast_batches = 0  # optimistic batches that read no idempotency record (every key new)
        self.side_by_side_writes = 0  # optimistic writes started while another, on other accounts, was in flight
        self.chained_writes = 0  # optimistic writes queued behind one in flight whose accounts they were applied on
        self.joined_commands = 0  # commands applied into a write waiting its turn (see _join_waiting_write)
        self._locked = LockedPath(
            db,
            clock=clock,
            unavailable_after=unavailable_after,
            make_write=self._batch_write,
            committed=self._remember_committed,
        )

    async def start(self) -> None:
        self._stopping = False
        # Futures are made on this loop, the writer's: asyncio.get_running_loop() asks the kernel for the process id
        # on every call (a system call per command, a fiftieth of the in-process bench's CPU).
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="wallet-ledger-writer")

    async def stop(self) -> None:
        """Finish every command already submitted, then stop."""
        self._stopping = True
        self._wakeup.set()
        task, self._task = self._task, None
        self._loop = None
        if task is not None:
            if task.done():  # it died (cancelled): its callers were already answered
                return
            await task

    async def submit(self, command: Command) -> Outcome:
        return await self.enqueue(command)

    def enqueue(self, command: Command) -> "asyncio.Future[Outcome]":
        """Queue a command for the next batch; its outcome arrives in the future (`submit` awaits it)."""
        loop = self._loop
        if self._stopping or self._task is None or loop is None:
            raise ServiceUnavailable("the wallet is shutting down; retry with the same idempotency key")
        future: asyncio.Future[Outcome] = loop.create_future()
        self._queue.append((command, future))
        self._wakeup.set()
        return future

    # -- the pipeline ---------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        flights: list[_InFlight] = []  # the optimistic writes in flight, each until its callers are answered
        current: list[_Entry] = []  # the batch being read, applied or written on the locked path
        try:
            await self._pipeline(flights, current)
        except BaseException:
            # Cancelled (or a bug): no caller may wait forever. Their commands may or may not have been written;
            # they retry with the same idempotency key and learn which.
            pending = [entry for flight in flights for entry in flight.entries] + current + list(self._queue)
            self._queue.clear()
            for _, future in pending:
                if not future.done():
                    future.set_result(
                        Outcome(error=ServiceUnavailable("the ledger writer stopped; retry with the same key"))
                    )
            for flight in flights:
                flight.write.cancel()
            self._stopping = True
            raise

    async def _pipeline(self, flights: list[_InFlight], current: list[_Entry]) -> None:
        """Apply batches while earlier ones are written; write batches that share no account side by side.

        A batch that reads an account a write in flight touches is applied on that write's result (the overlay) and
        its write is chained behind that one: sent as soon as it has succeeded, skipped (and the batch applied again
        on the locked path) if it failed. Two writes in flight never run at the same time on the same account. A
        batch that names a record a write in flight creates waits for it and takes the locked path. While a chained
        write waits its turn, what arrives joins it if it can (`_join_waiting_write`).
        """
        while True:
            current.clear()
            for flight in [flight for flight in flights if flight.write.done()]:
                await self._settle(flight)
                flights.remove(flight)
            if self._queue and any(flight.waiting() for flight in flights):
                # A write already waits its turn: what arrives joins it if it can (see _join_waiting_write).
                if self._join_waiting_write(flights):
                    continue
                # Otherwise let the oldest finish first, so that the next batch gathers what arrives meanwhile
                # instead of queueing behind it in small pieces.
                await self._settle(flights[0])
                del flights[0]
                continue
            if not self._queue:
                if flights:
                    # New commands are read and applied while writes run; a write's end answers its callers.
                    self._wakeup.clear()
                    woken = asyncio.ensure_future(self._wakeup.wait())
                    await asyncio.wait((woken, *(flight.write for flight in flights)), return_when=FIRST_COMPLETED)
                    woken.cancel()
                    continue
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            size = min(len(self._queue), self._batch_max)
            if not flights and self._optimistic and not self._locked_batches_left:
                # Nothing is being written: take half, so the other half is applied while this half is written.
                # Otherwise a closed loop of callers would arrive, and be answered, as one batch forever.
                size = (size + 1) // 2
            entries = [self._queue.popleft() for _ in range(size)]
            current.extend(entries)
            commands = [command for command, _ in entries]
            applied: AppliedBatch | None = None
            depends = any(flight.applied.depends_on(commands) for flight in flights)
            if self._optimistic and self._locked_batches_left == 0 and not depends:
                overlay: Mapping[UUID, AccountState]
                if len(flights) == 1:  # only read: the flight's own totals, not a copy
                    overlay = flights[0].applied.totals_after()
                else:
                    merged: dict[UUID, AccountState] = {}
                    for flight in flights:  # in the order they were applied: a later write's totals are the newer
                        merged.update(flight.applied.totals_after())
                    overlay = merged
                try:
                    applied = await self._apply_optimistically(commands, overlay)
                except Exception as failure:  # the locked path below retries, waits for the database, isolates
                    logger.debug("optimistic read of a ledger batch failed (%r); taking the locked path", failure)
            elif self._locked_batches_left and not depends:
                self._locked_batches_left -= 1
            if applied is None:
                for flight in list(flights):  # the locked path reads what every earlier batch wrote
                    await self._settle(flight)
                    flights.remove(flight)
                self.locked_batches += 1
                self._deliver(entries, await self._locked.apply(commands))
                continue
            while len(flights) >= MAX_WRITES_IN_FLIGHT:
                await self._settle(flights[0])
                del flights[0]
            # The writes this batch was applied on (it read an account they touch) must succeed first: its write
            # follows theirs, and is sent the moment they end (before their callers are answered).
            used = applied.applier.accounts.keys()
            after = tuple(flight.write for flight in flights if not flight.applied.applier.touched.isdisjoint(used))
            if after:
                self.chained_writes += 1
            elif flights:
                self.side_by_side_writes += 1
            flights.append(_InFlight(entries, applied, asyncio.create_task(self._write(applied, after)), after))
            current.clear()

    def _join_waiting_write(self, flights: list[_InFlight]) -> bool:
        """Apply queued commands into the write that waits its turn (the last one); False if none could join it.

        That write waits for the writes it is chained behind, so commands that arrive meanwhile would otherwise wait
        for it and then for a write of their own. Joining it, they are written one write earlier, and the batch is
        bigger (the write's cost per batch is spread over more commands). In a closed loop of callers on one hot
        account this is the difference between a caller's next command waiting two writes or three.

        A command joins only if the batch can take it as a fast batch would have: a new transfer, batch or hold
        (every key assumed new, as the batch's write checks), on accounts the batch already holds or whose
        committed totals this writer knows and no other write in flight touches, naming no record another write in
        flight creates, and not refused. The first command that cannot join ends the joining (commands keep their
        order); it waits in the queue for the next batch, where a refusal is decided from fresh reads. Nothing here
        waits: the batch cannot be sent while commands join it, and it is encoded again if any did (`_write`).
        Joined commands share the batch's time (`now`, its transfers' created_at), taken when it was applied.
        """
        waiting = flights[-1]
        applied = waiting.applied
        if not waiting.waiting() or not applied.fast or self._locked_batches_left or self._read_batches_left:
            return False
        others = flights[:-1]
        joined = 0
        while self._queue and len(waiting.entries) < self._batch_max:
            command, future = self._queue[0]
            if command.kind not in FAST_KINDS or any(flight.applied.depends_on([command]) for flight in others):
                break
            if not self._hold_accounts(command, applied, others):
                break
            outcome = applied.applier.apply(command)
            if outcome.error is not None:  # it changed nothing; the next batch decides it from fresh reads
                break
            self._queue.popleft()
            waiting.entries.append((command, future))
            applied.outcomes.append(outcome)
            if not outcome.replayed:  # (a key that already joined: the batch itself replays it)
                applied.applied_keys.add(command.key)
            joined += 1
        if joined:
            applied.forget_totals()
            self.joined_commands += joined
        return joined > 0

    def _hold_accounts(self, command: Command, applied: AppliedBatch, others: list[_InFlight]) -> bool:
        """Add the command's accounts the batch does not hold yet, from the committed totals; False, adding none, if
        one is unknown or touched by another write in flight (its totals there are not committed yet)."""
        accounts = applied.applier.accounts
        missing: list[AccountState] = []
        for leg in command.legs:
            for account_id in (leg.debit, leg.credit):
                if account_id in accounts:
                    continue
                known = self._committed.get(account_id)
                if known is None or any(account_id in flight.applied.applier.touched for flight in others):
                    return False
                missing.append(known)
        for known in missing:
            accounts[known.id] = copy_account(known)
            applied.started_from[known.id] = known.counters()
        return True

    async def _settle(self, in_flight: _InFlight) -> bool:
        """Wait for an optimistic batch's write; answer its callers. False if it was not written as applied."""
        try:
            await in_flight.write
        except Exception as failure:
            if not isinstance(failure, _EarlierWriteFailed):  # that one's failure was counted already
                self.optimistic_failures += 1
            for account_id in in_flight.applied.applier.touched:  # their cached totals may be stale
                self._committed.pop(account_id, None)
            if isinstance(failure, _EarlierWriteFailed):
                logger.debug("ledger batch applied on a batch that was not written; applying it under locks")
            elif in_flight.applied.fast and _is_stored_key(failure):
                # A key the fast batch took for new was stored already: a client's retry (or a tombstone), not a
                # race. The locked path answers it; the next batches read their keys first.
                self._read_batches_left = READ_BATCHES_AFTER_REPLAY
                logger.debug("fast ledger batch met a stored key; applying it under locks")
            elif isinstance(failure, RACES):
                self._locked_batches_left = LOCKED_BATCHES_AFTER_RACE
                logger.info("optimistic ledger batch raced another writer (%s); applying it under locks", failure)
            else:
                logger.warning("optimistic ledger batch failed (%r); applying it under locks", failure)
            # The statement may have committed if the connection dropped around it: those keys are our own.
            maybe_committed = in_flight.applied.applied_keys if isinstance(failure, CONNECTION_LOST) else set()
            commands = [command for command, _ in in_flight.entries]
            self.locked_batches += 1
            self._deliver(in_flight.entries, await self._locked.apply(commands, maybe_committed))
            return False
        self._remember_committed(in_flight.applied.totals_after())
        self._deliver(in_flight.entries, in_flight.applied.outcomes)
        return True

    def _deliver(self, entries: list[_Entry], outcomes: list[Outcome]) -> None:
        for (_, future), outcome in zip(entries, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)
        self.batches += 1
        self.commands += len(entries)

    async def _apply_optimistically(
        self, commands: list[Command], overlay: Mapping[UUID, AccountState]
    ) -> AppliedBatch:
        """Read without locks (accounts in `overlay` come from the batch in flight) and apply in memory."""
        if self._read_batches_left:
            self._read_batches_left -= 1
        elif all(command.kind in FAST_KINDS for command in commands):
            applied = await self._apply_fast(commands, overlay)
            if applied is not None:
                self.fast_batches += 1
                return applied
        async with self._db.connection() as connection:
            return await load_and_apply(connection, self._clock(), commands, overlay, lock=False)

    async def _apply_fast(self, commands: list[Command], overlay: Mapping[UUID, AccountState]) -> AppliedBatch | None:
        """Apply new transfers and holds from known totals, reading only accounts never seen; None if any is refused.

        The batch assumes that every idempotency key is new and that the totals this writer last committed are still
        current. The write checks both: a stored key fails its INSERT (unique violation), a changed account its
        compare-and-swap, and either way nothing of the batch is written and the locked path applies it from fresh
        reads. A refusal is never decided here, because it could rest on totals another process has since changed:
        a batch with any refusal is applied again from fresh reads.
        """
        accounts: dict[UUID, AccountState] = {}
        missing: list[UUID] = []
        for account_id in leg_accounts(commands):
            known = overlay.get(account_id) or self._committed.get(account_id)
            if known is None:
                missing.append(account_id)
            else:
                # Keyed by the account's own id (asyncpg's UUID type, as read from the database), not the command's:
                # the batch then looks its accounts up by that id throughout, and asyncpg's type hashes and compares
                # in C where the standard one calls Python (a few percent of the writer's CPU per transfer).
                accounts[known.id] = copy_account(known)
        if missing:
            async with self._db.connection() as connection:
                accounts.update(await repository.read_accounts(connection, missing))
        applied = apply_batch(self._clock(), commands, accounts, {}, {}, {})
        if any(outcome.error is not None for outcome in applied.outcomes):
            return None
        applied.fast = True
        return applied

    def _remember_committed(self, accounts: Mapping[UUID, AccountState]) -> None:
        if len(self._committed) + len(accounts) > ACCOUNT_CACHE_MAX:
            self._committed.clear()
        self._committed.update(accounts)

    async def _write(self, applied: AppliedBatch, after: tuple["asyncio.Task[None]", ...] = ()) -> None:
        """Write a batch applied in memory, once the writes it was applied on (`after`) have succeeded."""
        write = None
        encoded = len(applied.outcomes)
        if applied.applier.new_requests:  # else only replays and refusals: nothing to write
            # Encoded now, while the writes it waits for are still running: sent the moment they succeed.
            write = self._batch_write(applied)
        if after:
            await asyncio.wait(after)
            if any(earlier.cancelled() or earlier.exception() is not None for earlier in after):
                # It was applied on top of totals that were never written (its compare-and-swap would fail too).
                raise _EarlierWriteFailed()
            if len(applied.outcomes) != encoded:  # commands joined it while it waited: encoded again, with them
                write = self._batch_write(applied) if applied.applier.new_requests else None
        if write is None:
            return
        async with self._write_db.connection() as connection:  # one statement, outside a transaction: its own
            await batch_write.write_batch(connection, write)

    def _batch_write(self, applied: AppliedBatch) -> batch_write.BatchWrite:
        return batch_write.BatchWrite(
            applied.applier, applied.now, applied.started_from, self._by_reference, self._events_by_reference
        )

    def stats(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "commands": self.commands,
            "queued": len(self._queue),
            "locked_batches": self.locked_batches,
            "optimistic_failures": self.optimistic_failures,
            "fast_batches": self.fast_batches,
            "side_by_side_writes": self.side_by_side_writes,
            "chained_writes": self.chained_writes,
            "joined_commands": self.joined_commands,
        }


class _EarlierWriteFailed(Exception):
    """A chained write's predecessor failed: the batch was applied on totals that were never committed."""


def _is_stored_key(failure: BaseException) -> bool:
    """Did the write fail because an idempotency key (or a tombstone of it) was already stored?"""
    return isinstance(failure, asyncpg.UniqueViolationError) and failure.constraint_name == "requests_pkey"
