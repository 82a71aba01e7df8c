"""SQL of the games schema, and nothing else."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

PAIR_COLUMNS = (
    "id, player_id, brand_id, server_seed, server_seed_hash, client_seed, next_nonce, created_at, revealed_at"
)


async def active_pair(connection: Any, player_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await connection.fetchrow(
        f"SELECT {PAIR_COLUMNS} FROM games.seed_pairs WHERE player_id = $1 AND revealed_at IS NULL"
        + (" FOR UPDATE" if lock else ""),
        player_id,
    )
    return record


async def insert_pair(connection: Any, values: dict[str, Any]) -> asyncpg.Record | None:
    """The new active pair, or None if the player got one concurrently (one active pair per player)."""
    record: asyncpg.Record | None = await connection.fetchrow(
        f"""INSERT INTO games.seed_pairs (id, player_id, brand_id, server_seed, server_seed_hash, client_seed,
                next_nonce, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, 0, $7)
            ON CONFLICT (player_id) WHERE revealed_at IS NULL DO NOTHING
            RETURNING {PAIR_COLUMNS}""",
        values["id"],
        values["player_id"],
        values["brand_id"],
        values["server_seed"],
        values["server_seed_hash"],
        values["client_seed"],
        values["created_at"],
    )
    return record


async def reveal_pair(connection: Any, pair_id: UUID, now: datetime) -> asyncpg.Record:
    record: asyncpg.Record = await connection.fetchrow(
        f"UPDATE games.seed_pairs SET revealed_at = $2 WHERE id = $1 RETURNING {PAIR_COLUMNS}", pair_id, now
    )
    return record


async def take_nonce(connection: Any, pair_id: UUID) -> int:
    """The next nonce of an active pair, incremented (the row lock serialises a player's bets on one pair)."""
    nonce: int = await connection.fetchval(
        "UPDATE games.seed_pairs SET next_nonce = next_nonce + 1 WHERE id = $1 AND revealed_at IS NULL "
        "RETURNING next_nonce - 1",
        pair_id,
    )
    return nonce


async def revealed_pairs(connection: Any, player_id: str, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        f"""SELECT {PAIR_COLUMNS} FROM games.seed_pairs WHERE player_id = $1 AND revealed_at IS NOT NULL
            ORDER BY revealed_at DESC LIMIT $2""",
        player_id,
        limit,
    )
    return rows
