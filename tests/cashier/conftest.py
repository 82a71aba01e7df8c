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
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from tests.conftest import free_port


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
