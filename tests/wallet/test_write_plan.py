"""The batch write's plan, as the write pool runs it (one generic plan per connection, reused for every batch).

Planned once without the sizes of its parameters, the statement must still reach accounts by key, whatever the size
of the table: a new brand's thousand accounts read whole on every batch cost PostgreSQL about a fifth of its work per
transfer at small batches. And the UPDATE must lock the rows in id order, as it reaches them.
"""

import re
from typing import Any

from croupier.kit.db import Database
from croupier.wallet.batch_write import _WRITE_BATCH


async def _generic_plan(database_url: str) -> str:
    db = Database(database_url, min_size=1, max_size=1, generic_plans=True)
    await db.connect()
    try:
        async with db.connection() as connection:
            # As the pool runs it: prepared, then executed with force_generic_plan (the plan ignores the values).
            await connection.execute("PREPARE probe_batch_write AS " + _WRITE_BATCH)
            parameters = max(int(number) for number in re.findall(r"\$(\d+)", _WRITE_BATCH))
            nulls = ", ".join(["NULL"] * parameters)
            rows: list[Any] = await connection.fetch(f"EXPLAIN EXECUTE probe_batch_write({nulls})")
            await connection.execute("DEALLOCATE probe_batch_write")
    finally:
        await db.close()
    return "\n".join(row[0] for row in rows)


async def test_batch_write_reaches_accounts_by_key_and_locks_them_in_id_order(database_url: str, platform: Any) -> None:
    plan = await _generic_plan(database_url)

    assert "Seq Scan" not in plan, plan
    # The UPDATE walks the balances in the order they were sent (sorted by account id) and reaches each account by
    # key: it locks the rows in id order, the order every writer takes them in, so writers never deadlock.
    update = plan[plan.index("Update on accounts a") :]
    loop = update.index("->  Nested Loop")
    outer = update.index("->  Subquery Scan on b")
    inner = update.index("->  Index Scan using accounts_pkey on accounts a")
    assert loop < outer < inner, plan
    assert "Join Filter" not in update, plan


async def test_a_pool_without_generic_plans_is_planned_as_usual(database_url: str, platform: Any) -> None:
    db = Database(database_url, min_size=1, max_size=1)
    await db.connect()
    try:
        async with db.connection() as connection:
            assert await connection.fetchval("SHOW enable_seqscan") == "on"
            assert await connection.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
    finally:
        await db.close()
