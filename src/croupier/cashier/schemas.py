"""Request and response models of the cashier API. Amounts are integers in minor units of their currency."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from croupier.cashier.providers.config import METHODS
from croupier.kit.money import MAX_MINOR_UNITS

Method = Annotated[str, Field(pattern=r"^[a-z_]{2,32}$", description="One of: " + ", ".join(METHODS))]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{2,9}$", examples=["EUR"])]
RequestKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="Your unique key for this request: repeating it returns the same payment (also after a "
        "failover or a timeout), so a checkout is never charged twice.",
    ),
]
DETAIL_KEYS = (
    "card_token", "bin", "vpa", "flow", "phone", "channel", "bank", "iban", "pix_key", "network", "address",
    "return_url", "account_name", "holder_name", "account_holder", "destination",
)  # fmt: skip


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PaymentDetails(_In):
    """What the method needs from the player. Card numbers never reach the platform: only the provider's token."""

    card_token: str | None = Field(None, max_length=200, description="card: the provider's payment-method token.")
    bin: str | None = Field(None, pattern=r"^[0-9]{6,8}$", description="card: the first 6-8 digits (for routing).")
    vpa: str | None = Field(None, max_length=100, description="upi: the payer's VPA, e.g. name@bank.")
    flow: Literal["collect", "intent"] | None = Field(None, description="upi: collect request or intent link.")
    phone: str | None = Field(None, pattern=r"^\+?[0-9]{8,15}$", description="mobile_money / ewallet: MSISDN.")
    channel: str | None = Field(None, max_length=40, description="ewallet: e.g. PH_GCASH, SG_GRABPAY, CN_ALIPAY.")
    bank: str | None = Field(None, max_length=40, description="ideal: the issuing bank (BIC), optional.")
    iban: str | None = Field(None, pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$", description="payouts to a bank.")
    pix_key: str | None = Field(None, max_length=100, description="pix payouts: the receiver's Pix key.")
    network: str | None = Field(None, pattern=r"^[a-z]{2,20}$", description="crypto: bitcoin, ethereum or tron.")
    address: str | None = Field(None, max_length=120, description="crypto payouts: the destination address.")
    return_url: str | None = Field(None, max_length=500, description="redirect flows: where the player comes back.")
    account_name: str | None = Field(None, max_length=100)
    holder_name: str | None = Field(None, max_length=100, description="card: the cardholder's name.")
    account_holder: str | None = Field(None, max_length=100, description="bank payouts: the account holder.")
    destination: str | None = Field(None, max_length=200, description="card payouts: the provider's destination.")

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class DepositRequest(_In):
    method: Method
    amount: StrictInt = Field(
        ge=0,
        le=MAX_MINOR_UNITS,
        description="Minor units of `currency`. Crypto: the amount you expect to send (0: any); what arrives is "
        "credited.",
    )
    currency: CurrencyCode | None = Field(None, description="Default: the wallet's currency.")
    request_key: RequestKey
    details: PaymentDetails = Field(default_factory=PaymentDetails)


class WithdrawalRequest(_In):
    method: Method
    amount: StrictInt = Field(
        ge=1, le=MAX_MINOR_UNITS, description="Minor units of the wallet's currency: what is held, then debited."
    )
    currency: CurrencyCode | None = Field(
        None,
        description="The currency the provider pays out in (default: the wallet's). Another currency is converted "
        "at the newest FX rate when the request is made (rounded down, spread kept), and that rate is kept: the "
        "payment's `amount` is the payout. No rate newer than the maximum age: 422 fx_rate_unavailable.",
    )
    request_key: RequestKey
    details: PaymentDetails = Field(default_factory=PaymentDetails)


class NextActionOut(BaseModel):
    type: str = Field(description="redirect, qr, upi_intent, approve_on_phone, crypto_address")
    url: str | None = None
    qr_data: str | None = None
    copy_paste: str | None = None
    message: str | None = None
    address: str | None = None
    network: str | None = None
    asset: str | None = None
    expires_at: str | None = None


class PaymentOut(BaseModel):
    id: UUID
    kind: Literal["deposit", "withdrawal"]
    status: str = Field(
        description="deposit: created, pending, awaiting_transfer, processing, succeeded, failed, canceled, expired; "
        "crypto also held (arrived, refused by the compliance gate on arrival, waiting for an admin) and "
        "refund_requested (never credited). "
        "withdrawal: requested, pending_approval, approved, processing, paid, failed, rejected, canceled."
    )
    method: str
    currency: str = Field(description="What the provider charges or pays out in.")
    amount: int = Field(description="Minor units of `currency`: asked (deposits), paid out (withdrawals).")
    received_amount: int | None = Field(description="What the provider actually received or paid.")
    wallet_currency: str
    wallet_amount: int | None = Field(
        None, description="Withdrawals: what is held and debited, in the wallet's currency (after any conversion)."
    )
    credited_amount: int | None = Field(description="What moved in the wallet (after conversion, if any).")
    credited: bool
    next_action: NextActionOut | None
    failure_code: str | None
    review: dict[str, Any] = Field(
        description="Withdrawals: why it waits for approval. Crypto: under/overpaid; `compliance`, the gate's verdict "
        "when the coins arrived (verdict, reason, rule, decision_id); an admin's release or refund decision."
    )
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, payment: dict[str, Any]) -> PaymentOut:
        return cls(**{**payment, "credited": payment["credited_at"] is not None})


