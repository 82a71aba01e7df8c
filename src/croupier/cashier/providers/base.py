"""The port every payment-provider adapter implements, and the values that cross it.

An adapter speaks one provider protocol over HTTP. It never touches the database or the wallet: the cashier
(`croupier.cashier.service`) decides what to do with what an adapter reports.

Rules every adapter follows:
- `attempt_id` is sent as the provider's idempotency key and merchant reference. Calling `start`/`payout` again with
  the same attempt id must not charge or pay twice (the provider answers with the original result).
- Errors are classified, never raised, by `start`/`payout`: a hard decline (the card is refused: do not cascade), a
  soft decline (try another provider), a provider error (5xx, malformed answer), or a timeout (we do not know whether
  the provider acted). Only programming errors raise.
- Amounts are integer minor units of `currency` on our side; the adapter converts to the wire format of its protocol
  (minor units, decimal strings, whole units) with `exponent`, and refuses to round.
- `verify_webhook` checks authenticity (signature, token, timestamp tolerance) from the raw body as received;
  `parse_webhook` turns a verified body into provider events (it may call the provider, e.g. to fetch a status).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Protocol
from uuid import UUID

import httpx

PaymentKind = Literal["deposit", "withdrawal"]


class Outcome(StrEnum):
    """What one attempt at one provider came to, as far as the synchronous answer tells."""

    SUCCEEDED = "succeeded"  # charged / paid now (a webhook will usually confirm it)
    PENDING = "pending"  # accepted; the result comes later by webhook (bank redirect, QR, push, confirmations)
    HARD_DECLINE = "hard_decline"  # refused for a reason another provider would share: fail the payment
    SOFT_DECLINE = "soft_decline"  # refused for this provider's reasons: cascade to the next one
    PROVIDER_ERROR = "provider_error"  # 5xx, refused credentials, an answer we cannot read: cascade
    TIMEOUT = "timeout"  # no answer in time; the provider may or may not have acted: cascade

    @property
    def cascades(self) -> bool:
        return self in (Outcome.SOFT_DECLINE, Outcome.PROVIDER_ERROR, Outcome.TIMEOUT)

    @property
    def accepted(self) -> bool:
        return self in (Outcome.SUCCEEDED, Outcome.PENDING)


@dataclass(frozen=True, slots=True)
class NextAction:
    """What the player does to finish a payment the provider accepted.

    type: "redirect" (url), "qr" (qr_data and usually copy_paste, e.g. Pix), "upi_intent" (url: upi://pay?...),
    "approve_on_phone" (message: STK push / UPI collect sent), "crypto_address" (address, network, asset).
    """

    type: Literal["redirect", "qr", "upi_intent", "approve_on_phone", "crypto_address", "none"]
    url: str | None = None
    qr_data: str | None = None
    copy_paste: str | None = None
    message: str | None = None
    address: str | None = None
    network: str | None = None
    asset: str | None = None
    expires_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for name in ("url", "qr_data", "copy_paste", "message", "address", "network", "asset"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.expires_at is not None:
            out["expires_at"] = self.expires_at.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class PaymentOrder:
    """One attempt to move money through one provider."""

    attempt_id: str  # f"{payment_id}-{attempt number}": the provider's idempotency key and our reference
    payment_id: UUID
    kind: PaymentKind
    method: str  # card, pix, upi, ideal, ewallet, mobile_money, crypto
    amount: int  # minor units of currency (for a crypto address request: the expected amount, or 0)
    currency: str
    exponent: int  # minor-unit exponent of currency (EUR 2, JPY 0, BTC 8, USDT 6)
    country: str  # ISO 3166-1 alpha-2
    player_id: str
    brand_id: str
    details: Mapping[str, Any] = field(default_factory=dict)  # method input: card token, vpa, phone, bank, network
    return_url: str = ""  # where a redirect flow sends the player back
    webhook_url: str = ""  # where the provider posts events for this payment


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: Outcome
    provider_ref: str | None = None  # the provider's id of the charge / payout / request
    next_action: NextAction | None = None
    error_code: str | None = None  # the provider's code (decline code, HTTP status, "timeout")
    detail: str = ""
    latency_ms: float = 0.0


ProviderStatus = Literal["pending", "processing", "succeeded", "failed", "canceled", "refunded"]


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One fact a provider reported by webhook (or a status query), in our terms."""

    event_id: str  # the provider's unique id of this event (or a stable digest of its content)
    kind: PaymentKind
    status: ProviderStatus
    attempt_id: str | None = None  # our reference, when the event carries it
    provider_ref: str | None = None
    amount: int | None = None  # minor units actually charged / received / paid
    currency: str | None = None
    occurred_at: datetime | None = None
    error_code: str | None = None
    # crypto: the on-chain transfer this event is about
    address: str | None = None
    network: str | None = None
    tx_hash: str | None = None
    confirmations: int | None = None
    raw_type: str = ""  # the provider's own event type, for the audit trail


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """One line of a provider's settlement report, in our terms."""

    provider_ref: str
    reference: str | None  # our attempt id (or crypto tx hash) as the provider recorded it
    kind: PaymentKind
    amount: int  # minor units, gross
    fee: int  # minor units
    currency: str
    status: ProviderStatus
    settled_on: date


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    """What the webhook endpoint answers once the event is queued (some protocols expect a fixed body)."""

    status: int = 200
    media_type: str = "application/json"
    body: bytes = b'{"received":true}'


class ProviderUnavailable(Exception):
    """The provider could not be asked (no answer, 5xx, refused credentials, an unreadable answer).

    `status`, `settlement_report` and a `parse_webhook` that fetches raise it; the caller retries later. It never
    means "the provider does not know this attempt" (that is `status` returning None).
    """


def resource_or_none(provider: str, response: httpx.Response) -> dict[str, Any] | None:
    """The JSON object of a lookup: None when the provider answers 404, ProviderUnavailable for anything else that
    is not a 200 with a JSON object."""
    if response.status_code == 404:
        return None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200 or not isinstance(answer, dict):
        raise ProviderUnavailable(
            f"{provider}: {response.request.method} {response.request.url.path} answered {response.status_code}"
        )
    return answer


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a time.perf_counter() value)."""
    return (time.perf_counter() - started) * 1000


class WebhookRejected(Exception):
    """The webhook is not authentic (bad or missing signature, stale timestamp, wrong token) or unreadable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # stable: missing_signature, bad_signature, stale_timestamp, malformed
        self.detail = detail


