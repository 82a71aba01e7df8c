"""The identity client contract, once per transport: in-process and HTTP against a real server."""

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from croupier.bootstrap import Platform
from croupier.identity.client import (
    BrandNotFound,
    HttpIdentityClient,
    IdentityClient,
    InProcessIdentityClient,
    PlayerNotFound,
    SessionNotFound,
)
from croupier.identity.schemas import CreateAdminRequest, LoginRequest
from croupier.identity.service import IdentityService
from tests.identity.conftest import BRAND, PASSWORD, brand_request, registration


@pytest.fixture
async def service(platform: Platform) -> IdentityService:
    assert platform.identity is not None
    await platform.identity.brands.create(brand_request())
    return platform.identity


@pytest.fixture(params=["in_process", "http"])
async def client(
    request: pytest.FixtureRequest, service: IdentityService, http_base_url: str
) -> AsyncIterator[IdentityClient]:
    if request.param == "in_process":
        yield InProcessIdentityClient(service)
        return
    admin = CreateAdminRequest.model_validate({"email": "svc@example.com", "password": PASSWORD, "roles": ["risk"]})
    await service.admins.create(admin)
    token = (await service.admins.login("svc@example.com", PASSWORD)).access_token
    http = HttpIdentityClient(http_base_url, token)
    yield http
    await http.aclose()


async def test_client_get_player_when_registered_returns_the_player(
    client: IdentityClient, service: IdentityService
) -> None:
    registered = await service.register(BRAND, registration(), ip="192.0.2.1")
    player = await client.get_player(registered.id)
    assert (player.id, player.brand_id, player.email, player.currency) == (
        registered.id,
        BRAND,
        registered.email,
        "EUR",
    )
    assert (player.status, player.kyc_status, player.wallet_account_id) == (
        "active",
        "unverified",
        registered.wallet_account_id,
    )


async def test_client_get_brand_when_known_returns_every_setting(client: IdentityClient) -> None:
    brand = await client.get_brand(BRAND)
    assert (brand.allowed_countries, brand.allowed_currencies, brand.min_age) == (["GB", "MT"], ["EUR", "GBP"], 18)


async def test_client_get_session_when_logged_in_returns_it(client: IdentityClient, service: IdentityService) -> None:
    registered = await service.register(BRAND, registration(), ip="192.0.2.1")
    tokens = await service.login(
        LoginRequest(brand_id=BRAND, email=registered.email, password=PASSWORD), ip="192.0.2.1"
    )
    session = await client.get_session(tokens.session_id)
    assert (session.player_id, session.revoked_at, session.restricted) == (registered.id, None, False)


async def test_client_when_unknown_raises_the_not_found_errors(client: IdentityClient) -> None:
    with pytest.raises(PlayerNotFound):
        await client.get_player(uuid4())
    with pytest.raises(BrandNotFound):
        await client.get_brand("no-such-brand")
    with pytest.raises(SessionNotFound):
        await client.get_session(uuid4())
