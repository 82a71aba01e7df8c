"""How an operator configures a provider instance, and how the adapter for it is built."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from croupier.cashier.providers.base import ProviderAdapter

#: Payment methods the cashier knows. A provider offers some of them.
METHODS = ("card", "pix", "upi", "ideal", "ewallet", "mobile_money", "crypto")

#: protocol name -> module that implements it (each module exports `Adapter(config, http=None)`).
PROTOCOLS = {
    "stripe": "croupier.cashier.providers.stripe",
    "adyen": "croupier.cashier.providers.adyen",
    "pix": "croupier.cashier.providers.pix",
    "upi": "croupier.cashier.providers.upi",
    "ideal": "croupier.cashier.providers.ideal",
    "ewallet": "croupier.cashier.providers.ewallet",
    "mpesa": "croupier.cashier.providers.mpesa",
    "crypto": "croupier.cashier.providers.crypto",
}


class ProviderConfig(BaseModel):
    """One provider instance. Secrets are never logged or returned by the API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z][a-z0-9-]{0,31}$",
        description="Instance name, e.g. stripe, adyen-eu ('withdrawals' is reserved: it labels the held payouts).",
    )
    protocol: str = Field(description="One of: " + ", ".join(PROTOCOLS))
    base_url: str = Field(description="The provider API's base URL (the simulator's /<name> path in development).")
    api_key: SecretStr = Field(default=SecretStr(""), description="Credential for calls to the provider.")
    webhook_secret: SecretStr = Field(default=SecretStr(""), description="Key that authenticates its webhooks.")
    methods: list[str] = Field(description="Payment methods this provider takes: " + ", ".join(METHODS))
    countries: list[str] = Field(default_factory=lambda: ["*"], description='ISO country codes, or ["*"].')
    currencies: list[str] = Field(description="Currencies it charges and pays out in.")
    payouts: bool = Field(default=True, description="Whether withdrawals can be paid out through it.")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="Per-call timeout.")
    priority: int = Field(default=100, description="Lower is tried first when no routing rule says otherwise.")
    weight: int = Field(default=1, ge=0, description="Share of traffic among providers of the same priority.")
    routed_only: bool = Field(
        default=False,
        description="Only payments a routing rule names it for go to it (e.g. a provider contracted for some brands: "
        "a rule with their brand_id enables it for them); by default every payment it serves may.",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Protocol-specific settings.")

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name == "withdrawals":
            raise ValueError("'withdrawals' is reserved (it labels the account of held payouts)")
        return name

    def serves(self, method: str, country: str, currency: str) -> bool:
        return (
            method in self.methods
            and ("*" in self.countries or country in self.countries)
            and currency in self.currencies
        )


def build_adapter(config: ProviderConfig, http: httpx.AsyncClient | None = None) -> ProviderAdapter:
    """The adapter for a provider instance (its protocol's module is imported on first use)."""
    try:
        module = importlib.import_module(PROTOCOLS[config.protocol])
    except KeyError:
        raise ValueError(f"unknown provider protocol {config.protocol!r}; known: {', '.join(PROTOCOLS)}") from None
    adapter: ProviderAdapter = module.Adapter(config, http=http)
    return adapter


#: The providers of `croupier simulate psp`, as (name, methods, countries, currencies, priority).
SIMULATED = (
    ("stripe", ["card"], ["*"], ["EUR", "USD", "GBP", "CAD", "AUD", "BRL", "SEK", "NOK", "DKK", "PLN", "JPY"], 10),
    ("adyen", ["card"], ["*"], ["EUR", "USD", "GBP", "CAD", "AUD", "BRL", "SEK", "NOK", "DKK", "PLN", "JPY"], 20),
    ("pix", ["pix"], ["BR"], ["BRL"], 10),
    ("upi", ["upi"], ["IN"], ["INR"], 10),
    ("ideal", ["ideal"], ["NL"], ["EUR"], 10),
    ("ewallet", ["ewallet"], ["PH", "SG", "MY", "CN", "TH"], ["PHP", "SGD", "MYR", "CNY", "THB"], 10),
    ("mpesa", ["mobile_money"], ["KE", "TZ", "UG"], ["KES", "TZS", "UGX"], 10),
    ("crypto", ["crypto"], ["*"], ["BTC", "USDT"], 10),
)


def simulator_providers(base_url: str) -> list[ProviderConfig]:
    """The provider configuration that talks to `croupier simulate psp` at base_url, with the simulator's default
    credentials (api key `sim_<name>_key_0123456789`, webhook secret `whsec_sim_<name>_0123456789abcdef`)."""
    return [
        ProviderConfig(
            name=name,
            protocol=name,
            base_url=f"{base_url.rstrip('/')}/{name}",
            api_key=SecretStr(f"sim_{name}_key_0123456789"),
            webhook_secret=SecretStr(f"whsec_sim_{name}_0123456789abcdef"),
            methods=methods,
            countries=countries,
            currencies=currencies,
            priority=priority,
            timeout_seconds=5.0,
        )
        for name, methods, countries, currencies, priority in SIMULATED
        if importlib.util.find_spec(PROTOCOLS[name]) is not None
    ]


def configured_providers(configured: list[dict[str, Any]], simulator_url: str | None) -> list[ProviderConfig]:
    """The providers of this deployment (Settings.cashier_providers, else the simulator's when its URL is set)."""
    if configured:
        return [ProviderConfig.model_validate(item) for item in configured]
    if simulator_url:
        return simulator_providers(simulator_url)
    return []
