"""The cashier: deposits and withdrawals across payment providers, routing with failover, the webhook queue, FX and
reconciliation. It owns the `cashier` schema; money moves only through the wallet client."""
