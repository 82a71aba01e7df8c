"""Configuration from the environment (prefix CROUPIER_) with defaults that work on a laptop.

Every setting is documented in docs/configuration.md; keep the two in step.
"""

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CROUPIER_", env_nested_delimiter="__", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL to use instead of the embedded server (then none is started).",
    )
    data_dir: Path = Field(default=Path(".croupier"), description="Where the embedded PostgreSQL keeps its data.")
    host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port of the HTTP API (0 picks a free one).")
    pg_port: int = Field(default=0, ge=0, le=65535, description="Port of the embedded PostgreSQL (0 picks a free one).")
    db_pool_size: int = Field(default=10, ge=2, le=200, description="Connections in the service's pool.")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body accepted.")
    currency_exponents: dict[str, int] = Field(
        default_factory=dict,
        description='Precision of crypto assets, e.g. {"ETH": 12} (0 to 12); ISO 4217 exponents are fixed.',
    )
    wallet_batch_max: int = Field(
        default=1000, ge=1, le=10_000, description="Most wallet commands applied in one database transaction."
    )
    wallet_results_by_reference: bool = Field(
        default=True,
        description=(
            "Store the result of a single transfer, hold or hold resolution by reference: the transfer's id and the "
            "two balances, the transfer read back from the ledger on a replay (ADR 0005, session 6). False: the whole "
            "transfer is stored again with the key. Keep false while a wallet process older than this setting runs."
        ),
    )
    wallet_events_by_reference: bool = Field(
        default=True,
        description=(
            "Write a transfer's event as a reference to the transfer (one wallet.transfer_events row per batch); the "
            "event feed renders it from the transfer row (ADR 0005, session 7). False: each event is written whole "
            "to wallet.outbox. Keep false while a wallet process older than this setting serves the event feed."
        ),
    )
    wallet_optimistic_writer: bool = Field(
        default=True,
        description=(
            "Pipeline the ledger writer: read and apply the next batch without row locks while the previous one is "
            "written, guarded by compare-and-swap (ADR 0005). False: every batch locks its accounts (ADR 0002)."
        ),
    )
    wallet_hold_sweep_seconds: float = Field(
        default=1.0, gt=0, description="How often expired holds are looked for and voided."
    )
    games_recovery_seconds: float = Field(
        default=5.0, gt=0, description="How often the games service looks for interrupted or abandoned rounds."
    )
    games_stale_after_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A round stuck this long before its outcome is fixed is voided (its stake refunded); one stuck "
        "after it is paid.",
    )
    games_abandon_after_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="A multi-step round (mines, blackjack) left this long is finished by the game's rules.",
    )
    games_seal_seconds: float = Field(
        default=0.5, gt=0, description="How often new round audit entries are sealed into the hash chain."
    )
    auth_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Key that signs access tokens (HS256), at least 32 characters; every process of one deployment needs the "
            "same. Unset: a random key is created in data_dir/auth-secret (mode 0600) and reused."
        ),
        min_length=32,
    )
    access_token_minutes: int = Field(default=10, ge=1, le=15, description="Lifetime of an access token, minutes.")
    refresh_token_days: int = Field(default=30, ge=1, le=365, description="Lifetime of a refresh token family, days.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) of reverse proxies whose X-Forwarded-For header is believed. Empty: none.",
    )
    self_exclusion_register_url: str | None = Field(
        default=None,
        description="Base URL of the national self-exclusion register (GAMSTOP-style). Unset: no register is asked.",
    )
    self_exclusion_register_api_key: SecretStr | None = Field(default=None, description="The register's API key.")
    self_exclusion_register_timeout: float = Field(
        default=2.0, gt=0, le=30, description="Seconds a register check may take, retry included."
    )
    cashier_providers: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Payment providers (JSON list of provider configurations, see docs/cashier.md). Empty: the "
        "simulator's providers when cashier_simulator_url is set, else none.",
    )
    cashier_simulator_url: str | None = Field(
        default=None,
        description="Base URL of `croupier simulate psp`: use its providers with their default credentials.",
    )
    cashier_public_url: str | None = Field(
        default=None,
        description="Public base URL of this platform, for provider webhooks and redirects (default http://host:port).",
    )
    cashier_worker_seconds: float = Field(default=0.5, gt=0, description="How often the webhook queue is polled.")
    cashier_webhook_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Tries to apply a queued webhook before it is dead-lettered."
    )
    cashier_recovery_seconds: float = Field(
        default=5.0, gt=0, description="How often interrupted payments are looked for and repaired."
    )
    cashier_poll_after_seconds: float = Field(
        default=120.0, gt=0, description="A payment with no webhook this long is asked about at its provider."
    )
    cashier_max_attempts: int = Field(default=3, ge=1, le=10, description="Providers tried for one payment.")
    cashier_fx_max_age_seconds: float = Field(
        default=86_400.0, gt=0, description="An FX rate older than this is not used for a conversion."
    )
    cashier_breaker_failures: int = Field(
        default=5, ge=1, description="Consecutive failures that take a provider out of rotation."
    )
    cashier_breaker_cooldown_seconds: float = Field(
        default=30.0, gt=0, description="How long a provider stays out of rotation before it is tried again."
    )
    cashier_exploration: float = Field(
        default=0.05, ge=0, le=0.5, description="Share of payments routed to a random eligible provider."
    )
    log_level: str = Field(default="info", description="Log level of the platform's loggers.")
