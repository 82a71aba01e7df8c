"""One reconciliation run: the provider's report for a day against the ledger's clearing accounts for that day.

Classification, one item per reference (docs/reconciliation.md):
- missing_in_ledger: the provider settled it, the ledger has nothing that day;
- missing_at_provider: the ledger moved money, the provider's report has no line for it;
- amount_mismatch: both have it, the gross amounts (or currencies) differ;
- status_mismatch: both have it, but the provider says the money did not move (refunded, failed, canceled).
A report line that is failed or canceled with no ledger entry is agreement: neither side moved money.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from croupier.cashier.providers.base import ProviderAdapter
from croupier.cashier.reconcile.explain import Found, cashier_records, item
from croupier.cashier.reconcile.results import ReconciliationCounts, ReconciliationResult
from croupier.cashier.reconcile.sides import NOT_MOVING, LedgerEntry, ProviderEntry, ledger_entries, provider_entries
from croupier.cashier.reconcile.store import store
from croupier.kit.clock import Clock, system_clock
from croupier.kit.db import Database
from croupier.kit.ids import uuid7
from croupier.wallet.client import WalletClient


async def reconcile(
    db: Database, wallet: WalletClient, adapter: ProviderAdapter, day: date, *, clock: Clock = system_clock
) -> ReconciliationResult:
    """Compare, classify, and store the run (with the alert event when anything differs) in one transaction."""
    report = await adapter.settlement_report(day)
    ledger = await ledger_entries(wallet, adapter.name, day)
    provider = provider_entries(report, ledger)
    found: list[Found] = []
    matched = 0
    for key in sorted(ledger.keys() | provider.keys()):
        kind = classify(ledger.get(key), provider.get(key))
        if kind is None:
            matched += 1
        else:
            found.append((kind, ledger.get(key), provider.get(key)))
    async with db.connection() as connection:
        records = await cashier_records(connection, adapter.name, found) if found else {}
    items = [item(kind, entry, lines, records, adapter.name, day) for kind, entry, lines in found]
    by_kind = dict(Counter(found_item.kind for found_item in items))
    result = ReconciliationResult(
        id=uuid7(),
        provider=adapter.name,
        day=day,
        run_at=clock(),
        counts=ReconciliationCounts(len(ledger), len(report), matched, len(items), by_kind),
        items=items,
    )
    await store(db, result)
    return result


def classify(ledger: LedgerEntry | None, provider: ProviderEntry | None) -> str | None:
    """The kind of difference between the two sides of one reference, or None when they agree."""
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
