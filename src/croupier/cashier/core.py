"""What deposits and withdrawals share: the context they run in, the cascade of attempts across providers, and the
payment events they publish.

The cascade: the router orders the eligible providers; each try is an attempt whose id is derived from the payment
(`<payment id>-<n>`) and written before the provider is called, and sent as the provider's idempotency key, so a
retry of the same attempt (after a crash, by the recovery worker) can never charge or pay twice. A soft decline, a
provider error or a timeout moves on to the next provider; a hard decline ends the payment; an accepted attempt ends
the cascade.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from croupier.cashier import repository
from croupier.cashier.errors import MethodUnavailable, ProvidersUnavailable
from croupier.cashier.events import PaymentChanged, dump, payment_event_type
from croupier.cashier.ledger import CashierLedger
from croupier.cashier.providers.base import AttemptResult, Outcome, PaymentOrder, ProviderAdapter
from croupier.cashier.providers.config import ProviderConfig
from croupier.cashier.routing import Route, Router, RoutingRequest
from croupier.compliance.client import ComplianceGate
from croupier.identity.client import IdentityClient
from croupier.kit.clock import Clock
from croupier.kit.db import Database
from croupier.kit.money import CurrencyRegistry
from croupier.kit.outbox import Event, write_events
from croupier.wallet.client import WalletClient

ROUTES_CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class PlayerRef:
    player_id: str
    brand_id: str
    ip: str | None = None


@dataclass
class Context:
    db: Database
    wallet: WalletClient
    identity: IdentityClient
    gate: ComplianceGate
    currencies: CurrencyRegistry
    clock: Clock
    providers: dict[str, ProviderConfig]
    adapters: dict[str, ProviderAdapter]
    router: Router
    ledger: CashierLedger
    public_url: str
    max_attempts: int = 3
    fx_max_age: timedelta = timedelta(days=1)
    _routes: tuple[float, list[Route]] = field(default=(0.0, []))

    def webhook_url(self, provider: str) -> str:
        return f"{self.public_url.rstrip('/')}/v1/cashier/webhooks/{provider}"

    async def routes(self) -> list[Route]:
        loaded_at, routes = self._routes
        if time.monotonic() - loaded_at < ROUTES_CACHE_SECONDS:
            return routes
        async with self.db.connection() as connection:
            rows = await repository.routes(connection)
        routes = [
            Route(
                provider=row["provider"],
                priority=row["priority"],
                weight=row["weight"],
                brand_id=row["brand_id"],
                country=row["country"],
                method=row["method"],
                currency=row["currency"],
                min_amount=row["min_amount"],
                max_amount=row["max_amount"],
                bin_from=row["bin_from"],
                bin_to=row["bin_to"],
            )
            for row in rows
            if row["enabled"]
        ]
        self._routes = (time.monotonic(), routes)
        return routes

    def forget_routes(self) -> None:
        self._routes = (0.0, [])


def routing_request(payment: dict[str, Any]) -> RoutingRequest:
    return RoutingRequest(
        kind=payment["kind"],
        brand_id=payment["brand_id"],
        country=payment["country"],
        method=payment["method"],
        currency=payment["currency"],
        amount=payment["amount"],
        bin=(payment["details"] or {}).get("bin"),
    )


async def eligible_or_refuse(context: Context, payment: dict[str, Any] | RoutingRequest) -> None:
    """Refuse at once a payment no configured provider could ever take."""
    request = payment if isinstance(payment, RoutingRequest) else routing_request(payment)
    if not context.router.eligible(request, await context.routes()):
        raise MethodUnavailable(
            f"no provider takes {request.method} in {request.currency} for {request.country}",
            method=request.method,
            currency=request.currency,
            country=request.country,
        )


@dataclass(frozen=True, slots=True)
class CascadeResult:
    payment: dict[str, Any]
    provider: str | None
    attempt_id: str | None
    result: AttemptResult | None


async def cascade(context: Context, payment: dict[str, Any]) -> CascadeResult:
    """Try providers in routing order until one accepts or hard-declines the payment."""
    request = routing_request(payment)
    providers = context.router.order(request, await context.routes())
    if not providers:
        await eligible_or_refuse(context, request)
        raise ProvidersUnavailable("every provider for this payment is out of rotation; try again shortly")
    last: CascadeResult = CascadeResult(payment, None, None, None)
    for provider in providers[: context.max_attempts]:
        number = payment["attempt_count"] + 1
        attempt_id = f"{payment['id']}-{number}"
        now = context.clock()
        async with context.db.transaction() as connection:
            await repository.insert_attempt(
                connection,
                {
                    "id": attempt_id,
                    "payment_id": payment["id"],
                    "number": number,
                    "provider": provider.name,
                    "method": payment["method"],
                    "country": payment["country"],
                    "kind": payment["kind"],
                    "status": "started",
                    "created_at": now,
                },
            )
            updated = await repository.update_payment(
                connection, payment["id"], payment["version"], now, attempt_count=number, provider=provider.name
            )
        if updated is None:  # changed under us (a recovery worker, a cancel): stop and let the caller reload
            return CascadeResult(await reload(context, payment["id"]), None, None, None)
        payment = updated
        result = await call_provider(context, provider.name, attempt_id, payment)
        last = CascadeResult(payment, provider.name, attempt_id, result)
        if not result.outcome.cascades:
            return last
    return last


async def call_provider(context: Context, provider: str, attempt_id: str, payment: dict[str, Any]) -> AttemptResult:
    """One attempt at one provider (a retry with the same attempt id is answered with the original result)."""
    adapter = context.adapters[provider]
    currency = context.currencies.get(payment["currency"])
    order = PaymentOrder(
        attempt_id=attempt_id,
        payment_id=payment["id"],
        kind=payment["kind"],
        method=payment["method"],
        amount=payment["amount"],
        currency=payment["currency"],
        exponent=currency.exponent,
        country=payment["country"],
        player_id=payment["player_id"],
        brand_id=payment["brand_id"],
        details=payment["details"] or {},
        return_url=(payment["details"] or {}).get("return_url") or f"{context.public_url.rstrip('/')}/cashier/return",
        webhook_url=context.webhook_url(provider),
    )
    started = time.perf_counter()
    try:
        result = await (adapter.start(order) if payment["kind"] == "deposit" else adapter.payout(order))
    except Exception as error:  # an adapter bug must not lose the attempt: treat it as the provider failing
        result = AttemptResult(Outcome.PROVIDER_ERROR, error_code="adapter_error", detail=repr(error)[:500])
    latency = result.latency_ms or (time.perf_counter() - started) * 1000
    status = {
        Outcome.SUCCEEDED: "succeeded",
        Outcome.PENDING: "pending",
        Outcome.HARD_DECLINE: "declined",
        Outcome.SOFT_DECLINE: "declined",
        Outcome.PROVIDER_ERROR: "failed",
        Outcome.TIMEOUT: "timeout",
    }[result.outcome]
    async with context.db.connection() as connection:
        await repository.finish_attempt(
            connection,
            attempt_id,
            status=status,
            outcome=result.outcome.value,
            provider_ref=result.provider_ref,
            error_code=result.error_code,
            detail=result.detail[:1000],
            latency_ms=latency,
            finished_at=context.clock(),
        )
    # A hard decline is the payer's problem, not the provider's: it does not count against the provider.
    context.router.record(provider, succeeded=not result.outcome.cascades)
    return result


async def reload(context: Context, payment_id: UUID) -> dict[str, Any]:
    async with context.db.connection() as connection:
        payment = await repository.get_payment(connection, payment_id)
    assert payment is not None
    return payment


def payment_event(payment: dict[str, Any], now: datetime) -> Event:
    payload = PaymentChanged(
        payment_id=payment["id"],
        kind=payment["kind"],
        player_id=payment["player_id"],
        status=payment["status"],
        method=payment["method"],
        currency=payment["currency"],
        amount=payment["received_amount"] or payment["amount"],
        provider=payment["provider"],
        wallet_currency=payment["wallet_currency"],
        credited_amount=payment["credited_amount"],
        failure_code=payment["failure_code"],
        occurred_at=now,
    )
    return Event(payment_event_type(payment["kind"], payment["status"]), dump(payload), now, payment["brand_id"])


async def transition(
    context: Context,
    payment: dict[str, Any],
    status: str,
    *,
    announce: bool | None = None,
    alerts: list[Event] | None = None,
    **changes: Any,
) -> dict[str, Any] | None:
    """Move a payment forward to `status` (compare-and-set), with its event in the same transaction; None if it
    moved on under us or the move would go backwards. The event is written when the status changes, or always
    with `announce=True` (a deposit's credit keeps status succeeded but is what the player is told about);
    `alerts` are written with the change, only if it happens."""
    if repository.rank(payment["kind"], status) < repository.rank(payment["kind"], payment["status"]):
        return None
    now = context.clock()
    if repository.is_final(payment["kind"], status) and payment["completed_at"] is None:
        changes.setdefault("completed_at", now)
    async with context.db.transaction() as connection:
        updated = await repository.update_payment(
            connection,
            payment["id"],
            payment["version"],
            now,
            status=status,
            status_rank=repository.rank(payment["kind"], status),
            **changes,
        )
        if updated is not None and (announce if announce is not None else status != payment["status"]):
            await write_events(connection, "cashier", [payment_event(updated, now)])  # type: ignore[arg-type]
        if updated is not None and alerts:
            await write_events(connection, "cashier", alerts)  # type: ignore[arg-type]
    return updated


async def publish(context: Context, events: list[Event]) -> None:
    async with context.db.transaction() as connection:
        await write_events(connection, "cashier", events)  # type: ignore[arg-type]
