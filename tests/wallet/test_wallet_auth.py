"""The wallet API is internal: it answers services and back-office users, never players or anonymous callers.

Checked on both paths to it: the lean command path (money-moving POSTs) and the FastAPI routes (reads).
"""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from croupier.bootstrap import Platform
from croupier.kit.auth import Principal, TokenSigner
from croupier.kit.clock import ManualClock
from tests.conftest import TEST_AUTH_SECRET

ACCOUNT = {"brand_id": "b", "owner_type": "player", "owner_id": "p", "kind": "cash", "currency": "EUR"}


def token(principal: Principal, *, issued_at: datetime | None = None) -> str:
    clock = ManualClock(issued_at or datetime.now(UTC))
    value, _ = TokenSigner(TEST_AUTH_SECRET, lifetime=timedelta(minutes=10), clock=clock).issue(principal)
    return value


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


SERVICE = Principal("service", "cashier")
PLAYER = Principal("player", str(uuid.uuid4()), "b", str(uuid.uuid4()))


def admin(*roles: str) -> Principal:
    return Principal("admin", str(uuid.uuid4()), roles=frozenset(roles))


@pytest.fixture
async def http(http_base_url: str, platform: Platform) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=http_base_url, timeout=30.0)


def transfer_body() -> dict[str, object]:
    return {
        "idempotency_key": f"auth-{uuid.uuid4().hex}",
        "debit_account_id": str(uuid.uuid4()),
        "credit_account_id": str(uuid.uuid4()),
        "amount": 1,
        "currency": "EUR",
        "type": "bet",
    }


# Headers are made when the test runs, not when it is collected: a token made at collection would expire (10
# minutes) before a test late in a long run gets to use it, and be refused as unauthenticated instead of forbidden.
@pytest.mark.parametrize(
    ("make_headers", "status", "code"),
    [
        (lambda: {}, 401, "unauthenticated"),
        (lambda: {"authorization": "Basic dXNlcjpwYXNz"}, 401, "unauthenticated"),
        (lambda: bearer("not-a-jwt"), 401, "unauthenticated"),
        (lambda: bearer(token(SERVICE)[:-3] + "abc"), 401, "unauthenticated"),  # tampered signature
        (lambda: bearer(token(SERVICE, issued_at=datetime.now(UTC) - timedelta(minutes=11))), 401, "unauthenticated"),
        (lambda: bearer(token(PLAYER)), 403, "forbidden"),
        (lambda: bearer(token(admin("support"))), 403, "forbidden"),  # support reads, never moves money
    ],
    ids=["none", "basic", "not-a-jwt", "tampered", "expired", "player", "support-admin"],
)
async def test_money_moving_call_when_not_a_service_or_finance_admin_is_refused_and_writes_nothing(
    http: httpx.AsyncClient, platform: Platform, make_headers: Callable[[], dict[str, str]], status: int, code: str
) -> None:
    headers = make_headers()
    async with http:
        body = transfer_body()
        response = await http.post("/v1/wallet/transfers", json=body, headers=headers)
        account = await http.post("/v1/wallet/accounts", json=ACCOUNT, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert account.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    async with platform.db.connection() as connection:
        assert (
            await connection.fetchval("SELECT count(*) FROM wallet.requests WHERE key = $1", body["idempotency_key"])
            == 0
        )
        assert await connection.fetchval("SELECT count(*) FROM wallet.accounts WHERE owner_id = 'p'") == 0


@pytest.mark.parametrize("principal", [SERVICE, admin("finance"), admin("admin")])
async def test_money_moving_call_when_service_or_finance_admin_is_served(
    http: httpx.AsyncClient, principal: Principal
) -> None:
    async with http:
        response = await http.post("/v1/wallet/accounts", json=ACCOUNT, headers=bearer(token(principal)))
    assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize(
    ("principal", "status"),
    [(SERVICE, 200), (admin("support"), 200), (admin("risk"), 200), (admin("finance"), 200), (PLAYER, 403)],
)
async def test_read_when_caller_varies_is_served_to_services_and_back_office_only(
    http: httpx.AsyncClient, principal: Principal, status: int
) -> None:
    async with http:
        response = await http.get("/v1/wallet/transfers", headers=bearer(token(principal)))
        anonymous = await http.get("/v1/wallet/transfers")
    assert response.status_code == status
    assert anonymous.status_code == 401


async def test_health_when_anonymous_is_still_answered(http: httpx.AsyncClient) -> None:
    async with http:
        assert (await http.get("/health/live")).status_code == 200
        assert (await http.get("/health/ready")).status_code == 200