class PaymentPage(BaseModel):
    items: list[PaymentOut]
    next_before: UUID | None = Field(description="Pass as `before` for the next page; null on the last one.")

    @classmethod
    def of(cls, payments: list[dict[str, Any]], limit: int) -> PaymentPage:
        return cls(
            items=[PaymentOut.of(payment) for payment in payments],
            next_before=payments[-1]["id"] if len(payments) == limit else None,
        )


# -- the reads other services make (the cashier client): one definition of their parameters for both transports --

PaymentKind = Literal["deposit", "withdrawal"]
WithdrawalStatus = Literal[
    "requested", "pending_approval", "approved", "processing", "paid", "failed", "rejected", "canceled"
]


class _Query(BaseModel):
    model_config = ConfigDict(frozen=True)  # unknown query parameters are ignored, as on every other route


class PaymentsQuery(_Query):
    kind: PaymentKind | None = Field(None, description="Only deposits, or only withdrawals.")
    before: UUID | None = Field(None, description="Only payments older than this payment id (`next_before`).")
    limit: int = Field(50, ge=1, le=500)


class WithdrawalsQuery(_Query):
    status: WithdrawalStatus = Field("pending_approval", description="Default: the approval queue.")
    limit: int = Field(100, ge=1, le=500)


class ProviderHealthQuery(_Query):
    hours: int = Field(24, ge=1, le=24 * 31, description="The window of the per-method metrics, in hours.")


class ReconciliationsQuery(_Query):
    provider: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]{0,31}$", description="One provider's runs.")
    day: date | None = Field(None, description="Runs for this settlement day.")
    limit: int = Field(50, ge=1, le=500)


class MethodOut(BaseModel):
    method: str
    currencies: list[str] = Field(description="Currencies a deposit can be made in.")
    withdrawals: bool = Field(description="Whether withdrawals can be paid out with this method.")
    withdrawal_currencies: list[str] = Field(
        description=(
            "Currencies a withdrawal can be paid out in: the wallet's when the method pays it, else those it pays "
            "(the wallet's currency is held, the payout converted at the FX rate recorded with the request)."
        )
    )
    wallet_currency: str


class AttemptOut(BaseModel):
    id: str
    number: int
    provider: str
    status: str
    outcome: str | None
    provider_ref: str | None
    error_code: str | None
    detail: str
    latency_ms: float | None
    created_at: datetime
    finished_at: datetime | None
    callback_at: datetime | None


class AdminPaymentOut(PaymentOut):
    player_id: str
    brand_id: str
    country: str
    provider: str | None
    provider_ref: str | None
    hold_id: UUID | None
    decision_id: UUID | None
    failure_detail: str | None
    attempts: list[AttemptOut]
    aml_checks: list[dict[str, Any]]
    conversion: dict[str, Any] | None

    @classmethod
    def of(cls, payment: dict[str, Any]) -> AdminPaymentOut:
        return cls(**{**payment, "credited": payment["credited_at"] is not None})


class WithdrawalQueueItem(PaymentOut):
    player_id: str
    brand_id: str


class RejectRequest(_In):
    reason: str = Field(min_length=1, max_length=500)


class HeldDepositItem(PaymentOut):
    player_id: str
    brand_id: str
    provider: str | None
    provider_ref: str | None = Field(description="Crypto: the transaction hash.")


