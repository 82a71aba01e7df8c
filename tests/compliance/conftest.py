"""The compliance gate against the real platform: PostgreSQL, identity, wallet, the register simulator over HTTP.

`casino` is one platform per test on a ManualClock that starts at the wall-clock time (the wallet stamps its transfers
with the database's clock, and the gate's windows are measured from its own clock: starting them together keeps the
wallet's activity inside the gate's windows). It moves money the way the games and the cashier do: ask the gate with
`require_allowed`, then move the money in the wallet with the documented type codes.
"""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
import uvicorn

from croupier.app import build_app
from croupier.bootstrap import Platform, bootstrap, shutdown
from croupier.compliance.client import Verdict, require_allowed
from croupier.compliance.service import ComplianceService
from croupier.identity.schemas import (
    CreateAdminRequest,
    LoginRequest,
    MoveKycRequest,
    ProfileOut,
    SubmitKycRequest,
    TokenPairOut,
)
from croupier.identity.service import IdentityService
from croupier.kit.clock import ManualClock
from croupier.kit.config import Settings
from croupier.simulators.self_exclusion_register import build_simulator_app
from croupier.wallet.client import AccountOut, CreateTransferRequest, OpenAccountRequest, WalletClient
from tests.conftest import free_port
from tests.identity.conftest import BRAND, PASSWORD, brand_request, email, registration

REGISTER_KEY = "gate-test-key"
LOGIN_IP = "198.51.100.7"  # not in the shipped geo database: no IP country
DOCUMENT = {"type": "passport", "number_last4": "1111", "issuing_country": "GB", "expires_on": "2030-01-01"}


def decision_row(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out["inputs"], str):
        out["inputs"] = json.loads(out["inputs"])
    return out


class Casino:
    """One platform, its brands, players and a house account per currency; money moves as a game would move it."""

    def __init__(self, platform: Platform, clock: ManualClock, db: asyncpg.Connection) -> None:
        self.platform = platform
        self.clock = clock
        self.db = db
        self._houses: dict[tuple[str, str], AccountOut] = {}

    @property
    def identity(self) -> IdentityService:
        assert self.platform.identity is not None
        return self.platform.identity

    @property
    def compliance(self) -> ComplianceService:
        assert self.platform.compliance is not None
        return self.platform.compliance

    @property
    def wallet(self) -> WalletClient:
        return self.platform.wallet_client

    async def brand(self, brand_id: str = BRAND, **overrides: Any) -> str:
        await self.identity.brands.create(brand_request(id=brand_id, **overrides))
        return brand_id

    async def register(self, brand_id: str = BRAND, ip: str | None = None, **overrides: Any) -> ProfileOut:
        # A fresh IP per registration: the per-IP registration limit is not what these tests are about.
        address = ip or f"203.0.113.{uuid.uuid4().int % 250 + 1}"
        return await self.identity.register(brand_id, registration(**overrides), ip=address)

    async def login(self, player: ProfileOut, ip: str = LOGIN_IP) -> TokenPairOut:
        request = LoginRequest(brand_id=player.brand_id, email=player.email, password=PASSWORD)
        return await self.identity.login(request, ip=ip)

    async def verify_kyc(self, player: ProfileOut) -> None:
        await self.identity.submit_kyc(player.id, SubmitKycRequest.model_validate({"documents": [DOCUMENT]}))
        await self.identity.move_kyc(player.id, MoveKycRequest(to="verified", reason="documents ok"), by_admin="risk")

    async def admin_token(self, *roles: str) -> str:
        request = CreateAdminRequest.model_validate({"email": email(), "password": PASSWORD, "roles": list(roles)})
        admin = await self.identity.admins.create(request)
        return (await self.identity.admins.login(admin.email, PASSWORD)).access_token

    async def house(self, player: ProfileOut) -> AccountOut:
        key = (player.brand_id, player.currency)
        if key not in self._houses:
            self._houses[key] = await self.wallet.open_account(
                OpenAccountRequest(
                    brand_id=player.brand_id,
                    owner_type="house",
                    owner_id="house",
                    kind="bankroll",
                    currency=player.currency,
                    allow_negative=True,
                )
            )
        return self._houses[key]

    async def move(self, player: ProfileOut, type_code: str, amount: int, *, to_player: bool) -> None:
        house = await self.house(player)
        assert player.wallet_account_id is not None
        debit, credit = (house.id, player.wallet_account_id) if to_player else (player.wallet_account_id, house.id)
        await self.wallet.transfer(
            CreateTransferRequest(
                idempotency_key=f"{type_code}-{uuid.uuid4().hex}",
                debit_account_id=debit,
                credit_account_id=credit,
                amount=amount,
                currency=player.currency,
                type=type_code,
            )
        )

    # What the cashier's and the games' entry points do: ask the gate, then move the money.
    async def deposit(self, player: ProfileOut, amount: int, context: dict[str, Any] | None = None) -> Verdict:
        verdict = await require_allowed(self.platform.gate, str(player.id), "deposit", amount, context or {})
        await self.move(player, "deposit", amount, to_player=True)
        return verdict

    async def bet(self, player: ProfileOut, amount: int, context: dict[str, Any] | None = None) -> Verdict:
        context = {"game": "roulette", "round_id": uuid.uuid4().hex, **(context or {})}
        verdict = await require_allowed(self.platform.gate, str(player.id), "bet", amount, context)
        await self.move(player, "bet", amount, to_player=False)
        return verdict

    async def withdraw(self, player: ProfileOut, amount: int) -> Verdict:
        verdict = await require_allowed(self.platform.gate, str(player.id), "withdraw", amount, {})
        await self.move(player, "withdrawal", amount, to_player=False)
        return verdict

    async def win(self, player: ProfileOut, amount: int) -> None:
        await self.move(player, "win", amount, to_player=True)

    async def balance(self, player: ProfileOut) -> int:
        assert player.wallet_account_id is not None
        return (await self.wallet.get_balance(player.wallet_account_id)).posted

    async def decision(self, decision_id: UUID | str) -> dict[str, Any]:
        row = await self.db.fetchrow("SELECT * FROM compliance.decisions WHERE id = $1", UUID(str(decision_id)))
        assert row is not None, f"decision {decision_id} is not in the log"
        return decision_row(row)

    async def decisions(self, player: ProfileOut | None = None, **where: Any) -> list[dict[str, Any]]:
        rows = await self.db.fetch("SELECT * FROM compliance.decisions ORDER BY decided_at, id")
        out = [decision_row(row) for row in rows]
        if player is not None:
            out = [row for row in out if row["player_id"] == str(player.id)]
        return [row for row in out if all(row[name] == value for name, value in where.items())]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


