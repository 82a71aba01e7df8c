"""SQL for the cashier schema only."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias
from uuid import UUID

import asyncpg

if TYPE_CHECKING:
    Connection: TypeAlias = asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]
else:
    Connection = Any

DEPOSIT_RANK = {
    "created": 0,
    "awaiting_transfer": 1,
    "pending": 1,
    "processing": 2,
    "held": 3,  # crypto: the coins arrived, the compliance gate refused them on arrival: an admin decides
    "succeeded": 3,
    "failed": 3,
    "canceled": 3,
    "expired": 3,
    "refund_requested": 3,  # a held deposit an admin sent back to the payer: never credited
}
WITHDRAWAL_RANK = {
    "requested": 0,
    "pending_approval": 1,
    "approved": 2,
    "processing": 3,
    "paid": 4,
    "failed": 4,
    "rejected": 4,
    "canceled": 4,
}
FINAL_DEPOSIT = ("succeeded", "failed", "canceled", "expired", "refund_requested")
FINAL_WITHDRAWAL = ("paid", "failed", "rejected", "canceled")


def rank(kind: str, status: str) -> int:
    return (DEPOSIT_RANK if kind == "deposit" else WITHDRAWAL_RANK)[status]


def is_final(kind: str, status: str) -> bool:
    return status in (FINAL_DEPOSIT if kind == "deposit" else FINAL_WITHDRAWAL)


def _encode(column: str, value: Any) -> Any:
    return value  # the pool's codecs encode json/jsonb (croupier.kit.db)


def payment(row: asyncpg.Record | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return dict(row)


# -- payments -------------------------------------------------------------------------------------------------------


async def insert_payment(connection: Connection, values: dict[str, Any]) -> dict[str, Any] | None:
    """Insert a payment; None when the player already used this request key."""
    columns = list(values)
    row = await connection.fetchrow(
        f"""INSERT INTO cashier.payments ({", ".join(columns)})
            VALUES ({", ".join(f"${i + 1}" for i in range(len(columns)))})
            ON CONFLICT (player_id, request_key) DO NOTHING RETURNING *""",
        *[_encode(column, values[column]) for column in columns],
    )
    return payment(row)


async def get_payment(connection: Connection, payment_id: UUID) -> dict[str, Any] | None:
    return payment(await connection.fetchrow("SELECT * FROM cashier.payments WHERE id = $1", payment_id))


async def payment_by_request(connection: Connection, player_id: str, request_key: str) -> dict[str, Any] | None:
    return payment(
        await connection.fetchrow(
            "SELECT * FROM cashier.payments WHERE player_id = $1 AND request_key = $2", player_id, request_key
        )
    )


async def update_payment(
    connection: Connection, payment_id: UUID, version: int, now: datetime, **changes: Any
) -> dict[str, Any] | None:
    """Compare-and-set on the version: None when someone else changed the payment first."""
    if "status" in changes and "status_rank" not in changes:
        raise ValueError("a status change must carry its rank")
    columns = list(changes)
    assignments = ", ".join(f"{column} = ${i + 4}" for i, column in enumerate(columns))
    row = await connection.fetchrow(
        f"""UPDATE cashier.payments SET {assignments}{", " if assignments else ""}version = version + 1,
                   updated_at = $3
            WHERE id = $1 AND version = $2 RETURNING *""",
        payment_id,
        version,
        now,
        *[_encode(column, changes[column]) for column in columns],
    )
    return payment(row)


async def list_payments(
    connection: Connection, player_id: str, *, kind: str | None, before: UUID | None, limit: int
) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        """SELECT * FROM cashier.payments WHERE player_id = $1 AND ($2::text IS NULL OR kind = $2)
             AND ($3::uuid IS NULL OR id < $3) ORDER BY id DESC LIMIT $4""",
        player_id,
        kind,
        before,
        limit,
    )
    return [p for p in map(payment, rows) if p is not None]


async def list_by_status(
    connection: Connection, kind: str, statuses: list[str], *, older_than: datetime | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        """SELECT * FROM cashier.payments WHERE kind = $1 AND status = ANY($2::text[])
             AND ($3::timestamptz IS NULL OR updated_at < $3) ORDER BY updated_at LIMIT $4""",
        kind,
        statuses,
        older_than,
        limit,
    )
    return [p for p in map(payment, rows) if p is not None]


async def uncredited(connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Payments whose money moved at the provider but not (yet) in the wallet."""
    rows = await connection.fetch(
        """SELECT * FROM cashier.payments WHERE credited_at IS NULL
             AND ((kind = 'deposit' AND status = 'succeeded') OR (kind = 'withdrawal' AND status = 'paid'))
           ORDER BY updated_at LIMIT $1""",
        limit,
    )
    return [p for p in map(payment, rows) if p is not None]


