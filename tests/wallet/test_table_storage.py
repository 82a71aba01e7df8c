"""How the ledger's tables are stored and vacuumed (migrations 0001 and 0006).

The accounts table takes every balance update, and stays cheap only while old row versions are pruned as its pages
are next used. Anything that holds a snapshot stops that pruning. Autovacuum's ANALYZE of the large append-only tables
holds one while it samples; throttled by the cost-based delay, that took seconds and let the accounts table bloat
47-fold under load (migration 0006, docs/benchmarks.md). So the append-only tables are autovacuumed without the delay.
"""

from typing import Any

APPEND_ONLY = ("requests", "transfers", "transfer_events")


async def _storage_options(db: Any) -> dict[str, dict[str, str]]:
    rows = await db.fetch(
        "SELECT relname, reloptions FROM pg_class WHERE relnamespace = 'wallet'::regnamespace AND relkind = 'r'"
    )
    return {row["relname"]: dict(option.split("=", 1) for option in row["reloptions"] or []) for row in rows}


async def test_append_only_tables_are_autovacuumed_without_the_cost_delay(db: Any) -> None:
    options = await _storage_options(db)

    for table in APPEND_ONLY:
        assert options[table].get("autovacuum_vacuum_cost_delay") == "0", (table, options[table])


async def test_the_accounts_table_keeps_room_for_updates_and_the_default_vacuum(db: Any) -> None:
    options = await _storage_options(db)

    # Room on every page for a balance update's new row version (a HOT update: no index entry, prunable in place).
    assert options["accounts"].get("fillfactor") == "70"
    # Its own vacuums are small and frequent: they keep the server's default throttling.
    assert "autovacuum_vacuum_cost_delay" not in options["accounts"]
