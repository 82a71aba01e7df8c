"""PostgreSQL access: one asyncpg pool per process (or per service in the split deployment).

The request (or batch) boundary owns the transaction: code below it receives a connection that is already inside a
transaction and never commits on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from croupier.kit.errors import ServiceUnavailable
from croupier.kit.serialization import dumps_str, loads

#: What a lost or refused database connection raises (PostgreSQL restarting, network, pool reset after a crash).
CONNECTION_FAULTS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    # Raised by the pool when it resets a connection the server dropped mid-operation (PostgreSQL crashed).
    asyncpg.InternalClientError,
    asyncio.TimeoutError,
)


class DatabaseUnavailable(ServiceUnavailable):
    """The database could not be reached: a 503 for callers, a retry for the ledger writer."""


async def _init_connection(connection: asyncpg.Connection[Any]) -> None:
    for json_type in ("json", "jsonb"):
        await connection.set_type_codec(json_type, encoder=dumps_str, decoder=loads, schema="pg_catalog")


async def _keep_session_state(connection: asyncpg.Connection[Any]) -> None:
    """Release a connection to the pool without asyncpg's reset query.

    The default reset sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;` on every release:
    one more round trip, and PostgreSQL work, per transaction. Croupier never leaves session state behind on a pooled
    connection (no SET outside SET LOCAL, no session advisory locks, LISTEN or cursors outside a transaction), so
    there is nothing to reset. asyncpg still rolls back a transaction left open (a cancelled request) before this.
    """


class Database:
    """A connection pool with JSON codecs installed; `transaction()` is the unit of work."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 10, generic_plans: bool = False) -> None:
        self.url = url
        self._min_size = min_size
        self._max_size = max_size
        self._generic_plans = generic_plans
        self._pool: asyncpg.Pool[Any] | None = None

    async def connect(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.url,
            min_size=self._min_size,
            max_size=self._max_size,
            init=_init_connection,
            reset=_keep_session_state,
            command_timeout=60,
            server_settings={
                "application_name": "croupier",
                # asyncpg prepares every statement; after five runs PostgreSQL may switch to a generic plan made
                # while the tables were nearly empty (sequential scans) and keep it as they grow. Planning each run
                # with the current table sizes costs a fraction of a millisecond and keeps key lookups on indexes.
                # A pool made with `generic_plans` runs only statements whose generic plan is known to be right for
                # any table size (the ledger's batch write): it skips that planning on every run. Those statements
                # reach a few rows by key, so they never scan a table: planned without statistics of the parameters,
                # a small table (a new brand's thousand accounts) would otherwise be read whole on every run.
                "plan_cache_mode": "force_generic_plan" if self._generic_plans else "force_custom_plan",
                **({"enable_seqscan": "off"} if self._generic_plans else {}),
            },
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool[Any]:
        if self._pool is None:
            raise RuntimeError("database is not connected")
        return self._pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy[Any]]:
        try:
            async with self.pool.acquire() as connection, connection.transaction():
                yield connection
        except CONNECTION_FAULTS as fault:
            raise DatabaseUnavailable("the database is unavailable; retry (with the same idempotency key)") from fault

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy[Any]]:
        try:
            async with self.pool.acquire() as connection:
                yield connection
        except CONNECTION_FAULTS as fault:
            raise DatabaseUnavailable("the database is unavailable; retry") from fault
