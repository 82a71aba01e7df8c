"""The composition root: builds the services of one process from the settings (one `bootstrap()` per process)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from croupier.cashier.client import CashierClient, InProcessCashierClient
from croupier.cashier.providers.config import configured_providers
from croupier.cashier.service import CashierService
from croupier.compliance.client import ComplianceGate, InProcessComplianceGate
from croupier.compliance.directory import (
    IdentityPlayerDirectory,
    RegisterAdapter,
    country_resolver,
    shipped_country_database,
)
from croupier.compliance.ports import ExclusionRegister
from croupier.compliance.register import HttpSelfExclusionRegister
from croupier.compliance.service import ComplianceService
from croupier.games.service import GamesService
from croupier.identity.client import IdentityClient, InProcessIdentityClient
from croupier.identity.service import IdentityService
from croupier.kit.auth import TokenSigner, load_or_create_secret
from croupier.kit.clock import Clock, system_clock
from croupier.kit.config import Settings
from croupier.kit.db import Database
from croupier.kit.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError
from croupier.kit.migrations import Migration, apply_migrations
from croupier.kit.money import CurrencyRegistry
from croupier.wallet.client import InProcessWalletClient, WalletClient
from croupier.wallet.service import WalletService

#: (schema, package) of every service with migrations, in the order they are applied.
SERVICES: tuple[tuple[str, str], ...] = (
    ("wallet", "croupier.wallet"),
    ("identity", "croupier.identity"),
    ("compliance", "croupier.compliance"),
    ("games", "croupier.games"),
    ("cashier", "croupier.cashier"),
)
#: What `croupier up` (and a bootstrap without `services`) runs.
DEFAULT_SERVICES: tuple[str, ...] = ("wallet", "identity", "compliance", "games", "cashier")


@dataclass
class Platform:
    settings: Settings
    db: Database
    currencies: CurrencyRegistry
    services: tuple[str, ...]
    wallet: WalletService | None = None
    identity: IdentityService | None = None
    compliance: ComplianceService | None = None
    games: GamesService | None = None
    cashier: CashierService | None = None
    token_signer: TokenSigner | None = None
    clients: dict[str, Any] = field(default_factory=dict)

    @property
    def wallet_client(self) -> WalletClient:
        client: WalletClient = self.clients["wallet"]
        return client

    @property
    def identity_client(self) -> IdentityClient:
        client: IdentityClient = self.clients["identity"]
        return client

    @property
    def cashier_client(self) -> CashierClient:
        client: CashierClient = self.clients["cashier"]
        return client

    @property
    def gate(self) -> ComplianceGate:
        gate: ComplianceGate = self.clients["compliance"]
        return gate


#: The services each service calls in-process, so a process serving it must serve them too, and why.
REQUIRES: dict[str, tuple[frozenset[str], str]] = {
    "identity": (frozenset({"wallet"}), "identity opens players' wallet accounts in-process"),
    "compliance": (frozenset({"wallet", "identity"}), "the compliance gate reads players and wallet events in-process"),
    "games": (frozenset({"wallet", "compliance"}), "rounds debit the wallet and ask the compliance gate in-process"),
    "cashier": (
        frozenset({"wallet", "identity", "compliance"}),
        "the cashier credits the wallet, reads players and asks the gate in-process",
    ),
}


def required_services(service: str) -> frozenset[str]:
    """Every service `service` needs in its process: those it calls in-process, and those they need in turn."""
    needed: set[str] = set()
    pending = [service]
    while pending:
        for other in REQUIRES.get(pending.pop(), (frozenset(), ""))[0]:
            if other not in needed:
                needed.add(other)
                pending.append(other)
    return frozenset(needed - {service})


def missing_services(services: tuple[str, ...]) -> str | None:
    """Why `services` cannot run together in one process (a service without all it needs, see REQUIRES), or None.

    Names everything missing at once, the services needed only through another included, so that adding what it
    names is enough.
    """
    for service in services:
        missing = sorted(required_services(service) - set(services))
        if missing:
            flags = " ".join(f"--service {name}" for name in missing)
            return f"{REQUIRES[service][1]}: serve {service} together with {', '.join(missing)} ({flags})"
    return None


def token_signer(settings: Settings, clock: Clock = system_clock) -> TokenSigner:
    """The signer of access tokens: the configured key, or one kept in data_dir/auth-secret."""
    secret = settings.auth_secret.get_secret_value() if settings.auth_secret else None
    return TokenSigner(
        secret or load_or_create_secret(settings.data_dir),
        lifetime=timedelta(minutes=settings.access_token_minutes),
        clock=clock,
    )


async def migrate(url: str, services: tuple[str, ...] | None = None) -> dict[str, list[Migration]]:
    """Apply each service's pending migrations (one history per schema); return what was applied now."""
    db = Database(url, min_size=1, max_size=1)
    await db.connect()
    applied: dict[str, list[Migration]] = {}
    try:
        async with db.connection() as connection:
            for schema, package in SERVICES:
                if services is None or schema in services:
                    applied[schema] = await apply_migrations(connection, schema, package)  # type: ignore[arg-type]
    finally:
        await db.close()
    return applied


