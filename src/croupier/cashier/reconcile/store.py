"""Stored runs: a run and its items in one transaction, with the alert event when anything differs; reading them
back for the back office."""

from __future__ import annotations

from dataclasses import astuple
from datetime import date
from typing import Any
from uuid import UUID

from croupier.cashier.events import ReconciliationDiscrepancies, dump
from croupier.cashier.reconcile.results import ReconciliationCounts, ReconciliationItem, ReconciliationResult
from croupier.kit.db import Database
from croupier.kit.outbox import Event, write_events

ALERT_TYPE = "cashier.alert.reconciliation_discrepancies"
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


async def store(db: Database, result: ReconciliationResult) -> None:
    """The run, its items and (when anything differs) the alert event, in one transaction."""
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
