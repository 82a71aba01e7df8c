"""SQL of the identity schema, and nothing else. Every function receives a connection the caller's transaction owns."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from croupier.kit.outbox import Event, write_events

BRAND_COLUMNS = """id, name, licence, jurisdiction, allowed_countries, denied_countries, allowed_currencies, min_age,
    kyc_required_for_deposit, kyc_deposit_threshold, kyc_required_for_withdrawal, cooling_off_hours,
    reality_check_minutes, register_unreachable_on_registration, register_unreachable_on_login,
    created_at, updated_at"""
BRAND_SETTINGS = (
    "name",
    "licence",
    "jurisdiction",
    "allowed_countries",
    "denied_countries",
    "allowed_currencies",
    "min_age",
    "kyc_required_for_deposit",
    "kyc_deposit_threshold",
    "kyc_required_for_withdrawal",
    "cooling_off_hours",
    "reality_check_minutes",
    "register_unreachable_on_registration",
    "register_unreachable_on_login",
)
PLAYER_COLUMNS = """id, brand_id, email, password_hash, date_of_birth, country, currency, first_name, last_name,
    postcode, status, kyc_status, wallet_account_id, failed_logins, locked_until, created_at, updated_at"""
SESSION_COLUMNS = """id, player_id, created_at, last_seen, expires_at, ip, user_agent, restricted, restriction_reason,
    revoked_at, revoked_reason"""
ADMIN_COLUMNS = "id, email, password_hash, roles, disabled, failed_logins, locked_until, created_at, updated_at"
KYC_COLUMNS = "id, player_id, from_status, to_status, by_actor AS by, reason, document, at"

Row = asyncpg.Record


async def outbox(connection: Any, events: Sequence[Event]) -> None:
    await write_events(connection, "identity", events)


# -- brands ---------------------------------------------------------------------------------------------------------


async def insert_brand(connection: Any, brand_id: str, settings: dict[str, Any], now: datetime) -> Row | None:
    columns = [name for name in BRAND_SETTINGS if name in settings]
    placeholders = ", ".join(f"${index}" for index in range(4, len(columns) + 4))
    row: Row | None = await connection.fetchrow(
        f"""INSERT INTO identity.brands (id, created_at, updated_at, {", ".join(columns)})
            VALUES ($1, $2, $3, {placeholders})
            ON CONFLICT (id) DO NOTHING
            RETURNING {BRAND_COLUMNS}""",
        brand_id,
        now,
        now,
        *(settings[name] for name in columns),
    )
    return row


async def update_brand(connection: Any, brand_id: str, settings: dict[str, Any], now: datetime) -> Row | None:
    columns = [name for name in BRAND_SETTINGS if name in settings]
    assignments = ", ".join(f"{name} = ${index}" for index, name in enumerate(columns, start=3))
    row: Row | None = await connection.fetchrow(
        f"""UPDATE identity.brands SET updated_at = $2{", " if columns else ""}{assignments}
            WHERE id = $1 RETURNING {BRAND_COLUMNS}""",
        brand_id,
        now,
        *(settings[name] for name in columns),
    )
    return row


async def get_brand(connection: Any, brand_id: str) -> Row | None:
    row: Row | None = await connection.fetchrow(f"SELECT {BRAND_COLUMNS} FROM identity.brands WHERE id = $1", brand_id)
    return row


async def list_brands(connection: Any) -> list[Row]:
    rows: list[Row] = await connection.fetch(f"SELECT {BRAND_COLUMNS} FROM identity.brands ORDER BY id")
    return rows


# -- players --------------------------------------------------------------------------------------------------------


async def insert_player(connection: Any, values: dict[str, Any]) -> Row | None:
    """Insert a pending player unless the brand already has one with this email (then None)."""
    row: Row | None = await connection.fetchrow(
        f"""INSERT INTO identity.players (id, brand_id, email, password_hash, date_of_birth, country, currency,
                first_name, last_name, postcode, status, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $11)
            ON CONFLICT ON CONSTRAINT one_player_per_brand_email DO NOTHING
            RETURNING {PLAYER_COLUMNS}""",
        values["id"],
        values["brand_id"],
        values["email"],
        values["password_hash"],
        values["date_of_birth"],
        values["country"],
        values["currency"],
        values["first_name"],
        values["last_name"],
        values["postcode"],
        values["created_at"],
    )
    return row


async def find_player_by_email(connection: Any, brand_id: str, email: str, *, lock: bool = False) -> Row | None:
    row: Row | None = await connection.fetchrow(
        f"SELECT {PLAYER_COLUMNS} FROM identity.players WHERE brand_id = $1 AND email = $2"
        + (" FOR UPDATE" if lock else ""),
        brand_id,
        email,
    )
    return row


async def get_player(connection: Any, player_id: UUID, *, lock: bool = False) -> Row | None:
    row: Row | None = await connection.fetchrow(
        f"SELECT {PLAYER_COLUMNS} FROM identity.players WHERE id = $1" + (" FOR UPDATE" if lock else ""), player_id
    )
    return row


async def activate_player(connection: Any, player_id: UUID, wallet_account_id: UUID, now: datetime) -> Row | None:
    """Mark a pending player active with their wallet account; None when it was not pending any more."""
    row: Row | None = await connection.fetchrow(
        f"""UPDATE identity.players SET status = 'active', wallet_account_id = $2, updated_at = $3
            WHERE id = $1 AND status = 'pending' RETURNING {PLAYER_COLUMNS}""",
        player_id,
        wallet_account_id,
        now,
    )
    return row


async def update_player(connection: Any, player_id: UUID, changes: dict[str, Any], now: datetime) -> Row:
    allowed = {"first_name", "last_name", "postcode", "kyc_status", "password_hash", "status"}
    columns = [name for name in changes if name in allowed]
    assignments = "".join(f", {name} = ${index}" for index, name in enumerate(columns, start=3))
    row: Row = await connection.fetchrow(
        f"UPDATE identity.players SET updated_at = $2{assignments} WHERE id = $1 RETURNING {PLAYER_COLUMNS}",
        player_id,
        now,
        *(changes[name] for name in columns),
    )
    return row


async def list_players(
    connection: Any, *, brand_id: str | None, email: str | None, after: UUID | None, limit: int
) -> list[Row]:
    rows: list[Row] = await connection.fetch(
        f"""SELECT {PLAYER_COLUMNS} FROM identity.players
            WHERE ($1::text IS NULL OR brand_id = $1) AND ($2::text IS NULL OR email = $2)
              AND ($3::uuid IS NULL OR id > $3)
            ORDER BY id LIMIT $4""",
        brand_id,
        email,
        after,
        limit,
    )
    return rows


# -- failed logins (players and admins) ----------------------------------------------------------------------------


async def record_failed_login(
    connection: Any, table: str, row_id: UUID, now: datetime, max_failures: int, lock_for: timedelta
) -> Row:
    """Count a failure; the `max_failures`-th consecutive one locks the account until now + lock_for."""
    assert table in ("players", "admins")
    row: Row = await connection.fetchrow(
        f"""UPDATE identity.{table} SET
                failed_logins = CASE WHEN failed_logins + 1 >= $3 THEN 0 ELSE failed_logins + 1 END,
                locked_until = CASE WHEN failed_logins + 1 >= $3 THEN $2::timestamptz + $4::interval
                                    ELSE locked_until END
            WHERE id = $1 RETURNING failed_logins, locked_until""",
        row_id,
        now,
        max_failures,
        lock_for,
    )
    return row


async def record_successful_login(connection: Any, table: str, row_id: UUID, password_hash: str | None) -> None:
    assert table in ("players", "admins")
    await connection.execute(
        f"""UPDATE identity.{table} SET failed_logins = 0, locked_until = NULL,
                password_hash = coalesce($2, password_hash)
            WHERE id = $1""",
        row_id,
        password_hash,
    )


# -- sessions and refresh tokens -----------------------------------------------------------------------------------


async def insert_session(connection: Any, values: dict[str, Any]) -> Row:
    row: Row = await connection.fetchrow(
        f"""INSERT INTO identity.sessions (id, player_id, created_at, last_seen, expires_at, ip, user_agent,
                restricted, restriction_reason)
            VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8) RETURNING {SESSION_COLUMNS}""",
        values["id"],
        values["player_id"],
        values["created_at"],
        values["expires_at"],
        values["ip"],
        values["user_agent"],
        values["restricted"],
        values["restriction_reason"],
    )
    return row


async def get_session(connection: Any, session_id: UUID, *, lock: bool = False) -> Row | None:
    row: Row | None = await connection.fetchrow(
        f"SELECT {SESSION_COLUMNS} FROM identity.sessions WHERE id = $1" + (" FOR UPDATE" if lock else ""),
        session_id,
    )
    return row


async def touch_session(connection: Any, session_id: UUID, now: datetime, every: timedelta) -> None:
    """Move last_seen to now, at most once per `every` (a write per request would be wasted)."""
    await connection.execute(
        "UPDATE identity.sessions SET last_seen = $2 WHERE id = $1 AND last_seen < $2::timestamptz - $3::interval",
        session_id,
        now,
        every,
    )


async def list_sessions(connection: Any, player_id: UUID, *, active_only: bool, now: datetime) -> list[Row]:
    rows: list[Row] = await connection.fetch(
        f"""SELECT {SESSION_COLUMNS} FROM identity.sessions
            WHERE player_id = $1 AND (NOT $2 OR (revoked_at IS NULL AND expires_at > $3))
            ORDER BY created_at DESC, id DESC LIMIT 200""",
        player_id,
        active_only,
        now,
    )
    return rows


async def revoke_sessions(
    connection: Any, player_id: UUID, session_ids: Sequence[UUID] | None, now: datetime, reason: str
) -> list[Row]:
    """Revoke the player's sessions (those named, or all when None) that are still open; return those revoked now."""
    rows: list[Row] = await connection.fetch(
        f"""UPDATE identity.sessions SET revoked_at = $3, revoked_reason = $4
            WHERE player_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[])) AND revoked_at IS NULL
            RETURNING {SESSION_COLUMNS}""",
        player_id,
        list(session_ids) if session_ids is not None else None,
        now,
        reason,
    )
    return rows


