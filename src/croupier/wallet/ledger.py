"""The ledger writer: concurrent commands are applied in batches, many per database transaction.

Why: every bet touches the brand's house account. If each transfer locked that row in its own transaction, the
platform would run at the speed of one row lock. Here a single writer task takes whatever commands are waiting (up to
`batch_max`), locks the accounts they touch in id order, applies them in memory (rules.BatchApplier), writes all rows
with one statement per table and one UPDATE per touched account, and commits. Callers are answered only after the
commit. While one batch commits, the next one fills up, so batches grow with the load.

The batch transaction is the unit of work: it owns the commit (docs/adr/0002-batched-ledger-writer.md).

Faults: a unique-key race with another process (two writers, same idempotency key or hold) or a deadlock rolls the
batch back and applies it again from fresh reads. A lost database connection (PostgreSQL restarting) is retried for a
while: this is safe because every command carries an idempotency key, so a batch whose commit did reach the disk
is replayed, not applied twice. Past the deadline the callers get service_unavailable and retry with the same key.
"""

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from croupier.kit.db import CONNECTION_FAULTS, Database, DatabaseUnavailable
from croupier.kit.errors import InternalError, ServiceUnavailable
from croupier.wallet import repository
from croupier.wallet.commands import Command, Outcome, transfer_ids_of_result
from croupier.wallet.rules import BatchApplier

logger = logging.getLogger(__name__)

_RACES = (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
_CONNECTION_FAULTS: tuple[type[BaseException], ...] = (DatabaseUnavailable, *CONNECTION_FAULTS)


class LedgerWriter:
    def __init__(
        self,
        db: Database,
        *,
        batch_max: int = 1000,
        unavailable_after: float = 20.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._batch_max = batch_max
        self._unavailable_after = unavailable_after
        self._clock = clock
        self._queue: deque[tuple[Command, asyncio.Future[Outcome]]] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.batches = 0
        self.commands = 0

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="wallet-ledger-writer")

    async def stop(self) -> None:
        """Finish every command already submitted, then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def submit(self, command: Command) -> Outcome:
        if self._stopping or self._task is None:
            raise ServiceUnavailable("the wallet is shutting down; retry with the same idempotency key")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((command, future))
        self._wakeup.set()
        return await future

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            size = min(len(self._queue), self._batch_max)
            batch = [self._queue.popleft() for _ in range(size)]
            outcomes = await self._apply_isolating_failures([command for command, _ in batch])
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
            self.batches += 1
            self.commands += len(batch)

    async def _apply_isolating_failures(self, commands: list[Command]) -> list[Outcome]:
        """Apply a batch; if it fails for a reason other than the database being away, apply each command alone.

        One command that the database rejects unexpectedly (a bug, or input validation missed) must never fail the
        other callers' commands that happened to share its batch. The writer itself never dies.
        """
        try:
            return await self._apply_with_retries(commands)
        except ServiceUnavailable as unavailable:  # one exception object per caller: each raises its own
            return [Outcome(error=ServiceUnavailable(unavailable.detail)) for _ in commands]
        except Exception:
            if len(commands) == 1:
                logger.exception("ledger command %r failed", commands[0].key)
                return [Outcome(error=InternalError("the ledger could not apply this request"))]
            logger.warning("ledger batch of %d failed; applying its commands one by one", len(commands))
        outcomes = []
        for command in commands:
            outcomes.extend(await self._apply_isolating_failures([command]))
        return outcomes

    async def _apply_with_retries(self, commands: list[Command]) -> list[Outcome]:
        deadline = time.monotonic() + self._unavailable_after
        delay = 0.05
        races = 0
        # Keys this writer applied in an attempt whose outcome it never learned (the connection dropped around
        # COMMIT). If the next attempt finds them stored, that is our own commit, not a client's replay.
        maybe_committed: set[str] = set()
        while True:
            attempt: set[str] = set()
            try:
                outcomes = await self._apply(commands, attempt)
            except _RACES as race:
                # Another process wrote the same key, hold resolution or reversal first; a fresh read turns the
                # command into a replay or a clean refusal. A race that repeats is no race: isolate the batch.
                races += 1
                if races > 5:
                    raise
                logger.info("ledger batch raced another writer (%s); applying it again", type(race).__name__)
                await asyncio.sleep(random.uniform(0, 0.002 * races))
                continue
            except _CONNECTION_FAULTS as fault:
                maybe_committed |= attempt
                if time.monotonic() >= deadline:
                    raise ServiceUnavailable(
                        "the wallet database is unavailable; retry with the same idempotency key"
                    ) from fault
                logger.warning("ledger database unavailable (%s); retrying in %.2fs", fault, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if maybe_committed:
                outcomes = [
                    Outcome(result=outcome.result) if outcome.replayed and command.key in maybe_committed else outcome
                    for command, outcome in zip(commands, outcomes, strict=True)
                ]
            return outcomes

    async def _apply(self, commands: list[Command], applied_keys: set[str]) -> list[Outcome]:
        """One attempt at a batch; `applied_keys` receives the keys it applied anew, before it writes them."""
        keys: set[str] = set()
        target_keys: set[str] = set()
        transfer_ids: set[UUID] = set()
        for command in commands:
            keys.add(command.key)
            if command.target_key is not None:
                target_keys.add(command.target_key)
            if command.hold_id is not None:
                transfer_ids.add(command.hold_id)
            if command.target_id is not None:
                transfer_ids.add(command.target_id)
        now = self._clock()
        async with self._db.transaction() as connection:
            requests = await repository.load_requests(connection, list(keys | target_keys))
            for target_key in target_keys:  # a reversal by key: the stored result names the original transfers
                stored = requests.get(target_key)
                if stored is not None:
                    transfer_ids.update(transfer_ids_of_result(stored.result))
            transfers, by_key = await repository.load_transfers(connection, list(transfer_ids))
            account_ids = set()
            for command in commands:
                for leg in command.legs:
                    account_ids.add(leg.debit)
                    account_ids.add(leg.credit)
            for known in transfers.values():
                account_ids.add(known.row["debit_account_id"])
                account_ids.add(known.row["credit_account_id"])
            accounts = await repository.lock_accounts(connection, account_ids)
            applier = BatchApplier(now, accounts, requests, transfers, by_key)
            outcomes = [applier.apply(command) for command in commands]
            applied_keys.update(
                command.key
                for command, outcome in zip(commands, outcomes, strict=True)
                if outcome.error is None and not outcome.replayed
            )
            await repository.write_batch(connection, applier, now)
        return outcomes

    def stats(self) -> dict[str, Any]:
        return {"batches": self.batches, "commands": self.commands, "queued": len(self._queue)}
