"""Identity fixtures: a brand, registered players and back-office users, through the real service and database."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import pytest

from croupier.app import build_app
from croupier.bootstrap import Platform, bootstrap, shutdown
from croupier.identity.schemas import (
    CreateAdminRequest,
    CreateBrandRequest,
    LoginRequest,
    ProfileOut,
    RegisterPlayerRequest,
    TokenPairOut,
)
from croupier.identity.service import IdentityService
from croupier.kit.clock import ManualClock
from croupier.kit.config import Settings

BRAND = "brand-a"
PASSWORD = "correct horse battery"
IP = "198.51.100.7"

Register = Callable[..., Awaitable[ProfileOut]]
Login = Callable[..., Awaitable[TokenPairOut]]
AdminToken = Callable[..., Awaitable[str]]


def email() -> str:
    return f"p-{uuid.uuid4().hex[:12]}@example.com"


def registration(**overrides: Any) -> RegisterPlayerRequest:
    values: dict[str, Any] = {
        "email": email(),
        "password": PASSWORD,
        "date_of_birth": date(1990, 5, 17),
        "country": "GB",
        "currency": "EUR",
        **overrides,
    }
    return RegisterPlayerRequest.model_validate(values)


def brand_request(**overrides: Any) -> CreateBrandRequest:
    values: dict[str, Any] = {
        "id": BRAND,
        "name": "Brand A",
        "jurisdiction": "UKGC",
        "allowed_countries": ["GB", "MT"],
        "allowed_currencies": ["EUR", "GBP"],
        **overrides,
    }
    return CreateBrandRequest.model_validate(values)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def clocked(settings: Settings, database_url: str, clock: ManualClock) -> AsyncIterator[Platform]:
    """The platform with identity on a ManualClock (tokens, lockouts and rate limits follow it)."""
    running = await bootstrap(settings, database_url, clock=clock)
    yield running
    await shutdown(running)


@pytest.fixture
async def identity(clocked: Platform) -> IdentityService:
    assert clocked.identity is not None
    await clocked.identity.brands.create(brand_request())
    return clocked.identity


@pytest.fixture
def register(identity: IdentityService) -> Register:
    async def register(ip: str | None = None, **overrides: Any) -> ProfileOut:
        # A fresh IP per registration unless given: the per-IP registration limit is tested on its own.
        return await identity.register(BRAND, registration(**overrides), ip=ip or f"203.0.113.{uuid.uuid4().int % 250}")

    return register


@pytest.fixture
def login(identity: IdentityService) -> Login:
    async def login(player_email: str, password: str = PASSWORD, ip: str = IP) -> TokenPairOut:
        return await identity.login(LoginRequest(brand_id=BRAND, email=player_email, password=password), ip=ip)

    return login


@pytest.fixture
def admin_token(identity: IdentityService) -> AdminToken:
    async def admin_token(*roles: str) -> str:
        request = CreateAdminRequest.model_validate({"email": email(), "password": PASSWORD, "roles": list(roles)})
        admin = await identity.admins.create(request)
        return (await identity.admins.login(admin.email, PASSWORD)).access_token

    return admin_token


@pytest.fixture
async def http(clocked: Platform, identity: IdentityService) -> AsyncIterator[httpx.AsyncClient]:
    """The identity API of the clocked platform over ASGI (see test_http_api.py for a real server)."""
    transport = httpx.ASGITransport(app=build_app(clocked), client=(IP, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://identity.test") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
