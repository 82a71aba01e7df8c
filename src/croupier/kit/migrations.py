"""Forward-only SQL migrations, one history per service schema.

Each service keeps `src/croupier/<service>/migrations/NNNN_title.sql`. A migration runs in its own transaction together
with the row that records it in `<schema>.schema_migrations`, so a crash leaves it either fully applied or not at all.
An applied file must never change: its checksum is recorded, and a mismatch stops the platform from starting.
An advisory lock per schema lets several processes start at once without applying a migration twice.

A migration waits at most LOCK_TIMEOUT for each table lock it needs. An `ALTER TABLE` that waits behind a long
transaction (or an anti-wraparound autovacuum) would otherwise hold its place in the table's lock queue, and every
query on that table, the ledger writer's included, would queue behind it for as long. It gives up instead, rolls
back, and tries again a little later, up to LOCK_ATTEMPTS times (docs/migrations.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import zlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import asyncpg

logger = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

#: How long a migration's statement waits for a lock before the attempt is given up (PostgreSQL's lock_timeout).
LOCK_TIMEOUT = "5s"
#: Attempts per migration; between them the runner waits RETRY_PAUSE_SECONDS, doubling up to RETRY_PAUSE_MAX_SECONDS.
LOCK_ATTEMPTS = 10
RETRY_PAUSE_SECONDS = 1.0
RETRY_PAUSE_MAX_SECONDS = 15.0


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(package: str) -> list[Migration]:
    """Read `<package>.migrations/*.sql` in version order; versions must be 1, 2, 3, ... without gaps."""
    found: list[Migration] = []
    for entry in resources.files(package).joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE.match(entry.name)
        if match is None:
            raise MigrationError(f"{package}: migration file {entry.name!r} is not named NNNN_lowercase_title.sql")
        found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"{package}: migration {expected:04d} is missing (found {migration.version:04d})")
    return found


async def apply_migrations(connection: asyncpg.Connection[Any], schema: str, package: str) -> list[Migration]:
    """Apply the pending migrations of one service schema; return those applied now."""
    if not re.fullmatch(r"[a-z_]+", schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    migrations = load_migrations(package)
    lock_key = zlib.crc32(f"croupier.migrations.{schema}".encode())
    applied_now: list[Migration] = []
    await connection.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await connection.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )"""
        )
        rows = await connection.fetch(f"SELECT version, name, checksum FROM {schema}.schema_migrations")
        recorded = {row["version"]: row for row in rows}
        known = {m.version for m in migrations}
        unknown = sorted(set(recorded) - known)
        if unknown:
            # During a blue-green switch (or a rollback) the previous release runs against the newer schema; the
            # expand/contract rule (docs/migrations.md) is what makes that safe, so this is a warning, not a refusal.
            logger.warning(
                "schema %s has migrations %s that this version of Croupier does not know: the database is newer "
                "than the code; continuing (backward-compatible migrations keep the previous release working)",
                schema,
                unknown,
            )
        for migration in migrations:
            row = recorded.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"{schema} migration {migration.version:04d}_{migration.name} was changed after it was "
                        "applied; write a new migration instead"
                    )
                continue
            await _apply_one(connection, schema, migration)
            applied_now.append(migration)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", lock_key)
    return applied_now


async def _apply_one(connection: asyncpg.Connection[Any], schema: str, migration: Migration) -> None:
    """Run one migration and record it, in one transaction; retry it while a lock it needs is busy."""
    pause = RETRY_PAUSE_SECONDS
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            async with connection.transaction():
                await connection.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                await connection.execute(migration.sql)
                await connection.execute(
                    f"INSERT INTO {schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            return
        except asyncpg.LockNotAvailableError as error:
            if attempt == LOCK_ATTEMPTS:
                raise MigrationError(
                    f"{schema} migration {migration.version:04d}_{migration.name} could not take the locks it needs "
                    f"within its lock timeout ({LOCK_TIMEOUT} unless it sets its own) in {LOCK_ATTEMPTS} attempts "
                    f"({error}); another session holds them (a "
                    "long transaction, or an autovacuum to prevent wraparound): find it in pg_stat_activity and "
                    "pg_locks, then start again"
                ) from error
            logger.warning(
                "%s migration %04d_%s gave up waiting for a lock (attempt %d of %d): %s; rolled back, trying again "
                "in %.0fs",
                schema,
                migration.version,
                migration.name,
                attempt,
                LOCK_ATTEMPTS,
                error,
                pause,
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_PAUSE_MAX_SECONDS)
