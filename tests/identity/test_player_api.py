"""The player's own resources over HTTP: profile, sessions, KYC, and that no player reaches another's data."""

import httpx
import pytest

from croupier.identity.schemas import ProfileOut, TokenPairOut
from tests.identity.conftest import Login, Register, bearer


@pytest.fixture
async def alice(register: Register) -> ProfileOut:
    return await register(first_name="Alice")


@pytest.fixture
async def bob(register: Register) -> ProfileOut:
    return await register(first_name="Bob")


async def _tokens(login: Login, player: ProfileOut) -> TokenPairOut:
    return await login(player.email)


async def test_register_over_http_answers_201_with_the_profile(http: httpx.AsyncClient) -> None:
    body = {
        "email": "Dora@Example.com",
        "password": "a long enough password",
        "date_of_birth": "1990-01-02",
        "country": "MT",
        "currency": "EUR",
        "postcode": "VLT 1117",
    }
    response = await http.post("/v1/identity/brands/brand-a/players", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["email"] == "dora@example.com"
    assert response.json()["status"] == "active"
    assert "password" not in response.text


async def test_register_over_http_when_password_short_answers_422(http: httpx.AsyncClient) -> None:
    body = {"email": "e@example.com", "password": "short", "date_of_birth": "1990-01-02", "country": "MT"}
    response = await http.post("/v1/identity/brands/brand-a/players", json={**body, "currency": "EUR"})
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


async def test_register_over_http_when_brand_unknown_answers_404(http: httpx.AsyncClient) -> None:
    body = {
        "email": "e@example.com",
        "password": "a long enough password",
        "date_of_birth": "1990-01-02",
        "country": "MT",
        "currency": "EUR",
    }
    response = await http.post("/v1/identity/brands/no-such-brand/players", json=body)
    assert (response.status_code, response.json()["code"]) == (404, "brand_not_found")


async def test_me_when_called_returns_only_the_callers_profile(
    http: httpx.AsyncClient, login: Login, alice: ProfileOut, bob: ProfileOut
) -> None:
    for player in (alice, bob):
        tokens = await _tokens(login, player)
        response = await http.get("/v1/identity/me", headers=bearer(tokens.access_token))
        assert response.json()["id"] == str(player.id)


async def test_me_when_no_token_answers_401(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/identity/me")
    assert (response.status_code, response.json()["reason"]) == (401, "missing_token")


async def test_patch_me_when_changed_updates_only_the_callers_profile(
    http: httpx.AsyncClient, login: Login, alice: ProfileOut, bob: ProfileOut
) -> None:
    tokens = await _tokens(login, alice)
    response = await http.patch("/v1/identity/me", json={"postcode": "SW1A 1AA"}, headers=bearer(tokens.access_token))
    assert response.status_code == 200
    assert response.json()["postcode"] == "SW1A 1AA"
    bob_tokens = await _tokens(login, bob)
    bob_now = (await http.get("/v1/identity/me", headers=bearer(bob_tokens.access_token))).json()
    assert bob_now["postcode"] is None


async def test_patch_me_when_identity_field_sent_answers_422(
    http: httpx.AsyncClient, login: Login, alice: ProfileOut
) -> None:
    tokens = await _tokens(login, alice)
    for field, value in (("email", "x@example.com"), ("date_of_birth", "1970-01-01"), ("id", str(alice.id))):
        response = await http.patch("/v1/identity/me", json={field: value}, headers=bearer(tokens.access_token))
        assert response.status_code == 422, field


async def test_patch_me_when_names_change_during_pending_kyc_answers_409_profile_locked(
    http: httpx.AsyncClient, login: Login, alice: ProfileOut
) -> None:
    tokens = await _tokens(login, alice)
    document = {"type": "passport", "number_last4": "1234", "issuing_country": "GB", "expires_on": "2030-01-01"}
    submitted = await http.post(
        "/v1/identity/me/kyc/documents", json={"documents": [document]}, headers=bearer(tokens.access_token)
    )
    assert submitted.status_code == 201
    response = await http.patch("/v1/identity/me", json={"last_name": "Other"}, headers=bearer(tokens.access_token))
    assert (response.status_code, response.json()["code"]) == (409, "profile_locked")


async def test_sessions_when_listed_show_only_the_callers_sessions_marking_current(
    http: httpx.AsyncClient, login: Login, alice: ProfileOut, bob: ProfileOut
) -> None:
    first = await _tokens(login, alice)
    second = await _tokens(login, alice)
    await _tokens(login, bob)
    response = await http.get("/v1/identity/me/sessions", headers=bearer(second.access_token))
    sessions = response.json()
    assert {s["id"] for s in sessions} == {str(first.session_id), str(second.session_id)}
    assert {s["id"] for s in sessions if s["current"]} == {str(second.session_id)}
    assert all(s["player_id"] == str(alice.id) for s in sessions)


async def test_session_when_revoked_by_its_player_refuses_its_access_token(
    http: httpx.AsyncClient, login: Login, alice: ProfileOut
) -> None:
    phone = await _tokens(login, alice)
    laptop = await _tokens(login, alice)
    response = await http.delete(f"/v1/identity/me/sessions/{phone.session_id}", headers=bearer(laptop.access_token))
    assert response.status_code == 204
    refused = await http.get("/v1/identity/me", headers=bearer(phone.access_token))
    assert (refused.status_code, refused.json()["code"]) == (401, "session_revoked")
    assert (await http.get("/v1/identity/me", headers=bearer(laptop.access_token))).status_code == 200


async def test_sessions_when_revoking_all_others_keeps_only_the_current(
    http: httpx.AsyncClient, login: Login, alice: ProfileOut
) -> None:
    others = [await _tokens(login, alice) for _ in range(2)]
    current = await _tokens(login, alice)
    response = await http.delete("/v1/identity/me/sessions", headers=bearer(current.access_token))
    assert response.json() == {"revoked": 2}
    for tokens in others:
        assert (await http.get("/v1/identity/me", headers=bearer(tokens.access_token))).status_code == 401
    listed = (await http.get("/v1/identity/me/sessions", headers=bearer(current.access_token))).json()
    assert [s["id"] for s in listed] == [str(current.session_id)]


async def test_session_of_another_player_when_revoked_answers_404_and_stays_open(
    http: httpx.AsyncClient, login: Login, alice: ProfileOut, bob: ProfileOut
) -> None:
    alice_tokens = await _tokens(login, alice)
    bob_tokens = await _tokens(login, bob)
    response = await http.delete(
        f"/v1/identity/me/sessions/{alice_tokens.session_id}", headers=bearer(bob_tokens.access_token)
    )
    assert (response.status_code, response.json()["code"]) == (404, "session_not_found")
    assert (await http.get("/v1/identity/me", headers=bearer(alice_tokens.access_token))).status_code == 200


async def test_kyc_of_another_player_when_submitted_changes_only_the_callers_status(
    http: httpx.AsyncClient, login: Login, alice: ProfileOut, bob: ProfileOut
) -> None:
    bob_tokens = await _tokens(login, bob)
    document = {"type": "id_card", "number_last4": "9Z9Z", "issuing_country": "MT", "expires_on": "2031-06-30"}
    await http.post(
        "/v1/identity/me/kyc/documents", json={"documents": [document]}, headers=bearer(bob_tokens.access_token)
    )
    alice_tokens = await _tokens(login, alice)
    alice_kyc = (await http.get("/v1/identity/me/kyc", headers=bearer(alice_tokens.access_token))).json()
    assert (alice_kyc["status"], alice_kyc["events"]) == ("unverified", [])
    bob_kyc = (await http.get("/v1/identity/me/kyc", headers=bearer(bob_tokens.access_token))).json()
    assert bob_kyc["player_id"] == str(bob.id)
    assert bob_kyc["status"] == "pending"


async def test_player_token_when_used_on_admin_endpoints_answers_403(
    http: httpx.AsyncClient, login: Login, alice: ProfileOut, bob: ProfileOut
) -> None:
    tokens = await _tokens(login, alice)
    for path in (f"/v1/identity/admin/players/{bob.id}", f"/v1/identity/admin/players/{bob.id}/kyc"):
        response = await http.get(path, headers=bearer(tokens.access_token))
        assert (response.status_code, response.json()["code"]) == (403, "forbidden"), path


async def test_admin_token_when_used_on_player_endpoints_answers_403(
    http: httpx.AsyncClient, admin_token: object
) -> None:
    token = await admin_token("admin")  # type: ignore[operator]
    response = await http.get("/v1/identity/me", headers=bearer(token))
    assert response.status_code == 403


async def test_logout_when_called_by_one_player_leaves_another_players_session_open(
    http: httpx.AsyncClient, login: Login, alice: ProfileOut, bob: ProfileOut
) -> None:
    alice_tokens = await _tokens(login, alice)
    bob_tokens = await _tokens(login, bob)
    assert (await http.post("/v1/identity/logout", json={}, headers=bearer(bob_tokens.access_token))).status_code == 204
    assert (await http.get("/v1/identity/me", headers=bearer(alice_tokens.access_token))).status_code == 200
    assert (await http.get("/v1/identity/me", headers=bearer(bob_tokens.access_token))).status_code == 401
