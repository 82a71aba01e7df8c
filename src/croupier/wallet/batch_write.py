"""The ledger writer's one write per batch: every row a batch applied in memory, in one statement.

Requests (idempotency records), transfers, account totals (compare-and-swap), hold expiries, events: `BatchWrite`
encodes them (JSON arrays for the rows, text arrays for the totals) as soon as the batch is applied, and `write_batch`
sends the statement. Run outside a transaction it is its own transaction; the locked path runs it inside one.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from croupier.kit.ids import uuid7
from croupier.kit.serialization import dumps_str
from croupier.wallet import results
from croupier.wallet.rules import EVENT_TYPES, BatchApplier

_WRITE_BATCH = """
WITH new_requests AS (
    INSERT INTO wallet.requests (key, kind, request_hash, result, created_at)
    SELECT r.key, r.kind, decode(r.hash, 'hex'), r.result, $7
    FROM json_to_recordset($1::text::json) AS r(key text, kind text, hash text, result json)
), new_transfers AS (
    INSERT INTO wallet.transfers (id, request_key, position, kind, type, brand_id, debit_account_id,
        credit_account_id, amount, currency, hold_id, reverses_id, expires_at, metadata, created_at)
    SELECT t.id, t.idempotency_key, t.position, t.kind, t.type, t.brand_id, t.debit_account_id,
        t.credit_account_id, t.amount, t.currency, t.hold_id, t.reverses_id, t.expires_at, t.metadata, $7
    FROM json_to_recordset($2::text::json) AS t(id uuid, idempotency_key text, position int2, kind text, type text,
        brand_id text, debit_account_id uuid, credit_account_id uuid, amount int8, currency text, hold_id uuid,
        reverses_id uuid, expires_at timestamptz, metadata jsonb)
), balances AS (
    -- Compare and swap: an account is written only if its four totals are still the ones the batch started from.
    -- Row locks in id order, the order every writer takes them in (the locked path too): the write pool's plan is a
    -- nested loop that walks `b` (sorted by id) and reaches each account by its primary key, so the UPDATE locks the
    -- rows as it goes, in that order (tests/wallet/test_write_plan.py holds the plan to that shape). A separate
    -- SELECT ... FOR UPDATE first would lock every row twice: about a tenth of PostgreSQL's work per small batch.
    UPDATE wallet.accounts a
    SET debits_posted = b.dp, credits_posted = b.cp, debits_pending = b.dq, credits_pending = b.cq
    FROM unnest($3::text::uuid[], $9::text::int8[], $10::text::int8[], $11::text::int8[], $12::text::int8[],
        $13::text::int8[], $14::text::int8[], $15::text::int8[], $16::text::int8[])
        AS b(id, dp, cp, dq, cq, odp, ocp, odq, ocq)
    WHERE a.id = b.id AND a.debits_posted = b.odp
        AND a.credits_posted = b.ocp AND a.debits_pending = b.odq AND a.credits_pending = b.ocq
    RETURNING a.id
), new_expiries AS (
    INSERT INTO wallet.hold_expiries (hold_id, expires_at)
    SELECT e.hold_id, e.expires_at FROM json_to_recordset($4::text::json) AS e(hold_id uuid, expires_at timestamptz)
), resolved AS (
    DELETE FROM wallet.hold_expiries WHERE hold_id = ANY($5::uuid[])
), events AS (
    INSERT INTO wallet.outbox (id, type, version, occurred_at, brand_id, trace_id, payload)
    SELECT e.id, e.type, 1, $7, e.brand_id, e.trace_id, e.payload
    FROM json_to_recordset($6::text::json) AS e(id uuid, type text, brand_id text, trace_id text, payload json)
), transfer_events AS (
    -- The transfers' events by reference (migration 0005): NULL when they travel whole in $6 instead.
    INSERT INTO wallet.transfer_events (transfer_ids, trace_ids)
    SELECT $17::text::uuid[], $18::text[] WHERE $17::text IS NOT NULL
)
SELECT wallet.expect_accounts_updated((SELECT count(*) FROM balances), $8)
"""


class BatchWrite:
    """One batch's write statement with every parameter encoded, ready to send.

    Made as soon as the batch is applied: a write chained behind one in flight does its encoding (a sixth of the
    writer's Python per transfer) while that write runs, and is sent the moment it succeeds.

    `started_from` holds each account's totals as the batch read them. Every touched account is written only if its
    totals are still those; otherwise the statement fails with serialization_failure and writes nothing. Run outside
    a transaction, the statement is its own transaction: all of the batch or none of it.

    Each table's rows travel as one JSON array (orjson text) that PostgreSQL unpacks with json_to_recordset: that
    costs the writer far less than encoding a dozen typed array parameters element by element.
    Results and event payloads are nested objects in those arrays: for a `json` column json_to_recordset keeps the
    exact text slice, so what is stored is byte for byte what orjson wrote. With `by_reference` a result's transfer
    rows are stored as their ids (wallet/results.py): they are in this same statement's transfers.
    """

    __slots__ = ("applier", "parameters")

    def __init__(
        self,
        applier: BatchApplier,
        now: datetime,
        started_from: Mapping[UUID, tuple[int, int, int, int]],
        by_reference: bool = True,
        events_by_reference: bool = True,
    ) -> None:
        self.applier = applier
        store = results.by_reference if by_reference else _whole
        requests = [
            {"key": key, "kind": kind, "hash": digest.hex(), "result": store(result)}
            for key, kind, digest, result in applier.new_requests
        ]
        # Balances travel as arrays, sorted by id: the planner then joins them to accounts by primary key
        # (json_to_recordset always says 100 rows, which made it scan the whole accounts table), and the UPDATE locks
        # the rows in id order. Each array is sent as its text form ('{1,2,3}') and cast in SQL: asyncpg's encoder
        # would check every element of a typed array parameter in Python, and that cost more than building the text.
        ids = sorted(applier.touched)
        accounts = applier.accounts
        rows = [(*accounts[account_id].counters(), *started_from[account_id]) for account_id in ids]
        columns = [_int_array_text(column) for column in zip(*rows, strict=True)] if rows else ["{}"] * 8
        expiries = [{"hold_id": hold_id, "expires_at": expires_at} for hold_id, expires_at in applier.new_expiries]
        events = [
            {"id": uuid7(), "type": type_, "brand_id": brand or None, "trace_id": trace, "payload": payload}
            for type_, brand, payload, trace in applier.events
        ]
        transfer_ids: str | None = None
        traces: list[str | None] | None = None
        if events_by_reference:
            if applier.new_transfers:
                transfer_ids = _uuid_array_text([row["id"] for row in applier.new_transfers])
                if any(applier.transfer_traces):
                    traces = applier.transfer_traces
        else:
            events += [
                {
                    # A transfer has exactly one event, so the transfer's UUIDv7 serves as the event id.
                    "id": row["id"],
                    "type": EVENT_TYPES[row["kind"]],
                    "brand_id": row["brand_id"],
                    "trace_id": trace,
                    "payload": row,
                }
                for row, trace in zip(applier.new_transfers, applier.transfer_traces, strict=True)
            ]
        self.parameters = (
            dumps_str(requests),
            dumps_str(applier.new_transfers),
            _array_text(ids),
            dumps_str(expiries),
            applier.resolved_holds,
            dumps_str(events),
            now,
            len(ids),
            *columns,
            transfer_ids,
            traces,
        )


async def write_batch(connection: Any, write: BatchWrite) -> None:
    """Send a batch's write (see BatchWrite)."""
    await connection.execute(_WRITE_BATCH, *write.parameters)


def _whole(result: dict[str, Any]) -> dict[str, Any]:
    return result


def _uuid_array_text(values: list[UUID]) -> str:
    """PostgreSQL's text form of an array of UUIDs, written by orjson: an eighth of the time of str() on each."""
    return "{" + dumps_str(values)[1:-1].replace('"', "") + "}"


def _int_array_text(values: Sequence[int]) -> str:
    """PostgreSQL's text form of an array of integers (within int8), written by orjson: a third of the time of str()."""
    return "{" + dumps_str(values)[1:-1] + "}"


def _array_text(values: Iterable[object]) -> str:
    """PostgreSQL's text form of an array of the accounts' ids: asyncpg's UUID type, whose str() is written in C
    (orjson would call back into Python for each of them)."""
    return "{" + ",".join(map(str, values)) + "}"
