"""The ledger writer's one write per batch: every row a batch applied in memory, in one statement.

Requests (idempotency records), transfers, account totals (compare-and-swap), hold expiries, events: `BatchWrite`
encodes them as soon as the batch is applied (text arrays, one per column, for requests, transfers and totals; JSON
arrays for the rarer rows), and `write_batch` sends the statement. Run outside a transaction it is its own
transaction; the locked path runs it inside one.
"""

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any
from uuid import UUID

from croupier.kit.ids import uuid7
from croupier.kit.serialization import dumps_str
from croupier.wallet import results
from croupier.wallet.rules import EVENT_TYPES, BatchApplier

_WRITE_BATCH = """
WITH sent_transfers AS MATERIALIZED (
    SELECT $5::text::uuid[] AS ids  -- read once: the transfers' rows and their events by reference
), new_requests AS (
    INSERT INTO wallet.requests (key, kind, request_hash, result, created_at)
    SELECT r.key, r.kind, decode(r.hash, 'hex'), r.result, $31
    -- Every column is unnested in a select list, where the set-returning functions run in lockstep and hand over
    -- one row at a time (ProjectSet). In FROM (ROWS FROM, or unnest with several arrays) each function first fills
    -- a tuplestore of its own: a copy of every value, about 7 % of PostgreSQL's work per transfer.
    -- Each result is its JSON text exactly as sent: json_array_elements returns each element's own slice of it.
    FROM (SELECT unnest($1::text::text[]) AS key, unnest($2::text::text[]) AS kind, unnest($3::text::text[]) AS hash,
        json_array_elements($4::text::json) AS result) AS r
), new_transfers AS (
    INSERT INTO wallet.transfers (id, request_key, position, kind, type, brand_id, debit_account_id,
        credit_account_id, amount, currency, hold_id, reverses_id, expires_at, metadata, created_at)
    SELECT t.id, t.request_key, t.position, t.kind, t.type, t.brand_id, t.debit_account_id, t.credit_account_id,
        t.amount, t.currency, t.hold_id, t.reverses_id, t.expires_at, COALESCE(t.metadata, '{}'::jsonb), $31
    -- Functions in lockstep pad the shorter ones' rows with NULLs: an empty array stands for a column that is NULL
    -- in every row (hold_id, reverses_id, expires_at; metadata, made '{}').
    FROM (SELECT unnest(s.ids) AS id, unnest($6::text::text[]) AS request_key, unnest($7::text::int2[]) AS position,
        unnest($8::text::text[]) AS kind, unnest($9::text::text[]) AS type, unnest($10::text::text[]) AS brand_id,
        unnest($11::uuid[]) AS debit_account_id, unnest($12::uuid[]) AS credit_account_id,
        unnest($13::text::int8[]) AS amount, unnest($14::text::text[]) AS currency,
        unnest($15::text::uuid[]) AS hold_id, unnest($16::text::uuid[]) AS reverses_id,
        unnest($17::text::timestamptz[]) AS expires_at, unnest($18::text::jsonb[]) AS metadata
        FROM sent_transfers s) AS t
), balances AS (
    -- Compare and swap: an account is written only if its four totals are still the ones the batch started from.
    -- Row locks in id order, the order every writer takes them in (the locked path too): the write pool's plan is a
    -- nested loop that walks `b` (sorted by id) and reaches each account by its primary key, so the UPDATE locks the
    -- rows as it goes, in that order (tests/wallet/test_write_plan.py holds the plan to that shape). A separate
    -- SELECT ... FOR UPDATE first would lock every row twice: about a tenth of PostgreSQL's work per small batch.
    UPDATE wallet.accounts a
    SET debits_posted = b.dp, credits_posted = b.cp, debits_pending = b.dq, credits_pending = b.cq
    FROM (SELECT unnest($19::uuid[]) AS id, unnest($20::text::int8[]) AS dp, unnest($21::text::int8[]) AS cp,
        unnest($22::text::int8[]) AS dq, unnest($23::text::int8[]) AS cq, unnest($24::text::int8[]) AS odp,
        unnest($25::text::int8[]) AS ocp, unnest($26::text::int8[]) AS odq, unnest($27::text::int8[]) AS ocq) AS b
    WHERE a.id = b.id AND a.debits_posted = b.odp
        AND a.credits_posted = b.ocp AND a.debits_pending = b.odq AND a.credits_pending = b.ocq
    RETURNING a.id
), new_expiries AS (
    INSERT INTO wallet.hold_expiries (hold_id, expires_at)
    SELECT e.hold_id, e.expires_at FROM json_to_recordset($28::text::json) AS e(hold_id uuid, expires_at timestamptz)
), resolved AS (
    DELETE FROM wallet.hold_expiries WHERE hold_id = ANY($29::uuid[])
), events AS (
    INSERT INTO wallet.outbox (id, type, version, occurred_at, brand_id, trace_id, payload)
    SELECT e.id, e.type, 1, $31, e.brand_id, e.trace_id, e.payload
    FROM json_to_recordset($30::text::json) AS e(id uuid, type text, brand_id text, trace_id text, payload json)
), transfer_events AS (
    -- The transfers' events by reference (migration 0005), unless $33 says they travel whole in $30.
    INSERT INTO wallet.transfer_events (transfer_ids, trace_ids)
    SELECT s.ids, $34::text[] FROM sent_transfers s WHERE $33 AND cardinality(s.ids) > 0
)
SELECT wallet.expect_accounts_updated((SELECT count(*) FROM balances), $32)
"""


