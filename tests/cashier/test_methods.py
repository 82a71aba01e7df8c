"""The player's methods listing follows the routing rules per brand, as deposits are routed: a method only a brand
rule enables is offered to that brand's players and to no one else.

The simulator's providers, with Pix configured `routed_only` (as a provider contracted for some brands only would be).
"""

import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from croupier.bootstrap import Platform
from croupier.cashier.providers.config import simulator_providers
from croupier.cashier.routing import Route, Router
from croupier.identity.schemas import CreateBrandRequest, RegisterPlayerRequest
from croupier.kit.config import Settings
from tests.cashier.conftest import BRAND, PASSWORD, CashierPlayer, SimulatorControl
from tests.cashier.test_deposits import deposit
from tests.cashier.test_withdrawals import admin_headers

OTHER_BRAND = "other-brand"


@pytest.fixture
def settings(settings: Settings, psp_url: str) -> Settings:
    providers = []
    for config in simulator_providers(psp_url):
        providers.append({**config.model_dump(), "routed_only": config.name == "pix"})
    return settings.model_copy(update={"cashier_providers": providers})


async def brazilian(platform: Platform, api: httpx.AsyncClient, brand: str) -> CashierPlayer:
    """A logged-in player of `brand` in Brazil with a BRL wallet."""
    assert platform.identity is not None
    email = f"m-{uuid.uuid4().hex[:10]}@example.com"
    registration = {"email": email, "password": PASSWORD, "date_of_birth": date(1980, 1, 1)}
    profile = await platform.identity.register(
        brand,
        RegisterPlayerRequest.model_validate({**registration, "country": "BR", "currency": "BRL"}),
        ip="192.0.2.1",
    )
    login = await api.post("/v1/identity/login", json={"brand_id": brand, "email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    assert profile.wallet_account_id is not None
    return CashierPlayer(str(profile.id), login.json()["access_token"], profile.wallet_account_id, "BRL")


@pytest.fixture
async def other_brand(platform: Platform, cashier_api: httpx.AsyncClient) -> str:
    assert platform.identity is not None
    await platform.identity.brands.create(
        CreateBrandRequest.model_validate(
            {"id": OTHER_BRAND, "name": "Other", "allowed_countries": ["BR"], "allowed_currencies": ["BRL"]}
        )
    )
    return OTHER_BRAND


async def methods_of(api: httpx.AsyncClient, player: CashierPlayer) -> dict[str, dict[str, Any]]:
    response = await api.get("/v1/cashier/methods", headers=player.headers)
    assert response.status_code == 200, response.text
    return {item["method"]: item for item in response.json()}


async def add_route(api: httpx.AsyncClient, **rule: Any) -> None:
    response = await api.post("/v1/cashier/admin/routes", json=rule, headers=admin_headers("admin"))
    assert response.status_code == 200, response.text


async def test_methods_when_no_rule_enables_the_only_provider_leave_the_method_out(
    platform: Platform, cashier_api: httpx.AsyncClient, psp: SimulatorControl
) -> None:
    player = await brazilian(platform, cashier_api, BRAND)

    methods = await methods_of(cashier_api, player)
    refused = await deposit(cashier_api, player, "pix", 50_00)

    assert "pix" not in methods
    assert methods["card"]["currencies"] == ["BRL"]  # a provider open to everyone still serves cards
    assert (refused.status_code, refused.json()["code"]) == (422, "method_unavailable")


async def test_methods_when_a_brand_rule_enables_a_provider_offer_it_to_that_brand_only(
    platform: Platform, cashier_api: httpx.AsyncClient, psp: SimulatorControl, other_brand: str
) -> None:
    await add_route(cashier_api, provider="pix", brand_id=BRAND, method="pix")
    player = await brazilian(platform, cashier_api, BRAND)
    outsider = await brazilian(platform, cashier_api, other_brand)

    methods = await methods_of(cashier_api, player)
    paid = await deposit(cashier_api, player, "pix", 50_00)

    assert methods["pix"] == {
        "method": "pix",
        "currencies": ["BRL"],
        "withdrawals": True,
        "withdrawal_currencies": ["BRL"],
        "wallet_currency": "BRL",
    }
    assert (paid.status_code, paid.json()["next_action"]["type"]) == (200, "qr")
    assert "pix" not in await methods_of(cashier_api, outsider)
    assert (await deposit(cashier_api, outsider, "pix", 50_00)).json()["code"] == "method_unavailable"


# -- the question the listing asks the router, for rules with amounts and cards ---------------------------------------


@pytest.fixture
def router(psp_url: str) -> Router:
    configs = [c.model_copy(update={"routed_only": c.name in ("pix", "adyen")}) for c in simulator_providers(psp_url)]
    return Router([c for c in configs if c.name in ("pix", "adyen")])


@pytest.mark.parametrize(
    ("rule", "offered"),
    [
        (Route("pix", brand_id=BRAND), True),
        (Route("pix", brand_id=BRAND, min_amount=100, max_amount=5000), True),
        (Route("pix", brand_id=BRAND, max_amount=0), False),  # matches no payment a player can make
        (Route("pix", brand_id=OTHER_BRAND), False),
        (Route("pix", brand_id=BRAND, currency="EUR"), False),
        (Route("adyen", brand_id=BRAND), False),  # names a provider that does not take pix
    ],
)
def test_router_offered_when_only_a_rule_can_enable_pix_follows_the_rule(
    router: Router, rule: Route, offered: bool
) -> None:
    assert router.offered("deposit", BRAND, "BR", "pix", "BRL", [rule]) is offered


@pytest.mark.parametrize(
    ("rule", "offered"),
    [
        (Route("adyen", bin_from="400000", bin_to="499999"), True),  # some cards go to it
        (Route("adyen", bin_from="499999", bin_to="400000"), False),  # no card is in a reversed range
    ],
)
def test_router_offered_when_a_card_range_rule_enables_cards_follows_the_range(
    router: Router, rule: Route, offered: bool
) -> None:
    assert router.offered("deposit", BRAND, "GB", "card", "EUR", [rule]) is offered
