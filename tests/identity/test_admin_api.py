"""Back-office endpoints: each role allowed or refused per endpoint, brands, admins, KYC moves."""

from typing import Any

import httpx
import pytest

from croupier.identity.schemas import ProfileOut
from tests.identity.conftest import BRAND, PASSWORD, AdminToken, Register, bearer

ROLES = ("support", "risk", "finance", "admin")
KYC_DOCUMENT = {"type": "passport", "number_last4": "4321", "issuing_country": "GB", "expires_on": "2030-01-01"}

#: (method, path template, body, roles allowed). `admin` is allowed everywhere.
ENDPOINTS: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/v1/identity/admin/brands", None, {"support", "risk", "finance", "admin"}),
    ("GET", "/v1/identity/admin/brands/brand-a", None, {"support", "risk", "finance", "admin"}),
    ("POST", "/v1/identity/admin/brands", "new-brand", {"admin"}),
    ("PATCH", "/v1/identity/admin/brands/brand-a", {"min_age": 21}, {"admin"}),
    ("GET", "/v1/identity/admin/players", None, {"support", "risk", "finance", "admin"}),
    ("GET", "/v1/identity/admin/players/{player}", None, {"support", "risk", "finance", "admin"}),
    ("GET", "/v1/identity/admin/players/{player}/kyc", None, {"support", "risk", "admin"}),
    ("POST", "/v1/identity/admin/players/{player}/kyc", {"to": "verified", "reason": "ok"}, {"risk", "admin"}),
    ("GET", "/v1/identity/admin/sessions/{session}", None, {"support", "risk", "admin"}),
    ("GET", "/v1/identity/admin/admins", None, {"admin"}),
    ("POST", "/v1/identity/admin/admins", "new-admin", {"admin"}),
    ("PATCH", "/v1/identity/admin/admins/{admin}", {"roles": ["support"]}, {"admin"}),
]


