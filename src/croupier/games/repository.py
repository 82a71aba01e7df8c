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


# -- configuration --------------------------------------------------------------------------------------------------


async def brand_settings(connection: Any, brand_id: str) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await connection.fetchrow(
        "SELECT brand_id, rng_version, updated_at FROM games.brand_settings WHERE brand_id = $1", brand_id
    )
    return record


async def game_settings(connection: Any, brand_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        "SELECT game, enabled, settings, updated_at FROM games.game_settings WHERE brand_id = $1 ORDER BY game",
        brand_id,
    )
    return rows


async def bet_limits(connection: Any, brand_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        """SELECT game, currency, min_stake, max_stake, max_win, updated_at FROM games.bet_limits
           WHERE brand_id = $1 ORDER BY game, currency""",
        brand_id,
    )
    return rows


async def put_brand_settings(connection: Any, brand_id: str, rng_version: str, now: datetime) -> None:
    await connection.execute(
        """INSERT INTO games.brand_settings (brand_id, rng_version, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (brand_id) DO UPDATE SET rng_version = excluded.rng_version, updated_at = excluded.updated_at""",
        brand_id,
        rng_version,
        now,
    )


async def put_game_settings(
    connection: Any, brand_id: str, game: str, enabled: bool, settings: dict[str, Any], now: datetime
) -> None:
    await connection.execute(
        """INSERT INTO games.game_settings (brand_id, game, enabled, settings, updated_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (brand_id, game) DO UPDATE
           SET enabled = excluded.enabled, settings = excluded.settings, updated_at = excluded.updated_at""",
        brand_id,
        game,
        enabled,
        settings,
        now,
    )


async def put_bet_limits(
    connection: Any, brand_id: str, game: str, currency: str, limits: tuple[int, int, int], now: datetime
) -> None:
    await connection.execute(
        """INSERT INTO games.bet_limits (brand_id, game, currency, min_stake, max_stake, max_win, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (brand_id, game, currency) DO UPDATE
           SET min_stake = excluded.min_stake, max_stake = excluded.max_stake, max_win = excluded.max_win,
               updated_at = excluded.updated_at""",
        brand_id,
        game,
        currency,
        *limits,
        now,
    )


# -- rounds ---------------------------------------------------------------------------------------------------------

ROUND_COLUMNS = (
    "id, player_id, brand_id, request_key, game, currency, stake, params, settings, max_win, rng_version, pair_id, "
    "nonce, server_seed_hash, client_seed, certified_seed, player_account_id, house_account_id, status, version, "
    "actions, stakes, pending_stakes, staked, payout, outcome, win_transfer_id, view, created_at, updated_at, closed_at"
)


async def pair_for_round(connection: Any, pair_id: UUID) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await connection.fetchrow(
        f"SELECT {PAIR_COLUMNS} FROM games.seed_pairs WHERE id = $1", pair_id
    )
    return record


async def take_nonce_of_active(connection: Any, player_id: str) -> asyncpg.Record | None:
    """Take the next nonce of the player's active pair (row lock until the caller's transaction ends)."""
    record: asyncpg.Record | None = await connection.fetchrow(
        f"""UPDATE games.seed_pairs SET next_nonce = next_nonce + 1
            WHERE player_id = $1 AND revealed_at IS NULL
            RETURNING {PAIR_COLUMNS}, next_nonce - 1 AS nonce""",
        player_id,
    )
    return record


async def insert_round(connection: Any, values: dict[str, Any]) -> asyncpg.Record | None:
    """The new round, or None if the player already has a round with this request key."""
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    record: asyncpg.Record | None = await connection.fetchrow(
        f"""INSERT INTO games.rounds ({", ".join(columns)}) VALUES ({placeholders})
            ON CONFLICT (player_id, request_key) DO NOTHING RETURNING {ROUND_COLUMNS}""",
        *values.values(),
    )
    return record


async def round_by_id(connection: Any, round_id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await connection.fetchrow(
        f"SELECT {ROUND_COLUMNS} FROM games.rounds WHERE id = $1" + (" FOR UPDATE" if lock else ""), round_id
    )
    return record


async def round_by_request(connection: Any, player_id: str, request_key: str) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await connection.fetchrow(
        f"SELECT {ROUND_COLUMNS} FROM games.rounds WHERE player_id = $1 AND request_key = $2", player_id, request_key
    )
    return record


async def update_round(
    connection: Any, round_id: UUID, expected_status: str, expected_version: int, changes: dict[str, Any]
) -> asyncpg.Record | None:
    """Apply `changes` only if the round is still in `expected_status` at `expected_version` (the fence between
    the live request, a retry and the recovery worker); None if another of them got there first."""
    names = list(changes)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=4))
    record: asyncpg.Record | None = await connection.fetchrow(
        f"""UPDATE games.rounds SET {assignments}
            WHERE id = $1 AND status = $2 AND version = $3 RETURNING {ROUND_COLUMNS}""",
        round_id,
        expected_status,
        expected_version,
        *changes.values(),
    )
    return record


async def add_pending_stake(connection: Any, round_id: UUID, version: int, key: str) -> bool:
    """Record that an extra stake with this key is about to be debited (settled against the applied stakes)."""
    result: str = await connection.execute(
        """UPDATE games.rounds SET pending_stakes = array_append(pending_stakes, $3)
           WHERE id = $1 AND status = 'active' AND version = $2 AND NOT ($3 = ANY (pending_stakes))""",
        round_id,
        version,
        key,
    )
    return result != "UPDATE 0"


async def player_rounds(
    connection: Any, player_id: str, before: UUID | None, limit: int, game: str | None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        f"""SELECT {ROUND_COLUMNS} FROM games.rounds
            WHERE player_id = $1 AND ($2::uuid IS NULL OR id < $2) AND ($4::text IS NULL OR game = $4)
            ORDER BY id DESC LIMIT $3""",
        player_id,
        before,
        limit,
        game,
    )
    return rows


async def unfinished_rounds(
    connection: Any, stale_before: datetime, abandoned_before: datetime, limit: int
) -> list[asyncpg.Record]:
    """Rounds the recovery worker must finish: interrupted ones, and multi-step rounds the player left."""
    rows: list[asyncpg.Record] = await connection.fetch(
        f"""SELECT {ROUND_COLUMNS} FROM games.rounds
            WHERE status IN ('open', 'settling', 'voiding') AND updated_at < $1
               OR status = 'active' AND updated_at < $2
            ORDER BY updated_at LIMIT $3""",
        stale_before,
        abandoned_before,
        limit,
    )
    return rows


async def round_entries(connection: Any, round_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        "SELECT id, seq, kind, body, recorded_at FROM games.audit_log WHERE round_id = $1 ORDER BY seq", round_id
    )
    return rows


async def revealed_seed_entry(connection: Any, pair_id: UUID) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await connection.fetchrow(
        "SELECT id, body FROM games.audit_log WHERE round_id IS NULL AND kind = 'seed_revealed' "
        "AND body::jsonb ->> 'pair_id' = $1::text",
        str(pair_id),
    )
    return record
