"""Concurrency: no overdraft and exactly-once application, within one process and across two wallet processes."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from croupier.bootstrap import Platform
from croupier.wallet.client import AccountOut, CreateTransferRequest, InsufficientFunds, WalletClient
from croupier.wallet.verify import verify_ledger
from tests.conftest import free_port, service_headers
from tests.wallet.conftest import OpenPlayer, key


async def test_hundreds_of_concurrent_debits_never_overdraw(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, platform: Platform
) -> None:
    player = await open_player(100)

    async def debit() -> bool:
        try:
            await wallet_client.transfer(
                CreateTransferRequest(
                    idempotency_key=key(),
                    debit_account_id=player.id,
                    credit_account_id=house.id,
                    amount=1,
                    currency="EUR",
                    type="bet",
                )
            )
        except InsufficientFunds:
            return False
        return True

    outcomes = await asyncio.gather(*(debit() for _ in range(300)))
    assert outcomes.count(True) == 100
    assert (await wallet_client.get_balance(player.id)).posted == 0
    assert (await verify_ledger(platform.db)).clean


async def test_same_key_raced_from_many_tasks_applies_once(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    player = await open_player(1000)
    request = CreateTransferRequest(
        idempotency_key="raced-key",
        debit_account_id=player.id,
        credit_account_id=house.id,
        amount=10,
        currency="EUR",
        type="bet",
    )
    results = await asyncio.gather(*(wallet_client.transfer(request) for _ in range(200)))
    assert len({result.transfer.id for result in results}) == 1
    assert await db.fetchval("SELECT count(*) FROM wallet.transfers WHERE request_key = 'raced-key'") == 1
    assert (await wallet_client.get_balance(player.id)).posted == 990


# -- two wallet processes on one database ---------------------------------------------------------------------------


@pytest.fixture
def two_wallet_processes(database_url: str) -> Iterator[list[str]]:
    """Two `croupier serve --service wallet` processes sharing the test's database (the split deployment)."""
    env = {**os.environ, "CROUPIER_LOG_LEVEL": "warning"}
    processes = []
    urls = []
    try:
        for _ in range(2):
            port = free_port()
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "croupier",
                        "serve",
                        "--service",
                        "wallet",
                        "--database-url",
                        database_url,
                        "--port",
                        str(port),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for url, process in zip(urls, processes, strict=True):
            while True:
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                try:
                    if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "wallet process did not become ready"
                time.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
async def http_clients(two_wallet_processes: list[str]) -> AsyncIterator[list[httpx.AsyncClient]]:
    clients = [httpx.AsyncClient(base_url=url, timeout=30, headers=service_headers()) for url in two_wallet_processes]
    yield clients
    for client in clients:
        await client.aclose()


async def _open(client: httpx.AsyncClient, **body: object) -> str:
    response = await client.post("/v1/wallet/accounts", json={"brand_id": "b", "currency": "EUR", **body})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


@pytest.mark.slow
async def test_two_processes_debiting_one_account_never_overdraw(
    http_clients: list[httpx.AsyncClient], database_url: str
) -> None:
    house = await _open(http_clients[0], owner_type="house", owner_id="house", kind="bankroll", allow_negative=True)
    player = await _open(http_clients[1], owner_type="player", owner_id="p1", kind="cash")
    deposit = {
        "idempotency_key": key(),
        "debit_account_id": house,
        "credit_account_id": player,
        "amount": 100,
        "currency": "EUR",
        "type": "deposit",
    }
    assert (await http_clients[0].post("/v1/wallet/transfers", json=deposit)).status_code == 201

    async def debit(index: int) -> int:
        body = {
            "idempotency_key": key(),
            "debit_account_id": player,
            "credit_account_id": house,
            "amount": 1,
            "currency": "EUR",
            "type": "bet",
        }
        return (await http_clients[index % 2].post("/v1/wallet/transfers", json=body)).status_code

    statuses = Counter(await asyncio.gather(*(debit(i) for i in range(300))))
    assert statuses == {201: 100, 422: 200}
    balance = (await http_clients[0].get(f"/v1/wallet/accounts/{player}/balance")).json()
    assert balance["posted"] == 0
    connection = await asyncpg.connect(database_url)
    try:
        negative = await connection.fetchval(
            "SELECT count(*) FROM wallet.accounts WHERE NOT allow_negative AND credits_posted < debits_posted"
        )
    finally:
        await connection.close()
    assert negative == 0


@pytest.mark.slow
async def test_two_processes_racing_one_key_apply_it_once(
    http_clients: list[httpx.AsyncClient], database_url: str
) -> None:
    house = await _open(http_clients[0], owner_type="house", owner_id="house", kind="bankroll", allow_negative=True)
    player = await _open(http_clients[0], owner_type="player", owner_id="p2", kind="cash")
    race_key = f"race-{uuid.uuid4().hex}"
    body = {
        "idempotency_key": race_key,
        "debit_account_id": house,
        "credit_account_id": player,
        "amount": 7,
        "currency": "EUR",
        "type": "deposit",
    }
    responses = await asyncio.gather(*(http_clients[i % 2].post("/v1/wallet/transfers", json=body) for i in range(100)))
    assert {response.status_code for response in responses} <= {200, 201}
    assert [response.status_code for response in responses].count(201) == 1
    assert len({response.json()["transfer"]["id"] for response in responses}) == 1
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetchval("SELECT count(*) FROM wallet.transfers WHERE request_key = $1", race_key)
        credited = await connection.fetchval("SELECT credits_posted FROM wallet.accounts WHERE id = $1::uuid", player)
    finally:
        await connection.close()
    assert rows == 1
    assert credited == 7