async def insert_refresh_token(
    connection: Any, token_hash: bytes, session_id: UUID, issued_at: datetime, expires_at: datetime
) -> None:
    await connection.execute(
        "INSERT INTO identity.refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
        token_hash,
        session_id,
        issued_at,
        expires_at,
    )


async def lock_refresh_token(connection: Any, token_hash: bytes) -> Row | None:
    row: Row | None = await connection.fetchrow(
        """SELECT token_hash, session_id, issued_at, expires_at, used_at FROM identity.refresh_tokens
           WHERE token_hash = $1 FOR UPDATE""",
        token_hash,
    )
    return row


async def mark_refresh_token_used(connection: Any, token_hash: bytes, now: datetime) -> None:
    await connection.execute("UPDATE identity.refresh_tokens SET used_at = $2 WHERE token_hash = $1", token_hash, now)


# -- admins ---------------------------------------------------------------------------------------------------------


async def insert_admin(connection: Any, values: dict[str, Any]) -> Row | None:
    row: Row | None = await connection.fetchrow(
        f"""INSERT INTO identity.admins (id, email, password_hash, roles, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (email) DO NOTHING RETURNING {ADMIN_COLUMNS}""",
        values["id"],
        values["email"],
        values["password_hash"],
        values["roles"],
        values["created_at"],
    )
    return row


