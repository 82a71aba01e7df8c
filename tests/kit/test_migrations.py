"""Migrations: applied from an empty database, once, in order; a changed or unknown migration stops the start."""

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from croupier.bootstrap import SERVICES, migrate
from croupier.kit.migrations import MigrationError, apply_migrations, load_migrations
from tests.conftest import _psql


@pytest.fixture
async def empty_database(pg_server) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    _psql(pg_server, "CREATE DATABASE migrations_empty")
    yield pg_server.url("migrations_empty")
    _psql(pg_server, "DROP DATABASE migrations_empty WITH (FORCE)")


async def test_migrate_from_empty_database_applies_every_service_history(empty_database: str) -> None:
    applied = await migrate(empty_database)
    assert set(applied) == {schema for schema, _ in SERVICES}
    for schema, package in SERVICES:
        assert [m.version for m in applied[schema]] == [m.version for m in load_migrations(package)]
    connection = await asyncpg.connect(empty_database)
    try:
        versions = await connection.fetch("SELECT version FROM wallet.schema_migrations ORDER BY version")
        tables = {
            r["table_name"]
            for r in await connection.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'wallet'"
            )
        }
    finally:
        await connection.close()
    assert [r["version"] for r in versions] == [m.version for m in load_migrations("croupier.wallet")]
    assert {"accounts", "transfers", "requests", "outbox", "currencies", "hold_expiries"} <= tables


async def test_migrate_when_already_applied_does_nothing(empty_database: str) -> None:
    await migrate(empty_database)
    again = await migrate(empty_database)
    assert all(applied == [] for applied in again.values())


async def test_migrate_when_applied_file_changed_refuses(empty_database: str) -> None:
    await migrate(empty_database)
    connection = await asyncpg.connect(empty_database)
    try:
        await connection.execute("UPDATE wallet.schema_migrations SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(connection, "wallet", "croupier.wallet")
    finally:
        await connection.close()


async def test_migrate_when_database_newer_than_code_warns_and_goes_on(
    empty_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The previous release keeps running against the next one's schema during a blue-green switch or a rollback.
    await migrate(empty_database)
    connection = await asyncpg.connect(empty_database)
    try:
        await connection.execute(
            "INSERT INTO wallet.schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')"
        )
        assert await apply_migrations(connection, "wallet", "croupier.wallet") == []
    finally:
        await connection.close()
    assert "newer than the code" in caplog.text


def test_load_migrations_when_a_file_is_misnamed_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "misnamed_service"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "0001_first.sql").write_text("SELECT 1;")
    (package / "migrations" / "0002_Add-Column.sql").write_text("SELECT 2;")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MigrationError, match=r"0002_Add-Column\.sql"):
        load_migrations("misnamed_service")
