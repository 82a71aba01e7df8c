"""Login, lockout, rate limits, access-token expiry, refresh rotation and reuse detection, logout."""

from datetime import timedelta

import asyncpg
import httpx
import pytest

from croupier.identity.errors import (
    AccountLocked,
    InvalidCredentials,
    InvalidRefreshToken,
    RateLimited,
    RefreshTokenExpired,
    RefreshTokenReused,
    SessionRevoked,
)
from croupier.identity.service import IdentityService
from croupier.kit.auth import Unauthenticated
from croupier.kit.clock import ManualClock
from tests.identity.conftest import BRAND, PASSWORD, Login, Register, bearer


async def test_login_when_password_right_returns_tokens_for_a_new_session(
    register: Register, login: Login, identity: IdentityService
) -> None:
    player = await register()
    tokens = await login(player.email)
    principal = identity.signer.verify(tokens.access_token)
    assert (principal.kind, principal.subject, principal.brand_id) == ("player", str(player.id), BRAND)
    assert principal.session_id == str(tokens.session_id)
    assert tokens.restricted is False
    assert tokens.expires_at - identity.clock() == timedelta(minutes=10)


async def test_login_when_password_wrong_is_invalid_credentials(register: Register, login: Login) -> None:
    player = await register()
    with pytest.raises(InvalidCredentials):
        await login(player.email, "wrong password!")


