"""A batch of ledger commands applied in memory, before and while the writer writes it (no I/O here).

The ledger writer (ledger.py) loads what a batch needs, from the database or from what it already knows, and applies
it here; `AppliedBatch` is the result it writes, overlays on the next batch, and remembers once committed.
"""

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from croupier.wallet.commands import Command, Outcome
from croupier.wallet.rules import BatchApplier
from croupier.wallet.state import AccountState, KnownTransfer, StoredRequest


@dataclass(slots=True)
class AppliedBatch:
    """A batch applied in memory and not written yet."""

    now: datetime
    applier: BatchApplier
    outcomes: list[Outcome]
    started_from: dict[UUID, tuple[int, int, int, int]]  # each account's totals as the batch read them
    applied_keys: set[str]  # the keys this batch applies anew (not replays, not refusals)
    fast: bool = False  # applied without reading idempotency records: it assumed every key is new
    _totals_after: dict[UUID, AccountState] | None = None

    def totals_after(self) -> dict[UUID, AccountState]:
        """The touched accounts as they will be once this batch commits.

        Worked out once: the batch changes no more after a later batch has read them (commands join a batch only while
        its write waits its turn, and no later batch is applied meanwhile; see LedgerWriter._join_waiting_write).
        """
        if self._totals_after is None:
            accounts = self.applier.accounts
            touched = self.applier.touched
            if len(touched) == len(accounts):  # every account it read, as in any fast batch: the applier's own dict
                self._totals_after = accounts
            else:
                self._totals_after = {account_id: accounts[account_id] for account_id in touched}
        return self._totals_after

    def forget_totals(self) -> None:
        """Commands joined the batch (its write had not been sent): `totals_after` is worked out again."""
        self._totals_after = None

    def depends_on(self, commands: list[Command]) -> bool:
        """Would any of `commands` read a record this batch is still writing?

        The next batch sees this batch's account totals (the overlay) but reads idempotency records and transfers
        from the database, where this batch's rows are not committed yet. A command that names one of them (the
        same key again, a reversal of one of its keys, a tombstone's key, a hold or transfer it creates, resolves or
        reverses) would be decided without it: a duplicate bet refused for lack of the funds its own original took.
        Such a batch waits for this one and takes the locked path, where it reads them committed.
        """
        # A fast batch read no record: what its applier holds is what it writes (new keys; new transfers and holds,
        # none of which resolves or reverses another).
        keys: Container[str | None] = (
            self.applier.requests if self.fast else {key for key, *_ in self.applier.new_requests}
        )
        ids: Container[UUID | None] | None = None  # worked out if a command names a transfer or hold
        for command in commands:
            if command.key in keys or (command.target_key is not None and command.target_key in keys):
                return True
            if command.hold_id is None and command.target_id is None:
                continue
            if ids is None:
                ids = self._written_ids()
            if command.hold_id in ids or command.target_id in ids:
                return True
        return False

    def _written_ids(self) -> Container[UUID | None]:
        """The transfers and holds this batch creates, resolves or reverses."""
        if self.fast:
            return self.applier.known_transfers()
        ids = {row["id"] for row in self.applier.new_transfers}
        ids.update(row["hold_id"] for row in self.applier.new_transfers if row["hold_id"] is not None)
        ids.update(row["reverses_id"] for row in self.applier.new_transfers if row["reverses_id"] is not None)
        return ids


def leg_accounts(commands: list[Command]) -> set[UUID]:
    """The accounts the commands' legs name (resolutions and reversals name theirs through a transfer)."""
    ids: set[UUID] = set()
    for command in commands:
        for leg in command.legs:
            ids.add(leg.debit)
            ids.add(leg.credit)
    return ids


def apply_batch(
    now: datetime,
    commands: list[Command],
    accounts: dict[UUID, AccountState],
    requests: dict[str, StoredRequest],
    transfers: dict[UUID, KnownTransfer],
    by_key: dict[str, list[UUID]],
) -> AppliedBatch:
    """Apply the commands in order to the accounts as loaded, remembering the totals they started from."""
    started_from = {account_id: account.counters() for account_id, account in accounts.items()}
    applier = BatchApplier(now, accounts, requests, transfers, by_key, ids_ahead=len(commands))
    outcomes = [applier.apply(command) for command in commands]
    applied_keys = {
        command.key
        for command, outcome in zip(commands, outcomes, strict=True)
        if outcome.error is None and not outcome.replayed
    }
    return AppliedBatch(now, applier, outcomes, started_from, applied_keys)


def copy_account(account: AccountState) -> AccountState:
    return AccountState(
        account.id,
        account.brand_id,
        account.currency,
        account.allow_negative,
        account.debits_posted,
        account.credits_posted,
        account.debits_pending,
        account.credits_pending,
    )