async def bootstrap(
    settings: Settings, url: str, services: tuple[str, ...] = DEFAULT_SERVICES, *, clock: Clock = system_clock
) -> Platform:
    """Build the services of this process. `clock` is the time source of identity (tests move it)."""
    problem = missing_services(services)
    if problem is not None:
        raise ValueError(problem)
    await migrate(url, services)
    db = Database(url, min_size=2, max_size=settings.db_pool_size)
    await db.connect()
    currencies = CurrencyRegistry.default(settings.currency_exponents)
    platform = Platform(settings=settings, db=db, currencies=currencies, services=services)
    try:
        if "wallet" in services:
            platform.wallet = WalletService(
                db,
                currencies,
                batch_max=settings.wallet_batch_max,
                optimistic_writer=settings.wallet_optimistic_writer,
                results_by_reference=settings.wallet_results_by_reference,
                events_by_reference=settings.wallet_events_by_reference,
                hold_sweep_seconds=settings.wallet_hold_sweep_seconds,
            )
            await platform.wallet.start()
            platform.clients["wallet"] = InProcessWalletClient(platform.wallet)
        # Only the process that issues tokens creates a key file; other services verify with the configured key.
        if settings.auth_secret is not None or "identity" in services:
            platform.token_signer = token_signer(settings, clock)
        if "identity" in services:
            assert platform.token_signer is not None
            platform.identity = IdentityService(
                db,
                currencies,
                platform.clients["wallet"],
                platform.token_signer,
                clock=clock,
                gate=None,  # the compliance service plugs in with platform.identity.set_gate(gate)
                refresh_token_days=settings.refresh_token_days,
            )
            platform.clients["identity"] = InProcessIdentityClient(platform.identity)
        if "compliance" in services:
            register: ExclusionRegister | None = None
            if settings.self_exclusion_register_url:
                key = settings.self_exclusion_register_api_key
                register = RegisterAdapter(
                    HttpSelfExclusionRegister(
                        settings.self_exclusion_register_url,
                        key.get_secret_value() if key else "",
                        timeout_seconds=settings.self_exclusion_register_timeout,
                    )
                )
            platform.compliance = ComplianceService(
                db,
                IdentityPlayerDirectory(platform.clients["identity"]),
                platform.clients["wallet"],
                clock=clock,
                country_of=country_resolver(await asyncio.to_thread(shipped_country_database)),
                register=register,
            )
            await platform.compliance.start()
            platform.clients["compliance"] = InProcessComplianceGate(platform.compliance)
            assert platform.identity is not None
            platform.identity.set_gate(platform.clients["compliance"])
        if "games" in services:
            platform.games = GamesService(
                db,
                platform.clients["wallet"],
                platform.clients["compliance"],
                currencies,
                clock=clock,
                recovery_seconds=settings.games_recovery_seconds,
                stale_after=timedelta(seconds=settings.games_stale_after_seconds),
                abandon_after=timedelta(seconds=settings.games_abandon_after_seconds),
                seal_seconds=settings.games_seal_seconds,
                session_revoked=IdentityPlayerDirectory(platform.clients["identity"]).session_revoked
                if "identity" in platform.clients
                else None,
            )
            await platform.games.start()
        if "cashier" in services:
            platform.cashier = CashierService(
                db,
                platform.clients["wallet"],
                platform.clients["identity"],
                platform.clients["compliance"],
                currencies,
                configured_providers(settings.cashier_providers, settings.cashier_simulator_url),
                public_url=settings.cashier_public_url or f"http://{settings.host}:{settings.port}",
                clock=clock,
                max_attempts=settings.cashier_max_attempts,
                fx_max_age=timedelta(seconds=settings.cashier_fx_max_age_seconds),
                breaker_failures=settings.cashier_breaker_failures,
                breaker_cooldown=settings.cashier_breaker_cooldown_seconds,
                exploration=settings.cashier_exploration,
                worker_seconds=settings.cashier_worker_seconds,
                webhook_max_attempts=settings.cashier_webhook_max_attempts,
                recovery_seconds=settings.cashier_recovery_seconds,
                poll_after=timedelta(seconds=settings.cashier_poll_after_seconds),
                session_revoked=IdentityPlayerDirectory(platform.clients["identity"]).session_revoked,
            )
            await platform.cashier.start()
            platform.clients["cashier"] = InProcessCashierClient(platform.cashier)
    except BaseException:
        await db.close()
        raise
    return platform


async def shutdown(platform: Platform) -> None:
    if platform.cashier is not None:
        await platform.cashier.stop()
    if platform.games is not None:
        await platform.games.stop()
    if platform.compliance is not None:
        await platform.compliance.stop()
    if platform.wallet is not None:
        await platform.wallet.stop()
    await platform.db.close()


@contextlib.asynccontextmanager
async def running_platform(
    settings: Settings, url: str, services: tuple[str, ...] = DEFAULT_SERVICES
) -> AsyncIterator[Platform]:
    platform = await bootstrap(settings, url, services)
    try:
        yield platform
    finally:
        await shutdown(platform)


@contextlib.contextmanager
def database_url(
    settings: Settings, *, attach_to_running: bool = False
) -> Iterator[tuple[str, EmbeddedPostgres | None]]:
    """The configured PostgreSQL URL, or an embedded server started for the duration of the block.

    With `attach_to_running`, a server that another Croupier process owns on the same data directory is used as it
    is (for tools such as `wallet verify` next to a running `croupier up`); otherwise that is an error.
    """
    if settings.database_url:
        yield settings.database_url, None
        return
    server = EmbeddedPostgres(settings.data_dir, settings.pg_port)
    try:
        url = server.start()
    except EmbeddedPostgresError:
        # Another Croupier (e.g. `croupier up`) owns this data directory: use its server, leave it running.
        running = server.running_url() if attach_to_running else None
        if running is None:
            raise
        yield running, None
        return
    try:
        yield url, server
    finally:
        server.stop()