async def test_login_when_email_unknown_answers_like_a_wrong_password(
    http: httpx.AsyncClient, register: Register
) -> None:
    player = await register()
    wrong = await http.post(
        "/v1/identity/login", json={"brand_id": BRAND, "email": player.email, "password": "not the password"}
    )
    unknown = await http.post(
        "/v1/identity/login", json={"brand_id": BRAND, "email": "nobody@example.com", "password": "not the password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "invalid_credentials"


async def test_login_when_five_failures_locks_account_for_15_minutes_then_unlocks(
    register: Register, login: Login, clock: ManualClock
) -> None:
    player = await register()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await login(player.email, "wrong password!")
    with pytest.raises(AccountLocked) as locked:
        await login(player.email)  # even the right password waits
    assert locked.value.extensions["locked_until"] == (clock() + timedelta(minutes=15)).isoformat()
    clock.advance(timedelta(minutes=14, seconds=59))
    with pytest.raises(AccountLocked):
        await login(player.email)
    clock.advance(timedelta(seconds=1))
    assert (await login(player.email)).player_id == player.id


async def test_login_when_locked_over_http_answers_423_account_locked(
    http: httpx.AsyncClient, register: Register
) -> None:
    player = await register()
    body = {"brand_id": BRAND, "email": player.email, "password": "wrong password!"}
    for _ in range(5):
        assert (await http.post("/v1/identity/login", json=body)).status_code == 401
    response = await http.post("/v1/identity/login", json={**body, "password": PASSWORD})
    assert response.status_code == 423
    assert response.json()["code"] == "account_locked"
    assert "locked_until" in response.json()


async def test_login_when_success_in_between_resets_the_failure_count(register: Register, login: Login) -> None:
    player = await register()
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await login(player.email, "wrong password!")
    await login(player.email)
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await login(player.email, "wrong password!")
    await login(player.email)


async def test_login_when_21st_attempt_in_a_minute_from_one_ip_is_rate_limited(
    register: Register, login: Login, clock: ManualClock
) -> None:
    player = await register()
    for _ in range(20):
        await login(player.email, ip="192.0.2.77")
    with pytest.raises(RateLimited):
        await login(player.email, ip="192.0.2.77")
    await login(player.email, ip="192.0.2.78")  # another address is not affected
    clock.advance(timedelta(seconds=61))
    await login(player.email, ip="192.0.2.77")


async def test_login_when_rate_limited_over_http_answers_429_with_retry_after(
    http: httpx.AsyncClient, register: Register
) -> None:
    await register()
    body = {"brand_id": BRAND, "email": "nobody@example.com", "password": "whatever!!"}
    for _ in range(20):
        assert (await http.post("/v1/identity/login", json=body)).status_code == 401
    response = await http.post("/v1/identity/login", json=body)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_access_token_when_lifetime_passed_is_refused_token_expired(
    http: httpx.AsyncClient, register: Register, login: Login, clock: ManualClock
) -> None:
    tokens = await login((await register()).email)
    assert (await http.get("/v1/identity/me", headers=bearer(tokens.access_token))).status_code == 200
    clock.advance(timedelta(minutes=10))
    response = await http.get("/v1/identity/me", headers=bearer(tokens.access_token))
    assert response.status_code == 401
    assert response.json()["reason"] == "token_expired"


async def test_access_token_when_tampered_is_refused_invalid_token(
    http: httpx.AsyncClient, register: Register, login: Login, identity: IdentityService
) -> None:
    tokens = await login((await register()).email)
    header, payload, signature = tokens.access_token.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(Unauthenticated):
        identity.signer.verify(tampered)
    response = await http.get("/v1/identity/me", headers=bearer(tampered))
    assert response.status_code == 401
    assert response.json()["reason"] == "invalid_token"


async def test_refresh_when_token_fresh_rotates_it_and_keeps_the_session(
    register: Register, login: Login, identity: IdentityService, db: asyncpg.Connection
) -> None:
    first = await login((await register()).email)
    second = await identity.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.session_id == first.session_id
    third = await identity.refresh(second.refresh_token)
    assert third.session_id == first.session_id
    stored = await db.fetch("SELECT token_hash FROM identity.refresh_tokens")
    assert all(first.refresh_token.encode() not in bytes(row["token_hash"]) for row in stored)
    assert len(stored) == 3


async def test_refresh_when_token_used_twice_revokes_the_session_and_every_token(
    register: Register, login: Login, identity: IdentityService, http: httpx.AsyncClient
) -> None:
    first = await login((await register()).email)
    second = await identity.refresh(first.refresh_token)
    with pytest.raises(RefreshTokenReused):
        await identity.refresh(first.refresh_token)
    with pytest.raises(SessionRevoked):
        await identity.refresh(second.refresh_token)  # the family is gone: the newest token too
    response = await http.get("/v1/identity/me", headers=bearer(second.access_token))
    assert response.status_code == 401
    assert response.json()["code"] == "session_revoked"


async def test_refresh_when_reused_over_http_answers_401_refresh_token_reused(
    register: Register, login: Login, http: httpx.AsyncClient
) -> None:
    first = await login((await register()).email)
    assert (await http.post("/v1/identity/token/refresh", json={"refresh_token": first.refresh_token})).is_success
    again = await http.post("/v1/identity/token/refresh", json={"refresh_token": first.refresh_token})
    assert again.status_code == 401
    assert again.json()["code"] == "refresh_token_reused"


async def test_refresh_when_token_unknown_is_invalid_refresh_token(identity: IdentityService) -> None:
    with pytest.raises(InvalidRefreshToken):
        await identity.refresh("not-a-token-we-issued")


async def test_refresh_when_family_lifetime_passed_is_refresh_token_expired(
    register: Register, login: Login, identity: IdentityService, clock: ManualClock
) -> None:
    tokens = await login((await register()).email)
    clock.advance(timedelta(days=30))
    with pytest.raises(RefreshTokenExpired):
        await identity.refresh(tokens.refresh_token)


async def test_logout_when_called_revokes_the_session_for_access_and_refresh(
    register: Register, login: Login, identity: IdentityService, http: httpx.AsyncClient
) -> None:
    tokens = await login((await register()).email)
    assert (await http.post("/v1/identity/logout", json={}, headers=bearer(tokens.access_token))).status_code == 204
    me = await http.get("/v1/identity/me", headers=bearer(tokens.access_token))
    assert (me.status_code, me.json()["code"]) == (401, "session_revoked")
    with pytest.raises(SessionRevoked):
        await identity.refresh(tokens.refresh_token)
