"""Daily reconciliation: one provider's settlement report against the ledger's clearing accounts for one day.

Ledger side: every transfer created on the day (UTC) that touches the provider's `psp_clearing` accounts (all
brands, all currencies), grouped by metadata `reference` (what the provider knows us by): money in (a deposit
debits clearing) minus money out (a payout credits it). Provider side: the report's lines, grouped the same way.
Both sides are matched by reference, falling back to the provider's own reference (`provider_ref`).

Classification, one item per reference (docs/reconciliation.md):
- missing_in_ledger: the provider settled it, the ledger has nothing that day;
- missing_at_provider: the ledger moved money, the provider's report has no line for it;
- amount_mismatch: both have it, the gross amounts (or currencies) differ;
- status_mismatch: both have it, but the provider says the money did not move (refunded, failed, canceled).
A report line that is failed or canceled with no ledger entry is agreement: neither side moved money.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import asdict, astuple, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from croupier.cashier.events import ReconciliationDiscrepancies, dump
from croupier.cashier.ledger import CASHIER_OWNER, CLEARING_KIND
from croupier.cashier.providers.base import ProviderAdapter, SettlementLine
from croupier.kit.clock import Clock, system_clock
from croupier.kit.db import Database
from croupier.kit.ids import uuid7
from croupier.kit.outbox import Event, write_events
from croupier.wallet.client import TransferOut, WalletClient

KINDS = ("missing_in_ledger", "missing_at_provider", "amount_mismatch", "status_mismatch")
ALERT_TYPE = "cashier.alert.reconciliation_discrepancies"
#: Provider statuses under which the money did not (or no longer) move.
NOT_MOVING = frozenset({"refunded", "failed", "canceled"})
#: Wallet transfer kinds that moved money (a hold only reserves it; a void or expiry releases the reservation).
MOVING_TRANSFER_KINDS = frozenset({"transfer", "hold_post"})
PAGE_SIZE = 200
RUN_COLUMNS = "id, provider, day, run_at, ledger_lines, provider_lines, matched, discrepancies"
RUN_SELECT = f"""SELECT {RUN_COLUMNS}, (
    SELECT coalesce(json_object_agg(kind, n), '{{}}') FROM (
        SELECT kind, count(*) AS n FROM cashier.reconciliation_items i WHERE i.reconciliation_id = r.id GROUP BY kind
    ) AS per_kind) AS by_kind