class ProviderAdapter(Protocol):
    """One configured provider (an instance of a protocol), as the cashier sees it."""

    name: str  # the instance's name in the configuration, e.g. "stripe", "adyen-eu"
    protocol: str  # the protocol module, e.g. "stripe"

    async def start(self, order: PaymentOrder) -> AttemptResult:
        """Begin a deposit (charge, QR code, redirect, push, crypto address)."""
        ...

    async def payout(self, order: PaymentOrder) -> AttemptResult:
        """Send a withdrawal to the player."""
        ...

    async def status(self, attempt_id: str, provider_ref: str | None, kind: PaymentKind) -> ProviderEvent | None:
        """Ask the provider where an attempt stands (None: it never heard of it)."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: datetime) -> None:
        """Raise WebhookRejected unless the webhook is authentic. Header names are lower-case."""
        ...

    async def parse_webhook(self, body: bytes) -> list[ProviderEvent]:
        """The events in a verified webhook body (raise WebhookRejected if it cannot be read)."""
        ...

    def webhook_answer(self) -> WebhookAnswer:
        """What to answer the provider once its webhook is stored."""
        ...

    async def settlement_report(self, day: date) -> list[SettlementLine]:
        """The provider's settlement report for `day` (transactions settled that day)."""
        ...

    async def aclose(self) -> None: ...


def to_decimal_string(amount: int, exponent: int) -> str:
    """Minor units as the decimal string many protocols use: (1234, 2) -> "12.34", (500, 0) -> "500"."""
    if exponent == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    digits = str(abs(amount)).rjust(exponent + 1, "0")
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"


def from_decimal_string(value: str | int | float | Decimal, exponent: int) -> int:
    """A decimal amount from the wire as minor units; refuses a value with more digits than the currency has."""
    number = Decimal(str(value))
    scaled = number.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more decimals than the currency's {exponent}")
    return int(scaled)
