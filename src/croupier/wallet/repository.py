"""SQL of the wallet schema, and nothing else. Every function receives a connection the caller's transaction owns."""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from croupier.kit.ids import uuid7_floor
from croupier.kit.outbox import Event, write_events
from croupier.wallet.state import AccountState, KnownTransfer, StoredRequest

TRANSFER_COLUMNS = """t.id, t.request_key AS idempotency_key, t.position, t.kind, t.type, t.brand_id,
    t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.hold_id, t.reverses_id, t.expires_at,
    t.metadata, t.created_at"""

ACCOUNT_COLUMNS = """id, brand_id, owner_type, owner_id, kind, label, currency, allow_negative, metadata, created_at,
    debits_posted, credits_posted, debits_pending, credits_pending"""


# -- the batch writer's reads and writes ----------------------------------------------------------------------------


async def load_requests(connection: Any, keys: Sequence[str]) -> dict[str, StoredRequest]:
    if not keys:
        return {}
    # A typed array (not a JSON list): the planner then knows how many keys it probes and uses the primary key.
    rows = await connection.fetch(
        "SELECT key, kind, request_hash, result FROM wallet.requests WHERE key = ANY($1::text[])", keys
    )
    return {row["key"]: StoredRequest(row["kind"], bytes(row["request_hash"]), row["result"]) for row in rows}


async def load_transfers(
    connection: Any, ids: Sequence[UUID]
) -> tuple[dict[UUID, KnownTransfer], dict[str, list[UUID]]]:
    """Transfers by id with their resolution and reversal, and their ids grouped by the key that created them."""
    if not ids:
        return {}, {}
    rows = await connection.fetch(
        f"""SELECT {TRANSFER_COLUMNS},
                   (SELECT r.id FROM wallet.transfers r WHERE r.hold_id = t.id) AS resolved_by,
                   (SELECT v.id FROM wallet.transfers v WHERE v.reverses_id = t.id) AS reversed_by
            FROM wallet.transfers t
            WHERE t.id = ANY($1::uuid[])
            ORDER BY t.request_key, t.position""",
        ids,
    )
    transfers: dict[UUID, KnownTransfer] = {}
    by_key: dict[str, list[UUID]] = {}
    for record in rows:
        row = dict(record)
        resolved_by, reversed_by = row.pop("resolved_by"), row.pop("reversed_by")
        transfers[row["id"]] = KnownTransfer(row, resolved_by, reversed_by)
        by_key.setdefault(row["idempotency_key"], []).append(row["id"])
    return transfers, by_key


_ACCOUNT_STATE = """SELECT id, brand_id, currency, allow_negative, debits_posted, credits_posted, debits_pending,
                  credits_pending
           FROM wallet.accounts WHERE id = ANY($1::uuid[])"""


async def lock_accounts(connection: Any, ids: Iterable[UUID]) -> dict[UUID, AccountState]:
    """Lock the accounts in id order (a stable order, so concurrent batches cannot deadlock)."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = await connection.fetch(_ACCOUNT_STATE + " ORDER BY id FOR UPDATE", wanted)
    return {row["id"]: AccountState(*row) for row in rows}


async def read_accounts(connection: Any, ids: Iterable[UUID]) -> dict[UUID, AccountState]:
    """The accounts' totals as last committed, without locking them (the write's compare-and-swap guards them)."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = await connection.fetch(_ACCOUNT_STATE, wanted)
    return {row["id"]: AccountState(*row) for row in rows}


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


#: A transfer's id is never timestamped before its created_at, and less than this after it. The writer mints the id
#: from the batch's own clock reading (rules.py), so the two are the same millisecond; transfers written before it did
#: got their id just after that reading, at most the batch's duration (lock waits included) later.
ID_AFTER_CREATED_AT = timedelta(minutes=1)
_NO_ID_ABOVE = UUID(int=(1 << 128) - 1)  # not a UUIDv7 (wrong version and variant bits): no transfer has it
_NO_ID_BELOW = UUID(int=0)


