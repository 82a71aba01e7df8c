"""Fault injection with real processes: kill -9 of `croupier up` and a PostgreSQL crash in the middle of a load.

Every acknowledged transfer must survive exactly once, every replay must return the original transfer, and every
request whose outcome the client could not learn must be applied at most once when it is retried with its key.
"""

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from croupier.bootstrap import bootstrap, shutdown
from croupier.kit.config import Settings
from croupier.kit.embedded_pg import EmbeddedPostgres, find_free_port
from croupier.kit.errors import ServiceUnavailable
from croupier.wallet.client import (
    AccountOut,
    CreateTransferRequest,
    InsufficientFunds,
    OpenAccountRequest,
    WalletClient,
)
from croupier.wallet.verify import verify_ledger
from tests.conftest import TEST_AUTH_SECRET, service_headers

pytestmark = pytest.mark.slow

BRAND = "crash"
PLAYERS = 20
WORKERS = 32
DEPOSIT = 1_000_000
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
WALLET = "/v1/wallet"


# -- processes ------------------------------------------------------------------------------------------------------


@dataclass
class Croupier:
    """One `croupier up` process started by a test."""

    process: "subprocess.Popen[bytes]"
    data_dir: Path
    base_url: str
    log: Path

    @property
    def pgdata(self) -> Path:
        return self.data_dir.resolve() / "pgdata"


def _env() -> dict[str, str]:
    """The test's environment without any CROUPIER_ setting of the caller's shell, plus a quiet log level."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CROUPIER_")}
    env["CROUPIER_LOG_LEVEL"] = "warning"
    env["CROUPIER_AUTH_SECRET"] = TEST_AUTH_SECRET  # the deployment's token key: the test signs service tokens with it
    return env


def _log_tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def _postgres_pids(pgdata: Path) -> list[int]:
    """Postmasters whose command line names `pgdata` (backends rename themselves; the postmaster does not)."""
    wanted = str(pgdata).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and Path(args[0].decode(errors="replace")).name == "postgres" and wanted in args:
            pids.append(int(entry.name))
    return pids


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _stop_postgres(pgdata: Path) -> None:
    """Cleanup: stop whatever PostgreSQL still runs on `pgdata` (immediate shutdown, then SIGKILL)."""
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        pids = _postgres_pids(pgdata)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        _wait_until(lambda: not _postgres_pids(pgdata), 10.0)


@contextlib.contextmanager
def _cleanup(*pgdatas: Path) -> Iterator[list["subprocess.Popen[bytes]"]]:
    """Yields a list to register started processes in; on exit kills their process groups and orphan PostgreSQLs."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        for pgdata in pgdatas:
            _stop_postgres(pgdata)


def _start_croupier(
    data_dir: Path,
    log: Path,
    started: list["subprocess.Popen[bytes]"],
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
) -> Croupier:
    """`croupier up` on `data_dir`, on `port` (default: a free one; a restart passes the port it had before, as a
    provider's webhooks and a load balancer expect)."""
    port = port or find_free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "croupier", "up", "--data-dir", str(data_dir), "--port", str(port)],
            env=_env() | (extra_env or {}),
            cwd=data_dir.parent,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so cleanup can kill everything it started
        )
    started.append(process)
    return Croupier(process, data_dir, f"http://127.0.0.1:{port}", log)


