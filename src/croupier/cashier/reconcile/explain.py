"""One item per difference, with the sentence an operator reads: the difference, and what the cashier's own records
(its payment and attempts) say about it (docs/reconciliation.md lists the sentences and what to do)."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, date
from typing import Any
from uuid import UUID

from croupier.cashier.reconcile.results import ReconciliationItem
from croupier.cashier.reconcile.sides import LedgerEntry, ProviderEntry

#: (kind, ledger side, provider side) of one difference.
Found = tuple[str, LedgerEntry | None, ProviderEntry | None]
#: (attempt, payment) by attempt id, provider_ref and payment id.
Records = dict[str, tuple[dict[str, Any] | None, dict[str, Any]]]


async def cashier_records(connection: Any, provider: str, found: list[Found]) -> Records:
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


def item(
    kind: str, entry: LedgerEntry | None, provider: ProviderEntry | None, records: Records, name: str, day: date
) -> ReconciliationItem:
    """The stored item of one difference, its detail sentence included."""
    lines = provider.lines if provider is not None else []
    reference = entry.reference if entry else next((line.reference for line in lines if line.reference), None)
    provider_ref = next((line.provider_ref for line in lines), None) or (entry.provider_ref if entry else None)
    keys = (reference, provider_ref, entry.payment_id if entry else None)
    attempt, payment = next((records[key] for key in keys if key in records), (None, None))
    found = ReconciliationItem(
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
    return replace(found, detail=explain(found, settled_in, attempt, payment, name, day))


def _uuid(value: str | None) -> UUID | None:
    with contextlib.suppress(ValueError):
        return UUID(value) if value else None
    return None


def explain(item: ReconciliationItem, settled_in: str | None, attempt: Any, payment: Any, name: str, day: date) -> str:
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
