"""Bad input over real HTTP: every refusal is a 4xx problem+json body with a stable `code`, and writes nothing.

Each case runs against a real uvicorn server (`http_base_url`) on the test's own PostgreSQL database, and compares a
snapshot of the wallet tables (row counts and balance sums, read through `db`) taken before and after the bad request.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.conftest import service_headers

MAX_MINOR_UNITS = 2**63 - 1
ONE_MIB = 1024 * 1024
BRAND = "brand-bad-input"
PLAYER_FUNDS = 10_000
HOLD_AMOUNT = 500
ABOVE_HOLD = HOLD_AMOUNT + 1
PROBLEM_JSON = "application/problem+json"
JSON_HEADERS = {"content-type": "application/json"}
PROBLEM_FIELDS = ("type", "title", "status", "detail", "code")

#: Every code the platform documents (kit/http.py, kit/errors.py, wallet/errors.py). A 4xx must carry one of them.
KNOWN_CODES = frozenset(
    {
        "validation_error",
        "account_exists",
        "internal_error",
        "malformed_json",
        "malformed_request",
        "payload_too_large",
        "unsupported_media_type",
        "not_found",
        "method_not_allowed",
        "conflict",
        "unknown_currency",
        "amount_out_of_range",
        "account_not_found",
        "transfer_not_found",
        "hold_not_found",
        "insufficient_funds",
        "currency_mismatch",
        "brand_mismatch",
        "amount_overflow",
        "idempotency_conflict",
        "transfer_tombstoned",
        "already_reversed",
        "not_reversible",
        "hold_already_resolved",
        "hold_expired",
        "post_exceeds_hold",
    }
)


# -- what the database holds --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    transfers: int
    requests: int
    outbox: int
    transfer_events: int
    accounts: int
    hold_expiries: int
    currencies: int
    debits_posted: Decimal
    credits_posted: Decimal
    debits_pending: Decimal
    credits_pending: Decimal


SNAPSHOT_SQL = """
SELECT (SELECT count(*) FROM wallet.transfers) AS transfers,
       (SELECT count(*) FROM wallet.requests) AS requests,
       (SELECT count(*) FROM wallet.outbox) AS outbox,
       (SELECT count(*) FROM wallet.transfer_events) AS transfer_events,
       (SELECT count(*) FROM wallet.accounts) AS accounts,
       (SELECT count(*) FROM wallet.hold_expiries) AS hold_expiries,
       (SELECT count(*) FROM wallet.currencies) AS currencies,
       totals.debits_posted, totals.credits_posted, totals.debits_pending, totals.credits_pending
FROM (SELECT coalesce(sum(debits_posted), 0)::numeric AS debits_posted,
             coalesce(sum(credits_posted), 0)::numeric AS credits_posted,
             coalesce(sum(debits_pending), 0)::numeric AS debits_pending,
             coalesce(sum(credits_pending), 0)::numeric AS credits_pending
      FROM wallet.accounts) AS totals
"""


async def snapshot(db: asyncpg.Connection) -> Snapshot:
    """Row counts of the wallet tables and the sums of the accounts' balance columns."""
    row = await db.fetchrow(SNAPSHOT_SQL)
    assert row is not None
    return Snapshot(**dict(row))


# -- a small ledger to be refused against -------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    house: str  # EUR house bankroll, may go negative
    player: str  # EUR player cash account holding PLAYER_FUNDS (minus the open hold)
    other_player: str  # EUR player cash account, empty
    usd_player: str  # USD player cash account, empty
    big_debit: str  # EUR house account whose debits_posted is MAX_MINOR_UNITS
    big_credit: str  # EUR house account whose credits_posted is MAX_MINOR_UNITS
    hold: str  # open hold of HOLD_AMOUNT from player to house, no expiry
    transfer: str  # a committed bet from player to house
    transfer_key: str  # the bet's idempotency key


def new_key(prefix: str = "bad") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def fresh_id(world: World) -> str:
    """An account, transfer or hold id nobody has."""
    return str(uuid.uuid4())


@pytest.fixture
async def client(http_base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=http_base_url, timeout=60.0, headers=service_headers()) as http:
        yield http


