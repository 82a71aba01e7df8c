"""The batch write's plan, as the write pool runs it (one generic plan per connection, reused for every batch).

Planned once without the sizes of its parameters, the statement must still reach accounts by key, whatever the size
of the table: a new brand's thousand accounts read whole on every batch cost PostgreSQL about a fifth of its work per
transfer at small batches. And the row locks must be taken once, before the UPDATE, not looked up per account.
"""

from typing import Any

from croupier.kit.db import Database
from croupier.wallet.repository import _WRITE_BATCH


async def _generic_plan(database_url: str) -> str:
    db = Database(database_url, min_size=1, max_size=1, generic_plans=True)
    await db.connect()
    try:
        async with db.connection() as connection:
            # As the pool runs it: prepared, then executed with force_generic_plan (the plan ignores the values).
            await connection.execute("PREPARE probe_batch_write AS " + _WRITE_BATCH)
            rows: list[Any] = await connection.fetch(f"EXPLAIN EXECUTE probe_batch_write({', '.join(['NULL'] * 16)})")
            await connection.execute("DEALLOCATE probe_batch_write")
    finally:
        await db.close()
    return "\n".join(row[0] for row in rows)


async def test_batch_write_reaches_accounts_by_key_and_locks_them_before_the_update(
    database_url: str, platform: Any
) -> None:
    plan = await _generic_plan(database_url)

    assert "Seq Scan" not in plan, plan
    assert "Index Scan using accounts_pkey on accounts a" in plan, plan
    # The UPDATE waits for the count of locked accounts, computed once, instead of joining them row by row.
    assert "One-Time Filter" in plan, plan
    assert "CTE Scan on locked" in plan, plan
    assert "Join Filter" not in plan, plan


async def test_a_pool_without_generic_plans_is_planned_as_usual(database_url: str, platform: Any) -> None:
    db = Database(database_url, min_size=1, max_size=1)
    await db.connect()
    try:
        async with db.connection() as connection:
            assert await connection.fetchval("SHOW enable_seqscan") == "on"
            assert await connection.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
    finally:
        await db.close()
