"""Migrations: applied from an empty database, once, in order; a changed or unknown migration stops the start."""

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from croupier.bootstrap import SERVICES, migrate
from croupier.kit import migrations
from croupier.kit.migrations import MigrationError, apply_migrations, load_migrations


async def test_migrate_from_empty_database_applies_every_service_history(empty_database_url: str) -> None:
    applied = await migrate(empty_database_url)
    assert set(applied) == {schema for schema, _ in SERVICES}
    for schema, package in SERVICES:
        assert [m.version for m in applied[schema]] == [m.version for m in load_migrations(package)]
    connection = await asyncpg.connect(empty_database_url)
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


async def test_migrate_when_already_applied_does_nothing(empty_database_url: str) -> None:
    await migrate(empty_database_url)
    again = await migrate(empty_database_url)
    assert all(applied == [] for applied in again.values())


async def test_migrate_when_applied_file_changed_refuses(empty_database_url: str) -> None:
    await migrate(empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
    try:
        await connection.execute("UPDATE wallet.schema_migrations SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(connection, "wallet", "croupier.wallet")
    finally:
        await connection.close()


async def test_migrate_when_database_newer_than_code_warns_and_goes_on(
    empty_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The previous release keeps running against the next one's schema during a blue-green switch or a rollback.
    await migrate(empty_database_url)
    connection = await asyncpg.connect(empty_database_url)
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


async def _add_a_column_while_a_transaction_reads_the_table(
    runner: asyncpg.Connection, holder: asyncpg.Connection, tmp_path: Path, package: str
) -> Any:
    """Apply 0001, write 0002 (ALTER TABLE), and open a transaction on `holder` that has read the table: the ALTER
    TABLE needs a lock that conflicts with it. Returns that transaction, for the test to end."""
    await apply_migrations(runner, "lock_test", package)
    (tmp_path / package / "migrations" / "0002_column.sql").write_text(
        "ALTER TABLE lock_test.busy ADD COLUMN note text;"
    )
    blocker = holder.transaction()
    await blocker.start()
    await holder.fetch("SELECT * FROM lock_test.busy")
    return blocker


def _lock_test_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, attempts: int) -> str:
    # A package name of its own for each test: an imported package keeps the directory it was first found in.
    package = tmp_path / name
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "0001_table.sql").write_text("CREATE TABLE lock_test.busy (id integer PRIMARY KEY);")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(migrations, "LOCK_TIMEOUT", "200ms")
    monkeypatch.setattr(migrations, "RETRY_PAUSE_SECONDS", 0.3)
    monkeypatch.setattr(migrations, "LOCK_ATTEMPTS", attempts)
    return name


async def test_a_migration_that_waits_for_a_lock_gives_way_and_tries_again(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    package = _lock_test_package(tmp_path, monkeypatch, "lock_retry_service", attempts=30)
    runner, holder, reader = [await asyncpg.connect(empty_database_url) for _ in range(3)]
    try:
        blocker = await _add_a_column_while_a_transaction_reads_the_table(runner, holder, tmp_path, package)
        migrating = asyncio.create_task(apply_migrations(runner, "lock_test", package))
        await asyncio.sleep(0.05)
        # Queued behind the migration's lock request, a plain read waits too, but only until the migration gives
        # way (lock_timeout): it does not wait for the long transaction to end.
        assert await asyncio.wait_for(reader.fetchval("SELECT count(*) FROM lock_test.busy"), 5) == 0
        assert not migrating.done()  # it is waiting to try again
        await blocker.rollback()  # the long transaction ends: the next attempt goes through
        applied = await asyncio.wait_for(migrating, 10)
        assert [m.version for m in applied] == [2]
        assert (
            await reader.fetchval(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_schema = 'lock_test' AND column_name = 'note'"
            )
            == 1
        )
    finally:
        for connection in (runner, holder, reader):
            await connection.close()
    assert "gave up waiting for a lock (attempt 1 of 30)" in caplog.text


async def test_a_migration_that_never_gets_its_lock_stops_the_start_and_changes_nothing(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _lock_test_package(tmp_path, monkeypatch, "lock_refused_service", attempts=3)
    runner, holder = [await asyncpg.connect(empty_database_url) for _ in range(2)]
    try:
        blocker = await _add_a_column_while_a_transaction_reads_the_table(runner, holder, tmp_path, package)
        with pytest.raises(MigrationError, match=r"0002_column could not take the locks .* \(200ms unless .* in 3 att"):
            await apply_migrations(runner, "lock_test", package)
        await blocker.rollback()
        assert await runner.fetchval("SELECT max(version) FROM lock_test.schema_migrations") == 1
        assert (
            await runner.fetchval(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_schema = 'lock_test' AND column_name = 'note'"
            )
            == 0
        )
    finally:
        for connection in (runner, holder):
            await connection.close()