FROM cashier.reconciliations r"""
ITEM_COLUMNS = (
    "kind, reference, provider_ref, payment_id, currency, ledger_amount, provider_amount, ledger_status, "
    "provider_status, detail"
)


@dataclass(frozen=True, slots=True)
class ReconciliationItem:
    kind: str
    reference: str | None
    provider_ref: str | None
    payment_id: UUID | None
    currency: str | None
    ledger_amount: int | None  # gross, minor units, in the direction of the payment (positive)
    provider_amount: int | None
    ledger_status: str | None  # credited, paid_out, reversed (net zero)
    provider_status: str | None
    detail: str
    id: UUID = field(default_factory=uuid7)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["id"], out["payment_id"] = str(self.id), str(self.payment_id) if self.payment_id else None
        return out


@dataclass(frozen=True, slots=True)
class ReconciliationCounts:
    ledger_lines: int  # ledger entries (references) of the day
    provider_lines: int  # lines in the provider's report
    matched: int  # references both sides agree on
    discrepancies: int
    by_kind: dict[str, int]


@dataclass(frozen=True, slots=True)
class ReconciliationResult:
    id: UUID
    provider: str
    day: date
    run_at: datetime
    counts: ReconciliationCounts
    items: list[ReconciliationItem]

    @property
    def clean(self) -> bool:
        return self.counts.discrepancies == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "provider": self.provider,
            "day": self.day.isoformat(),
            "run_at": self.run_at.isoformat(),
            **asdict(self.counts),
            "items": [item.as_dict() for item in self.items],
        }


@dataclass
class _LedgerEntry:
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
class _ProviderEntry:
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


_Found = tuple[str, _LedgerEntry | None, _ProviderEntry | None]  # (kind, ledger side, provider side)


async def reconcile(
    db: Database, wallet: WalletClient, adapter: ProviderAdapter, day: date, *, clock: Clock = system_clock
) -> ReconciliationResult:
    """Compare, classify, and store the run (with the alert event when anything differs) in one transaction."""
    report = await adapter.settlement_report(day)
    ledger = await _ledger_entries(wallet, adapter.name, day)
    by_provider_ref = {e.provider_ref: key for key, e in ledger.items() if e.provider_ref}
    provider: dict[str, _ProviderEntry] = {}
    for line in report:
        if line.reference and line.reference in ledger:
            key = line.reference
        elif line.provider_ref in by_provider_ref:
            key = by_provider_ref[line.provider_ref]
        else:
            key = line.reference or line.provider_ref
        provider.setdefault(key, _ProviderEntry()).lines.append(line)

    found: list[_Found] = []
    matched = 0
    for key in sorted(ledger.keys() | provider.keys()):
        kind = _classify(ledger.get(key), provider.get(key))
        if kind is None:
            matched += 1
        else:
            found.append((kind, ledger.get(key), provider.get(key)))
    async with db.connection() as connection:
        records = await _cashier_records(connection, adapter.name, found) if found else {}
    items = [_item(kind, entry, lines, records, adapter.name, day) for kind, entry, lines in found]
    by_kind = dict(Counter(item.kind for item in items))
    result = ReconciliationResult(
        id=uuid7(),
        provider=adapter.name,
        day=day,
        run_at=clock(),
        counts=ReconciliationCounts(len(ledger), len(report), matched, len(items), by_kind),
        items=items,
    )
    await _store(db, result)
    return result


def _classify(ledger: _LedgerEntry | None, provider: _ProviderEntry | None) -> str | None:
    if ledger is None:
        assert provider is not None
        # A refund without a ledger reversal is money taken back; a failed or canceled line moved nothing.
        return (
            "missing_in_ledger" if any(line.status not in ("failed", "canceled") for line in provider.lines) else None
        )
    if provider is None:
        return "missing_at_provider"
    if not provider.moved:
        return None if ledger.net == 0 else "status_mismatch"
    currencies = {line.currency for line in provider.lines if line.status not in NOT_MOVING}
    if provider.net != ledger.net or currencies != {ledger.currency}:
        return "amount_mismatch"
    return None


async def _ledger_entries(wallet: WalletClient, provider: str, day: date) -> dict[str, _LedgerEntry]:
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
    entries: dict[str, _LedgerEntry] = {}
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
                entry = entries[key] = _LedgerEntry(
                    reference=_text(meta.get("reference")),
                    provider_ref=_text(meta.get("provider_ref")),
                    payment_id=_text(meta.get("payment_id")),
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
    """The account's transfers created in [start, end): pages newest first, stopping once past `start`."""
    cursor: str | None = None
    while True:
        page = await wallet.list_transfers(account_id=account_id, cursor=cursor, limit=PAGE_SIZE)
        for transfer in page.items:
            if transfer.created_at < start:
                return
            if transfer.created_at < end:
                yield transfer
        if (cursor := page.next_cursor) is None:
            return


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


Records = dict[str, tuple[dict[str, Any] | None, dict[str, Any]]]


