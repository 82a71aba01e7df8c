"""The ledger's rules, applied in memory to one batch of commands (no I/O here).

The writer loads what a batch needs (the accounts, locked in id order; the idempotency records and transfers the
commands name), then applies the commands one after another through `BatchApplier`. Each command either succeeds, and
adds rows to write, or is refused with a DomainError and changes nothing. The writer then writes every row of the batch
in one transaction: one UPDATE per touched account, however many commands touched it. What a batch holds, and the steps
every rule shares (an account's lookup, a debit's check, a transfer's row), are in batch_state.py.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from croupier.kit.errors import DomainError
from croupier.kit.money import MAX_MINOR_UNITS
from croupier.wallet import errors
from croupier.wallet.batch_state import BatchState, move_money
from croupier.wallet.commands import Command, Leg, Outcome
from croupier.wallet.state import AccountState, StoredRequest

RESOLUTION_KINDS = ("hold_post", "hold_void", "hold_expiry")
EVENT_TYPES = {
    "transfer": "wallet.transfer.committed",
    "hold": "wallet.hold.created",
    "hold_post": "wallet.hold.posted",
    "hold_void": "wallet.hold.voided",
    "hold_expiry": "wallet.hold.expired",
}


class BatchApplier(BatchState):
    """Applies commands in order to locked account states and collects the rows the batch must write."""

    # -- entry point ----------------------------------------------------------------------------------------------

    def apply(self, command: Command) -> Outcome:
        stored = self.requests.get(command.key)
        if stored is not None:
            return self._replay(command, stored)
        if command.kind == "transfer":
            result = self._plain_transfer(command)
            if result is not None:
                self._remember(command.key, "transfer", command.digest, result)
                return Outcome(result=result)
        if self._unindexed:
            self._index()
        try:
            result = self._dispatch(command)
        except DomainError as error:
            return Outcome(error=error)
        self._remember(command.key, command.kind, command.digest, result)
        return Outcome(result=result)

    def _replay(self, command: Command, stored: StoredRequest) -> Outcome:
        if stored.kind == "tombstone":
            if command.kind in ("transfer", "batch", "hold"):
                return Outcome(
                    error=errors.TransferTombstoned(
                        f"a reversal of {command.key!r} arrived before it; this transfer is refused",
                        idempotency_key=command.key,
                    )
                )
        elif stored.kind == command.kind and stored.digest == command.digest:
            return Outcome(result=stored.result, replayed=True)
        return Outcome(
            error=errors.IdempotencyConflict(
                f"idempotency key {command.key!r} was already used for a different request",
                idempotency_key=command.key,
            )
        )

    def _dispatch(self, command: Command) -> dict[str, Any]:
        kind = command.kind
        if kind == "transfer":
            return self._single(command, "transfer")
        if kind == "hold":
            return self._single(command, "hold")
        if kind == "batch":
            return self._batch(command)
        if kind in RESOLUTION_KINDS:
            return self._resolve_hold(command)
        if kind == "reversal":
            return self._reverse(command)
        raise ValueError(f"unknown command kind {kind!r}")

    # -- transfers and holds --------------------------------------------------------------------------------------

    def _plain_transfer(self, command: Command) -> dict[str, Any] | None:
        """A transfer that passes every check, applied as `_single` applies it; None, changing nothing, otherwise.

        The most frequent command, every bet and win, in fewer steps: its checks are those of `_pair`,
        `_check_debit` and `move_money`, in one expression, and `_record` writes its row. A transfer that fails any
        of them is left to `_single`, which finds the same failure and refuses it with its error.
        (tests/wallet/test_plain_transfers.py holds both ways to the same rows, balances and refusals.)
        """
        leg = command.legs[0]
        accounts = self.accounts
        debit = accounts.get(leg.debit)
        credit = accounts.get(leg.credit)
        amount = leg.amount
        currency = leg.currency
        if (
            debit is None
            or credit is None
            or debit.currency != currency
            or credit.currency != currency
            or debit.brand_id != credit.brand_id
        ):
            return None
        debits = debit.debits_posted + amount
        credits = credit.credits_posted + amount
        if debits > MAX_MINOR_UNITS or credits > MAX_MINOR_UNITS:
            return None
        available = debit.credits_posted - debit.debits_posted - debit.debits_pending
        if available < amount and not debit.allow_negative:
            return None
        # Every check passed: from here on the transfer is applied, as `_single` applies it.
        debit.debits_posted = debits
        credit.credits_posted = credits
        row = self._record(
            command, 0, "transfer", leg.type, debit, credit, amount, leg.metadata, command.expires_at, leg=leg
        )
        posted = debit.credits_posted - debits
        credit_posted = credits - credit.debits_posted
        return {
            "transfer": row,
            "debit_balance": {"posted": posted, "available": posted - debit.debits_pending},
            "credit_balance": {"posted": credit_posted, "available": credit_posted - credit.debits_pending},
        }

    def _single(self, command: Command, kind: str) -> dict[str, Any]:
        leg = command.legs[0]
        debit, credit = self._pair(leg.debit, leg.credit, leg.currency)
        self._check_debit(debit, leg.amount)
        move_money(debit, credit, leg.amount, pending=kind == "hold")
        row = self._record(
            command, 0, kind, leg.type, debit, credit, leg.amount, leg.metadata, command.expires_at, leg=leg
        )
        if kind == "hold" and command.expires_at is not None:
            self.new_expiries.append((row["id"], command.expires_at))
        return {"transfer": row, "debit_balance": debit.snapshot(), "credit_balance": credit.snapshot()}

    def _batch(self, command: Command) -> dict[str, Any]:
        involved: dict[UUID, AccountState] = {}
        for index, leg in enumerate(command.legs):
            for account_id in (leg.debit, leg.credit):
                try:
                    involved[account_id] = self._account(account_id)
                except DomainError as error:
                    error.extensions.setdefault("transfer_index", index)
                    raise
        saved = {account_id: account.counters() for account_id, account in involved.items()}
        pending_rows: list[tuple[int, Leg, AccountState, AccountState]] = []
        try:
            for position, leg in enumerate(command.legs):
                debit, credit = self._pair(leg.debit, leg.credit, leg.currency)
                self._check_debit(debit, leg.amount)
                move_money(debit, credit, leg.amount)
                pending_rows.append((position, leg, debit, credit))
        except DomainError as error:
            for account_id, counters in saved.items():
                involved[account_id].restore(counters)
            error.extensions.setdefault("transfer_index", len(pending_rows))
            raise
        rows = [
            self._record(
                command, position, "transfer", leg.type, debit, credit, leg.amount, leg.metadata, None, leg=leg
            )
            for position, leg, debit, credit in pending_rows
        ]
        return {
            "idempotency_key": command.key,
            "transfers": rows,
            "balances": {str(account_id): account.snapshot() for account_id, account in involved.items()},
        }

    def _resolve_hold(self, command: Command) -> dict[str, Any]:
        assert command.hold_id is not None
        known = self.transfers.get(command.hold_id)
        if known is None or known.row["kind"] != "hold":
            raise errors.HoldNotFound(f"no hold with id {command.hold_id}", hold_id=str(command.hold_id))
        if known.resolved_by is not None:
            raise errors.HoldAlreadyResolved(
                f"hold {command.hold_id} was already resolved by transfer {known.resolved_by}",
                hold_id=str(command.hold_id),
                resolved_by=str(known.resolved_by),
            )
        hold = known.row
        expires_at = _as_datetime(hold["expires_at"])
        if command.kind == "hold_post" and expires_at is not None and expires_at <= self.now:
            raise errors.HoldExpired(f"hold {command.hold_id} expired at {expires_at.isoformat()}")
        held = int(hold["amount"])
        amount = held if command.amount is None or command.kind != "hold_post" else command.amount
        if amount > held:
            raise errors.PostExceedsHold(f"cannot post {amount}: the hold is for {held}", held=held, amount=amount)
        debit = self._account(UUID(str(hold["debit_account_id"])))
        credit = self._account(UUID(str(hold["credit_account_id"])))
        if command.kind == "hold_post":
            move_money(debit, credit, amount)
        debit.debits_pending -= held
        credit.credits_pending -= held
        self.touched.update((debit.id, credit.id))
        row = self._record(
            command,
            0,
            command.kind,
            hold["type"],
            debit,
            credit,
            amount,
            command.metadata,
            None,
            hold_id=command.hold_id,
        )
        known.resolved_by = row["id"]
        self.resolved_holds.append(command.hold_id)
        return {"transfer": row, "debit_balance": debit.snapshot(), "credit_balance": credit.snapshot()}

    # -- reversals ------------------------------------------------------------------------------------------------

    def _reverse(self, command: Command) -> dict[str, Any]:
        if command.target_key == command.key:  # the schema refuses it too; here it would tombstone its own key
            raise errors.NotReversible("a reversal cannot name its own idempotency key as the original")
        if command.target_key is not None:
            stored = self.requests.get(command.target_key)
            if stored is None:
                return self._tombstone(command)
            if stored.kind == "tombstone":
                return self._tombstone_result(command)
            if stored.kind not in ("transfer", "batch", "hold_post"):
                raise errors.NotReversible(
                    f"request {command.target_key!r} is a {stored.kind}; only transfers and posted holds are reversed"
                )
            target_ids = self.transfers_by_key.get(command.target_key, [])
        else:
            assert command.target_id is not None
            target_ids = [command.target_id]
        targets = []
        for target_id in target_ids:
            known = self.transfers.get(target_id)
            if known is None:
                raise errors.TransferNotFound(f"no transfer with id {target_id}", transfer_id=str(target_id))
            row = known.row
            if row["kind"] not in ("transfer", "hold_post"):
                raise errors.NotReversible(
                    f"transfer {target_id} is a {row['kind']}: void a hold instead of reversing it",
                    transfer_id=str(target_id),
                )
            if row["reverses_id"] is not None:
                raise errors.NotReversible(f"transfer {target_id} is itself a reversal", transfer_id=str(target_id))
            if known.reversed_by is not None:
                raise errors.AlreadyReversed(
                    f"transfer {target_id} was already reversed by {known.reversed_by}",
                    transfer_id=str(target_id),
                    reversed_by=str(known.reversed_by),
                )
            targets.append(known)
        involved: dict[UUID, AccountState] = {}
        for known in targets:
            for column in ("debit_account_id", "credit_account_id"):
                account = self._account(UUID(str(known.row[column])))
                involved[account.id] = account
        saved = {account_id: account.counters() for account_id, account in involved.items()}
        try:
            for known in targets:
                row = known.row
                # The reversal moves the money back: the original credit account is now debited.
                debit = involved[UUID(str(row["credit_account_id"]))]
                credit = involved[UUID(str(row["debit_account_id"]))]
                amount = int(row["amount"])
                self._check_debit(debit, amount)
                move_money(debit, credit, amount)
        except DomainError:
            for account_id, counters in saved.items():
                involved[account_id].restore(counters)
            raise
        rows = []
        for position, known in enumerate(targets):
            row = known.row
            debit = involved[UUID(str(row["credit_account_id"]))]
            credit = involved[UUID(str(row["debit_account_id"]))]
            new = self._record(
                command,
                position,
                "transfer",
                command.type,
                debit,
                credit,
                int(row["amount"]),
                command.metadata,
                None,
                reverses_id=UUID(str(row["id"])),
            )
            known.reversed_by = new["id"]
            rows.append(new)
        return {
            "idempotency_key": command.key,
            "status": "reversed",
            "original_idempotency_key": command.target_key or (targets[0].row["idempotency_key"] if targets else None),
            "transfers": rows,
            "balances": {str(account_id): account.snapshot() for account_id, account in involved.items()},
        }

    def _tombstone(self, command: Command) -> dict[str, Any]:
        assert command.target_key is not None
        self._remember(command.target_key, "tombstone", b"", {"tombstoned_by": command.key})
        self.events.append(
            (
                "wallet.transfer.tombstoned",
                "",
                {"idempotency_key": command.target_key, "reversal_idempotency_key": command.key},
                command.trace_id,
            )
        )
        return self._tombstone_result(command)

    def _tombstone_result(self, command: Command) -> dict[str, Any]:
        return {
            "idempotency_key": command.key,
            "status": "tombstoned",
            "original_idempotency_key": command.target_key,
            "transfers": [],
            "balances": {},
        }


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
