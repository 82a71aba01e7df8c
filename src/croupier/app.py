"""Builds the ASGI app for a set of services (all of them in `croupier up`, one in `croupier serve --service`)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

import croupier
from croupier.bootstrap import DEFAULT_SERVICES, Platform, bootstrap, shutdown
from croupier.cashier import api as cashier_api
from croupier.compliance import api as compliance_api
from croupier.games import api as games_api
from croupier.identity import api as identity_api
from croupier.kit.auth import InternalApiGuard
from croupier.kit.config import Settings
from croupier.kit.http import GuardMiddleware, install_error_handlers, problem_response
from croupier.kit.http_commands import CommandLane, CommandLaneApp
from croupier.kit.money import MAX_MINOR_UNITS
from croupier.wallet import api as wallet_api

DESCRIPTION = """
The Croupier platform API.

* **Money** is always an integer number of minor units of the currency (EUR 12.34 is `1234`, JPY 500 is `500`,
  BTC 0.001 is `100000`). Floats and strings are refused for amounts.
* **Idempotency**: every command that moves money carries an `idempotency_key`. Repeating it with the same content
  returns the original response (`200`, header `Idempotent-Replayed: true`); with different content it is refused
  with `409 idempotency_conflict`.
* **Errors** are RFC 9457 `application/problem+json` documents with a stable `code`.
"""


def build_app(
    platform: Platform | None = None,
    settings: Settings | None = None,
    url: str | None = None,
    services: tuple[str, ...] = DEFAULT_SERVICES,
) -> FastAPI:
    """An app around a running platform, or (with settings and url) one that bootstraps `services` in its lifespan.

    Only the routes of the services this process runs are served.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = None
        if app.state.platform is None:
            assert settings is not None
            assert url is not None
            started = await bootstrap(settings, url, services)
            _attach(app, started)
        try:
            yield
        finally:
            if started is not None:
                await shutdown(started)

    config = settings or (platform.settings if platform else Settings())
    app = CommandLaneApp(
        title="Croupier",
        version=croupier.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "wallet", "description": "Double-entry ledger: accounts, transfers, holds."},
            {"name": "identity", "description": "Brands, players, sessions and tokens, back-office users, KYC."},
            {
                "name": "games",
                "description": (
                    "In-house games: the catalogue, rounds and their steps, provably-fair seeds, round verification, "
                    "and the back office (brand settings, bet limits, audit)."
                ),
            },
            {
                "name": "cashier",
                "description": (
                    "Deposits and withdrawals across payment providers (routing, failover, webhooks, FX), the "
                    "approval queue, dead letters, reconciliation and provider health."
                ),
            },
            {
                "name": "compliance",
                "description": "Limits, time-outs, self-exclusions, reality checks, and the gate's decision log.",
            },
        ],
    )
    app.state.platform = None
    if platform is not None:
        _attach(app, platform)
    _exact_integer_bounds(app)
    install_error_handlers(app)
    served = platform.services if platform else services
    if "wallet" in served:
        # The wallet is an internal API: services and back-office users only, on both paths to it: its FastAPI
        # routes (this middleware) and the command lane that serves its money-moving POSTs before the middlewares
        # (the same guard, called by the lane).
        guard = InternalApiGuard(None, prefixes=("/v1/wallet",))
        app.add_middleware(InternalApiGuard, prefixes=("/v1/wallet",))
        app.command_lane = CommandLane(
            wallet_api.COMMANDS, max_body_bytes=config.max_body_bytes, authorize=guard.refusal_response
        )
    # Added last, so outermost: limits, content type and trace ids for every route.
    app.add_middleware(GuardMiddleware, max_body_bytes=config.max_body_bytes)
    if "wallet" in (platform.services if platform else services):
        _add_routes(app, wallet_api.router)
    if "identity" in served:
        _add_routes(app, identity_api.router)
    if "compliance" in served:
        _add_routes(app, compliance_api.router)
    if "games" in served:
        _add_routes(app, games_api.router)
    if "cashier" in served:
        _add_routes(app, cashier_api.router)

    @app.get("/health/live", tags=["health"], summary="The process is up")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"], summary="The database is reachable", response_model=None)
    async def ready() -> Any:
        current: Platform | None = app.state.platform
        if current is None:
            return problem_response(503, "service_unavailable", "Not ready", "the platform is starting")
        try:
            async with current.db.connection() as connection:
                await connection.fetchval("SELECT 1")
        except Exception:
            return problem_response(503, "service_unavailable", "Not ready", "the database is not reachable")
        return {"status": "ready", "services": list(current.services)}

    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """Put a service router's routes on the app itself.

    `include_router` wraps a router in an extra routing layer that every request walks through; copying the routes
    (already carrying the router's prefix and tags) keeps matching to one flat list.
    """
    app.router.routes.extend(router.routes)


def _exact_integer_bounds(app: FastAPI) -> None:
    """Keep integer bounds exact in /openapi.json.

    FastAPI's OpenAPI model stores minimum/maximum as floats, which turns the largest amount, 2^63 - 1, into
    9.223372036854776e18 (that is 2^63, one more than the ledger accepts). Integral bounds are written back as
    integers, and that one value as the exact limit.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            _restore_integers(document)
            _document_security(document)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


#: Operations anyone may call: registration, logins, token refresh, health. Every other one needs a bearer token.
PUBLIC_OPERATIONS = {
    ("post", "/v1/identity/brands/{brand_id}/players"),
    ("post", "/v1/identity/login"),
    ("post", "/v1/identity/token/refresh"),
    ("post", "/v1/identity/admin/login"),
    # Providers authenticate their webhooks with a signature over the body, not with our tokens.
    ("post", "/v1/cashier/webhooks/{provider}"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
}


def _document_security(document: dict[str, Any]) -> None:
    """Declare the bearer tokens in the document: which operations need one, and what kind of token it is."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token: a player's or back-office user's (POST /v1/identity/login, "
        "/v1/identity/admin/login), or a service token for the internal APIs such as /v1/wallet "
        "(`croupier token --service NAME`, or croupier.kit.auth.ServiceTokens).",
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if (method, path) in PUBLIC_OPERATIONS:
                operation["security"] = []
            else:
                operation["security"] = [{"bearerAuth": []}]


def _restore_integers(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") and isinstance(value, float):
                if value == float(MAX_MINOR_UNITS):
                    node[key] = MAX_MINOR_UNITS
                elif value.is_integer():
                    node[key] = int(value)
            else:
                _restore_integers(value)
    elif isinstance(node, list):
        for item in node:
            _restore_integers(item)


def _attach(app: FastAPI, platform: Platform) -> None:
    app.state.platform = platform
    app.state.wallet = platform.wallet
    app.state.identity = platform.identity
    app.state.compliance = platform.compliance
    app.state.games = platform.games
    app.state.cashier = platform.cashier
    app.state.token_signer = platform.token_signer
    app.state.trusted_proxies = tuple(platform.settings.trusted_proxies)
