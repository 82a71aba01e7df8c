"""The cashier service of one process: its providers, router, deposits, withdrawals, webhook queue and the
recovery worker, plus the back-office operations (routes, FX rates, approval thresholds, provider health)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from croupier.cashier import fx, repository
from croupier.cashier.core import Context, PlayerRef, publish
from croupier.cashier.deposits import Deposits
from croupier.cashier.errors import PaymentNotFound, UnknownProvider
from croupier.cashier.events import ChargedAfterFailover, CircuitOpened, dump
from croupier.cashier.ledger import CashierLedger
from croupier.cashier.providers.base import ProviderAdapter, ProviderEvent
from croupier.cashier.providers.config import ProviderConfig, build_adapter
from croupier.cashier.recovery import Recovery
from croupier.cashier.routing import Router
from croupier.cashier.webhooks import NotMatchedYet, WebhookQueue
from croupier.cashier.withdrawals import Withdrawals, reload_owned
from croupier.compliance.client import ComplianceGate
from croupier.identity.client import IdentityClient
from croupier.kit.clock import Clock, system_clock
from croupier.kit.db import Database
from croupier.kit.ids import uuid7
from croupier.kit.money import CurrencyRegistry
from croupier.kit.outbox import Event
from croupier.wallet.client import WalletClient

log = logging.getLogger("croupier.cashier")


class CashierService:
    def __init__(
        self,
        db: Database,
        wallet: WalletClient,
        identity: IdentityClient,
        gate: ComplianceGate,
        currencies: CurrencyRegistry,
        providers: list[ProviderConfig],
        *,
        public_url: str,
        clock: Clock = system_clock,
        adapters: dict[str, ProviderAdapter] | None = None,
        max_attempts: int = 3,
        fx_max_age: timedelta = timedelta(days=1),
        breaker_failures: int = 5,
        breaker_cooldown: float = 30.0,
        exploration: float = 0.05,
        worker_seconds: float = 0.5,
        webhook_max_attempts: int = 8,
        recovery_seconds: float = 5.0,
        poll_after: timedelta = timedelta(minutes=2),
        session_revoked: Any = None,
    ) -> None:
        self.db = db
        self.session_revoked = session_revoked
        self._pending_alerts: list[Event] = []
        self.router = Router(
            providers,
            breaker_failures=breaker_failures,
            breaker_cooldown=breaker_cooldown,
            exploration=exploration,
            on_circuit_opened=self._circuit_opened,
        )
        self.context = Context(
            db=db,
            wallet=wallet,
            identity=identity,
            gate=gate,
            currencies=currencies,
            clock=clock,
            providers={provider.name: provider for provider in providers},
            adapters=adapters if adapters is not None else {p.name: build_adapter(p) for p in providers},
            router=self.router,
            ledger=CashierLedger(wallet),
            public_url=public_url,
            max_attempts=max_attempts,
            fx_max_age=fx_max_age,
        )
        self.deposits = Deposits(self.context)
        self.withdrawals = Withdrawals(self.context)
        self.webhooks = WebhookQueue(
            db,
            self.context.adapters,
            self.apply_event,
            clock=clock,
            max_attempts=webhook_max_attempts,
            poll_seconds=worker_seconds,
        )
        self.recovery = Recovery(self.context, self.deposits, self.withdrawals, self.apply_event)
        self.recovery_seconds = recovery_seconds
        self.poll_after = poll_after
        self._recovery: asyncio.Task[None] | None = None

    @property
    def clock(self) -> Clock:
        return self.context.clock

    async def start(self) -> None:
        self.webhooks.start()
        self._recovery = asyncio.get_running_loop().create_task(self._recover_forever(), name="cashier-recovery")

    async def stop(self) -> None:
        await self.webhooks.stop()
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        for adapter in self.context.adapters.values():
            with contextlib.suppress(Exception):
                await adapter.aclose()

    # -- the player's side -------------------------------------------------------------------------------------------

    async def player_methods(self, player_id: UUID) -> list[dict[str, Any]]:
        """The methods the player can use, by the player's brand, country and wallet currency."""
        profile = await self.context.identity.get_player(player_id)
        return await self.methods(profile.brand_id, profile.country, profile.currency)

    async def methods(self, brand_id: str, country: str, currency: str) -> list[dict[str, Any]]:
        """Payment methods a player of the brand and country with a wallet in `currency` can use: those that have an
        eligible provider for some amount once the routing rules are applied, as a deposit would be routed.

        Deposit currencies: the wallet's when the method takes it, else every currency it takes (converted at an FX
        rate); crypto lists every asset it takes. Payout currencies, the same way for a withdrawal (the wallet's
        currency is held, the payout converted at the rate of the request); `withdrawals`: whether there is one."""
        routes = await self.context.routes()
        taken: dict[str, set[str]] = {}
        for provider in self.context.providers.values():
            for method in provider.methods:
                taken.setdefault(method, set()).update(provider.currencies)
        out = []
        for method, candidates in sorted(taken.items()):
            currencies = [
                c for c in sorted(candidates) if self.router.offered("deposit", brand_id, country, method, c, routes)
            ]
            if not currencies:
                continue
            if method != "crypto" and currency in currencies:
                currencies = [currency]  # deposit in the wallet's own currency when the method takes it
            payouts = [
                c for c in sorted(candidates) if self.router.offered("withdrawal", brand_id, country, method, c, routes)
            ]
            if method != "crypto" and currency in payouts:
                payouts = [currency]  # paid out in the wallet's own currency when the method pays it
            out.append(
                {
                    "method": method,
                    "currencies": currencies,
                    "withdrawals": bool(payouts),
                    "withdrawal_currencies": payouts,
                    "wallet_currency": currency,
                }
            )
        return out

    async def payment(self, player: PlayerRef, payment_id: UUID) -> dict[str, Any]:
        return await reload_owned(self.context, player, payment_id)

    async def history(
        self, player: PlayerRef, *, kind: str | None, before: UUID | None, limit: int
    ) -> list[dict[str, Any]]:
        async with self.db.connection() as connection:
            return await repository.list_payments(connection, player.player_id, kind=kind, before=before, limit=limit)

    # -- provider events ---------------------------------------------------------------------------------------------

    async def apply_event(self, provider: str, event: ProviderEvent) -> None:
        """Apply one provider event (from a webhook, a synchronous answer or a status query)."""
        context = self.context
        if event.kind == "deposit" and event.tx_hash and event.address and not event.attempt_id:
            await self.deposits.apply_chain_transfer(provider, event)
            return
        async with self.db.connection() as connection:
            attempt = None
            if event.attempt_id:
                attempt = await repository.get_attempt(connection, event.attempt_id)
            if attempt is None and event.provider_ref:
                attempt = await repository.attempt_by_ref(connection, provider, event.provider_ref)
            if attempt is None or attempt["provider"] != provider:
                raise NotMatchedYet(f"no attempt {event.attempt_id or event.provider_ref!r} at {provider}")
            await repository.mark_callback(connection, attempt["id"], context.clock())
            payment = await repository.get_payment(connection, attempt["payment_id"])
        assert payment is not None
        if attempt["number"] != payment["attempt_count"]:
            await self._superseded(attempt, payment, event)
            return
        if event.status in ("succeeded", "failed", "canceled") and attempt["status"] != event.status:
            async with self.db.connection() as connection:
                await repository.finish_attempt(
                    connection,
                    attempt["id"],
                    status=event.status,
                    provider_ref=event.provider_ref or attempt["provider_ref"],
                )
        if payment["kind"] == "deposit":
            await self.deposits.advance(payment, event)
        else:
            await self.withdrawals.advance(payment, event)

    async def _superseded(self, attempt: dict[str, Any], payment: dict[str, Any], event: ProviderEvent) -> None:
        """News about an attempt the cascade gave up on (it timed out). A success there is a second charge: never
        credited twice, raised as an alert for a refund (and listed by reconciliation)."""
        if event.status != "succeeded" or attempt["status"] == "charged_after_failover":
            return
        async with self.db.transaction() as connection:
            await repository.finish_attempt(
                connection, attempt["id"], status="charged_after_failover", provider_ref=event.provider_ref
            )
        payload = ChargedAfterFailover(
            payment_id=payment["id"],
            attempt_id=attempt["id"],
            provider=attempt["provider"],
            provider_ref=event.provider_ref,
            amount=event.amount,
            currency=event.currency,
        )
        await publish(
            self.context,
            [Event("cashier.alert.charged_after_failover", dump(payload), self.clock(), payment["brand_id"])],
        )

    def _circuit_opened(self, provider: str, failures: int, cooldown: float) -> None:
        now = self.clock()
        payload = CircuitOpened(provider=provider, failures=failures, until=now + timedelta(seconds=cooldown))
        self._pending_alerts.append(Event("cashier.alert.circuit_opened", dump(payload), now))

    # -- recovery ----------------------------------------------------------------------------------------------------

    async def _recover_forever(self) -> None:
        while True:
            await asyncio.sleep(self.recovery_seconds)
            try:
                await self.recover()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cashier recovery pass failed")

    async def recover(self) -> dict[str, int]:
        """Repair what a crash or a lost webhook left behind (croupier.cashier.recovery); safe any time, anywhere."""
        if self._pending_alerts:
            alerts, self._pending_alerts = self._pending_alerts, []
            await publish(self.context, alerts)
        return await self.recovery.run(self.poll_after)

    # -- back office -------------------------------------------------------------------------------------------------

    async def admin_payment(self, payment_id: UUID) -> dict[str, Any]:
        async with self.db.connection() as connection:
            payment = await repository.get_payment(connection, payment_id)
            if payment is None:
                raise PaymentNotFound("no such payment")
            attempts = await repository.attempts_of(connection, payment_id)
            checks = await repository.aml_checks(connection, payment_id)
            conversion = await connection.fetchrow(
                "SELECT * FROM cashier.conversions WHERE payment_id = $1", payment_id
            )
        return {
            **payment,
            "attempts": attempts,
            "aml_checks": checks,
            "conversion": dict(conversion) if conversion else None,
        }

    async def pending_withdrawals(self, status: str, limit: int) -> list[dict[str, Any]]:
        async with self.db.connection() as connection:
            return await repository.list_by_status(connection, "withdrawal", [status], limit=limit)

    async def add_route(self, values: dict[str, Any]) -> dict[str, Any]:
        if values["provider"] not in self.context.providers:
            raise UnknownProvider(f"no provider {values['provider']!r} is configured", provider=values["provider"])
        async with self.db.connection() as connection:
            route = await repository.insert_route(connection, {"id": uuid7(), **values, "created_at": self.clock()})
        self.context.forget_routes()
        return route

    async def list_routes(self) -> list[dict[str, Any]]:
        async with self.db.connection() as connection:
            return await repository.routes(connection)

    async def delete_route(self, route_id: UUID) -> bool:
        async with self.db.connection() as connection:
            deleted = await repository.delete_route(connection, route_id)
        self.context.forget_routes()
        return deleted

    async def add_fx_rate(
        self, *, base: str, quote: str, rate: Decimal, spread_bps: int, source: str, effective_at: datetime | None
    ) -> fx.Rate:
        self.context.currencies.get(base)
        self.context.currencies.get(quote)
        now = self.clock()
        async with self.db.connection() as connection:
            return await fx.add_rate(
                connection,
                base=base,
                quote=quote,
                rate=rate,
                spread_bps=spread_bps,
                source=source,
                effective_at=effective_at or now,
                now=now,
            )

    async def fx_rates(self) -> list[dict[str, Any]]:
        async with self.db.connection() as connection:
            return await fx.list_rates(connection)

    async def set_auto_approve_limits(self, brand_id: str, limits: dict[str, int]) -> dict[str, int]:
        for currency in limits:
            self.context.currencies.get(currency)
        async with self.db.connection() as connection:
            await repository.set_auto_approve_limits(connection, brand_id, limits, self.clock())
            return await repository.auto_approve_limits(connection, brand_id)

    async def auto_approve_limits(self, brand_id: str) -> dict[str, int]:
        async with self.db.connection() as connection:
            return await repository.auto_approve_limits(connection, brand_id)

    async def provider_health(self, window: timedelta) -> dict[str, Any]:
        async with self.db.connection() as connection:
            metrics = await repository.provider_metrics(connection, self.clock() - window)
        live = self.router.snapshot()
        return {
            "window_seconds": int(window.total_seconds()),
            "providers": [
                {"provider": name, "protocol": config.protocol, "methods": config.methods, **live.get(name, {})}
                for name, config in self.context.providers.items()
            ],
            "metrics": metrics,
        }
