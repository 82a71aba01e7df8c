"""The two sides of a reconciliation, each grouped by reference (what the provider knows the payment by).

Ledger side: every transfer created on the day (UTC) that touches the provider's `psp_clearing` accounts (all
brands, all currencies), read from the wallet for that day only: money in (a deposit debits clearing) minus money
out (a payout credits it). Provider side: the report's lines, grouped under the ledger's key for the same reference,
falling back to the provider's own reference (`provider_ref`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from croupier.cashier.ledger import CASHIER_OWNER, CLEARING_KIND
from croupier.cashier.providers.base import SettlementLine
from croupier.wallet.client import TransferOut, WalletClient

#: Provider statuses under which the money did not (or no longer) move.
NOT_MOVING = frozenset({"refunded", "failed", "canceled"})
#: Wallet transfer kinds that moved money (a hold only reserves it; a void or expiry releases the reservation).
MOVING_TRANSFER_KINDS = frozenset({"transfer", "hold_post"})
PAGE_SIZE = 200


@dataclass
class LedgerEntry:
    reference: str | None
    provider_ref: str | None
    payment_id: str | None
    currency: str
    money_in: int = 0
    money_out: int = 0

    @property
    def net(self) -> int:
        return self.money_in - self.money_out

    @property
    def status(self) -> str:
        return "credited" if self.net > 0 else "paid_out" if self.net < 0 else "reversed"


@dataclass
class ProviderEntry:
    lines: list[SettlementLine] = field(default_factory=list)

    @property
    def net(self) -> int:
        """Money in minus money out over the lines under which money moved."""
        return sum(
            abs(line.amount) if line.kind == "deposit" else -abs(line.amount)
            for line in self.lines
            if line.status not in NOT_MOVING
        )

    @property
    def moved(self) -> bool:
        return any(line.status not in NOT_MOVING for line in self.lines)

    @property
    def status(self) -> str:
        return ",".join(sorted({line.status for line in self.lines}))


async def ledger_entries(wallet: WalletClient, provider: str, day: date) -> dict[str, LedgerEntry]:
    """The day's clearing-account transfers of `provider`, grouped by reference."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    clearing: set[UUID] = set()
    cursor: str | None = None
    while True:
        page = await wallet.list_accounts(owner_type="house", owner_id=CASHIER_OWNER, cursor=cursor, limit=PAGE_SIZE)
        clearing |= {a.id for a in page.items if a.kind == CLEARING_KIND and a.label == provider}
        if (cursor := page.next_cursor) is None:
            break
    entries: dict[str, LedgerEntry] = {}
    seen: set[UUID] = set()
    for account_id in sorted(clearing):
        async for transfer in _transfers_between(wallet, account_id, start, end):
            if transfer.id in seen or transfer.kind not in MOVING_TRANSFER_KINDS:
                continue
            seen.add(transfer.id)
            meta = transfer.metadata
            key = str(meta.get("reference") or meta.get("provider_ref") or f"transfer:{transfer.id}")
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = LedgerEntry(
                    reference=text(meta.get("reference")),
                    provider_ref=text(meta.get("provider_ref")),
                    payment_id=text(meta.get("payment_id")),
                    currency=transfer.currency,
                )
            # Both sides can be clearing accounts (a move between brands): then it nets to nothing.
            if transfer.debit_account_id in clearing:
                entry.money_in += transfer.amount
            if transfer.credit_account_id in clearing:
                entry.money_out += transfer.amount
    return entries


async def _transfers_between(
    wallet: WalletClient, account_id: UUID, start: datetime, end: datetime
) -> AsyncIterator[TransferOut]:
    """The account's transfers created in [start, end): the wallet reads only that window, however many transfers
    came after it."""
    cursor: str | None = None
    while True:
        page = await wallet.list_transfers(
            account_id=account_id, created_from=start, created_to=end, cursor=cursor, limit=PAGE_SIZE
        )
        for transfer in page.items:
            yield transfer
        if (cursor := page.next_cursor) is None:
            return


def provider_entries(report: list[SettlementLine], ledger: dict[str, LedgerEntry]) -> dict[str, ProviderEntry]:
    """The report's lines grouped under the ledger's key for the same payment: by reference, else by the provider's
    own reference, else under their own."""
    by_provider_ref = {entry.provider_ref: key for key, entry in ledger.items() if entry.provider_ref}
    provider: dict[str, ProviderEntry] = {}
    for line in report:
        if line.reference and line.reference in ledger:
            key = line.reference
        elif line.provider_ref in by_provider_ref:
            key = by_provider_ref[line.provider_ref]
        else:
            key = line.reference or line.provider_ref
        provider.setdefault(key, ProviderEntry()).lines.append(line)
    return provider


def text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
