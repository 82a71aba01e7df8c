"""A national self-exclusion register (GAMSTOP-style), served over real HTTP, with fault injection.

Protocol (docs/self-exclusion-register.md):

    POST /v2/check                     header X-API-Key: <key>
    {"firstName": "Ann", "lastName": "Smith", "dateOfBirth": "1990-01-31", "email": "ann@example.com",
     "postcode": "SW1A 1AA", "mobile": "07700900123"}
    → 200 {"exclusion": "Y" | "N" | "P", "uniqueId": "..."}   headers X-Exclusion, X-Unique-Id

`Y` excluded now, `N` not excluded, `P` excluded in the past (the exclusion ended). A person matches an entry by
normalised email, or by normalised last name + date of birth + normalised postcode. Missing key → 401, unknown
key → 403, unusable body → 400; every answer carries X-Unique-Id.

Admin (no authentication: a simulator only ever listens where its operator put it):
    POST   /admin/exclusions        add a person (the same fields, plus "status": "Y" | "P") → 201 {"id": ...}
    GET    /admin/exclusions        list them
    DELETE /admin/exclusions/{id}   remove one
    PUT    /admin/faults            {"latency_ms", "error_status", "hang", "drop_connection", "malformed", "count"}
    DELETE /admin/faults            clear the faults
    GET    /admin/stats             {"checks": n} requests seen by /v2/check (including faulted ones)
    POST   /admin/reset             clear people, faults and stats
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

CHECK_PATH = "/v2/check"
DEFAULT_API_KEY = "simulator-key"
#: How long a "hang" fault holds a request before giving up (a client always times out long before).
HANG_LIMIT_SECONDS = 300.0


def normalise_email(email: str | None) -> str:
    return (email or "").strip().casefold()


def normalise_name(name: str | None) -> str:
    """Case-folded letters only: "O'Brien-Smith " and "obriensmith" are the same name."""
    return re.sub(r"[\W_]+", "", (name or "").casefold())


def normalise_postcode(postcode: str | None) -> str:
    return re.sub(r"\s+", "", (postcode or "")).upper()


class PersonIn(BaseModel):
    """The person's details, as the register's check and admin endpoints take them (camelCase on the wire)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    first_name: str | None = Field(None, alias="firstName", max_length=200)
    last_name: str | None = Field(None, alias="lastName", max_length=200)
    date_of_birth: date | None = Field(None, alias="dateOfBirth")
    email: str | None = Field(None, max_length=320)
    postcode: str | None = Field(None, max_length=20)
    mobile: str | None = Field(None, max_length=40)


class ExclusionIn(PersonIn):
    status: Literal["Y", "P"] = "Y"


class FaultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(0, ge=0, le=600_000)
    error_status: int | None = Field(None, ge=400, le=599)
    hang: bool = False
    drop_connection: bool = False
    malformed: bool = False
    count: int | None = Field(None, ge=1, description="apply to the next `count` checks only; null: until cleared")


@dataclass
class Exclusion:
    id: str
    person: PersonIn
    status: Literal["Y", "P"]


@dataclass
class RegisterState:
    """Everything the simulator holds; tests may also drive it directly through `app.state.register`."""

    api_keys: frozenset[str]
    exclusions: dict[str, Exclusion] = field(default_factory=dict)
    faults: FaultsIn | None = None
    faults_left: int | None = None
    checks: int = 0

    def add(self, person: PersonIn, status: Literal["Y", "P"] = "Y") -> str:
        exclusion = Exclusion(uuid.uuid4().hex, person, status)
        self.exclusions[exclusion.id] = exclusion
        return exclusion.id

    def status_of(self, person: PersonIn) -> Literal["Y", "N", "P"]:
        """Y if any current exclusion matches, else P if a past one does, else N."""
        email = normalise_email(person.email)
        last_name = normalise_name(person.last_name)
        postcode = normalise_postcode(person.postcode)
        found: set[str] = set()
        for exclusion in self.exclusions.values():
            listed = exclusion.person
            by_email = bool(email) and email == normalise_email(listed.email)
            by_identity = (
                bool(last_name and postcode and person.date_of_birth)
                and last_name == normalise_name(listed.last_name)
                and person.date_of_birth == listed.date_of_birth
                and postcode == normalise_postcode(listed.postcode)
            )
            if by_email or by_identity:
                found.add(exclusion.status)
        if "Y" in found:
            return "Y"
        return "P" if "P" in found else "N"

    def take_faults(self) -> FaultsIn | None:
        faults = self.faults
        if faults is not None and self.faults_left is not None:
            self.faults_left -= 1
            if self.faults_left <= 0:
                self.faults, self.faults_left = None, None
        return faults

    def reset(self) -> None:
        self.exclusions.clear()
        self.faults, self.faults_left, self.checks = None, None, 0