async def _wait_ready(croupier: Croupier) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    async with httpx.AsyncClient(base_url=croupier.base_url, headers=service_headers(), timeout=2.0) as http:
        while time.monotonic() < deadline:
            if croupier.process.poll() is not None:
                pytest.fail(f"croupier up exited with {croupier.process.returncode}:\n{_log_tail(croupier.log)}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/health/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    pytest.fail(f"croupier up was not ready within {READY_TIMEOUT}s:\n{_log_tail(croupier.log)}")


async def _stop_croupier(croupier: Croupier) -> tuple[int, list[int]]:
    """SIGTERM, wait (bounded) for the exit; returns the exit code and the PostgreSQL pids still running after it."""
    croupier.process.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.to_thread(croupier.process.wait, STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"croupier up did not exit within {STOP_TIMEOUT}s of SIGTERM:\n{_log_tail(croupier.log)}")
    # The product stops its PostgreSQL before it exits; the short grace only absorbs /proc bookkeeping.
    await asyncio.to_thread(_wait_until, lambda: not _postgres_pids(croupier.pgdata), 5.0)
    return code, _postgres_pids(croupier.pgdata)


async def _connect_to_data_dir(data_dir: Path) -> asyncpg.Connection:
    """A direct connection to the PostgreSQL a running `croupier up` owns (password file, port from postmaster.pid)."""
    password = (data_dir / "postgres.password").read_text().strip()
    port = int((data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[3])
    return await asyncpg.connect(
        host="127.0.0.1", port=port, user="postgres", password=password, database="croupier", timeout=10
    )


# -- traffic --------------------------------------------------------------------------------------------------------


@dataclass
class Load:
    """What the clients learnt: acknowledged (key -> body, transfer id), unknown outcome, refused, unexpected."""

    acknowledged: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    unknown: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)


def _transfer_body(rng: random.Random, house_id: str, player_ids: list[str]) -> dict[str, Any]:
    player = rng.choice(player_ids)
    is_bet = rng.random() < 0.6
    kind = "bet" if is_bet else "win"
    return {
        "idempotency_key": f"{kind}-{uuid.uuid4().hex}",
        "debit_account_id": player if is_bet else house_id,
        "credit_account_id": house_id if is_bet else player,
        "amount": rng.randint(1, 100),
        "currency": "EUR",
        "type": kind,
        "metadata": {"game": "crash", "round": f"r-{rng.randrange(1_000_000)}"},
    }


async def _post(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(WALLET + path, json=body)
    assert response.status_code in (200, 201), f"POST {path}: {response.status_code} {response.text}"
    result: dict[str, Any] = response.json()
    return result


async def _open_accounts_http(http: httpx.AsyncClient) -> tuple[str, list[str]]:
    house = await _post(
        http,
        "/accounts",
        {
            "brand_id": BRAND,
            "owner_type": "house",
            "owner_id": "house",
            "kind": "bankroll",
            "currency": "EUR",
            "allow_negative": True,
        },
    )
    players = []
    for index in range(PLAYERS):
        player = await _post(
            http,
            "/accounts",
            {"brand_id": BRAND, "owner_type": "player", "owner_id": f"p-{index}", "kind": "cash", "currency": "EUR"},
        )
        deposit = {
            "idempotency_key": f"deposit-{uuid.uuid4().hex}",
            "debit_account_id": house["id"],
            "credit_account_id": player["id"],
            "amount": DEPOSIT,
            "currency": "EUR",
            "type": "deposit",
        }
        await _post(http, "/transfers", deposit)
        players.append(player["id"])
    return house["id"], players


async def _http_worker(
    http: httpx.AsyncClient,
    house_id: str,
    player_ids: list[str],
    load: Load,
    stop: asyncio.Event,
    deadline: float,
    seed: int,
) -> None:
    rng = random.Random(seed)
    while not stop.is_set() and time.monotonic() < deadline:
        body = _transfer_body(rng, house_id, player_ids)
        key = body["idempotency_key"]
        try:
            response = await http.post(WALLET + "/transfers", json=body)
        except httpx.TransportError:
            load.unknown[key] = body  # the server died with the request in flight (or before it arrived)
            return
        if response.status_code in (200, 201):
            load.acknowledged[key] = (body, response.json()["transfer"]["id"])
        elif response.status_code == 503:
            load.unknown[key] = body
        elif response.status_code == 422 and response.json().get("code") == "insufficient_funds":
            load.refused[key] = body
        else:
            load.unexpected.append(f"{key}: {response.status_code} {response.text[:300]}")


async def _in_process_worker(
    client: WalletClient,
    house_id: UUID,
    player_ids: list[UUID],
    load: Load,
    stop: asyncio.Event,
    deadline: float,
    seed: int,
) -> None:
    rng = random.Random(seed)
    while not stop.is_set() and time.monotonic() < deadline:
        body = _transfer_body(rng, str(house_id), [str(player) for player in player_ids])
        key = body["idempotency_key"]
        try:
            result = await client.transfer(CreateTransferRequest.model_validate(body))
        except ServiceUnavailable:
            load.unknown[key] = body
            await asyncio.sleep(0.05)
            continue
        except InsufficientFunds:
            load.refused[key] = body
            continue
        except Exception as error:
            load.unexpected.append(f"{key}: {''.join(traceback.format_exception(error))}")
            await asyncio.sleep(0.05)
            continue
        load.acknowledged[key] = (body, str(result.transfer.id))


async def _bounded_gather(items: list[Any], call: Callable[[Any], Awaitable[None]], concurrency: int = 16) -> None:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(item: Any) -> None:
        async with semaphore:
            await call(item)

    await asyncio.wait_for(asyncio.gather(*(one(item) for item in items)), 120)


async def _rows_by_key(connection: asyncpg.Connection, keys: list[str]) -> dict[str, list[str]]:
    """Transfer ids in wallet.transfers per request key, for the given keys."""
    rows = await connection.fetch(
        "SELECT request_key, id::text AS id FROM wallet.transfers WHERE request_key = ANY($1::text[])", keys
    )
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["request_key"], []).append(row["id"])
    return found


def _exactly_once_problems(
    acknowledged: dict[str, tuple[dict[str, Any], str]], rows: dict[str, list[str]]
) -> list[str]:
    problems = []
    for key, (_, transfer_id) in acknowledged.items():
        if rows.get(key, []) != [transfer_id]:
            problems.append(f"{key}: acknowledged as {transfer_id}, rows in the database {rows.get(key, [])}")
    return problems


def _at_most_once_problems(outcomes: dict[str, str | None], rows: dict[str, list[str]]) -> list[str]:
    problems = []
    for key, transfer_id in outcomes.items():
        expected = [] if transfer_id is None else [transfer_id]
        if rows.get(key, []) != expected:
            problems.append(f"{key}: retry gave {transfer_id}, rows in the database {rows.get(key, [])}")
    return problems


# -- tests ----------------------------------------------------------------------------------------------------------


async def test_kill_9_mid_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    pgdata = data_dir.resolve() / "pgdata"
    with _cleanup(pgdata) as started:
        first = _start_croupier(data_dir, tmp_path / "first.log", started)
        await _wait_ready(first)
        limits = httpx.Limits(max_connections=WORKERS * 2, max_keepalive_connections=WORKERS * 2)
        load = Load()
        async with httpx.AsyncClient(
            base_url=first.base_url, headers=service_headers(), timeout=10.0, limits=limits
        ) as http:
            house_id, player_ids = await _open_accounts_http(http)
            stop = asyncio.Event()
            deadline = time.monotonic() + 30
            workers = [
                asyncio.create_task(_http_worker(http, house_id, player_ids, load, stop, deadline, seed))
                for seed in range(WORKERS)
            ]
            await asyncio.sleep(1.5)
            os.kill(first.process.pid, signal.SIGKILL)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*workers), 30)
        assert await asyncio.to_thread(first.process.wait, 10) == -signal.SIGKILL
        assert not load.unexpected, load.unexpected[:5]
        print(f"kill -9: {len(load.acknowledged)} acknowledged, {len(load.unknown)} unknown outcome")
        assert len(load.acknowledged) > 50, f"only {len(load.acknowledged)} transfers acknowledged before the kill"
        # The killed process's PostgreSQL runs in its own session and survives as an orphan: the restart must cope.
        orphans = _postgres_pids(pgdata)
        print(f"kill -9: orphan PostgreSQL pids {orphans}")

        second = _start_croupier(data_dir, tmp_path / "second.log", started)
        await _wait_ready(second)
        assert not any(_pid_alive(pid) for pid in orphans), "the orphan PostgreSQL was not shut down at start"

        async with httpx.AsyncClient(
            base_url=second.base_url, headers=service_headers(), timeout=30.0, limits=limits
        ) as http:
            # (a) every acknowledged transfer replays as itself.
            replay_problems: list[str] = []

            async def replay(key: str) -> None:
                body, transfer_id = load.acknowledged[key]
                response = await http.post(WALLET + "/transfers", json=body)
                replayed = response.headers.get("Idempotent-Replayed")
                got = response.json().get("transfer", {}).get("id") if response.status_code == 200 else None
                if response.status_code != 200 or replayed != "true" or got != transfer_id:
                    replay_problems.append(
                        f"{key}: {response.status_code} replayed={replayed} id={got} (acked {transfer_id}) "
                        f"{response.text[:200]}"
                    )

            await _bounded_gather(list(load.acknowledged), replay)
            assert not replay_problems, f"{len(replay_problems)} bad replays, e.g. {replay_problems[:5]}"

            connection = await _connect_to_data_dir(data_dir)
            try:
                # (b) exactly once in the database.
                rows = await _rows_by_key(connection, list(load.acknowledged))
                problems = _exactly_once_problems(load.acknowledged, rows)
                assert not problems, f"{len(problems)} acknowledged transfers not stored exactly once: {problems[:5]}"
                assert sum(len(ids) for ids in rows.values()) == len(load.acknowledged)

                # (c) unknown outcomes: a retry with the same key applies the request at most once.
                outcomes: dict[str, str | None] = {}  # key -> transfer id, None when refused for a business reason
                retry_problems: list[str] = []
                retry_statuses: list[int] = []

                async def retry(key: str) -> None:
                    body = load.unknown[key]
                    first_try = await http.post(WALLET + "/transfers", json=body)
                    retry_statuses.append(first_try.status_code)
                    if first_try.status_code in (200, 201):
                        outcomes[key] = transfer_id = first_try.json()["transfer"]["id"]
                        again = await http.post(WALLET + "/transfers", json=body)
                        again_id = again.json().get("transfer", {}).get("id")
                        if again.status_code != 200 or again.headers.get("Idempotent-Replayed") != "true":
                            retry_problems.append(f"{key}: second retry not a replay: {again.status_code}")
                        elif again_id != transfer_id:
                            retry_problems.append(f"{key}: second retry replayed {again_id}, first {transfer_id}")
                    elif first_try.status_code == 422 and first_try.json().get("code") == "insufficient_funds":
                        outcomes[key] = None
                    else:
                        retry_problems.append(f"{key}: retry answered {first_try.status_code} {first_try.text[:200]}")

                await _bounded_gather(list(load.unknown), retry)
                print(
                    f"unknown outcome retried: {retry_statuses.count(200)} had been applied before the kill, "
                    f"{retry_statuses.count(201)} applied by the retry, {retry_statuses.count(422)} refused"
                )
                assert not retry_problems, retry_problems[:5]
                rows = await _rows_by_key(connection, list(outcomes))
                problems = _at_most_once_problems(outcomes, rows)
                assert not problems, f"{len(problems)} retried requests not applied at most once: {problems[:5]}"
            finally:
                await connection.close()

        # (d) the verifier attaches to the running server and finds the ledger clean.
        verify = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "croupier", "wallet", "verify", "--data-dir", str(data_dir), "--json"],
            env=_env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert verify.returncode == 0, f"verify exited {verify.returncode}:\n{verify.stdout}\n{verify.stderr}"
        report = json.loads(verify.stdout)
        assert report["clean"] is True, report["discrepancies"]
        assert report["transfers"] >= len(load.acknowledged) + PLAYERS

        code, left = await _stop_croupier(second)
        assert not left, (
            f"croupier up exited ({code}) after SIGTERM but left its PostgreSQL running (pids {left}); "
            f"log:\n{_log_tail(second.log)}"
        )