class BatchWrite:
    """One batch's write statement with every parameter encoded, ready to send.

    Made as soon as the batch is applied: a write chained behind one in flight does its encoding (a sixth of the
    writer's Python per transfer) while that write runs, and is sent the moment it succeeds.

    `started_from` holds each account's totals as the batch read them. Every touched account is written only if its
    totals are still those; otherwise the statement fails with serialization_failure and writes nothing. Run outside
    a transaction, the statement is its own transaction: all of the batch or none of it.

    Requests and transfers travel column by column, each column as PostgreSQL's text form of an array, written by
    orjson in one call per column and unnested in SQL: PostgreSQL reads that in about half the time it took to read
    the same rows as JSON objects (json_to_recordset looks up every key of every object by name). Results travel
    as one JSON array and metadata as an array of JSON texts: either way what is stored is byte for byte what orjson
    wrote. With `by_reference` a result's transfer rows are stored as their ids (wallet/results.py): they are in
    this same statement's transfers.

    The accounts' ids (the transfers' debit and credit accounts, the balances' accounts) are the exception: they
    travel as binary uuid[], from asyncpg's UUID type the accounts were read as. PostgreSQL's uuid_in parses text
    one hex pair at a time with strtoul; with the array text around it, a UUID cost it about 5,000 instructions,
    against about 1,000 for asyncpg to send one in binary. (The transfers' own ids, of the standard UUID type that
    asyncpg sends through a Python property, stay text: their binary form saves PostgreSQL about as much as it costs
    Python.)
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
        keys, kinds, digests, outcomes = zip(*applier.new_requests, strict=True) if applier.new_requests else ((),) * 4
        # Balances travel as arrays, sorted by id: the planner then joins them to accounts by primary key, and the
        # UPDATE locks the rows in id order.
        ids = sorted(applier.touched)
        accounts = applier.accounts
        rows = [(*accounts[account_id].counters(), *started_from[account_id]) for account_id in ids]
        columns = [_value_array_text(column) for column in zip(*rows, strict=True)] if rows else ["{}"] * 8
        expiries = [{"hold_id": hold_id, "expires_at": expires_at} for hold_id, expires_at in applier.new_expiries]
        events = [
            {"id": uuid7(), "type": type_, "brand_id": brand or None, "trace_id": trace, "payload": payload}
            for type_, brand, payload, trace in applier.events
        ]
        transfers = applier.new_transfers
        traces: list[str | None] | None = None
        if events_by_reference:
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
                for row, trace in zip(transfers, applier.transfer_traces, strict=True)
            ]
        self.parameters = (
            _text_array_text(keys),
            _text_array_text(kinds),
            _text_array_text([digest.hex() for digest in digests]),
            dumps_str([store(result) for result in outcomes]),
            *_transfer_columns(transfers, applier.debit_ids, applier.credit_ids),
            ids,
            *columns,
            dumps_str(expiries),
            applier.resolved_holds,
            dumps_str(events),
            now,
            len(ids),
            events_by_reference,
            traces,
        )


_TRANSFER_COLUMNS = itemgetter(
    "id",
    "idempotency_key",
    "position",
    "kind",
    "type",
    "brand_id",
    "amount",
    "currency",
    "hold_id",
    "reverses_id",
    "expires_at",
    "metadata",
)


def _transfer_columns(transfers: list[dict[str, Any]], debit_ids: list[UUID], credit_ids: list[UUID]) -> list[object]:
    """The transfer rows' columns, in the order of the statement's $5 to $18; their accounts by the accounts' ids."""
    if not transfers:
        return [*["{}"] * 6, [], [], *["{}"] * 6]
    (
        ids,
        keys,
        positions,
        kinds,
        types,
        brands,
        amounts,
        currencies,
        holds,
        reversals,
        expiries,
        metadata,
    ) = zip(*map(_TRANSFER_COLUMNS, transfers), strict=True)
    return [
        _value_array_text(ids),
        _text_array_text(keys),
        _value_array_text(positions),
        _text_array_text(kinds),
        _text_array_text(types),
        _text_array_text(brands),
        debit_ids,
        credit_ids,
        _value_array_text(amounts),
        _text_array_text(currencies),
        _nullable_array_text(holds),
        _nullable_array_text(reversals),
        _nullable_array_text(expiries),
        _json_array_text(metadata) if any(metadata) else "{}",
    ]


