"""Transactional outbox: a service writes its events to `<schema>.outbox` in the same transaction as the change.

A relay (a later issue) publishes unpublished rows to the bus; consumers are idempotent by event id.
Envelope: id (UUIDv7), type (`wallet.transfer.committed`), version, occurred_at, brand_id, trace_id, payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from croupier.kit.ids import uuid7


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    payload: dict[str, Any]
    occurred_at: datetime
    brand_id: str | None = None
    trace_id: str | None = None
    version: int = 1
    id: UUID | None = None


async def write_events(connection: asyncpg.Connection[Any], schema: str, events: Sequence[Event]) -> None:
    """Insert events into `<schema>.outbox` with one statement (the caller owns the transaction)."""
    if not events:
        return
    await connection.execute(
        f"""INSERT INTO {schema}.outbox (id, type, version, occurred_at, brand_id, trace_id, payload)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::int4[], $4::timestamptz[], $5::text[], $6::text[],
                                 $7::json[])""",
        [event.id or uuid7() for event in events],
        [event.type for event in events],
        [event.version for event in events],
        [event.occurred_at for event in events],
        [event.brand_id for event in events],
        [event.trace_id for event in events],
        [event.payload for event in events],
    )
