"""SQL of the compliance schema, and nothing else."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from croupier.compliance.rules import PERIOD_HOURS, Activity, Exclusion, Limit
from croupier.kit.outbox import Event, write_events


async def load_limits(connection: Any, player_id: str) -> list[Limit]:
    rows = await connection.fetch(
        """SELECT kind, period, amount, pending_amount, pending_removal, pending_effective_at
           FROM compliance.limits WHERE player_id = $1 ORDER BY kind, period""",
        player_id,
    )
    return [Limit(*row) for row in rows]


async def lock_limit(connection: Any, player_id: str, kind: str, period: str) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await connection.fetchrow(
        """SELECT amount, pending_amount, pending_removal, pending_effective_at FROM compliance.limits
           WHERE player_id = $1 AND kind = $2 AND period = $3 FOR UPDATE""",
        player_id,
        kind,
        period,
    )
    return record


async def save_limit(connection: Any, values: dict[str, Any]) -> None:
    await connection.execute(
        """INSERT INTO compliance.limits (player_id, brand_id, kind, period, amount, pending_amount, pending_removal,
               pending_effective_at, currency, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (player_id, kind, period) DO UPDATE SET amount = EXCLUDED.amount,
               pending_amount = EXCLUDED.pending_amount, pending_removal = EXCLUDED.pending_removal,
               pending_effective_at = EXCLUDED.pending_effective_at, currency = EXCLUDED.currency,
               updated_at = EXCLUDED.updated_at""",
        values["player_id"],
        values["brand_id"],
        values["kind"],
        values["period"],
        values["amount"],
        values["pending_amount"],
        values["pending_removal"],
        values["pending_effective_at"],
        values["currency"],
        values["updated_at"],
    )


async def delete_limit(connection: Any, player_id: str, kind: str, period: str) -> None:
    await connection.execute(
        "DELETE FROM compliance.limits WHERE player_id = $1 AND kind = $2 AND period = $3", player_id, kind, period
    )


async def record_limit_change(connection: Any, values: dict[str, Any]) -> None:
    await connection.execute(
        """INSERT INTO compliance.limit_changes (id, player_id, kind, period, old_amount, new_amount, effective_at,
               immediate, requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        values["id"],
        values["player_id"],
        values["kind"],
        values["period"],
        values["old_amount"],
        values["new_amount"],
        values["effective_at"],
        values["immediate"],
        values["requested_at"],
    )


async def load_exclusions(connection: Any, player_id: str) -> list[Exclusion]:
    rows = await connection.fetch(
        "SELECT kind, starts_at, ends_at FROM compliance.exclusions WHERE player_id = $1 ORDER BY starts_at",
        player_id,
    )
    return [Exclusion(*row) for row in rows]


async def insert_exclusion(connection: Any, values: dict[str, Any]) -> None:
    await connection.execute(
        """INSERT INTO compliance.exclusions (id, player_id, brand_id, kind, starts_at, ends_at, reason, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        values["id"],
        values["player_id"],
        values["brand_id"],
        values["kind"],
        values["starts_at"],
        values["ends_at"],
        values["reason"],
        values["created_at"],
    )


async def reality_check_interval(connection: Any, player_id: str) -> int | None:
    value: int | None = await connection.fetchval(
        "SELECT interval_minutes FROM compliance.reality_checks WHERE player_id = $1", player_id
    )
    return value


async def set_reality_check_interval(connection: Any, player_id: str, minutes: int, now: datetime) -> None:
    await connection.execute(
        """INSERT INTO compliance.reality_checks (player_id, interval_minutes, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (player_id) DO UPDATE SET interval_minutes = EXCLUDED.interval_minutes,
               updated_at = EXCLUDED.updated_at""",
        player_id,
        minutes,
        now,
    )


async def activity_windows(connection: Any, player_id: str, starts: dict[str, datetime]) -> dict[str, Activity]:
    """Sums of wagered, won, deposited and withdrawn since each window's start, in one statement."""
    row = await connection.fetchrow(
        """SELECT
             coalesce(sum(wagered) FILTER (WHERE hour >= $2), 0), coalesce(sum(won) FILTER (WHERE hour >= $2), 0),
             coalesce(sum(deposited) FILTER (WHERE hour >= $2), 0),
             coalesce(sum(withdrawn) FILTER (WHERE hour >= $2), 0),
             coalesce(sum(wagered) FILTER (WHERE hour >= $3), 0), coalesce(sum(won) FILTER (WHERE hour >= $3), 0),
             coalesce(sum(deposited) FILTER (WHERE hour >= $3), 0),
             coalesce(sum(withdrawn) FILTER (WHERE hour >= $3), 0),
             coalesce(sum(wagered), 0), coalesce(sum(won), 0), coalesce(sum(deposited), 0), coalesce(sum(withdrawn), 0)
           FROM compliance.activity WHERE player_id = $1 AND hour >= $4""",
        player_id,
        starts["day"],
        starts["week"],
        starts["month"],
    )
    values = [int(v) for v in row]
    return {
        "day": Activity(*values[0:4]),
        "week": Activity(*values[4:8]),
        "month": Activity(*values[8:12]),
    }


assert set(PERIOD_HOURS) == {"day", "week", "month"}


async def add_activity(connection: Any, rows: Sequence[tuple[str, datetime, int, int, int, int]]) -> None:
    if not rows:
        return
    await connection.execute(
        """INSERT INTO compliance.activity AS a (player_id, hour, wagered, won, deposited, withdrawn)
           SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::int8[], $4::int8[], $5::int8[], $6::int8[])
           ON CONFLICT (player_id, hour) DO UPDATE SET wagered = a.wagered + EXCLUDED.wagered,
               won = a.won + EXCLUDED.won, deposited = a.deposited + EXCLUDED.deposited,
               withdrawn = a.withdrawn + EXCLUDED.withdrawn""",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
        [r[5] for r in rows],
    )


async def lock_cursor(connection: Any, feed: str) -> str | None:
    await connection.execute(
        "INSERT INTO compliance.feed_cursors (feed, cursor) VALUES ($1, '') ON CONFLICT (feed) DO NOTHING", feed
    )
    cursor: str = await connection.fetchval(
        "SELECT cursor FROM compliance.feed_cursors WHERE feed = $1 FOR UPDATE", feed
    )
    return cursor or None


async def save_cursor(connection: Any, feed: str, cursor: str) -> None:
    await connection.execute("UPDATE compliance.feed_cursors SET cursor = $2 WHERE feed = $1", feed, cursor)


async def claim_events(connection: Any, event_ids: Sequence[Any], now: datetime) -> set[Any]:
    """Record event ids as applied; return those that were not applied before (by any process)."""
    rows = await connection.fetch(
        """INSERT INTO compliance.consumed_events (event_id, applied_at) SELECT unnest($1::uuid[]), $2
           ON CONFLICT DO NOTHING RETURNING event_id""",
        list(event_ids),
        now,
    )
    return {row["event_id"] for row in rows}


async def player_version(connection: Any, player_id: str) -> int:
    version: int | None = await connection.fetchval(
        "SELECT version FROM compliance.player_versions WHERE player_id = $1", player_id
    )
    return version or 0


async def bump_player_version(connection: Any, player_id: str) -> None:
    await connection.execute(
        """INSERT INTO compliance.player_versions AS v (player_id, version) VALUES ($1, 1)
           ON CONFLICT (player_id) DO UPDATE SET version = v.version + 1""",
        player_id,
    )


async def insert_decision(connection: Any, values: dict[str, Any], seen_version: int | None) -> bool:
    """Log a decision, but only if the player's limits and exclusions are still at `seen_version` (None: no check).

    False: they changed since the gate read them; nothing was written, and the gate decides again.
    """
    inserted = await connection.fetchval(
        """INSERT INTO compliance.decisions (id, player_id, brand_id, action, amount, allowed, reason, rule,
               rule_version, inputs, decided_at)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
           WHERE $12::bigint IS NULL
              OR coalesce((SELECT version FROM compliance.player_versions WHERE player_id = $2), 0) = $12
           RETURNING true""",
        values["id"],
        values["player_id"],
        values["brand_id"],
        values["action"],
        values["amount"],
        values["allowed"],
        values["reason"],
        values["rule"],
        values["rule_version"],
        values["inputs"],
        values["decided_at"],
        seen_version,
    )
    return bool(inserted)


async def list_decisions(
    connection: Any,
    *,
    player_id: str | None,
    since: datetime | None,
    until: datetime | None,
    before: tuple[datetime, Any] | None,
    limit: int,
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        """SELECT id, player_id, brand_id, action, amount, allowed, reason, rule, rule_version, inputs, decided_at
           FROM compliance.decisions
           WHERE ($1::text IS NULL OR player_id = $1) AND ($2::timestamptz IS NULL OR decided_at >= $2)
             AND ($3::timestamptz IS NULL OR decided_at < $3)
             AND ($4::timestamptz IS NULL OR (decided_at, id) < ($4, $5::uuid))
           ORDER BY decided_at DESC, id DESC LIMIT $6""",
        player_id,
        since,
        until,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return rows


async def write_compliance_events(connection: Any, events: Sequence[Event]) -> None:
    await write_events(connection, "compliance", events)