async def test_database_restart_mid_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    with _cleanup(server.pgdata):
        url = await asyncio.to_thread(server.start)
        try:
            platform = await bootstrap(Settings(), url)
            try:
                client = platform.wallet_client
                wallet = platform.wallet
                assert wallet is not None
                house = await client.open_account(
                    OpenAccountRequest(
                        brand_id=BRAND,
                        owner_type="house",
                        owner_id="house",
                        kind="bankroll",
                        currency="EUR",
                        allow_negative=True,
                    )
                )
                players: list[AccountOut] = []
                for index in range(PLAYERS):
                    player = await client.open_account(
                        OpenAccountRequest(
                            brand_id=BRAND, owner_type="player", owner_id=f"p-{index}", kind="cash", currency="EUR"
                        )
                    )
                    await client.transfer(
                        CreateTransferRequest(
                            idempotency_key=f"deposit-{uuid.uuid4().hex}",
                            debit_account_id=house.id,
                            credit_account_id=player.id,
                            amount=DEPOSIT,
                            currency="EUR",
                            type="deposit",
                        )
                    )
                    players.append(player)

                load = Load()
                stop = asyncio.Event()
                deadline = time.monotonic() + 60
                player_ids = [player.id for player in players]
                workers = [
                    asyncio.create_task(_in_process_worker(client, house.id, player_ids, load, stop, deadline, seed))
                    for seed in range(WORKERS)
                ]
                await asyncio.sleep(1.0)
                before_crash = len(load.acknowledged)
                await asyncio.to_thread(server.kill)
                await asyncio.sleep(0.5)
                await asyncio.to_thread(server.restart)
                after_restart = len(load.acknowledged)
                await asyncio.sleep(1.5)
                stop.set()
                await asyncio.wait_for(asyncio.gather(*workers), 60)

                print(
                    f"database crash: {before_crash} acknowledged before it, {after_restart} by the restart, "
                    f"{len(load.acknowledged)} in all; {len(load.unknown)} unknown outcome, "
                    f"{len(load.unexpected)} unexpected errors"
                )
                assert before_crash > 50, f"only {before_crash} transfers acknowledged before the crash"
                assert not load.unexpected, f"{len(load.unexpected)} unexpected errors, first:\n{load.unexpected[0]}"
                assert len(load.acknowledged) > after_restart, "no transfer was acknowledged after the restart"

                # Once PostgreSQL is back, the platform works again: a fresh transfer and a read succeed at once.
                fresh_body = _transfer_body(random.Random(7), str(house.id), [str(p) for p in player_ids])
                fresh = await client.transfer(CreateTransferRequest.model_validate(fresh_body))
                load.acknowledged[fresh_body["idempotency_key"]] = (fresh_body, str(fresh.transfer.id))
                assert (await client.get_balance(house.id)).currency == "EUR"

                replay_problems: list[str] = []

                async def replay(key: str) -> None:
                    body, transfer_id = load.acknowledged[key]
                    result, replayed = await wallet.transfer(CreateTransferRequest.model_validate(body))
                    if not replayed or str(result["transfer"]["id"]) != transfer_id:
                        replay_problems.append(f"{key}: replayed={replayed} id={result['transfer']['id']}")

                await _bounded_gather(list(load.acknowledged), replay)
                assert not replay_problems, f"{len(replay_problems)} bad replays, e.g. {replay_problems[:5]}"

                connection = await asyncpg.connect(url, timeout=10)
                try:
                    rows = await _rows_by_key(connection, list(load.acknowledged))
                    problems = _exactly_once_problems(load.acknowledged, rows)
                    assert not problems, (
                        f"{len(problems)} acknowledged transfers not stored exactly once: {problems[:5]}"
                    )

                    committed = await _rows_by_key(connection, list(load.unknown))
                    print(f"database crash: {len(committed)} of the unknown-outcome requests had been committed")
                    outcomes: dict[str, str | None] = {}  # key -> transfer id, None when refused
                    retry_problems: list[str] = []

                    async def retry(key: str) -> None:
                        request = CreateTransferRequest.model_validate(load.unknown[key])
                        try:
                            result = await client.transfer(request)
                        except InsufficientFunds:
                            outcomes[key] = None
                            return
                        outcomes[key] = str(result.transfer.id)
                        again, replayed = await wallet.transfer(request)
                        if not replayed or str(again["transfer"]["id"]) != str(result.transfer.id):
                            retry_problems.append(
                                f"{key}: second retry replayed={replayed} id={again['transfer']['id']}"
                            )

                    await _bounded_gather(list(load.unknown), retry)
                    assert not retry_problems, retry_problems[:5]
                    rows = await _rows_by_key(connection, list(outcomes))
                    problems = _at_most_once_problems(outcomes, rows)
                    assert not problems, f"{len(problems)} retried requests not applied at most once: {problems[:5]}"
                finally:
                    await connection.close()

                report = await verify_ledger(platform.db)
                assert report.clean, report.discrepancies
                assert report.transfers >= len(load.acknowledged) + PLAYERS
            finally:
                await shutdown(platform)
        finally:
            await asyncio.to_thread(server.stop)