async def unreleased(connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Withdrawals that ended unpaid whose wallet hold has not been released yet (a crash came in between)."""
    rows = await connection.fetch(
        """SELECT * FROM cashier.payments WHERE kind = 'withdrawal' AND hold_id IS NOT NULL AND released_at IS NULL
             AND status IN ('failed', 'rejected', 'canceled') ORDER BY updated_at LIMIT $1""",
        limit,
    )
    return [p for p in map(payment, rows) if p is not None]


async def mark_released(connection: Connection, payment_id: UUID, at: datetime) -> None:
    """Record that the hold was released. Not a status change: the version stays, nobody's compare-and-set fails."""
    await connection.execute(
        "UPDATE cashier.payments SET released_at = $2 WHERE id = $1 AND released_at IS NULL", payment_id, at
    )


async def unbooked_held(connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Deposits held for review whose move to suspense has not been booked yet (a crash came in between)."""
    rows = await connection.fetch(
        """SELECT * FROM cashier.payments WHERE kind = 'deposit' AND status = 'held' AND held_transfer_id IS NULL
           ORDER BY updated_at LIMIT $1""",
        limit,
    )
    return [p for p in map(payment, rows) if p is not None]


async def mark_held_transfer(connection: Connection, payment_id: UUID, transfer_id: UUID) -> None:
    """Record the suspense transfer of a deposit held for review (not a status change: the version stays)."""
    await connection.execute(
        "UPDATE cashier.payments SET held_transfer_id = $2 WHERE id = $1 AND held_transfer_id IS NULL",
        payment_id,
        transfer_id,
    )


# -- attempts -------------------------------------------------------------------------------------------------------


async def insert_attempt(connection: Connection, values: dict[str, Any]) -> None:
    columns = list(values)
    await connection.execute(
        f"""INSERT INTO cashier.attempts ({", ".join(columns)})
            VALUES ({", ".join(f"${i + 1}" for i in range(len(columns)))}) ON CONFLICT (id) DO NOTHING""",
        *values.values(),
    )


async def finish_attempt(connection: Connection, attempt_id: str, **changes: Any) -> None:
    columns = list(changes)
    assignments = ", ".join(f"{column} = ${i + 2}" for i, column in enumerate(columns))
    await connection.execute(f"UPDATE cashier.attempts SET {assignments} WHERE id = $1", attempt_id, *changes.values())


async def get_attempt(connection: Connection, attempt_id: str) -> dict[str, Any] | None:
    row = await connection.fetchrow("SELECT * FROM cashier.attempts WHERE id = $1", attempt_id)
    return dict(row) if row else None


async def attempt_by_ref(connection: Connection, provider: str, provider_ref: str) -> dict[str, Any] | None:
    row = await connection.fetchrow(
        "SELECT * FROM cashier.attempts WHERE provider = $1 AND provider_ref = $2 ORDER BY created_at DESC LIMIT 1",
        provider,
        provider_ref,
    )
    return dict(row) if row else None


async def attempts_of(connection: Connection, payment_id: UUID) -> list[dict[str, Any]]:
    rows = await connection.fetch("SELECT * FROM cashier.attempts WHERE payment_id = $1 ORDER BY number", payment_id)
    return [dict(row) for row in rows]


async def mark_callback(connection: Connection, attempt_id: str, at: datetime) -> None:
    await connection.execute(
        "UPDATE cashier.attempts SET callback_at = $2 WHERE id = $1 AND callback_at IS NULL", attempt_id, at
    )


# -- crypto addresses ----------------------------------------------------------------------------------------------


async def crypto_address(connection: Connection, provider: str, network: str, address: str) -> dict[str, Any] | None:
    row = await connection.fetchrow(
        "SELECT * FROM cashier.crypto_addresses WHERE provider = $1 AND network = $2 AND address = $3",
        provider,
        network,
        address,
    )
    return dict(row) if row else None


async def save_crypto_address(connection: Connection, values: dict[str, Any]) -> None:
    columns = list(values)
    await connection.execute(
        f"""INSERT INTO cashier.crypto_addresses ({", ".join(columns)})
            VALUES ({", ".join(f"${i + 1}" for i in range(len(columns)))}) ON CONFLICT DO NOTHING""",
        *values.values(),
    )


async def crypto_payment(connection: Connection, provider: str, tx_hash: str) -> dict[str, Any] | None:
    return payment(
        await connection.fetchrow(
            """SELECT * FROM cashier.payments WHERE provider = $1 AND provider_ref = $2 AND method = 'crypto'
                 AND kind = 'deposit' AND status <> 'awaiting_transfer'""",
            provider,
            tx_hash,
        )
    )


async def open_crypto_request(
    connection: Connection, player_id: str, provider: str, asset: str, network: str
) -> dict[str, Any] | None:
    """The player's oldest deposit request still waiting for coins on this address (asset and network)."""
    return payment(
        await connection.fetchrow(
            """SELECT * FROM cashier.payments WHERE player_id = $1 AND provider = $2 AND currency = $3
                 AND method = 'crypto' AND status = 'awaiting_transfer' AND details->>'network' = $4
               ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED""",
            player_id,
            provider,
            asset,
            network,
        )
    )


# -- routes, brand settings, AML log -------------------------------------------------------------------------------


async def routes(connection: Connection) -> list[dict[str, Any]]:
    return [dict(row) for row in await connection.fetch("SELECT * FROM cashier.routes ORDER BY priority, created_at")]


async def insert_route(connection: Connection, values: dict[str, Any]) -> dict[str, Any]:
    columns = list(values)
    row = await connection.fetchrow(
        f"""INSERT INTO cashier.routes ({", ".join(columns)})
            VALUES ({", ".join(f"${i + 1}" for i in range(len(columns)))}) RETURNING *""",
        *values.values(),
    )
    assert row is not None
    return dict(row)


async def delete_route(connection: Connection, route_id: UUID) -> bool:
    return bool(await connection.fetchval("DELETE FROM cashier.routes WHERE id = $1 RETURNING true", route_id))


async def auto_approve_limits(connection: Connection, brand_id: str) -> dict[str, int]:
    value = await connection.fetchval(
        "SELECT auto_approve_limits FROM cashier.brand_settings WHERE brand_id = $1", brand_id
    )
    return {k: int(v) for k, v in value.items()} if value else {}


async def set_auto_approve_limits(connection: Connection, brand_id: str, limits: dict[str, int], now: datetime) -> None:
    await connection.execute(
        """INSERT INTO cashier.brand_settings (brand_id, auto_approve_limits, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (brand_id) DO UPDATE SET auto_approve_limits = $2, updated_at = $3""",
        brand_id,
        limits,
        now,
    )


async def log_aml(connection: Connection, rows: list[tuple[UUID, UUID, str, str, dict[str, Any], datetime]]) -> None:
    await connection.executemany(
        """INSERT INTO cashier.aml_checks (id, payment_id, rule, verdict, facts, checked_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        rows,
    )


async def aml_checks(connection: Connection, payment_id: UUID) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        "SELECT rule, verdict, facts, checked_at FROM cashier.aml_checks WHERE payment_id = $1 ORDER BY checked_at",
        payment_id,
    )
    return [dict(row) for row in rows]


async def recent_withdrawals(connection: Connection, player_id: str, since: datetime) -> int:
    return int(
        await connection.fetchval(
            """SELECT count(*) FROM cashier.payments WHERE player_id = $1 AND kind = 'withdrawal'
                 AND created_at >= $2 AND status NOT IN ('failed', 'rejected', 'canceled')""",
            player_id,
            since,
        )
    )


async def provider_metrics(connection: Connection, since: datetime) -> list[dict[str, Any]]:
    """Per provider, method and country since `since`: attempts, success rate, latency and callback lag."""
    rows = await connection.fetch(
        """SELECT provider, method, country, count(*) AS attempts,
                  count(*) FILTER (WHERE outcome IN ('succeeded', 'pending')) AS accepted,
                  count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                  count(*) FILTER (WHERE outcome = 'hard_decline') AS hard_declines,
                  count(*) FILTER (WHERE outcome IN ('soft_decline', 'provider_error', 'timeout')) AS failures,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS latency_p50_ms,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS latency_p95_ms,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM callback_at - created_at) * 1000)
                      AS callback_lag_p50_ms,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM callback_at - created_at) * 1000)
                      AS callback_lag_p95_ms
           FROM cashier.attempts WHERE created_at >= $1
           GROUP BY provider, method, country ORDER BY provider, method, country""",
        since,
    )
    out = []
    for row in rows:
        item = dict(row)
        item["success_rate"] = round(item["accepted"] / item["attempts"], 4) if item["attempts"] else None
        out.append(item)
    return out