async def _cashier_records(connection: Any, provider: str, found: list[_Found]) -> Records:
    """(attempt, payment) of the discrepant references, by attempt id, provider_ref and payment id."""
    refs: set[str] = set()
    payment_ids: set[UUID] = set()
    for _, entry, lines in found:
        if entry is not None:
            refs |= {ref for ref in (entry.reference, entry.provider_ref) if ref}
            payment_ids |= {uuid for uuid in [_uuid(entry.payment_id)] if uuid}
        refs |= {ref for line in (lines.lines if lines else []) for ref in (line.reference, line.provider_ref) if ref}
    attempts = await connection.fetch(
        """SELECT id, payment_id, provider, status, provider_ref FROM cashier.attempts
           WHERE id = ANY($1::text[]) OR (provider = $2 AND provider_ref = ANY($1::text[]))""",
        sorted(refs),
        provider,
    )
    payments = await connection.fetch(
        """SELECT id, kind, status, provider, provider_ref, credited_at FROM cashier.payments
           WHERE id = ANY($1::uuid[]) OR (provider = $2 AND provider_ref = ANY($3::text[]))""",
        sorted(payment_ids | {row["payment_id"] for row in attempts}),
        provider,
        sorted(refs),
    )
    by_id = {row["id"]: dict(row) for row in payments}
    records: Records = {}
    for payment in by_id.values():
        records[str(payment["id"])] = (None, payment)
        if payment["provider_ref"]:
            records[payment["provider_ref"]] = (None, payment)
    for row in attempts:  # an attempt explains more than its payment alone: it wins
        if row["payment_id"] in by_id:
            records[row["id"]] = (dict(row), by_id[row["payment_id"]])
            if row["provider_ref"]:
                records[row["provider_ref"]] = (dict(row), by_id[row["payment_id"]])
    return records


def _item(
    kind: str, entry: _LedgerEntry | None, provider: _ProviderEntry | None, records: Records, name: str, day: date
) -> ReconciliationItem:
    lines = provider.lines if provider is not None else []
    reference = entry.reference if entry else next((line.reference for line in lines if line.reference), None)
    provider_ref = next((line.provider_ref for line in lines), None) or (entry.provider_ref if entry else None)
    keys = (reference, provider_ref, entry.payment_id if entry else None)
    attempt, payment = next((records[key] for key in keys if key in records), (None, None))
    item = ReconciliationItem(
        kind=kind,
        reference=reference,
        provider_ref=provider_ref,
        payment_id=payment["id"] if payment else _uuid(entry.payment_id if entry else None),
        currency=entry.currency if entry else (lines[0].currency if lines else None),
        ledger_amount=abs(entry.net) if entry else None,
        provider_amount=abs(provider.net) if provider and provider.moved else (abs(lines[0].amount) if lines else None),
        ledger_status=entry.status if entry else None,
        provider_status=provider.status if provider else None,
        detail="",
    )
    settled_in = lines[0].currency if lines else None  # the provider's currency can differ from the ledger's
    return replace(item, detail=_explain(item, settled_in, attempt, payment, name, day))


def _uuid(value: str | None) -> UUID | None:
    with contextlib.suppress(ValueError):
        return UUID(value) if value else None
    return None


