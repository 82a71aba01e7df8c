"""What a batch being applied holds, and the steps every rule shares (no I/O here; the rules are in rules.py).

`BatchState` keeps the accounts, idempotency records and transfers the writer loaded for a batch, and collects the rows
the batch must write. Its steps look an account up, check a debit, move money and record a transfer row; the rules
(`rules.BatchApplier`) apply each kind of command with them.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from croupier.kit.ids import uuid7_run_at
from croupier.kit.money import MAX_MINOR_UNITS
from croupier.wallet import errors
from croupier.wallet.commands import Command, Leg
from croupier.wallet.state import AccountState, KnownTransfer, StoredRequest

# Transfer ids minted at a time once a batch's first ones are used up (see BatchState._new_id).
IDS_AHEAD = 16


class BatchState:
    """A batch's loaded state and the rows applying it adds, with the steps the rules share."""

    def __init__(
        self,
        now: datetime,
        accounts: dict[UUID, AccountState],
        requests: dict[str, StoredRequest],
        transfers: dict[UUID, KnownTransfer],
        transfers_by_key: dict[str, list[UUID]],
        ids_ahead: int = IDS_AHEAD,
    ) -> None:
        self.now = now
        self.accounts = accounts
        self.requests = requests
        self.transfers = transfers
        self.transfers_by_key = transfers_by_key
        self.new_requests: list[tuple[str, str, bytes, dict[str, Any]]] = []
        self.new_transfers: list[dict[str, Any]] = []
        # Each new transfer's event is the transfer row itself (rules.EVENT_TYPES gives its type); its trace id is
        # kept in `transfer_traces`, in the order of `new_transfers`. `events` holds every other event: type, brand,
        # payload, trace.
        self.transfer_traces: list[str | None] = []
        # The new transfers' accounts by the accounts' own ids (asyncpg's UUID type, which the write sends in binary
        # from C), in the order of `new_transfers`; the rows name them by the command's ids, which orjson writes.
        self.debit_ids: list[UUID] = []
        self.credit_ids: list[UUID] = []
        self.events: list[tuple[str, str, dict[str, Any], str | None]] = []
        self.new_expiries: list[tuple[UUID, datetime]] = []
        self.resolved_holds: list[UUID] = []
        self.touched: set[UUID] = set()
        # Transfer ids minted ahead, in one step (kit.ids.uuid7_run_at), the next one last: `ids_ahead` at first
        # (the batch's number of commands), then IDS_AHEAD at a time.
        self._ids: list[UUID] = []
        self._ids_ahead = max(1, ids_ahead)
        # Rows this batch recorded and not yet put in `transfers` and `transfers_by_key`: only a later command that
        # names a transfer reads those, and most batches hold none (`known_transfers` and `apply` index them first).
        self._unindexed: list[dict[str, Any]] = []

    def known_transfers(self) -> dict[UUID, KnownTransfer]:
        """The transfers this batch knows by id: those it loaded and those it created."""
        if self._unindexed:
            self._index()
        return self.transfers

    def _index(self) -> None:
        transfers = self.transfers
        by_key = self.transfers_by_key
        for row in self._unindexed:
            transfers[row["id"]] = KnownTransfer(row)
            by_key.setdefault(row["idempotency_key"], []).append(row["id"])
        self._unindexed.clear()

    def _remember(self, key: str, kind: str, digest: bytes, result: dict[str, Any]) -> None:
        self.requests[key] = StoredRequest(kind, digest, result)
        self.new_requests.append((key, kind, digest, result))

    def _new_id(self) -> UUID:
        """The next transfer id (after minting the next ones ahead)."""
        ids = uuid7_run_at(self.now, self._ids_ahead)
        self._ids_ahead = IDS_AHEAD
        ids.reverse()
        self._ids = ids
        return ids.pop()

    # -- shared steps ---------------------------------------------------------------------------------------------

    def _account(self, account_id: UUID) -> AccountState:
        account = self.accounts.get(account_id)
        if account is None:
            raise errors.AccountNotFound(f"no account with id {account_id}", account_id=str(account_id))
        return account

    def _pair(self, debit_id: UUID, credit_id: UUID, currency: str) -> tuple[AccountState, AccountState]:
        debit = self._account(debit_id)
        credit = self._account(credit_id)
        for account in (debit, credit):
            if account.currency != currency:
                raise errors.CurrencyMismatch(
                    f"account {account.id} holds {account.currency}, the transfer is in {currency}",
                    account_id=str(account.id),
                    account_currency=account.currency,
                    transfer_currency=currency,
                )
        if debit.brand_id != credit.brand_id:
            raise errors.BrandMismatch(
                f"account {debit.id} belongs to brand {debit.brand_id!r}, account {credit.id} to {credit.brand_id!r}"
            )
        return debit, credit

    def _check_debit(self, debit: AccountState, amount: int) -> None:
        if not debit.allow_negative and debit.available < amount:
            raise errors.InsufficientFunds(
                f"account {debit.id} has {debit.available} available, {amount} needed",
                account_id=str(debit.id),
                available=debit.available,
                amount=amount,
            )

    def _record(
        self,
        command: Command,
        position: int,
        kind: str,
        type_code: str,
        debit: AccountState,
        credit: AccountState,
        amount: int,
        metadata: dict[str, Any],
        expires_at: datetime | None,
        *,
        hold_id: UUID | None = None,
        reverses_id: UUID | None = None,
        leg: Leg | None = None,
    ) -> dict[str, Any]:
        # The ids as the command gave them (the standard UUID type, which orjson writes itself) when it named the
        # accounts; the accounts' own ids are asyncpg's type, which takes a Python call to write.
        debit_id, credit_id = (debit.id, credit.id) if leg is None else (leg.debit, leg.credit)
        row: dict[str, Any] = {
            # The id carries the same instant as created_at, so a created_at range is an id range (the transfer
            # listing's time filter walks the id indexes; see repository.list_transfers).
            "id": self._ids.pop() if self._ids else self._new_id(),
            "idempotency_key": command.key,
            "position": position,
            "kind": kind,
            "type": type_code,
            "brand_id": debit.brand_id,
            "debit_account_id": debit_id,
            "credit_account_id": credit_id,
            "amount": amount,
            "currency": debit.currency,
            "hold_id": hold_id,
            "reverses_id": reverses_id,
            "expires_at": expires_at,
            "metadata": metadata,
            "created_at": self.now,
        }
        self.new_transfers.append(row)
        self.debit_ids.append(debit.id)
        self.credit_ids.append(credit.id)
        self.touched.add(debit.id)
        self.touched.add(credit.id)
        self._unindexed.append(row)  # indexed when a later command or `known_transfers` needs it
        self.transfer_traces.append(command.trace_id)
        return row


def move_money(debit: AccountState, credit: AccountState, amount: int, *, pending: bool = False) -> None:
    """Add `amount` to the debit side of one account and the credit side of the other; check both first."""
    if pending:
        debits, credits = debit.debits_pending + amount, credit.credits_pending + amount
    else:
        debits, credits = debit.debits_posted + amount, credit.credits_posted + amount
    for account, value in ((debit, debits), (credit, credits)):
        if value > MAX_MINOR_UNITS:
            raise errors.AmountOverflow(
                f"account {account.id} would exceed the largest running total the ledger stores "
                f"({MAX_MINOR_UNITS} minor units of lifetime debits or credits)",
                account_id=str(account.id),
            )
    if pending:
        debit.debits_pending, credit.credits_pending = debits, credits
    else:
        debit.debits_posted, credit.credits_posted = debits, credits
