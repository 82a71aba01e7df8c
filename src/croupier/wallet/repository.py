"""SQL of the wallet schema, and nothing else. Every function receives a connection the caller's transaction owns."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from croupier.kit.outbox import Event, write_events
from croupier.wallet.rules import AccountState, BatchApplier, KnownTransfer, StoredRequest

TRANSFER_COLUMNS = """t.id, t.request_key AS idempotency_key, t.position, t.kind, t.type, t.brand_id,
    t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.hold_id, t.reverses_id, t.expires_at,
    t.metadata, t.created_at"""

ACCOUNT_COLUMNS = """id, brand_id, owner_type, owner_id, kind, label, currency, allow_negative, metadata, created_at,
    debits_posted, credits_posted, debits_pending, credits_pending"""


# -- the batch writer's reads and writes ----------------------------------------------------------------------------


async def load_requests(connection: Any, keys: Sequence[str]) -> dict[str, StoredRequest]:
    if not keys:
        return {}
    rows = await connection.fetch(
        "SELECT key, kind, request_hash, result FROM wallet.requests WHERE key = ANY($1::text[])", keys
    )
    return {row["key"]: StoredRequest(row["kind"], bytes(row["request_hash"]), row["result"]) for row in rows}


async def load_transfers(
    connection: Any, ids: Sequence[UUID], request_keys: Sequence[str]
) -> tuple[dict[UUID, KnownTransfer], dict[str, list[UUID]]]:
    """Transfers named by id or by the idempotency key that created them, with their resolution and reversal."""
    if not ids and not request_keys:
        return {}, {}
    rows = await connection.fetch(
        f"""SELECT {TRANSFER_COLUMNS},
                   (SELECT r.id FROM wallet.transfers r WHERE r.hold_id = t.id) AS resolved_by,
                   (SELECT v.id FROM wallet.transfers v WHERE v.reverses_id = t.id) AS reversed_by
            FROM wallet.transfers t
            WHERE t.id = ANY($1::uuid[]) OR t.request_key = ANY($2::text[])
            ORDER BY t.request_key, t.position""",
        ids,
        request_keys,
    )
    transfers: dict[UUID, KnownTransfer] = {}
    by_key: dict[str, list[UUID]] = {}
    for record in rows:
        row = dict(record)
        resolved_by, reversed_by = row.pop("resolved_by"), row.pop("reversed_by")
        transfers[row["id"]] = KnownTransfer(row, resolved_by, reversed_by)
        by_key.setdefault(row["idempotency_key"], []).append(row["id"])
    return transfers, by_key


async def lock_accounts(connection: Any, ids: Iterable[UUID]) -> dict[UUID, AccountState]:
    """Lock the accounts in id order (a stable order, so concurrent batches cannot deadlock)."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = await connection.fetch(
        """SELECT id, brand_id, currency, allow_negative, debits_posted, credits_posted, debits_pending,
                  credits_pending
           FROM wallet.accounts WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE""",
        wanted,
    )
    return {row["id"]: AccountState(*row) for row in rows}


async def write_batch(connection: Any, applier: BatchApplier, now: datetime) -> None:
    """Write everything one batch produced: requests, transfers, balances, hold expiries, outbox events."""
    if applier.new_requests:
        await connection.execute(
            """INSERT INTO wallet.requests (key, kind, request_hash, result, created_at)
               SELECT k, kd, h, r, $5
               FROM unnest($1::text[], $2::text[], $3::bytea[], $4::jsonb[]) AS u(k, kd, h, r)""",
            [r[0] for r in applier.new_requests],
            [r[1] for r in applier.new_requests],
            [r[2] for r in applier.new_requests],
            [r[3] for r in applier.new_requests],
            now,
        )
    rows = applier.new_transfers
    if rows:
        await connection.execute(
            """INSERT INTO wallet.transfers (id, request_key, position, kind, type, brand_id, debit_account_id,
                   credit_account_id, amount, currency, hold_id, reverses_id, expires_at, metadata, created_at)
               SELECT u.*, $15::timestamptz FROM unnest($1::uuid[], $2::text[], $3::int2[], $4::text[], $5::text[],
                   $6::text[], $7::uuid[], $8::uuid[], $9::int8[], $10::text[], $11::uuid[], $12::uuid[],
                   $13::timestamptz[], $14::jsonb[]) AS u""",
            [r["id"] for r in rows],
            [r["idempotency_key"] for r in rows],
            [r["position"] for r in rows],
            [r["kind"] for r in rows],
            [r["type"] for r in rows],
            [r["brand_id"] for r in rows],
            [r["debit_account_id"] for r in rows],
            [r["credit_account_id"] for r in rows],
            [r["amount"] for r in rows],
            [r["currency"] for r in rows],
            [r["hold_id"] for r in rows],
            [r["reverses_id"] for r in rows],
            [r["expires_at"] for r in rows],
            [r["metadata"] for r in rows],
            now,
        )
    if applier.touched:
        accounts = [applier.accounts[account_id] for account_id in applier.touched]
        await connection.execute(
            """UPDATE wallet.accounts a
               SET debits_posted = u.dp, credits_posted = u.cp, debits_pending = u.dq, credits_pending = u.cq
               FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::int8[], $5::int8[]) AS u(id, dp, cp, dq, cq)
               WHERE a.id = u.id""",
            [a.id for a in accounts],
            [a.debits_posted for a in accounts],
            [a.credits_posted for a in accounts],
            [a.debits_pending for a in accounts],
            [a.credits_pending for a in accounts],
        )
    if applier.new_expiries:
        await connection.execute(
            """INSERT INTO wallet.hold_expiries (hold_id, expires_at)
               SELECT * FROM unnest($1::uuid[], $2::timestamptz[])""",
            [e[0] for e in applier.new_expiries],
            [e[1] for e in applier.new_expiries],
        )
    if applier.resolved_holds:
        await connection.execute(
            "DELETE FROM wallet.hold_expiries WHERE hold_id = ANY($1::uuid[])", applier.resolved_holds
        )
    await write_events(
        connection,
        "wallet",
        [
            Event(type=type_, payload=payload, occurred_at=now, brand_id=brand or None, trace_id=trace)
            for type_, brand, payload, trace in applier.events
        ],
    )