async def write_batch(connection: Any, write: BatchWrite) -> None:
    """Send a batch's write (see BatchWrite)."""
    await connection.execute(_WRITE_BATCH, *write.parameters)


def _whole(result: dict[str, Any]) -> dict[str, Any]:
    return result


def _value_array_text(values: Sequence[object]) -> str:
    """PostgreSQL's text form of an array of integers, UUIDs or timestamps (None is NULL), written by orjson.

    Each element is as JSON writes it: a number, a quoted string (UUIDs and RFC 3339 times, which PostgreSQL reads
    quoted as well), or null, which an array's text form reads as NULL.
    """
    return "{" + dumps_str(values)[1:-1] + "}"


def _nullable_array_text(values: Sequence[object]) -> str:
    """As _value_array_text; an empty array (NULL in every row, as the write pads it) when every value is None."""
    return _value_array_text(values) if any(value is not None for value in values) else "{}"


def _text_array_text(values: Sequence[str]) -> str:
    """PostgreSQL's text form of an array of strings, written by orjson.

    JSON and PostgreSQL's arrays quote a string alike and both escape `"` and `\\` with a backslash. They differ on
    the control characters (JSON writes a newline as `\\n`, which an array reads as `n`): such a string, which no
    key, type or brand the wallet accepts contains, is quoted here instead.
    """
    encoded = dumps_str(values)
    if "\\" in encoded and _CONTROL_ESCAPE.search(encoded.replace("\\\\", "")):
        return "{" + ",".join(_quoted(value) for value in values) + "}"
    return "{" + encoded[1:-1] + "}"


#: A JSON escape other than \\" (once escaped backslashes are taken out): a control character.
_CONTROL_ESCAPE = re.compile(r'\\[^"]')


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _json_array_text(values: Sequence[object]) -> str:
    """PostgreSQL's text form of an array of JSON texts: each value written by orjson, then quoted as a string.

    A JSON text has no control characters of its own (JSON escapes them inside strings), so the quoting is always
    the one PostgreSQL reads (see _text_array_text).
    """
    return "{" + dumps_str([dumps_str(value) for value in values])[1:-1] + "}"