class _DropConnection(Exception):
    """Raised after the response head is sent: the server then closes the socket mid-response."""


def build_simulator_app(api_keys: tuple[str, ...] | list[str] = (DEFAULT_API_KEY,)) -> FastAPI:
    """The register's ASGI app. `api_keys` are the keys /v2/check accepts."""
    app = FastAPI(title="Self-exclusion register simulator", version="2", docs_url="/docs", redoc_url=None)
    state = RegisterState(api_keys=frozenset(api_keys))
    app.state.register = state

    @app.post(CHECK_PATH)
    async def check(request: Request) -> Response:
        state.checks += 1
        unique_id = uuid.uuid4().hex
        headers = {"X-Unique-Id": unique_id}
        faults = state.take_faults()
        if faults is not None:
            faulted = await _apply_faults(request, faults, headers)
            if faulted is not None:
                return faulted
        key = request.headers.get("x-api-key")
        if not key:
            return _error(401, "missing X-API-Key header", headers)
        if key not in state.api_keys:
            return _error(403, "invalid API key", headers)
        try:
            person = PersonIn.model_validate_json(await request.body())
        except ValueError as error:
            return _error(400, f"invalid request: {error}", headers)
        if not person.email and not person.last_name:
            return _error(400, "invalid request: give at least an email or a last name", headers)
        status = state.status_of(person)
        headers["X-Exclusion"] = status
        return JSONResponse({"exclusion": status, "uniqueId": unique_id}, headers=headers)

    @app.post("/admin/exclusions", status_code=201)
    async def add_exclusion(body: ExclusionIn) -> dict[str, str]:
        return {"id": state.add(PersonIn.model_validate(body.model_dump()), body.status)}

    @app.get("/admin/exclusions")
    async def list_exclusions() -> list[dict[str, Any]]:
        return [
            {"id": e.id, "status": e.status, **e.person.model_dump(mode="json", by_alias=True)}
            for e in state.exclusions.values()
        ]

    @app.delete("/admin/exclusions/{exclusion_id}", status_code=204)
    async def remove_exclusion(exclusion_id: str) -> Response:
        if state.exclusions.pop(exclusion_id, None) is None:
            raise HTTPException(404, "no such exclusion")
        return Response(status_code=204)

    @app.put("/admin/faults")
    async def set_faults(body: FaultsIn) -> dict[str, Any]:
        state.faults, state.faults_left = body, body.count
        return body.model_dump()

    @app.delete("/admin/faults", status_code=204)
    async def clear_faults() -> Response:
        state.faults, state.faults_left = None, None
        return Response(status_code=204)

    @app.get("/admin/stats")
    async def stats() -> dict[str, int]:
        return {"checks": state.checks, "exclusions": len(state.exclusions)}

    @app.post("/admin/reset", status_code=204)
    async def reset() -> Response:
        state.reset()
        return Response(status_code=204)

    app.add_middleware(_DropConnectionMiddleware)
    return app


async def _apply_faults(request: Request, faults: FaultsIn, headers: dict[str, str]) -> Response | None:
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if faults.hang:
        # Hold the request until the client gives up (or the limit); never answer.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_client_gone(request), HANG_LIMIT_SECONDS)
        return Response(status_code=504, headers=headers)
    if faults.drop_connection:
        raise _DropConnection
    if faults.error_status is not None:
        return _error(faults.error_status, "injected fault", headers)
    if faults.malformed:
        return Response(b'{"exclusion": "Y", "uniqu', media_type="application/json", headers=headers)
    return None


async def _client_gone(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _error(status: int, detail: str, headers: dict[str, str]) -> Response:
    return JSONResponse({"error": detail}, status_code=status, headers=headers)


class _DropConnectionMiddleware:
    """Turns `_DropConnection` into a connection closed after the response head: the client sees a truncated
    response (a protocol error), as when a load balancer or the register's server dies mid-answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except _DropConnection:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
            await send({"type": "http.response.body", "body": b'{"exclu', "more_body": True})
            # returning with the response incomplete makes the server close the socket


def serve(host: str = "127.0.0.1", port: int = 8099, api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)) -> None:
    """Run the simulator until interrupted (`croupier simulate self-exclusion-register`)."""
    import uvicorn

    config = uvicorn.Config(
        build_simulator_app(api_keys),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    uvicorn.Server(config).run()
