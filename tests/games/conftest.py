"""Players with money for round tests: a brand, registered players, a funding account, an HTTP API on a real port."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
import uvicorn

from croupier.app import build_app
from croupier.bootstrap import Platform
from croupier.identity.schemas import CreateBrandRequest, RegisterPlayerRequest
from croupier.wallet.client import CreateTransferRequest, OpenAccountRequest
from tests.conftest import free_port

BRAND = "games-brand"
PASSWORD = "a long enough password"


@dataclass
class GamesPlayer:
    player_id: str
    token: str
    account_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture
async def games_api(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    assert platform.identity is not None
    await platform.identity.brands.create(
        CreateBrandRequest.model_validate(
            {"id": BRAND, "name": "Games", "allowed_countries": ["GB"], "allowed_currencies": ["EUR"]}
        )
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(platform), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client
    server.should_exit = True
    await task


@pytest.fixture
def new_player(platform: Platform, games_api: httpx.AsyncClient) -> Callable[..., Awaitable[GamesPlayer]]:
    """Register a player in BRAND and deposit `balance` minor units (EUR) from a funding account."""

    async def make(balance: int = 100_00) -> GamesPlayer:
        assert platform.identity is not None
        email = f"g-{uuid.uuid4().hex[:10]}@example.com"
        profile = await platform.identity.register(
            BRAND,
            RegisterPlayerRequest.model_validate(
                {
                    "email": email,
                    "password": PASSWORD,
                    "date_of_birth": date(1980, 1, 1),
                    "country": "GB",
                    "currency": "EUR",
                }
            ),
            ip="192.0.2.1",
        )
        login = await games_api.post(
            "/v1/identity/login", json={"brand_id": BRAND, "email": email, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        assert profile.wallet_account_id is not None
        if balance:
            wallet = platform.wallet_client
            funding = await wallet.open_account(
                OpenAccountRequest(
                    brand_id=BRAND,
                    owner_type="house",
                    owner_id="house",
                    kind="psp_clearing",
                    label="tests",
                    currency="EUR",
                    allow_negative=True,
                )
            )
            await wallet.transfer(
                CreateTransferRequest(
                    idempotency_key=f"tests:deposit:{uuid.uuid4()}",
                    debit_account_id=funding.id,
                    credit_account_id=profile.wallet_account_id,
                    amount=balance,
                    currency="EUR",
                    type="deposit",
                )
            )
        return GamesPlayer(str(profile.id), login.json()["access_token"], profile.wallet_account_id)

    return make


async def balance(platform: Platform, player: GamesPlayer) -> int:
    return (await platform.wallet_client.get_balance(player.account_id)).posted


async def play(
    api: httpx.AsyncClient, player: GamesPlayer, game: str, stake: int, params: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return await api.post(
        "/v1/games/rounds",
        json={"game": game, "stake": stake, "params": params, "request_key": key or uuid.uuid4().hex},
        headers=player.headers,
    )
