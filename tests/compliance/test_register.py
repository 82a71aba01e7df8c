"""The self-exclusion register adapter against the register simulator, served by uvicorn on a real loopback port."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
import uvicorn

from croupier.compliance.client import RegistrationFacts
from croupier.compliance.register import HttpSelfExclusionRegister, NoRegister, RegisterPerson
from croupier.simulators.self_exclusion_register import build_simulator_app
from tests.conftest import free_port

API_KEY = "test-key"
ANN = RegisterPerson(
    email="ann.smith@example.com",
    date_of_birth=date(1990, 1, 31),
    first_name="Ann",
    last_name="Smith",
    postcode="SW1A 1AA",
    mobile="07700900123",
)


@pytest.fixture
async def register_url() -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        build_simulator_app((API_KEY,)),
        host="127.0.0.1",
        port=port,
        log_level="critical",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def admin(register_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=register_url) as client:
        yield client


@pytest.fixture
async def register(register_url: str) -> AsyncIterator[HttpSelfExclusionRegister]:
    async with HttpSelfExclusionRegister(register_url, API_KEY, timeout_seconds=1.0, retries=1) as adapter:
        yield adapter


async def exclude(admin: httpx.AsyncClient, status: str = "Y", **fields: Any) -> str:
    body = {"firstName": "Ann", "lastName": "Smith", "dateOfBirth": "1990-01-31", "email": "ann.smith@example.com"}
    body |= {"postcode": "SW1A 1AA", "status": status, **fields}
    response = await admin.post("/admin/exclusions", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def inject(admin: httpx.AsyncClient, **faults: Any) -> None:
    response = await admin.put("/admin/faults", json=faults)
    assert response.status_code == 200, response.text


async def checks_seen(admin: httpx.AsyncClient) -> int:
    return int((await admin.get("/admin/stats")).json()["checks"])


async def test_check_when_person_is_listed_returns_excluded_with_request_id(register, admin):
    await exclude(admin)
    result = await register.check(ANN)
    assert result.status == "excluded"
    assert result.excluded
    assert result.request_id
    assert result.attempts == 1
    assert result.detail == ""


async def test_check_when_person_is_not_listed_returns_not_excluded(register, admin):
    await exclude(admin, email="someone.else@example.com", lastName="Jones")
    result = await register.check(ANN)
    assert result.status == "not_excluded"
    assert result.available


async def test_check_when_exclusion_ended_returns_previously_excluded(register, admin):
    await exclude(admin, status="P")
    assert (await register.check(ANN)).status == "previously_excluded"


async def test_check_when_current_and_past_exclusions_match_returns_excluded(register, admin):
    await exclude(admin, status="P")
    await exclude(admin, status="Y", lastName="Other", email="ANN.SMITH@example.com ")
    assert (await register.check(ANN)).status == "excluded"


async def test_check_matches_email_case_and_space_insensitively(register, admin):
    await exclude(admin, email="  Ann.Smith@Example.COM", lastName="Different", postcode="X1 1XX")
    assert (await register.check(ANN)).status == "excluded"


async def test_check_matches_last_name_birth_date_and_postcode_without_email(register, admin):
    await exclude(admin, email="old-address@example.org", lastName="SMITH", postcode="sw1a1aa")
    assert (await register.check(ANN)).status == "excluded"


async def test_check_when_only_postcode_differs_and_email_differs_returns_not_excluded(register, admin):
    await exclude(admin, email="old-address@example.org", postcode="E1 6AN")
    assert (await register.check(ANN)).status == "not_excluded"


async def test_check_when_only_birth_date_differs_and_email_differs_returns_not_excluded(register, admin):
    await exclude(admin, email="old-address@example.org", dateOfBirth="1991-01-31")
    assert (await register.check(ANN)).status == "not_excluded"


async def test_check_after_exclusion_removed_returns_not_excluded(register, admin):
    exclusion_id = await exclude(admin)
    assert (await admin.delete(f"/admin/exclusions/{exclusion_id}")).status_code == 204
    assert (await register.check(ANN)).status == "not_excluded"


async def test_check_with_wrong_api_key_is_unavailable_without_retry(register_url, admin):
    async with HttpSelfExclusionRegister(register_url, "wrong-key", timeout_seconds=1.0) as adapter:
        result = await adapter.check(ANN)
    assert result.status == "unavailable"
    assert "API key (403)" in result.detail
    assert result.attempts == 1
    assert await checks_seen(admin) == 1


async def test_check_when_register_answers_503_is_unavailable_after_one_retry(register, admin):
    await inject(admin, error_status=503)
    result = await register.check(ANN)
    assert result.status == "unavailable"
    assert "503" in result.detail
    assert result.attempts == 2
    assert result.request_id  # the failed answer's id, for the register's support


async def test_check_when_one_transient_503_then_retry_succeeds(register, admin):
    await exclude(admin)
    await inject(admin, error_status=503, count=1)
    result = await register.check(ANN)
    assert result.status == "excluded"
    assert result.attempts == 2
    assert await checks_seen(admin) == 2


async def test_check_when_connection_dropped_once_then_retry_succeeds(register, admin):
    await inject(admin, drop_connection=True, count=1)
    result = await register.check(ANN)
    assert result.status == "not_excluded"
    assert result.attempts == 2


async def test_check_when_connection_always_dropped_is_unavailable(register, admin):
    await inject(admin, drop_connection=True)
    result = await register.check(ANN)
    assert result.status == "unavailable"
    assert "connection error" in result.detail


async def test_check_when_latency_exceeds_timeout_is_unavailable_within_timeout(register_url, admin):
    await inject(admin, latency_ms=3000)
    async with HttpSelfExclusionRegister(register_url, API_KEY, timeout_seconds=0.3) as adapter:
        started = time.perf_counter()
        result = await adapter.check(ANN)
        elapsed = time.perf_counter() - started
    assert result.status == "unavailable"
    assert "timed out" in result.detail
    assert elapsed < 0.3 + 0.2
    assert result.attempts == 1  # a slow register is not asked again


async def test_check_when_register_hangs_is_unavailable_within_timeout(register_url, admin):
    await inject(admin, hang=True)
    async with HttpSelfExclusionRegister(register_url, API_KEY, timeout_seconds=0.3) as adapter:
        started = time.perf_counter()
        result = await adapter.check(ANN)
        elapsed = time.perf_counter() - started
    assert result.status == "unavailable"
    assert elapsed < 0.3 + 0.2


async def test_check_when_latency_within_timeout_answers(register_url, admin):
    await inject(admin, latency_ms=100)
    async with HttpSelfExclusionRegister(register_url, API_KEY, timeout_seconds=1.0) as adapter:
        result = await adapter.check(ANN)
    assert result.status == "not_excluded"
    assert result.latency_ms >= 100


async def test_check_when_nothing_listens_is_unavailable(admin):
    port = free_port()  # bound then released: connections are refused
    async with HttpSelfExclusionRegister(f"http://127.0.0.1:{port}", API_KEY, timeout_seconds=1.0) as adapter:
        started = time.perf_counter()
        result = await adapter.check(ANN)
        elapsed = time.perf_counter() - started
    assert result.status == "unavailable"
    assert "connection error" in result.detail
    assert result.attempts == 2
    assert elapsed < 1.0


async def test_check_when_response_is_malformed_json_is_unavailable(register, admin):
    await inject(admin, malformed=True)
    result = await register.check(ANN)
    assert result.status == "unavailable"
    assert "malformed response" in result.detail
    assert result.attempts == 1


async def test_check_after_faults_cleared_answers_again(register, admin):
    await inject(admin, error_status=500)
    assert (await register.check(ANN)).status == "unavailable"
    assert (await admin.delete("/admin/faults")).status_code == 204
    assert (await register.check(ANN)).status == "not_excluded"


async def test_reset_clears_people_and_faults(register, admin):
    await exclude(admin)
    await inject(admin, error_status=500)
    assert (await admin.post("/admin/reset")).status_code == 204
    assert (await register.check(ANN)).status == "not_excluded"


async def test_register_rejects_missing_api_key_with_401(register_url):
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{register_url}/v2/check", json={"email": "a@example.com"})
    assert response.status_code == 401
    assert response.headers["x-unique-id"]


async def test_register_answers_exclusion_header_and_body(register_url, admin):
    await exclude(admin)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{register_url}/v2/check",
            json={"email": "ann.smith@example.com", "dateOfBirth": "1990-01-31"},
            headers={"X-API-Key": API_KEY},
        )
    assert response.status_code == 200
    assert response.headers["x-exclusion"] == "Y"
    assert response.json() == {"exclusion": "Y", "uniqueId": response.headers["x-unique-id"]}


async def test_no_register_always_not_excluded():
    result = await NoRegister().check(ANN)
    assert result.status == "not_excluded"
    assert result.register == "none"
    assert result.attempts == 0


def test_person_from_registration_facts_keeps_matching_fields():
    facts = RegistrationFacts(
        brand_id="b",
        email="ann@example.com",
        date_of_birth=date(1990, 1, 31),
        country="GB",
        currency="GBP",
        last_name="Smith",
        postcode="SW1A 1AA",
    )
    person = RegisterPerson.from_registration(facts)
    assert (person.email, person.last_name, person.postcode) == ("ann@example.com", "Smith", "SW1A 1AA")
    assert person.date_of_birth == date(1990, 1, 31)