def _explain(item: ReconciliationItem, settled_in: str | None, attempt: Any, payment: Any, name: str, day: date) -> str:
    """What an operator reads: the difference, and what the cashier's own records say about it."""
    subject = f"payment {item.payment_id}" if item.payment_id else f"reference {item.reference or item.provider_ref}"
    ledger = f"{item.ledger_amount} {item.currency}"
    settled = f"{item.provider_amount} {settled_in}"
    if item.kind == "missing_at_provider":
        moved = "paid out" if item.ledger_status == "paid_out" else "credited"
        status = f" ({payment['status']} in the cashier)" if payment else ""
        return f"the ledger {moved} {ledger} for {subject}{status} on {day}, but {name} reported no settlement for it"
    if item.kind == "amount_mismatch":
        difference = (item.provider_amount or 0) - (item.ledger_amount or 0)
        gap = f"difference {difference:+d}" if settled_in == item.currency else "different currencies"
        return f"the ledger moved {ledger} for {subject}, {name} settled {settled} ({gap})"
    if item.kind == "status_mismatch":
        return (
            f"{name} reports {subject} as {item.provider_status}, but the ledger {item.ledger_status} {ledger}: "
            f"reverse it in the ledger or dispute it with {name}"
        )
    if item.provider_status == "refunded":
        return f"{name} refunded {settled} for {subject}, but the ledger shows no reversal on {day}"
    if payment is None:
        return f"{name} settled {settled} for {subject}, which the cashier has no payment for"
    if attempt is not None and (attempt["status"] in ("timeout", "superseded") or payment["provider"] != name):
        return (
            f"attempt {attempt['id']} of {subject} was charged {settled} by {name} after failover (the cashier had "
            f"given up on it: {attempt['status']}); refund it at the provider"
        )
    if attempt is not None and attempt["status"] in ("failed", "declined"):
        return f"attempt {attempt['id']} is {attempt['status']} in the cashier, but {name} settled {settled}"
    credited_at = payment["credited_at"]
    if credited_at is not None and credited_at.astimezone(UTC).date() != day:
        return f"{subject} was credited on {credited_at.astimezone(UTC).date()}, not {day}: a timing difference"
    if payment["status"] == "succeeded" and credited_at is None:
        return f"{subject} succeeded at the provider ({settled}) but was never credited"
    return f"{name} settled {settled} for {subject} ({payment['status']} in the cashier), but it was never credited"


async def _store(db: Database, result: ReconciliationResult) -> None:
    counts = result.counts
    # The dataclasses' field order is the tables' column order (by_kind and the item's id aside).
    run_row = (result.id, result.provider, result.day, result.run_at, *astuple(counts)[:4])
    async with db.transaction() as connection:
        await connection.execute(
            f"INSERT INTO cashier.reconciliations ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", *run_row
        )
        await connection.executemany(
            f"INSERT INTO cashier.reconciliation_items (id, reconciliation_id, {ITEM_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            [(item.id, result.id, *astuple(item)[:-1]) for item in result.items],
        )
        if counts.discrepancies:
            alert = ReconciliationDiscrepancies(
                reconciliation_id=result.id,
                provider=result.provider,
                day=result.day,
                discrepancies=counts.discrepancies,
                by_kind=counts.by_kind,
            )
            event = Event(ALERT_TYPE, dump(alert), occurred_at=result.run_at)
            await write_events(connection, "cashier", [event])  # type: ignore[arg-type]


# -- reading stored runs (the admin API) ------------------------------------------------------------------------------


async def list_reconciliations(
    db: Database, *, provider: str | None = None, day: date | None = None, limit: int = 50
) -> list[ReconciliationResult]:
    """Runs newest first (without their items), optionally of one provider and/or day."""
    async with db.connection() as connection:
        rows = await connection.fetch(
            f"""{RUN_SELECT} WHERE ($1::text IS NULL OR provider = $1) AND ($2::date IS NULL OR day = $2)
                ORDER BY run_at DESC, id DESC LIMIT $3""",
            provider,
            day,
            limit,
        )
    return [_run(row, []) for row in rows]


async def get_reconciliation(db: Database, reconciliation_id: UUID) -> ReconciliationResult | None:
    """One run with its items, or None."""
    async with db.connection() as connection:
        row = await connection.fetchrow(f"{RUN_SELECT} WHERE id = $1", reconciliation_id)
        items = await connection.fetch(
            f"SELECT id, {ITEM_COLUMNS} FROM cashier.reconciliation_items WHERE reconciliation_id = $1 "
            "ORDER BY kind, reference, id",
            reconciliation_id,
        )
    return _run(row, [ReconciliationItem(**dict(item)) for item in items]) if row else None


def _run(row: Any, items: list[ReconciliationItem]) -> ReconciliationResult:
    counts = ReconciliationCounts(
        row["ledger_lines"], row["provider_lines"], row["matched"], row["discrepancies"], row["by_kind"]
    )
    return ReconciliationResult(row["id"], row["provider"], row["day"], row["run_at"], counts, items)