async def _post_ok(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def _open(
    client: httpx.AsyncClient,
    owner_type: str,
    owner_id: str,
    kind: str,
    *,
    currency: str = "EUR",
    allow_negative: bool = False,
) -> str:
    body = {
        "brand_id": BRAND,
        "owner_type": owner_type,
        "owner_id": owner_id,
        "kind": kind,
        "currency": currency,
        "allow_negative": allow_negative,
    }
    return str((await _post_ok(client, "/v1/wallet/accounts", body))["id"])


async def _move(client: httpx.AsyncClient, path: str, debit: str, credit: str, amount: int, key: str) -> str:
    body = {
        "idempotency_key": key,
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount": amount,
        "currency": "EUR",
        "type": "bet" if path.endswith("transfers") else "hold",
    }
    return str((await _post_ok(client, path, body))["transfer"]["id"])


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    house = await _open(client, "house", "house", "bankroll", allow_negative=True)
    player = await _open(client, "player", "player-1", "cash")
    other_player = await _open(client, "player", "player-2", "cash")
    usd_player = await _open(client, "player", "player-1", "cash", currency="USD")
    big_debit = await _open(client, "house", "house", "fx", allow_negative=True)
    big_credit = await _open(client, "house", "house", "jackpot", allow_negative=True)
    await _move(client, "/v1/wallet/transfers", house, player, PLAYER_FUNDS, new_key("deposit"))
    await _move(client, "/v1/wallet/transfers", big_debit, big_credit, MAX_MINOR_UNITS, new_key("fill"))
    hold = await _move(client, "/v1/wallet/holds", player, house, HOLD_AMOUNT, new_key("hold"))
    transfer_key = new_key("bet")
    transfer = await _move(client, "/v1/wallet/transfers", player, house, 100, transfer_key)
    return World(house, player, other_player, usd_player, big_debit, big_credit, hold, transfer, transfer_key)


# -- request bodies -----------------------------------------------------------------------------------------------

DROP = object()  # as a change: remove the field
Body = Callable[[World], Any]
Change = Any | Callable[[World], Any]


def _changed(body: dict[str, Any], world: World, changes: dict[str, Change]) -> dict[str, Any]:
    for name, value in changes.items():
        resolved = value(world) if callable(value) else value
        if resolved is DROP:
            body.pop(name, None)
        else:
            body[name] = resolved
    return body


def leg(world: World) -> dict[str, Any]:
    """A valid transfer leg: the player bets 100 EUR cents."""
    return {
        "debit_account_id": world.player,
        "credit_account_id": world.house,
        "amount": 100,
        "currency": "EUR",
        "type": "bet",
        "metadata": {"round": "r-1"},
    }


def transfer_with(**changes: Change) -> Body:
    """A valid transfer body with some fields changed (a callable value is given the World; DROP removes)."""
    return lambda world: _changed({"idempotency_key": new_key(), **leg(world)}, world, changes)


def batch_with(**changes: Change) -> Body:
    return lambda world: _changed({"idempotency_key": new_key(), "transfers": [leg(world)]}, world, changes)


def batch_leg_with(**changes: Change) -> Body:
    return lambda world: {"idempotency_key": new_key(), "transfers": [leg(world), _changed(leg(world), world, changes)]}


def hold_with(**changes: Change) -> Body:
    return lambda world: _changed({"idempotency_key": new_key(), **leg(world), "type": "hold"}, world, changes)


def post_with(**changes: Change) -> Body:
    return lambda world: _changed({"idempotency_key": new_key()}, world, changes)


def reversal_with(**changes: Change) -> Body:
    return lambda world: _changed({"idempotency_key": new_key(), "transfer_id": world.transfer}, world, changes)


def account_with(**changes: Change) -> Body:
    base = {
        "brand_id": BRAND,
        "owner_type": "player",
        "owner_id": "player-new",
        "kind": "cash",
        "currency": "EUR",
    }
    return lambda world: _changed(dict(base), world, changes)


# -- cases --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str  # formatted with the World's fields, e.g. "/v1/wallet/holds/{hold}/post"
    status: int
    code: str
    json: Body | None = None  # a body serialised with json.dumps (so huge ints and escaped surrogates go as they are)
    content: bytes | None = None  # a raw body, sent byte for byte
    headers: dict[str, str] | None = None  # None: Content-Type application/json when there is a body
    chunked: bool = False  # send the body with Transfer-Encoding: chunked, without Content-Length

    def __str__(self) -> str:
        return self.id


def post(path: str, case_id: str, status: int, code: str, body: Body) -> Case:
    return Case(case_id, "POST", path, status, code, json=body)


def invalid(path: str, case_id: str, body: Body) -> Case:
    return post(path, case_id, 422, "validation_error", body)


TRANSFERS = "/v1/wallet/transfers"
OVERSIZED = b'{"metadata": {"blob": "' + b"a" * ONE_MIB + b'"}}'
T = TRANSFERS

TRANSFER_CASES = [
    post(T, "currency-of-other-accounts", 422, "currency_mismatch", transfer_with(currency="USD")),
    post(T, "credit-account-in-usd", 422, "currency_mismatch", transfer_with(credit_account_id=lambda w: w.usd_player)),
    post(T, "currency-unknown-xxx", 422, "unknown_currency", transfer_with(currency="XXX")),
    invalid(T, "currency-lowercase", transfer_with(currency="eur")),
    invalid(T, "currency-empty", transfer_with(currency="")),
    invalid(T, "currency-number", transfer_with(currency=978)),
    invalid(T, "amount-zero", transfer_with(amount=0)),
    invalid(T, "amount-negative", transfer_with(amount=-1)),
    invalid(T, "amount-2pow63-overflows-bigint", transfer_with(amount=2**63)),
    invalid(T, "amount-10pow30", transfer_with(amount=10**30)),
    invalid(T, "amount-float-1.5", transfer_with(amount=1.5)),
    invalid(T, "amount-float-1.0", transfer_with(amount=1.0)),
    invalid(T, "amount-string", transfer_with(amount="100")),
    invalid(T, "amount-null", transfer_with(amount=None)),
    invalid(T, "amount-true", transfer_with(amount=True)),
    invalid(T, "amount-object", transfer_with(amount={"value": 100})),
    *(
        invalid(T, f"missing-{name}", transfer_with(**{name: DROP}))
        for name in ("idempotency_key", "debit_account_id", "credit_account_id", "amount", "currency", "type")
    ),
    invalid(T, "extra-unknown-field", transfer_with(memo="free text")),
    post(T, "debit-account-unknown", 404, "account_not_found", transfer_with(debit_account_id=fresh_id)),
    post(T, "credit-account-unknown", 404, "account_not_found", transfer_with(credit_account_id=fresh_id)),
    invalid(T, "same-account-both-sides", transfer_with(credit_account_id=lambda w: w.player)),
    invalid(T, "account-id-not-a-uuid", transfer_with(debit_account_id="not-a-uuid")),
    invalid(T, "account-id-integer", transfer_with(credit_account_id=42)),
    invalid(T, "type-with-uppercase-and-space", transfer_with(type="Big Bet")),
    invalid(T, "idempotency-key-with-spaces", transfer_with(idempotency_key="my key")),
    invalid(T, "idempotency-key-empty", transfer_with(idempotency_key="")),
    invalid(T, "idempotency-key-201-chars", transfer_with(idempotency_key="k" * 201)),
    invalid(T, "idempotency-key-reserved-prefix", transfer_with(idempotency_key="wallet:hold-expiry:x")),
    invalid(T, "idempotency-key-non-ascii", transfer_with(idempotency_key="clé")),
    invalid(T, "metadata-over-4kib", transfer_with(metadata={"blob": "a" * 4097})),
    invalid(T, "metadata-not-an-object", transfer_with(metadata=["round", "r-1"])),
    invalid(T, "metadata-with-nul-character", transfer_with(metadata={"note": "a\x00b"})),
    invalid(T, "metadata-with-int-beyond-64-bits", transfer_with(metadata={"big": 2**64})),
    invalid(T, "metadata-with-lone-surrogate", transfer_with(metadata={"note": "\ud800"})),
    post(T, "idempotency-key-reused-with-other-content", 409, "idempotency_conflict",
         transfer_with(idempotency_key=lambda w: w.transfer_key, amount=101)),
    post(T, "funds-short", 422, "insufficient_funds", transfer_with(amount=PLAYER_FUNDS + 1)),
    post(T, "credit-balance-would-overflow", 422, "amount_overflow",
         transfer_with(debit_account_id=lambda w: w.house, credit_account_id=lambda w: w.big_credit, amount=1)),
    post(T, "debit-balance-would-overflow", 422, "amount_overflow",
         transfer_with(debit_account_id=lambda w: w.big_debit, credit_account_id=lambda w: w.house, amount=1)),
    Case("json-malformed", "POST", T, 400, "malformed_json", content=b'{"amount": '),
    Case("json-trailing-garbage", "POST", T, 400, "malformed_json", content=b'{"amount": 1} x'),
    Case("json-invalid-utf8", "POST", T, 400, "malformed_json", content=b'{"type": "\xff\xfe"}'),
    Case("json-array", "POST", T, 422, "validation_error", json=lambda w: [transfer_with()(w)]),
    Case("json-empty-array", "POST", T, 422, "validation_error", content=b"[]"),
    Case("json-scalar-number", "POST", T, 422, "validation_error", content=b"42"),
    Case("json-scalar-string", "POST", T, 422, "validation_error", content=b'"transfer"'),
    Case("json-null", "POST", T, 422, "validation_error", content=b"null"),
    Case("json-empty-object", "POST", T, 422, "validation_error", content=b"{}"),
    Case("body-empty", "POST", T, 422, "validation_error", content=b""),
    Case("body-over-1mib-with-content-length", "POST", T, 413, "payload_too_large", content=OVERSIZED),
    Case("body-over-1mib-chunked", "POST", T, 413, "payload_too_large", content=OVERSIZED, chunked=True),
    Case("content-type-text-plain", "POST", T, 415, "unsupported_media_type", json=transfer_with(),
         headers={"content-type": "text/plain"}),
    Case("content-type-form", "POST", T, 415, "unsupported_media_type", content=b"amount=1",
         headers={"content-type": "application/x-www-form-urlencoded"}),
    Case("content-type-missing", "POST", T, 415, "unsupported_media_type", json=transfer_with(), headers={}),
]  # fmt: skip

BATCH = "/v1/wallet/transfers/batch"
BATCH_CASES = [
    invalid(BATCH, "no-transfers", batch_with(transfers=[])),
    invalid(BATCH, "101-transfers", batch_with(transfers=lambda w: [leg(w)] * 101)),
    invalid(BATCH, "transfers-not-a-list", batch_with(transfers=lambda w: leg(w))),
    invalid(BATCH, "leg-amount-zero", batch_leg_with(amount=0)),
    invalid(BATCH, "leg-extra-field", batch_leg_with(idempotency_key="per-leg-key")),
    invalid(BATCH, "leg-same-account-both-sides", batch_leg_with(credit_account_id=lambda w: w.player)),
    post(BATCH, "leg-account-unknown", 404, "account_not_found", batch_leg_with(debit_account_id=fresh_id)),
    post(BATCH, "leg-currency-mismatch", 422, "currency_mismatch", batch_leg_with(currency="USD")),
    post(BATCH, "second-leg-funds-short", 422, "insufficient_funds", batch_leg_with(amount=PLAYER_FUNDS)),
]  # fmt: skip

ACCOUNTS = "/v1/wallet/accounts"
ACCOUNT_CASES = [
    invalid(ACCOUNTS, "player-allow-negative", account_with(allow_negative=True)),
    post(ACCOUNTS, "currency-unknown-xxx", 422, "unknown_currency", account_with(currency="XXX")),
    invalid(ACCOUNTS, "currency-lowercase", account_with(currency="eur")),
    invalid(ACCOUNTS, "brand-id-with-space", account_with(brand_id="brand eu")),
    invalid(ACCOUNTS, "brand-id-empty", account_with(brand_id="")),
    invalid(ACCOUNTS, "brand-id-65-chars", account_with(brand_id="b" * 65)),
    invalid(ACCOUNTS, "brand-id-number", account_with(brand_id=7)),
    invalid(ACCOUNTS, "owner-type-unknown", account_with(owner_type="dealer")),
    invalid(ACCOUNTS, "allow-negative-string", account_with(owner_type="house", allow_negative="yes")),
    invalid(ACCOUNTS, "missing-kind", account_with(kind=DROP)),
    invalid(ACCOUNTS, "extra-field", account_with(balance=1_000_000)),
    invalid(ACCOUNTS, "metadata-with-nul-character", account_with(metadata={"note": "\x00"})),
    post(ACCOUNTS, "house-exists-with-other-allow-negative", 409, "account_exists",
         account_with(owner_type="house", owner_id="house", kind="bankroll", allow_negative=False)),
]  # fmt: skip

HOLDS = "/v1/wallet/holds"
HOLD_CASES = [
    invalid(HOLDS, "expires-at-without-timezone", hold_with(expires_at="2030-01-01T00:00:00")),
    invalid(HOLDS, "expires-at-not-a-date", hold_with(expires_at="tomorrow")),
    invalid(HOLDS, "expires-at-in-the-past", hold_with(expires_at="2020-01-01T00:00:00+00:00")),
    invalid(HOLDS, "expires-at-beyond-representable", hold_with(expires_at="9999-12-31T23:59:59-14:00")),
    invalid(HOLDS, "amount-zero", hold_with(amount=0)),
    invalid(HOLDS, "amount-float", hold_with(amount=2.5)),
    post(HOLDS, "account-unknown", 404, "account_not_found", hold_with(credit_account_id=fresh_id)),
    post(HOLDS, "funds-short", 422, "insufficient_funds", hold_with(amount=PLAYER_FUNDS)),
]  # fmt: skip

UNKNOWN = "01a2014c-0000-7000-8000-000000000000"
HOLD_RESOLUTION_CASES = [
    post(f"/v1/wallet/holds/{UNKNOWN}/post", "post-unknown-hold", 404, "hold_not_found", post_with()),
    post("/v1/wallet/holds/{transfer}/post", "post-a-transfer-not-a-hold", 404, "hold_not_found", post_with()),
    post("/v1/wallet/holds/{hold}/post", "post-more-than-held", 422, "post_exceeds_hold", post_with(amount=ABOVE_HOLD)),
    invalid("/v1/wallet/holds/{hold}/post", "post-amount-zero", post_with(amount=0)),
    invalid("/v1/wallet/holds/{hold}/post", "post-extra-field", post_with(currency="EUR")),
    invalid("/v1/wallet/holds/not-a-uuid/post", "post-hold-id-not-a-uuid", post_with()),
    post(f"/v1/wallet/holds/{UNKNOWN}/void", "void-unknown-hold", 404, "hold_not_found", post_with()),
    invalid("/v1/wallet/holds/{hold}/void", "void-with-amount", post_with(amount=1)),
]  # fmt: skip

REVERSALS = "/v1/wallet/reversals"
REVERSAL_CASES = [
    invalid(REVERSALS, "both-id-and-original-key", reversal_with(original_idempotency_key=lambda w: w.transfer_key)),
    invalid(REVERSALS, "neither-id-nor-original-key", reversal_with(transfer_id=DROP)),
    invalid(REVERSALS, "original-key-is-its-own-key",
            reversal_with(transfer_id=DROP, idempotency_key="self-1", original_idempotency_key="self-1")),
    invalid(REVERSALS, "transfer-id-not-a-uuid", reversal_with(transfer_id="abc")),
    invalid(REVERSALS, "type-invalid", reversal_with(type="Not A Type")),
    post(REVERSALS, "transfer-unknown", 404, "transfer_not_found", reversal_with(transfer_id=UNKNOWN)),
    post(REVERSALS, "reversing-a-hold", 422, "not_reversible", reversal_with(transfer_id=lambda w: w.hold)),
]  # fmt: skip


def get(path: str, case_id: str, status: int = 422, code: str = "validation_error") -> Case:
    return Case(case_id, "GET", path, status, code)


READ_CASES = [
    get("/v1/wallet/transfers?cursor=abc", "transfers-cursor-not-ours"),
    get("/v1/wallet/transfers?cursor=!!!!", "transfers-cursor-garbage"),
    get("/v1/wallet/transfers?cursor=" + "A" * 65, "transfers-cursor-too-long"),
    get("/v1/wallet/transfers?limit=0", "transfers-limit-0"),
    get("/v1/wallet/transfers?limit=10000", "transfers-limit-10000"),
    get("/v1/wallet/transfers?limit=ten", "transfers-limit-not-a-number"),
    get("/v1/wallet/accounts?limit=0", "accounts-limit-0"),
    get("/v1/wallet/accounts?brand_id=a%00b", "accounts-brand-with-nul"),
    get("/v1/wallet/accounts?owner_id=a%00b", "accounts-owner-with-nul"),
    get("/v1/wallet/accounts?currency=EU%00R", "accounts-currency-with-nul"),
    get("/v1/wallet/accounts?limit=10000", "accounts-limit-10000"),
    get("/v1/wallet/accounts?cursor=abc", "accounts-cursor-not-ours"),
    get("/v1/wallet/accounts?owner_type=dealer", "accounts-owner-type-unknown"),
    get("/v1/wallet/accounts/{player}/transfers?limit=0", "account-transfers-limit-0"),
    get("/v1/wallet/accounts/{player}/transfers?cursor=abc", "account-transfers-cursor-not-ours"),
    get("/v1/wallet/accounts/not-a-uuid", "account-id-not-a-uuid"),
    get(f"/v1/wallet/accounts/{UNKNOWN}", "account-unknown", 404, "account_not_found"),
    get(f"/v1/wallet/accounts/{UNKNOWN}/balance", "balance-of-unknown-account", 404, "account_not_found"),
    get(f"/v1/wallet/accounts/{UNKNOWN}/transfers", "transfers-of-unknown-account", 404, "account_not_found"),
    get(f"/v1/wallet/transfers/{UNKNOWN}", "transfer-unknown", 404, "transfer_not_found"),
    get(f"/v1/wallet/holds/{UNKNOWN}", "hold-unknown", 404, "hold_not_found"),
    get("/v1/wallet/holds/{transfer}", "hold-that-is-a-transfer", 404, "hold_not_found"),
]

ROUTING_CASES = [
    get("/v1/wallet/nothing-here", "unknown-wallet-route", 404, "not_found"),
    get("/v2/anything", "unknown-route", 404, "not_found"),
    Case("unknown-route-post", "POST", "/v1/wallet/bets", 404, "not_found", json=transfer_with()),
    Case("delete-transfers", "DELETE", TRANSFERS, 405, "method_not_allowed"),
    Case("put-account", "PUT", "/v1/wallet/accounts/{player}", 405, "method_not_allowed", json=account_with()),
    get(REVERSALS, "get-reversals", 405, "method_not_allowed"),
    get("/v1/wallet/holds/{hold}/post", "get-hold-post", 405, "method_not_allowed"),
]


# -- sending and checking -----------------------------------------------------------------------------------------


async def _chunks(payload: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


async def send(client: httpx.AsyncClient, case: Case, world: World) -> httpx.Response:
    path = case.path.format(**asdict(world))
    payload = json.dumps(case.json(world)).encode() if case.json is not None else case.content
    if payload is None:
        return await client.request(case.method, path)
    headers = JSON_HEADERS if case.headers is None else case.headers
    content: bytes | AsyncIterator[bytes] = _chunks(payload) if case.chunked else payload
    request = client.build_request(case.method, path, content=content, headers=headers)
    if case.chunked:
        assert "content-length" not in request.headers
        assert request.headers["transfer-encoding"] == "chunked"
    return await client.send(request)


def assert_problem(response: httpx.Response, status: int | None = None, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem+json with a stable code; `status`/`code` pin them when given."""
    shown = f"{response.request.method} {response.request.url.path} -> {response.status_code} {response.text[:500]}"
    if status is not None:
        assert response.status_code == status, shown
    assert response.headers.get("content-type", "").startswith(PROBLEM_JSON), shown
    problem = response.json()
    assert isinstance(problem, dict), shown
    assert [name for name in PROBLEM_FIELDS if name not in problem] == [], shown
    assert problem["status"] == response.status_code, shown
    assert isinstance(problem["code"], str), shown
    assert problem["code"] in KNOWN_CODES, shown
    if code is not None:
        assert problem["code"] == code, shown
    assert isinstance(problem["type"], str), shown
    assert problem["type"].endswith("/" + problem["code"]), shown
    assert isinstance(problem["title"], str), shown
    assert problem["title"].strip(), shown
    assert isinstance(problem["detail"], str), shown
    assert problem["detail"].strip(), shown
    return problem


async def assert_refused(client: httpx.AsyncClient, db: asyncpg.Connection, world: World, case: Case) -> None:
    before = await snapshot(db)
    response = await send(client, case, world)
    assert_problem(response, case.status, case.code)
    assert await snapshot(db) == before, f"{case.id}: the database changed after a {response.status_code}"


# -- table-driven tests -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", TRANSFER_CASES, ids=str)
async def test_transfer_when_input_is_bad_is_refused_with_problem_and_writes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, case: Case
) -> None:
    await assert_refused(client, db, world, case)


@pytest.mark.parametrize("case", BATCH_CASES, ids=str)
async def test_batch_when_input_is_bad_is_refused_with_problem_and_writes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, case: Case
) -> None:
    await assert_refused(client, db, world, case)


@pytest.mark.parametrize("case", ACCOUNT_CASES, ids=str)
async def test_open_account_when_input_is_bad_is_refused_with_problem_and_writes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, case: Case
) -> None:
    await assert_refused(client, db, world, case)


@pytest.mark.parametrize("case", HOLD_CASES, ids=str)
async def test_hold_when_input_is_bad_is_refused_with_problem_and_writes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, case: Case
) -> None:
    await assert_refused(client, db, world, case)


@pytest.mark.parametrize("case", HOLD_RESOLUTION_CASES, ids=str)
async def test_hold_resolution_when_input_is_bad_is_refused_with_problem_and_writes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, case: Case
) -> None:
    await assert_refused(client, db, world, case)


@pytest.mark.parametrize("case", REVERSAL_CASES, ids=str)
async def test_reversal_when_input_is_bad_is_refused_with_problem_and_writes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, case: Case
) -> None:
    await assert_refused(client, db, world, case)


@pytest.mark.parametrize("case", READ_CASES, ids=str)
async def test_read_when_query_or_id_is_bad_is_refused_with_problem_and_writes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, case: Case
) -> None:
    await assert_refused(client, db, world, case)


@pytest.mark.parametrize("case", ROUTING_CASES, ids=str)
async def test_request_when_route_or_method_unknown_is_refused_with_problem_and_writes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, case: Case
) -> None:
    await assert_refused(client, db, world, case)


async def test_wrong_method_when_refused_names_allowed_methods_in_allow_header(client: httpx.AsyncClient) -> None:
    # RFC 9110 section 15.5.6: a 405 response MUST carry an Allow header listing the methods the resource supports.
    response = await client.delete(TRANSFERS)
    assert_problem(response, 405, "method_not_allowed")
    allowed = {method.strip() for method in response.headers.get("allow", "").split(",") if method.strip()}
    assert allowed == {"GET", "POST"}, dict(response.headers)


async def test_transfer_when_bad_one_is_batched_with_good_ones_good_ones_still_commit(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World
) -> None:
    # The ledger writer applies concurrent commands in one database transaction: a bad command must be refused on its
    # own and must not take the other clients' valid commands down with it.
    deposit = transfer_with(debit_account_id=lambda w: w.house, credit_account_id=lambda w: w.other_player, amount=1)
    bodies = [deposit(world) for _ in range(20)]
    bodies.insert(10, transfer_with(metadata={"note": "a\x00b"})(world))  # PostgreSQL text cannot hold NUL
    before = await snapshot(db)
    responses = await asyncio.gather(
        *(client.post(TRANSFERS, content=json.dumps(body).encode(), headers=JSON_HEADERS) for body in bodies)
    )
    statuses = [response.status_code for response in responses]
    assert statuses[:10] + statuses[11:] == [201] * 20, statuses
    assert_problem(responses[10], 422, "validation_error")
    after = await snapshot(db)
    assert after.transfers == before.transfers + 20


async def test_refused_request_when_answered_still_carries_trace_id(client: httpx.AsyncClient) -> None:
    response = await client.post(TRANSFERS, content=b"{", headers=JSON_HEADERS)
    assert_problem(response, 400, "malformed_json")
    assert response.headers.get("x-trace-id")


# -- fuzzing ------------------------------------------------------------------------------------------------------
#
# How Hypothesis meets the async fixtures: pytest-asyncio (1.x, asyncio_mode=auto) natively supports an `async def`
# test decorated with `@given`: it wraps Hypothesis' inner test so that every example runs to completion on the same
# function-scoped event loop the async fixtures were created on. So the real fixtures from tests/conftest.py (the
# uvicorn server task, the test's PostgreSQL database and the asyncpg `db` connection) are set up once and shared by
# all examples, with no second loop, no thread and no copy of the server plumbing. Sharing them is intended here
# (hence the function_scoped_fixture health check is suppressed): an example compares the snapshot taken right before
# its own request, so what earlier examples legitimately wrote (a 2xx) does not matter. The alternatives were worse:
# a sync `@given` test with a server in a background thread duplicates conftest and needs cross-loop plumbing for the
# db connection; drawing examples with `strategy.example()` is not meant for tests (no shrinking, no replay).

WEIRD_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "é",
    "💰",
    "NaN",
    "1e309",
    "null",
    "EUR",
    "eur",
    "XXX",
    UNKNOWN,
    "x" * 300,
    "' OR 1=1 --",
]
FIELD_NAMES = [
    "idempotency_key",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "currency",
    "type",
    "metadata",
    "expires_at",
    "transfers",
    "transfer_id",
    "original_idempotency_key",
    "brand_id",
    "owner_type",
    "owner_id",
    "kind",
    "label",
    "allow_negative",
]
SPECIAL_INTEGERS = [0, -1, 1, 2**31, 2**53 + 1, MAX_MINOR_UNITS, 2**63, 2**64, -(2**63), -(2**63) - 1, 10**30, 10**400]


def listed(values: list[Any]) -> st.SearchStrategy[Any]:
    """sampled_from by index: same examples, without a huge strategy repr (10**400, 300 x's) in every report."""

    def pick(index: int) -> Any:
        return values[index]

    return st.integers(min_value=0, max_value=len(values) - 1).map(pick)


json_strings = st.text(max_size=24) | listed(WEIRD_STRINGS)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | listed(SPECIAL_INTEGERS)
    | st.floats()  # NaN and infinities included: json.dumps writes them as NaN/Infinity, which Python's parser accepts
    | json_strings
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(listed(FIELD_NAMES) | json_strings, children, max_size=5)
    ),
    max_leaves=12,
)


@dataclass(frozen=True)
class Mutation:
    """A valid body with one field replaced by `value` (DROP: removed); `in_leg`: inside the batch's leg instead."""

    field: str
    value: Any
    in_leg: bool


mutations = st.builds(
    Mutation,
    field=st.sampled_from(FIELD_NAMES) | st.text(max_size=8),
    value=json_values | st.just(DROP),
    in_leg=st.booleans(),
)

#: Near-valid bodies whose metadata (a free JSON object the ledger stores as jsonb) is random.
metadata_mutations = st.builds(
    Mutation,
    field=st.just("metadata"),
    value=st.dictionaries(json_strings, json_values, min_size=1, max_size=4),
    in_leg=st.booleans(),
)

FUZZ_ENDPOINTS = [TRANSFERS, HOLDS, BATCH, REVERSALS, ACCOUNTS]


def near_valid(endpoint: str, world: World, mutation: Mutation) -> Any:
    """A body that would be accepted, with the mutation applied (so fuzzing reaches past the first missing field)."""
    change = {mutation.field: mutation.value}
    if endpoint == TRANSFERS:
        return _changed({"idempotency_key": new_key("fuzz"), **leg(world), "amount": 1}, world, change)
    if endpoint == HOLDS:
        return _changed({"idempotency_key": new_key("fuzz"), **leg(world), "amount": 1}, world, change)
    if endpoint == BATCH:
        one = {**leg(world), "amount": 1}
        if mutation.in_leg:
            return {"idempotency_key": new_key("fuzz"), "transfers": [_changed(one, world, change)]}
        return _changed({"idempotency_key": new_key("fuzz"), "transfers": [one]}, world, change)
    if endpoint == REVERSALS:
        return _changed({"idempotency_key": new_key("fuzz"), "transfer_id": world.transfer}, world, change)
    return _changed(account_with(owner_id=new_key("p"))(world), world, change)


@settings(
    max_examples=150,
    deadline=None,
    database=None,  # keep no example database in the work tree; failures are printed with their body
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(endpoint=st.sampled_from(FUZZ_ENDPOINTS), generated=json_values | mutations | metadata_mutations)
async def test_command_when_body_is_random_json_never_errors_and_4xx_writes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, endpoint: str, generated: Any
) -> None:
    body = near_valid(endpoint, world, generated) if isinstance(generated, Mutation) else generated
    payload = json.dumps(body).encode()
    note(f"POST {endpoint} {payload[:2000]!r}")
    before = await snapshot(db)
    response = await client.post(endpoint, content=payload, headers=JSON_HEADERS)
    note(f"-> {response.status_code} {response.text[:1000]}")
    assert response.status_code < 500, f"POST {endpoint} {payload[:500]!r} -> {response.status_code} {response.text}"
    if response.status_code >= 400:
        assert_problem(response)
        assert await snapshot(db) == before, f"POST {endpoint} {payload[:500]!r} wrote despite {response.status_code}"


@pytest.mark.parametrize("path", [TRANSFERS, "/v1/wallet/accounts"])  # the command lane, and a FastAPI route
async def test_answer_carries_the_callers_trace_id_on_both_paths(client: httpx.AsyncClient, path: str) -> None:
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    response = await client.post(path, content=b"{}", headers={**JSON_HEADERS, "traceparent": traceparent})
    assert_problem(response, 422, "validation_error")
    assert response.headers.get("x-trace-id") == trace_id
