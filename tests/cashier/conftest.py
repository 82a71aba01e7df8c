"""The payment-provider simulator as its own process (real HTTP), started once per test session.

- `psp_url`: base URL of `croupier simulate psp` (each provider under /<name>, the control API under /_sim).
- `psp`: a control client for one test; the simulator is reset before the test (tests run one at a time).
- `webhook_sink`: a real HTTP server that records every webhook posted to it (for adapter tests that do not run
  the cashier): `sink.url` is its base, `await sink.wait_for(name, n)` returns the first n deliveries to /<name>.
"""

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from croupier.app import build_app
from croupier.bootstrap import Platform
from croupier.identity.schemas import CreateBrandRequest, RegisterPlayerRequest
from croupier.kit.config import Settings
from tests.conftest import TEST_AUTH_SECRET, free_port


@pytest.fixture(scope="session")
def psp_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "croupier", "simulate", "psp", "--port", str(port), "--webhook-base", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/_sim/providers", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the PSP simulator did not start: {process.stderr.read() if process.stderr else ''}")
        time.sleep(0.1)
    yield url
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


class SimulatorControl:
    """The simulator's control API (/_sim) for one test."""

    def __init__(self, url: str, http: httpx.AsyncClient) -> None:
        self.url = url
        self.http = http

    def provider_url(self, name: str) -> str:
        return f"{self.url}/{name}"

    async def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = await self.http.request(method, f"{self.url}/_sim{path}", json=json)
        response.raise_for_status()
        return response.json()

    async def reset(self) -> None:
        await self._call("POST", "/reset")

    async def webhooks_to(self, base: str | None) -> None:
        await self._call("PUT", "/webhooks", {"url": base})

    async def faults(self, name: str, **faults: Any) -> None:
        await self._call("PUT", f"/{name}/faults", faults)

    async def clear_faults(self, name: str) -> None:
        await self._call("DELETE", f"/{name}/faults")

    async def transactions(self, name: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", f"/{name}/transactions")
        return result

    async def complete(self, name: str, txn_id: str, status: str = "succeeded", amount: int | None = None) -> Any:
        body: dict[str, Any] = {"status": status}
        if amount is not None:
            body["amount"] = amount
        return await self._call("POST", f"/{name}/transactions/{txn_id}/complete", body)

    async def stats(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", f"/{name}/stats")
        return result

    async def discrepancies(self, name: str, items: list[dict[str, Any]]) -> None:
        await self._call("PUT", f"/{name}/discrepancies", items)

    async def drain(self) -> None:
        await self._call("POST", "/drain")


@pytest.fixture
async def psp(psp_url: str) -> AsyncIterator[SimulatorControl]:
    async with httpx.AsyncClient(timeout=30) as http:
        control = SimulatorControl(psp_url, http)
        await control.reset()
        yield control
        await control.reset()


@dataclass
class WebhookSink:
    url: str
    received: dict[str, list[tuple[dict[str, str], bytes]]] = field(default_factory=dict)

    async def wait_for(self, name: str, count: int, timeout: float = 10.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.received.get(name, [])) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: {len(self.received.get(name, []))} webhooks arrived, wanted {count}")
            await asyncio.sleep(0.02)
        return self.received[name][:count]


@pytest.fixture
async def webhook_sink() -> AsyncIterator[WebhookSink]:
    app = FastAPI()
    port = free_port()
    sink = WebhookSink(f"http://127.0.0.1:{port}")

    @app.post("/{name}")
    async def receive(name: str, request: Request) -> Response:
        sink.received.setdefault(name, []).append(
            ({k.lower(): v for k, v in request.headers.items()}, await request.body())
        )
        return Response("ok")

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield sink
    server.should_exit = True
    await task


# -- the cashier end to end: the platform with the simulator's providers, served on a real port ---------------------

BRAND = "cashier-brand"
PASSWORD = "a long enough password"
COUNTRIES = ["GB", "NL", "DE", "BR", "IN", "KE", "PH"]
CURRENCIES = ["EUR", "GBP", "USD", "BRL", "INR", "KES", "PHP", "BTC", "USDT"]


@pytest.fixture
def cashier_port() -> int:
    return free_port()


@pytest.fixture
def settings(psp_url: str, cashier_port: int) -> Settings:
    """The platform's settings for cashier tests: the simulator's providers, webhooks to the test's port, fast
    workers (the recovery pass is driven by the tests that need it)."""
    return Settings(
        wallet_hold_sweep_seconds=0.2,
        auth_secret=TEST_AUTH_SECRET,  # type: ignore[arg-type]
        cashier_simulator_url=psp_url,
        cashier_public_url=f"http://127.0.0.1:{cashier_port}",
        cashier_worker_seconds=0.05,
        cashier_recovery_seconds=3600,
        cashier_exploration=0.0,
    )


@dataclass
class CashierPlayer:
    player_id: str
    token: str
    account_id: uuid.UUID
    currency: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture
async def cashier_api(platform: Platform, psp: SimulatorControl, cashier_port: int) -> AsyncIterator[httpx.AsyncClient]:
    """The platform's API on the port the providers post their webhooks to."""
    assert platform.identity is not None
    await platform.identity.brands.create(
        CreateBrandRequest.model_validate(
            {
                "id": BRAND,
                "name": "Cashier",
                "allowed_countries": COUNTRIES,
                "allowed_currencies": CURRENCIES,
                "kyc_required_for_withdrawal": False,
            }
        )
    )
    await psp.webhooks_to(f"http://127.0.0.1:{cashier_port}/v1/cashier/webhooks")
    server = uvicorn.Server(
        uvicorn.Config(build_app(platform), host="127.0.0.1", port=cashier_port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{cashier_port}", timeout=30) as client:
        yield client
    server.should_exit = True
    await task


@pytest.fixture
def cashier_player(platform: Platform, cashier_api: httpx.AsyncClient) -> Callable[..., Awaitable[CashierPlayer]]:
    """Register and log in a player of BRAND in `country` with a wallet in `currency`."""

    async def make(country: str = "GB", currency: str = "EUR") -> CashierPlayer:
        assert platform.identity is not None
        email = f"c-{uuid.uuid4().hex[:10]}@example.com"
        profile = await platform.identity.register(
            BRAND,
            RegisterPlayerRequest.model_validate(
                {
                    "email": email,
                    "password": PASSWORD,
                    "date_of_birth": date(1980, 1, 1),
                    "country": country,
                    "currency": currency,
                }
            ),
            ip="192.0.2.1",
        )
        login = await cashier_api.post(
            "/v1/identity/login", json={"brand_id": BRAND, "email": email, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        assert profile.wallet_account_id is not None
        return CashierPlayer(str(profile.id), login.json()["access_token"], profile.wallet_account_id, currency)

    return make


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)