async def find_admin_by_email(connection: Any, email: str) -> Row | None:
    row: Row | None = await connection.fetchrow(f"SELECT {ADMIN_COLUMNS} FROM identity.admins WHERE email = $1", email)
    return row


async def get_admin(connection: Any, admin_id: UUID) -> Row | None:
    row: Row | None = await connection.fetchrow(f"SELECT {ADMIN_COLUMNS} FROM identity.admins WHERE id = $1", admin_id)
    return row


async def list_admins(connection: Any) -> list[Row]:
    rows: list[Row] = await connection.fetch(f"SELECT {ADMIN_COLUMNS} FROM identity.admins ORDER BY email")
    return rows


async def update_admin(
    connection: Any, admin_id: UUID, roles: list[str] | None, disabled: bool | None, now: datetime
) -> Row | None:
    row: Row | None = await connection.fetchrow(
        f"""UPDATE identity.admins SET roles = coalesce($2, roles), disabled = coalesce($3, disabled), updated_at = $4
            WHERE id = $1 RETURNING {ADMIN_COLUMNS}""",
        admin_id,
        roles,
        disabled,
        now,
    )
    return row


# -- KYC ------------------------------------------------------------------------------------------------------------


async def insert_kyc_event(connection: Any, values: dict[str, Any]) -> Row:
    row: Row = await connection.fetchrow(
        f"""INSERT INTO identity.kyc_events (id, player_id, from_status, to_status, by_actor, reason, document, at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {KYC_COLUMNS}""",
        values["id"],
        values["player_id"],
        values["from_status"],
        values["to_status"],
        values["by"],
        values["reason"],
        values["document"],
        values["at"],
    )
    return row


async def list_kyc_events(connection: Any, player_id: UUID) -> list[Row]:
    rows: list[Row] = await connection.fetch(
        f"SELECT {KYC_COLUMNS} FROM identity.kyc_events WHERE player_id = $1 ORDER BY at, id", player_id
    )
    return rows