async def due_hold_expiries(connection: Any, now: datetime, limit: int) -> list[UUID]:
    rows = await connection.fetch(
        "SELECT hold_id FROM wallet.hold_expiries WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2", now, limit
    )
    return [row["hold_id"] for row in rows]


# -- accounts -------------------------------------------------------------------------------------------------------


async def pinned_exponents(connection: Any) -> dict[str, int]:
    rows = await connection.fetch("SELECT code, exponent FROM wallet.currencies")
    return {row["code"]: row["exponent"] for row in rows}


async def pin_currency(connection: Any, code: str, exponent: int) -> int:
    """Record the exponent of a currency at first use; return the exponent the ledger uses for it."""
    await connection.execute(
        "INSERT INTO wallet.currencies (code, exponent) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING", code, exponent
    )
    pinned: int = await connection.fetchval("SELECT exponent FROM wallet.currencies WHERE code = $1", code)
    return pinned


async def insert_account(connection: Any, values: dict[str, Any]) -> asyncpg.Record | None:
    """Insert an account unless one with the same natural key exists; None when it already existed."""
    record: asyncpg.Record | None = await connection.fetchrow(
        f"""INSERT INTO wallet.accounts (id, brand_id, owner_type, owner_id, kind, label, currency, allow_negative,
                metadata, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT ON CONSTRAINT one_account_per_owner_kind_label_currency DO NOTHING
            RETURNING {ACCOUNT_COLUMNS}""",
        values["id"],
        values["brand_id"],
        values["owner_type"],
        values["owner_id"],
        values["kind"],
        values["label"],
        values["currency"],
        values["allow_negative"],
        values["metadata"],
        values["created_at"],
    )
    return record


async def find_account_by_natural_key(connection: Any, values: dict[str, Any]) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await connection.fetchrow(
        f"""SELECT {ACCOUNT_COLUMNS} FROM wallet.accounts
            WHERE brand_id = $1 AND owner_type = $2 AND owner_id = $3 AND kind = $4 AND label = $5 AND currency = $6""",
        values["brand_id"],
        values["owner_type"],
        values["owner_id"],
        values["kind"],
        values["label"],
        values["currency"],
    )
    return record


async def get_account(connection: Any, account_id: UUID) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await connection.fetchrow(
        f"SELECT {ACCOUNT_COLUMNS} FROM wallet.accounts WHERE id = $1", account_id
    )
    return record


async def list_accounts(
    connection: Any,
    *,
    brand_id: str | None,
    owner_type: str | None,
    owner_id: str | None,
    currency: str | None,
    after: UUID | None,
    limit: int,
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        f"""SELECT {ACCOUNT_COLUMNS} FROM wallet.accounts
            WHERE ($1::text IS NULL OR brand_id = $1) AND ($2::text IS NULL OR owner_type = $2)
              AND ($3::text IS NULL OR owner_id = $3) AND ($4::text IS NULL OR currency = $4)
              AND ($5::uuid IS NULL OR id > $5)
            ORDER BY id LIMIT $6""",
        brand_id,
        owner_type,
        owner_id,
        currency,
        after,
        limit,
    )
    return rows


# -- transfers ------------------------------------------------------------------------------------------------------


async def get_transfer(connection: Any, transfer_id: UUID) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await connection.fetchrow(
        f"SELECT {TRANSFER_COLUMNS} FROM wallet.transfers t WHERE t.id = $1", transfer_id
    )
    return record


async def get_resolution(connection: Any, hold_id: UUID) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await connection.fetchrow(
        f"SELECT {TRANSFER_COLUMNS} FROM wallet.transfers t WHERE t.hold_id = $1", hold_id
    )
    return record


async def list_transfers(
    connection: Any, *, account_id: UUID | None, before: UUID | None, limit: int
) -> list[asyncpg.Record]:
    """Newest first, keyset-paginated by id (UUIDv7 ids are time ordered)."""
    if account_id is None:
        rows: list[asyncpg.Record] = await connection.fetch(
            f"""SELECT {TRANSFER_COLUMNS} FROM wallet.transfers t
                WHERE ($1::uuid IS NULL OR t.id < $1) ORDER BY t.id DESC LIMIT $2""",
            before,
            limit,
        )
        return rows
    # Two index scans merged, instead of one OR that would read every entry of a busy house account.
    return list(
        await connection.fetch(
            f"""SELECT * FROM (
                (SELECT {TRANSFER_COLUMNS} FROM wallet.transfers t
                 WHERE t.debit_account_id = $1 AND ($2::uuid IS NULL OR t.id < $2) ORDER BY t.id DESC LIMIT $3)
                UNION ALL
                (SELECT {TRANSFER_COLUMNS} FROM wallet.transfers t
                 WHERE t.credit_account_id = $1 AND ($2::uuid IS NULL OR t.id < $2) ORDER BY t.id DESC LIMIT $3)
            ) both_sides ORDER BY id DESC LIMIT $3""",
            account_id,
            before,
            limit,
        )
    )


async def write_account_events(connection: Any, events: Sequence[Event]) -> None:
    await write_events(connection, "wallet", events)
