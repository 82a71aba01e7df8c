"""The ledger writer's locked path, and the reads every batch that names stored records starts from.

The locked path applies a batch the way a single-statement writer could not get wrong: BEGIN, every account the
batch needs locked in id order (FOR UPDATE), the rules on those totals, the batch's write, COMMIT. The pipelined
writer (ledger.py) sends a batch here when an optimistic write of it failed, when it names a record a write in
flight creates, and for a while after a race with another process.

Faults, each answered here so the writer itself never dies:
  - a race with another process (the same idempotency key, hold or reversal written first; a deadlock; a
    serialization failure) rolls the attempt back, and the batch is applied again from fresh reads;
  - a lost connection (PostgreSQL restarting) is retried with backoff until `unavailable_after`; past it every caller
    gets service_unavailable and retries with the same key. Keys an attempt applied before its connection dropped
    are remembered: found stored by the next attempt, they are our own commit, not a client's replay;
  - anything else fails only the command that caused it: the batch is applied again one command at a time.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from croupier.kit.db import CONNECTION_FAULTS, Database, DatabaseUnavailable
from croupier.kit.errors import InternalError, ServiceUnavailable
from croupier.wallet import batch_write, repository, results
from croupier.wallet.batches import AppliedBatch, apply_batch, copy_account, leg_accounts
from croupier.wallet.commands import Command, Outcome
from croupier.wallet.state import AccountState

# The writer's logger: operators filter and alert on these messages by that name (docs/operations.md, "Logs").
logger = logging.getLogger("croupier.wallet.ledger")

#: Another process got there first: applied again from fresh reads, the command becomes a replay or a clean refusal.
RACES = (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
#: The database is away (restarting, unreachable): retried until the writer's deadline.
CONNECTION_LOST: tuple[type[BaseException], ...] = (DatabaseUnavailable, *CONNECTION_FAULTS)
#: A race that repeats this often is no race: the batch is applied one command at a time.
MAX_RACES = 5


class LockedPath:
    """Applies batches under row locks, in a transaction of their own, riding out races and outages."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime],
        unavailable_after: float,
        make_write: Callable[[AppliedBatch], batch_write.BatchWrite],
        committed: Callable[[Mapping[UUID, AccountState]], None],
    ) -> None:
        self._db = db
        self._clock = clock
        self._unavailable_after = unavailable_after
        self._make_write = make_write
        self._committed = committed  # told each committed batch's locked accounts and their totals

    async def apply(self, commands: list[Command], maybe_committed: Collection[str] = ()) -> list[Outcome]:
        """Apply a batch; if it fails for a reason other than the database being away, apply each command alone.

        One command that the database rejects unexpectedly (a bug, or input validation missed) must never fail the
        other callers' commands that happened to share its batch. `maybe_committed` names keys an earlier attempt
        may have committed (its connection dropped around the write): found stored, they are answered as applied.
        """
        try:
            return await self._apply_with_retries(commands, maybe_committed)
        except ServiceUnavailable as unavailable:  # one exception object per caller: each raises its own
            return [Outcome(error=ServiceUnavailable(unavailable.detail)) for _ in commands]
        except Exception:
            if len(commands) == 1:
                logger.exception("ledger command %r failed", commands[0].key)
                return [Outcome(error=InternalError("the ledger could not apply this request"))]
            logger.warning("ledger batch of %d failed; applying its commands one by one", len(commands))
        outcomes = []
        for command in commands:
            outcomes.extend(await self.apply([command], maybe_committed))
        return outcomes

    async def _apply_with_retries(self, commands: list[Command], maybe_committed: Collection[str]) -> list[Outcome]:
        deadline = time.monotonic() + self._unavailable_after
        delay = 0.05
        races = 0
        # Keys this writer applied in an attempt whose outcome it never learned (the connection dropped around
        # COMMIT). If the next attempt finds them stored, that is our own commit, not a client's replay.
        ours: set[str] = set(maybe_committed)
        while True:
            attempt: set[str] = set()
            try:
                outcomes = await self._apply_locked(commands, attempt)
            except RACES as race:
                races += 1
                if races > MAX_RACES:
                    raise
                logger.info("ledger batch raced another writer (%s); applying it again", type(race).__name__)
                await asyncio.sleep(random.uniform(0, 0.002 * races))
                continue
            except CONNECTION_LOST as fault:
                ours |= attempt
                if time.monotonic() >= deadline:
                    raise ServiceUnavailable(
                        "the wallet database is unavailable; retry with the same idempotency key"
                    ) from fault
                logger.warning("ledger database unavailable (%s); retrying in %.2fs", fault, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if ours:
                outcomes = [
                    Outcome(result=outcome.result) if outcome.replayed and command.key in ours else outcome
                    for command, outcome in zip(commands, outcomes, strict=True)
                ]
            return outcomes

    async def _apply_locked(self, commands: list[Command], applied_keys: set[str]) -> list[Outcome]:
        """One attempt at a batch under row locks; `applied_keys` receives the keys it applies anew, before writing."""
        async with self._db.transaction() as connection:
            applied = await load_and_apply(connection, self._clock(), commands, {}, lock=True)
            applied_keys.update(applied.applied_keys)
            await batch_write.write_batch(connection, self._make_write(applied))
        # Committed: every account the batch locked now holds exactly these totals (touched or not).
        self._committed(applied.applier.accounts)
        return applied.outcomes


async def load_and_apply(
    connection: Any, now: datetime, commands: list[Command], overlay: Mapping[UUID, AccountState], *, lock: bool
) -> AppliedBatch:
    """Read what the commands need (idempotency records, named transfers, accounts), then apply them in order.

    With `lock` the accounts are read FOR UPDATE, in id order; without, accounts in `overlay` (the totals a write in
    flight will leave) are taken from it and the rest read as committed.
    """
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
    requests = await repository.load_requests(connection, list(keys | target_keys))
    for target_key in target_keys:  # a reversal by key: the stored result names the original transfers
        stored = requests.get(target_key)
        if stored is not None:
            transfer_ids.update(results.referenced_ids(stored.result))
    referenced = [stored for stored in requests.values() if results.is_by_reference(stored.result)]
    for stored in referenced:  # a result stored by reference: its transfers are read back to replay it
        transfer_ids.update(results.referenced_ids(stored.result))
    transfers, by_key = await repository.load_transfers(connection, list(transfer_ids))
    for stored in referenced:
        stored.result = results.expand(stored.result, transfers)
    account_ids = leg_accounts(commands)
    for known in transfers.values():
        account_ids.add(known.row["debit_account_id"])
        account_ids.add(known.row["credit_account_id"])
    if lock:
        accounts = await repository.lock_accounts(connection, account_ids)
    else:
        accounts = {i: copy_account(overlay[i]) for i in account_ids if i in overlay}
        accounts.update(await repository.read_accounts(connection, [i for i in account_ids if i not in overlay]))
    return apply_batch(now, commands, accounts, requests, transfers, by_key)
