"""Daily reconciliation: one provider's settlement report against the ledger's clearing accounts for one day
(docs/reconciliation.md).

- `sides`: the two sides, grouped by reference: the day's clearing-account transfers (read from the wallet for that
  day only) and the report's lines.
- `run`: one run: fetch, read, match, classify, store.
- `explain`: the detail sentence of each difference, from what the cashier's own records say about it.
- `store`: the stored runs and their alert event; reading them back for the back office.
- `results`: the result types the API and the command print.
"""

from croupier.cashier.reconcile.results import (
    KINDS,
    ReconciliationCounts,
    ReconciliationItem,
    ReconciliationResult,
)
from croupier.cashier.reconcile.run import reconcile
from croupier.cashier.reconcile.store import ALERT_TYPE, get_reconciliation, list_reconciliations

__all__ = [
    "ALERT_TYPE",
    "KINDS",
    "ReconciliationCounts",
    "ReconciliationItem",
    "ReconciliationResult",
    "get_reconciliation",
    "list_reconciliations",
    "reconcile",
]
