"""`croupier up` and `croupier migrate` as an operator runs them: real processes, real PostgreSQL.

`tests/wallet/test_faults.py` covers `croupier up --data-dir` stopped by SIGTERM (data kept across restarts) and
killed by SIGKILL. Here: an existing PostgreSQL given by option or environment (none started), Ctrl-C, the API docs
address it prints, the default data directory, and `croupier migrate` on an empty database.
"""

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from croupier.bootstrap import SERVICES
from tests.wallet.test_faults import _env as _faults_env
from tests.wallet.test_faults import _postgres_pids, _stop_postgres, _wait_until

pytestmark = pytest.mark.slow

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


def _env() -> dict[str, str]:
    """test_faults' environment for a croupier process, wide enough that rich prints each line whole."""
    return _faults_env() | {"COLUMNS": "200"}


def _pgdata(cwd: Path) -> Path:
    """Where `croupier up` run in `cwd` without --data-dir keeps its PostgreSQL."""
    return (cwd / ".croupier" / "pgdata").resolve()


@contextlib.contextmanager
def _croupier_up(args: list[str], cwd: Path, log: Path, env: dict[str, str]) -> Iterator["subprocess.Popen[bytes]"]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "croupier", "up", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        _stop_postgres(_pgdata(cwd))  # an embedded PostgreSQL left behind by a failed test


async def _wait_ready(process: "subprocess.Popen[bytes]", log: Path) -> str:
    """The base URL `croupier up` printed (it was given --port 0 and chose a port), once /health/ready answers 200."""
    deadline = time.monotonic() + READY_TIMEOUT
    base_url = None
    async with httpx.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"croupier up exited with {process.returncode}:\n{log.read_text()}")
            if base_url is None:
                printed = _DOCS_LINE.search(log.read_text())
                base_url = printed.group(1) if printed else None
            if base_url is not None:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{base_url}/health/ready")).status_code == 200:
                        return base_url
            await asyncio.sleep(0.2)
    pytest.fail(f"croupier up was not ready within {READY_TIMEOUT}s:\n{log.read_text()}")


#: The line `croupier up` prints once it knows its port.
_DOCS_LINE = re.compile(r"API docs: (http://127\.0\.0\.1:\d+)/docs")


def _stop(process: "subprocess.Popen[bytes]", sig: signal.Signals, log: Path) -> int:
    process.send_signal(sig)
    try:
        return process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"croupier up did not exit within {STOP_TIMEOUT}s of {sig.name}:\n{log.read_text()}")


async def _applied_versions(url: str) -> dict[str, list[int]]:
    connection = await asyncpg.connect(url)
    try:
        return {
            schema: [
                row["version"]
                for row in await connection.fetch(f"SELECT version FROM {schema}.schema_migrations ORDER BY version")
            ]
            for schema, _ in SERVICES
        }
    finally:
        await connection.close()


def _migration_files(repo_root: Path) -> dict[str, list[int]]:
    return {
        schema: sorted(
            int(path.name[:4]) for path in (repo_root / "src/croupier" / schema / "migrations").glob("*.sql")
        )
        for schema, _ in SERVICES
    }


@pytest.mark.parametrize(
    ("given_by", "stop_with"),
    [("option", signal.SIGINT), ("environment", signal.SIGTERM)],
    ids=["database-url-option-then-ctrl-c", "environment-variable-then-sigterm"],
)
async def test_up_with_an_existing_database_starts_no_postgres_migrates_it_and_stops_cleanly(
    tmp_path: Path, empty_database_url: str, repo_root: Path, given_by: str, stop_with: signal.Signals
) -> None:
    log = tmp_path / "up.log"
    args = ["--port", "0"]
    env = _env()
    if given_by == "option":
        args += ["--database-url", empty_database_url]
    else:
        env["CROUPIER_DATABASE_URL"] = empty_database_url
    with _croupier_up(args, tmp_path, log, env) as process:
        base_url = await _wait_ready(process, log)
        async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as http:
            docs = await http.get("/docs")
            spec = await http.get("/openapi.json")
        started_postgres = _postgres_pids(_pgdata(tmp_path))
        code = await asyncio.to_thread(_stop, process, stop_with, log)
    output = log.read_text()

    assert f"API docs: {base_url}/docs" in output, output
    assert f"OpenAPI: {base_url}/openapi.json" in output, output
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert spec.status_code == 200
    assert "/v1/wallet/transfers" in spec.json()["paths"]
    # It used the database it was given: every service's migrations are applied there, and nothing was started.
    assert await _applied_versions(empty_database_url) == _migration_files(repo_root)
    assert started_postgres == []
    assert not (tmp_path / ".croupier" / "pgdata").exists()
    assert "PostgreSQL" not in output, output
    assert code == 0, output
    assert output.rstrip().endswith("stopped"), output


async def test_up_by_default_keeps_its_postgres_in_dot_croupier_and_stops_it_on_ctrl_c(tmp_path: Path) -> None:
    log = tmp_path / "up.log"
    with _croupier_up(["--port", "0"], tmp_path, log, _env()) as process:
        base_url = await _wait_ready(process, log)
        running = _postgres_pids(_pgdata(tmp_path))
        code = await asyncio.to_thread(_stop, process, signal.SIGINT, log)
        # The product stops PostgreSQL before it exits; the short grace only absorbs /proc bookkeeping.
        await asyncio.to_thread(_wait_until, lambda: not _postgres_pids(_pgdata(tmp_path)), 5.0)
        left = _postgres_pids(_pgdata(tmp_path))
    output = log.read_text()

    assert (tmp_path / ".croupier" / "pgdata" / "PG_VERSION").is_file()
    assert len(running) == 1, f"expected one PostgreSQL under ./.croupier, found {running}"
    assert f"PostgreSQL {_pgdata(tmp_path)}" in output, output
    assert f"API docs: {base_url}/docs" in output, output
    assert (code, left) == (0, []), output


async def test_migrate_command_applies_every_history_to_an_empty_database_then_reports_up_to_date(
    tmp_path: Path, empty_database_url: str, repo_root: Path
) -> None:
    def migrate() -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [sys.executable, "-m", "croupier", "migrate", "--database-url", empty_database_url],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    first = await asyncio.to_thread(migrate)
    applied = await _applied_versions(empty_database_url)
    second = await asyncio.to_thread(migrate)

    files = _migration_files(repo_root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert applied == files
    for schema, versions in files.items():
        for version in versions:
            assert f"{schema}: applied {version:04d}_" in first.stdout, first.stdout
    assert second.returncode == 0, second.stdout + second.stderr
    assert sorted(second.stdout.split("\n")[:-1]) == sorted(f"{schema}: up to date" for schema in files)
    assert await _applied_versions(empty_database_url) == files
    assert not (tmp_path / ".croupier").exists()  # given a database, it starts none