async def test_restart_keeps_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    pgdata = data_dir.resolve() / "pgdata"
    with _cleanup(pgdata) as started:
        first = _start_croupier(data_dir, tmp_path / "first.log", started)
        await _wait_ready(first)
        async with httpx.AsyncClient(base_url=first.base_url, headers=service_headers(), timeout=10.0) as http:
            house_id, player_ids = await _open_accounts_http(http)
            deposit = await _post(
                http,
                "/transfers",
                {
                    "idempotency_key": "deposit-restart",
                    "debit_account_id": house_id,
                    "credit_account_id": player_ids[0],
                    "amount": 12_345,
                    "currency": "EUR",
                    "type": "deposit",
                },
            )
        first_code, first_left = await _stop_croupier(first)

        second = _start_croupier(data_dir, tmp_path / "second.log", started)
        await _wait_ready(second)
        async with httpx.AsyncClient(base_url=second.base_url, headers=service_headers(), timeout=10.0) as http:
            balance = (await http.get(f"{WALLET}/accounts/{player_ids[0]}/balance")).json()
            transfer = (await http.get(f"{WALLET}/transfers/{deposit['transfer']['id']}")).json()
        second_code, second_left = await _stop_croupier(second)

        assert balance["posted"] == DEPOSIT + 12_345
        assert balance["available"] == DEPOSIT + 12_345
        assert transfer["amount"] == 12_345
        assert transfer["idempotency_key"] == "deposit-restart"
        # Checked last so that the data assertions above run even when a shutdown is not clean.
        assert (first_code, first_left) == (0, []), (
            f"first croupier up after SIGTERM: exit code {first_code}, PostgreSQL still running: {first_left}; "
            f"log:\n{_log_tail(first.log)}"
        )
        assert (second_code, second_left) == (0, []), (
            f"second croupier up after SIGTERM: exit code {second_code}, PostgreSQL still running: {second_left}"
        )
