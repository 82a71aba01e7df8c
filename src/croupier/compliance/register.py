"""The external (national) self-exclusion register, behind an adapter.

`check(person)` never raises: every failure — timeout, refused or dropped connection, 5xx, a rejected API key, a
malformed answer — comes back as status "unavailable" with the reason in `detail`. What "unavailable" means is the
gate's decision, per brand (fail closed for registration by default, reason `register_unavailable`).

- `HttpSelfExclusionRegister`: a GAMSTOP-style register over HTTP (the protocol is in
  docs/self-exclusion-register.md; `croupier simulate self-exclusion-register` serves it locally).
- `NoRegister`: for brands in jurisdictions without a register: always "not_excluded".
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import Literal, Protocol, Self

import httpx

from croupier.compliance.client import RegistrationFacts

logger = logging.getLogger(__name__)

RegisterStatus = Literal["excluded", "not_excluded", "previously_excluded", "unavailable"]
_STATUS_BY_CODE: dict[str, RegisterStatus] = {"Y": "excluded", "N": "not_excluded", "P": "previously_excluded"}


@dataclass(frozen=True, slots=True)
class RegisterPerson:
    """The details a register matches on. Send what you have; registers match on email or on last name + date of
    birth + postcode."""

    email: str
    date_of_birth: date
    first_name: str | None = None
    last_name: str | None = None
    postcode: str | None = None
    mobile: str | None = None

    @classmethod
    def from_registration(cls, facts: RegistrationFacts, mobile: str | None = None) -> RegisterPerson:
        return cls(
            email=facts.email,
            date_of_birth=facts.date_of_birth,
            first_name=facts.first_name,
            last_name=facts.last_name,
            postcode=facts.postcode,
            mobile=mobile,
        )


@dataclass(frozen=True, slots=True)
class RegisterResult:
    """The register's answer, or why there is none."""

    status: RegisterStatus
    register: str  # which register answered, e.g. "http" or "none"
    request_id: str | None = None  # the register's unique id of the check (keep it: regulators ask for it)
    latency_ms: float = 0.0  # wall time of the whole check, retries included
    attempts: int = 0  # HTTP requests made
    detail: str = ""  # why "unavailable" (empty otherwise)

    @property
    def excluded(self) -> bool:
        return self.status == "excluded"

    @property
    def available(self) -> bool:
        return self.status != "unavailable"


class SelfExclusionRegister(Protocol):
    name: str

    async def check(self, person: RegisterPerson) -> RegisterResult:
        """Ask the register about `person`. Never raises: failures are status "unavailable" with a detail."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class NoRegister:
    """For brands whose jurisdiction has no national register: every person is "not_excluded", without a call.

    The brand's own self-exclusions still apply (the gate checks them separately)."""

    name = "none"

    async def check(self, person: RegisterPerson) -> RegisterResult:
        return RegisterResult(status="not_excluded", register=self.name)

    async def aclose(self) -> None:
        return None


class _AttemptFailed(Exception):
    """One HTTP attempt failed. `retryable`: transient (connection error, 5xx), worth one more quick attempt;
    otherwise another attempt would not fix it (bad key, rejected request, malformed answer)."""

    def __init__(self, detail: str, request_id: str | None, *, retryable: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.request_id = request_id
        self.retryable = retryable


class HttpSelfExclusionRegister:
    """A GAMSTOP-style register over HTTP.

    `timeout_seconds` bounds the whole check, retries included; `retries` extra attempts (after
    `retry_delay_seconds`) are made only on connection errors and 5xx answers, never after a timeout — a slow
    register is not made slower. The lookup changes nothing on the register, so a retry is safe.
    """

    name = "http"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout_seconds: float = 2.0,
        retries: int = 1,
        *,
        retry_delay_seconds: float = 0.05,
        path: str = "/v2/check",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self._url = self.base_url + path
        self._api_key = api_key
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            headers={"accept": "application/json"},
            limits=httpx.Limits(max_keepalive_connections=10, keepalive_expiry=15),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check(self, person: RegisterPerson) -> RegisterResult:
        started = time.perf_counter()
        attempts = 0
        last_request_id: str | None = None
        body = {
            "firstName": person.first_name,
            "lastName": person.last_name,
            "dateOfBirth": person.date_of_birth.isoformat(),
            "email": person.email,
            "postcode": person.postcode,
            "mobile": person.mobile,
        }

        def result(status: RegisterStatus, request_id: str | None, detail: str = "") -> RegisterResult:
            if status == "unavailable":
                # no personal data in the log: the request id is what the register's support needs
                logger.warning("self-exclusion register unavailable after %d attempt(s): %s", attempts, detail)
            return RegisterResult(
                status=status,
                register=self.name,
                request_id=request_id,
                latency_ms=(time.perf_counter() - started) * 1000,
                attempts=attempts,
                detail=detail,
            )

        try:
            async with asyncio.timeout(self.timeout_seconds):
                while True:
                    attempts += 1
                    try:
                        status, request_id = await self._attempt(body)
                        return result(status, request_id)
                    except _AttemptFailed as error:
                        last_request_id = error.request_id
                        if not error.retryable or attempts > self.retries:
                            return result("unavailable", error.request_id, error.detail)
                    await asyncio.sleep(self.retry_delay_seconds)
        except TimeoutError:
            return result("unavailable", last_request_id, f"timed out after {self.timeout_seconds:g}s")
        except Exception as error:  # the contract: never raise to the gate
            logger.exception("unexpected failure checking the self-exclusion register")
            return result("unavailable", last_request_id, f"unexpected error: {type(error).__name__}: {error}")

    async def _attempt(self, body: dict[str, str | None]) -> tuple[RegisterStatus, str | None]:
        try:
            response = await self._client.post(self._url, json=body, headers={"X-API-Key": self._api_key})
        except httpx.TimeoutException as error:
            raise TimeoutError from error  # the overall deadline's answer, no retry
        except httpx.TransportError as error:  # refused, reset, dropped mid-response, DNS
            detail = f"connection error: {type(error).__name__}: {error}".rstrip(": ")
            raise _AttemptFailed(detail, None, retryable=True) from error
        request_id = response.headers.get("x-unique-id")
        code = response.status_code
        if code >= 500:
            raise _AttemptFailed(f"register answered {code}", request_id, retryable=True)
        if code in (401, 403):
            raise _AttemptFailed(f"register rejected the API key ({code})", request_id, retryable=False)
        if code != 200:
            raise _AttemptFailed(
                f"register rejected the request ({code}): {response.text[:200]}", request_id, retryable=False
            )
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise _AttemptFailed(f"malformed response: {error}", request_id, retryable=False) from error
        exclusion = payload.get("exclusion") if isinstance(payload, dict) else None
        if exclusion not in _STATUS_BY_CODE:
            raise _AttemptFailed(
                f"malformed response: exclusion {exclusion!r} is not Y, N or P", request_id, retryable=False
            )
        header = response.headers.get("x-exclusion")
        if header is not None and header != exclusion:
            raise _AttemptFailed(
                f"malformed response: X-Exclusion {header!r} contradicts the body {exclusion!r}",
                request_id,
                retryable=False,
            )
        if request_id is None and isinstance(payload.get("uniqueId"), str):
            request_id = payload["uniqueId"]
        return _STATUS_BY_CODE[exclusion], request_id