async def list_transfers(
    connection: Any,
    *,
    account_id: UUID | None,
    before: UUID | None,
    limit: int,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> list[asyncpg.Record]:
    """Newest first, keyset-paginated by id (UUIDv7 ids are time ordered); with a time window, only the transfers
    whose created_at is in [created_from, created_to).

    The window filters created_at exactly, and is also turned into an id range, so that it bounds the scan of the
    indexes the paging walks anyway (the primary key, and (debit|credit)_account_id, id): reading an old day starts
    at that day instead of paging down from the newest transfer, and the ledger's hottest table needs no index on
    created_at (one more index to update on every transfer). The id range is exact below (an id is never timestamped
    before its created_at) and ID_AFTER_CREATED_AT wider above. The bounds are always values, never NULL, so that
    they stay index conditions in a generic plan.
    """
    below = before or _NO_ID_ABOVE
    if created_to is not None:
        below = min(below, uuid7_floor(created_to + ID_AFTER_CREATED_AT))
    at_least = uuid7_floor(created_from) if created_from is not None else _NO_ID_BELOW
    window = """t.id < $1 AND t.id >= $2
        AND ($3::timestamptz IS NULL OR t.created_at >= $3) AND ($4::timestamptz IS NULL OR t.created_at < $4)"""
    if account_id is None:
        rows: list[asyncpg.Record] = await connection.fetch(
            f"SELECT {TRANSFER_COLUMNS} FROM wallet.transfers t WHERE {window} ORDER BY t.id DESC LIMIT $5",
            below,
            at_least,
            created_from,
            created_to,
            limit,
        )
        return rows
    # Two index scans merged, instead of one OR that would read every entry of a busy house account.
    return list(
        await connection.fetch(
            f"""SELECT * FROM (
                (SELECT {TRANSFER_COLUMNS} FROM wallet.transfers t
                 WHERE t.debit_account_id = $6 AND {window} ORDER BY t.id DESC LIMIT $5)
                UNION ALL
                (SELECT {TRANSFER_COLUMNS} FROM wallet.transfers t
                 WHERE t.credit_account_id = $6 AND {window} ORDER BY t.id DESC LIMIT $5)
            ) both_sides ORDER BY id DESC LIMIT $5""",
            below,
            at_least,
            created_from,
            created_to,
            limit,
            account_id,
        )
    )


async def write_account_events(connection: Any, events: Sequence[Event]) -> None:
    await write_events(connection, "wallet", events)


# -- the event feed -------------------------------------------------------------------------------------------------


async def read_events(connection: Any, after_txid: int, after_id: UUID, limit: int) -> list[asyncpg.Record]:
    """Events after the cursor, of finished transactions only, in (transaction, id) order.

    Two sources, merged: wallet.outbox (whole events) and wallet.transfer_events (transfers named by id, migration
    0005). A transfer's event comes back with `type` NULL and its id: the caller renders it from the transfer row.
    Each transaction has at most one transfer_events row, and each row names at least one transfer, so `limit` + 1
    rows from the cursor's transaction on always hold the page's transfer events.
    """
    rows: list[asyncpg.Record] = await connection.fetch(
        # ORDER BY names the columns, not the output `txid` (text, in whose order '1000' < '999' would page past
        # events).
        """SELECT p.txid::text AS txid, p.id, p.type, p.version, p.occurred_at, p.brand_id, p.trace_id, p.payload
           FROM (
               (SELECT o.txid, o.id, o.type, o.version, o.occurred_at, o.brand_id, o.trace_id, o.payload
                FROM wallet.outbox o
                WHERE (o.txid, o.id) > ($1::text::xid8, $2::uuid)
                  AND o.txid < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY o.txid, o.id
                LIMIT $3)
               UNION ALL
               (SELECT e.txid, r.id, NULL::text, NULL::integer, NULL::timestamptz, NULL::text, r.trace_id, NULL::json
                FROM (SELECT b.txid, b.transfer_ids, b.trace_ids
                      FROM wallet.transfer_events b
                      WHERE b.txid >= $1::text::xid8 AND b.txid < pg_snapshot_xmin(pg_current_snapshot())
                      ORDER BY b.txid
                      LIMIT $3 + 1) e
                CROSS JOIN LATERAL unnest(e.transfer_ids, e.trace_ids) AS r(id, trace_id)
                WHERE (e.txid, r.id) > ($1::text::xid8, $2::uuid)
                ORDER BY e.txid, r.id
                LIMIT $3)
           ) p
           ORDER BY p.txid, p.id
           LIMIT $3""",
        str(after_txid),
        after_id,
        limit,
    )
    return rows


async def transfers_by_id(connection: Any, ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
    """Transfer rows, as the API returns them, by id."""
    if not ids:
        return {}
    rows = await connection.fetch(
        f"SELECT {TRANSFER_COLUMNS} FROM wallet.transfers t WHERE t.id = ANY($1::uuid[])", ids
    )
    return {row["id"]: dict(row) for row in rows}