class DepositDecisionRequest(_In):
    reason: str = Field(min_length=1, max_length=500, description="Why: kept with the decision, for the audit.")


class WebhookEventOut(BaseModel):
    id: int
    provider: str
    status: str
    attempts: int
    deliveries: int
    received_at: datetime
    next_attempt_at: datetime
    applied_at: datetime | None
    last_error: str | None
    headers: dict[str, Any]
    body: str
    events: list[dict[str, Any]] | None


class RouteIn(_In):
    provider: str = Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")
    priority: int = Field(100, ge=0, le=10_000)
    weight: int = Field(1, ge=0, le=10_000)
    brand_id: str | None = Field(None, max_length=63)
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    method: Method | None = None
    currency: CurrencyCode | None = None
    min_amount: StrictInt | None = Field(None, ge=0, le=MAX_MINOR_UNITS)
    max_amount: StrictInt | None = Field(None, ge=0, le=MAX_MINOR_UNITS)
    bin_from: str | None = Field(None, pattern=r"^[0-9]{6,8}$")
    bin_to: str | None = Field(None, pattern=r"^[0-9]{6,8}$")
    enabled: bool = True


class RouteOut(BaseModel):
    id: UUID
    provider: str
    priority: int
    weight: int
    brand_id: str | None
    country: str | None
    method: str | None
    currency: str | None
    min_amount: int | None
    max_amount: int | None
    bin_from: str | None
    bin_to: str | None
    enabled: bool
    created_at: datetime


class FxRateIn(_In):
    base: CurrencyCode
    quote: CurrencyCode
    rate: Decimal = Field(gt=0, max_digits=38, decimal_places=18, description="1 base = rate quote (major units).")
    spread_bps: int = Field(0, ge=0, le=5000, description="What the platform keeps, in basis points.")
    source: str = Field(min_length=1, max_length=100, description="Where the rate comes from (e.g. ECB).")
    effective_at: datetime | None = Field(None, description="Default: now.")

    @field_validator("effective_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("effective_at must carry a time zone offset")
        return value


class FxRateOut(BaseModel):
    id: UUID
    base: str
    quote: str
    rate: Decimal
    spread_bps: int
    source: str
    effective_at: datetime


class AutoApprovalIn(_In):
    limits: dict[CurrencyCode, Annotated[StrictInt, Field(ge=0, le=MAX_MINOR_UNITS)]] = Field(
        description="Largest withdrawal approved without review, per currency (minor units). A currency not "
        "listed always goes to the approval queue."
    )


class AutoApprovalOut(BaseModel):
    brand_id: str
    limits: dict[str, int]


class ReconcileIn(_In):
    provider: str = Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")
    day: date


class ReconciliationItemOut(BaseModel):
    id: UUID
    kind: Literal["missing_in_ledger", "missing_at_provider", "amount_mismatch", "status_mismatch"]
    reference: str | None
    provider_ref: str | None
    payment_id: UUID | None
    currency: str | None
    ledger_amount: int | None
    provider_amount: int | None
    ledger_status: str | None
    provider_status: str | None
    detail: str


class ReconciliationOut(BaseModel):
    id: UUID
    provider: str
    day: date
    run_at: datetime
    ledger_lines: int
    provider_lines: int
    matched: int
    discrepancies: int
    by_kind: dict[str, int]
    items: list[ReconciliationItemOut] = Field(description="Empty in listings; every difference in one run.")


class ProviderStateOut(BaseModel):
    provider: str
    protocol: str
    methods: list[str]
    recent_outcomes: int | None = None
    recent_success_rate: float | None = Field(None, description="Smoothed, over this process's last attempts.")
    circuit: Literal["closed", "open", "half_open"] | None = None
    consecutive_failures: int | None = None
    reopens_in_seconds: float | None = None


class ProviderMetricOut(BaseModel):
    provider: str
    method: str
    country: str
    attempts: int
    accepted: int
    succeeded: int
    hard_declines: int
    failures: int
    success_rate: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    callback_lag_p50_ms: float | None
    callback_lag_p95_ms: float | None


class ProviderHealthOut(BaseModel):
    window_seconds: int
    providers: list[ProviderStateOut]
    metrics: list[ProviderMetricOut] = Field(description="Per provider, method and country, over the window.")