async def _casino(settings: Settings, database_url: str, clock: ManualClock) -> AsyncIterator[Casino]:
    platform = await bootstrap(settings, database_url, clock=clock)
    connection = await asyncpg.connect(database_url)
    try:
        yield Casino(platform, clock, connection)
    finally:
        with contextlib.suppress(Exception):  # a test may have killed the database under it
            await connection.close()
        await shutdown(platform)


@pytest.fixture
async def casino(settings: Settings, database_url: str, clock: ManualClock) -> AsyncIterator[Casino]:
    """The platform on a ManualClock, with brand-a (GB/MT, EUR/GBP, UKGC defaults)."""
    async for running in _casino(settings, database_url, clock):
        await running.brand()
        yield running


async def serve(app: Any) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def register_url() -> AsyncIterator[str]:
    """The national self-exclusion register simulator on a real loopback port."""
    async for url in serve(build_simulator_app((REGISTER_KEY,))):
        yield url


@pytest.fixture
async def register_admin(register_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=register_url) as client:
        yield client


async def list_on_register(admin: httpx.AsyncClient, person_email: str, status: str = "Y") -> None:
    body = {"email": person_email, "dateOfBirth": "1990-05-17", "status": status}
    response = await admin.post("/admin/exclusions", json=body)
    assert response.status_code == 201, response.text


@pytest.fixture
async def api(casino: Casino) -> AsyncIterator[httpx.AsyncClient]:
    """The platform's HTTP API (identity, wallet, compliance) on a real uvicorn server."""
    async for url in serve(build_app(casino.platform)):
        async with httpx.AsyncClient(base_url=url) as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def http_login(api: httpx.AsyncClient, player: ProfileOut) -> TokenPairOut:
    response = await api.post(
        "/v1/identity/login", json={"brand_id": player.brand_id, "email": player.email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return TokenPairOut.model_validate(response.json())