@pytest.fixture
async def kyc_pending_player(register: Register, http: httpx.AsyncClient) -> tuple[ProfileOut, str]:
    player = await register()
    login = await http.post("/v1/identity/login", json={"brand_id": BRAND, "email": player.email, "password": PASSWORD})
    tokens = login.json()
    submitted = await http.post(
        "/v1/identity/me/kyc/documents", json={"documents": [KYC_DOCUMENT]}, headers=bearer(tokens["access_token"])
    )
    assert submitted.status_code == 201
    return player, tokens["session_id"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "template", "body", "allowed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
async def test_admin_endpoint_when_called_with_role_is_allowed_or_403(
    http: httpx.AsyncClient,
    admin_token: AdminToken,
    kyc_pending_player: tuple[ProfileOut, str],
    role: str,
    method: str,
    template: str,
    body: Any,
    allowed: set[str],
) -> None:
    player, session_id = kyc_pending_player
    token = await admin_token(role)
    admin_id = (await http.get("/v1/identity/admin/admins", headers=bearer(await admin_token("admin")))).json()[0]["id"]
    path = template.format(player=player.id, session=session_id, admin=admin_id)
    if body == "new-brand":
        body = {"id": "brand-new", "name": "New", "allowed_countries": ["MT"], "allowed_currencies": ["EUR"]}
    elif body == "new-admin":
        body = {"email": "new-admin@example.com", "password": PASSWORD, "roles": ["finance"]}
    response = await http.request(method, path, json=body, headers=bearer(token))
    if role in allowed:
        assert response.status_code in (200, 201), response.text
    else:
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")


async def test_admin_endpoint_when_no_token_answers_401(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/identity/admin/players")
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")


async def test_admin_login_when_password_wrong_answers_401_invalid_credentials(
    http: httpx.AsyncClient, admin_token: AdminToken
) -> None:
    await admin_token("support")
    response = await http.post("/v1/identity/admin/login", json={"email": "who@example.com", "password": "nope nope"})
    assert (response.status_code, response.json()["code"]) == (401, "invalid_credentials")


async def test_admin_when_disabled_cannot_log_in(http: httpx.AsyncClient, admin_token: AdminToken) -> None:
    root = bearer(await admin_token("admin"))
    created = await http.post(
        "/v1/identity/admin/admins",
        json={"email": "temp@example.com", "password": PASSWORD, "roles": ["risk"]},
        headers=root,
    )
    assert created.status_code == 201
    disabled = await http.patch(
        f"/v1/identity/admin/admins/{created.json()['id']}", json={"disabled": True}, headers=root
    )
    assert disabled.json()["disabled"] is True
    response = await http.post("/v1/identity/admin/login", json={"email": "temp@example.com", "password": PASSWORD})
    assert (response.status_code, response.json()["code"]) == (403, "account_disabled")


async def test_admin_roles_when_changed_apply_at_next_login(http: httpx.AsyncClient, admin_token: AdminToken) -> None:
    root = bearer(await admin_token("admin"))
    created = await http.post(
        "/v1/identity/admin/admins",
        json={"email": "fin@example.com", "password": PASSWORD, "roles": ["finance"]},
        headers=root,
    )
    await http.patch(
        f"/v1/identity/admin/admins/{created.json()['id']}", json={"roles": ["risk", "support"]}, headers=root
    )
    login = await http.post("/v1/identity/admin/login", json={"email": "fin@example.com", "password": PASSWORD})
    assert login.json()["roles"] == ["risk", "support"]


async def test_admin_create_when_email_exists_answers_409(http: httpx.AsyncClient, admin_token: AdminToken) -> None:
    root = bearer(await admin_token("admin"))
    body = {"email": "dup@example.com", "password": PASSWORD, "roles": ["finance"]}
    assert (await http.post("/v1/identity/admin/admins", json=body, headers=root)).status_code == 201
    again = await http.post("/v1/identity/admin/admins", json=body, headers=root)
    assert (again.status_code, again.json()["code"]) == (409, "admin_exists")


async def test_brand_create_when_currency_unknown_to_wallet_answers_422(
    http: httpx.AsyncClient, admin_token: AdminToken
) -> None:
    root = bearer(await admin_token("admin"))
    body = {"id": "brand-x", "name": "X", "allowed_countries": ["MT"], "allowed_currencies": ["XYZ"]}
    response = await http.post("/v1/identity/admin/brands", json=body, headers=root)
    assert (response.status_code, response.json()["code"]) == (422, "unknown_currency")


async def test_brand_create_when_no_allowed_country_answers_422(
    http: httpx.AsyncClient, admin_token: AdminToken
) -> None:
    root = bearer(await admin_token("admin"))
    body = {"id": "brand-x", "name": "X", "allowed_countries": [], "allowed_currencies": ["EUR"]}
    response = await http.post("/v1/identity/admin/brands", json=body, headers=root)
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


async def test_brand_create_when_defaults_used_has_documented_defaults(
    http: httpx.AsyncClient, admin_token: AdminToken
) -> None:
    root = bearer(await admin_token("admin"))
    body = {"id": "brand-d", "name": "D", "allowed_countries": ["MT"], "allowed_currencies": ["EUR"]}
    brand = (await http.post("/v1/identity/admin/brands", json=body, headers=root)).json()
    assert brand["min_age"] == 18
    assert brand["kyc_required_for_withdrawal"] is True
    assert brand["kyc_required_for_deposit"] is False
    assert brand["kyc_deposit_threshold"] is None
    assert (brand["cooling_off_hours"], brand["reality_check_minutes"]) == (24, 60)
    assert brand["register_unreachable_on_registration"] == "deny"
    assert brand["register_unreachable_on_login"] == "allow"


async def test_brand_update_when_min_age_out_of_range_answers_422(
    http: httpx.AsyncClient, admin_token: AdminToken
) -> None:
    root = bearer(await admin_token("admin"))
    response = await http.patch("/v1/identity/admin/brands/brand-a", json={"min_age": 17}, headers=root)
    assert response.status_code == 422


async def test_kyc_when_risk_verifies_pending_player_is_verified_with_history(
    http: httpx.AsyncClient, admin_token: AdminToken, kyc_pending_player: tuple[ProfileOut, str]
) -> None:
    player, _ = kyc_pending_player
    risk = bearer(await admin_token("risk"))
    response = await http.post(
        f"/v1/identity/admin/players/{player.id}/kyc",
        json={"to": "verified", "reason": "passport checked"},
        headers=risk,
    )
    kyc = response.json()
    assert kyc["status"] == "verified"
    assert [(e["from_status"], e["to_status"]) for e in kyc["events"]] == [
        ("unverified", "pending"),
        ("pending", "verified"),
    ]
    assert kyc["events"][0]["by"] == "player"
    assert kyc["events"][0]["document"]["documents"][0]["number_last4"] == "4321"
    assert kyc["events"][1]["by"] != "player"


@pytest.mark.parametrize(
    ("first", "then"), [("verified", "pending"), ("verified", "rejected"), ("rejected", "verified")]
)
async def test_kyc_when_transition_invalid_answers_409_invalid_kyc_transition(
    http: httpx.AsyncClient,
    admin_token: AdminToken,
    kyc_pending_player: tuple[ProfileOut, str],
    first: str,
    then: str,
) -> None:
    player, _ = kyc_pending_player
    risk = bearer(await admin_token("risk"))
    path = f"/v1/identity/admin/players/{player.id}/kyc"
    assert (await http.post(path, json={"to": first, "reason": "r"}, headers=risk)).status_code == 200
    response = await http.post(path, json={"to": then, "reason": "r"}, headers=risk)
    assert (response.status_code, response.json()["code"]) == (409, "invalid_kyc_transition")


async def test_kyc_when_rejected_player_resubmits_becomes_pending_again(
    http: httpx.AsyncClient, admin_token: AdminToken, kyc_pending_player: tuple[ProfileOut, str]
) -> None:
    player, _ = kyc_pending_player
    risk = bearer(await admin_token("risk"))
    await http.post(
        f"/v1/identity/admin/players/{player.id}/kyc", json={"to": "rejected", "reason": "blurry"}, headers=risk
    )
    login = await http.post("/v1/identity/login", json={"brand_id": BRAND, "email": player.email, "password": PASSWORD})
    token = bearer(login.json()["access_token"])
    again = await http.post("/v1/identity/me/kyc/documents", json={"documents": [KYC_DOCUMENT]}, headers=token)
    assert again.json()["status"] == "pending"
    twice = await http.post("/v1/identity/me/kyc/documents", json={"documents": [KYC_DOCUMENT]}, headers=token)
    assert (twice.status_code, twice.json()["code"]) == (409, "invalid_kyc_transition")


async def test_kyc_when_document_expired_answers_422(http: httpx.AsyncClient, register: Register) -> None:
    player = await register()
    login = await http.post("/v1/identity/login", json={"brand_id": BRAND, "email": player.email, "password": PASSWORD})
    expired = {**KYC_DOCUMENT, "expires_on": "2020-01-01"}
    response = await http.post(
        "/v1/identity/me/kyc/documents", json={"documents": [expired]}, headers=bearer(login.json()["access_token"])
    )
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


async def test_players_when_listed_by_brand_and_email_find_the_player(
    http: httpx.AsyncClient, admin_token: AdminToken, register: Register
) -> None:
    player = await register()
    await register()
    finance = bearer(await admin_token("finance"))
    page = (
        await http.get(
            "/v1/identity/admin/players", params={"brand_id": BRAND, "email": player.email.upper()}, headers=finance
        )
    ).json()
    assert [p["id"] for p in page["items"]] == [str(player.id)]
    everyone = (await http.get("/v1/identity/admin/players", params={"limit": 1}, headers=finance)).json()
    assert len(everyone["items"]) == 1
    assert everyone["next_cursor"] is not None
