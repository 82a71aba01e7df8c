"""The adapter for card providers speaking Adyen's Checkout API (docs/providers/adyen.md).

Deposits are one /payments call (automatic capture); withdrawals go through the Payout API. Our attempt id is the
merchant `reference` and the Idempotency-Key. Adyen answers refusals with HTTP 200 and a `resultCode`; its
webhooks are standard notifications whose items are each signed with the merchant's HMAC key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import httpx

from croupier.cashier.providers.base import (
    AttemptResult,
    NextAction,
    Outcome,
    PaymentKind,
    PaymentOrder,
    ProviderEvent,
    ProviderStatus,
    ProviderUnavailable,
    SettlementLine,
    WebhookAnswer,
    WebhookRejected,
    from_decimal_string,
    resource_or_none,
)
from croupier.cashier.providers.config import ProviderConfig
from croupier.kit.currency_data import ISO_4217

EXPONENTS = {c.code: c.exponent for c in ISO_4217}
DEFAULT_MERCHANT_ACCOUNT = "CroupierECOM"
PAYMENTS_PATH = "/v71/payments"
PAYOUT_PATH = "/pal/servlet/Payout/v68/payout"

#: refusalReasonCode values about the provider or the issuer's reachability, not about the card: the next provider
#: may well succeed. Every other refusal (balance, blocked/expired/stolen card, CVC, fraud, 3-D Secure failed by
#: the shopper, limits, ...) comes from the issuer or the shopper and would be repeated: hard.
SOFT_REFUSAL_CODES = frozenset(
    {
        "4",  # Acquirer Error
        "9",  # Issuer Unavailable
        "10",  # Not supported (by this acquirer for this card)
        "21",  # Not Submitted
        "38",  # Authentication required (the next provider may run 3-D Secure)
        "39",  # RReq not received from DS
        "42",  # 3DS Authentication Error
    }
)
PENDING_RESULTS = ("Received", "Pending", "PresentToShopper")
ACTION_RESULTS = ("RedirectShopper", "IdentifyShopper", "ChallengeShopper")

#: (eventCode, success) -> our status; pairs not listed (REPORT_AVAILABLE, a failed CAPTURE request, ...) are no
#: event of ours. AUTHORISATION success is success: with automatic capture Adyen commits to the payment there.
EVENT_STATUSES: dict[tuple[str, bool], ProviderStatus] = {
    ("AUTHORISATION", True): "succeeded",
    ("AUTHORISATION", False): "failed",
    ("CAPTURE", True): "succeeded",
    ("CAPTURE_FAILED", True): "failed",
    ("CANCELLATION", True): "canceled",
    ("REFUND", True): "refunded",
    ("CHARGEBACK", True): "refunded",
    ("PAYOUT_THIRDPARTY", True): "succeeded",
    ("PAYOUT_THIRDPARTY", False): "failed",
    ("PAYOUT_DECLINE", True): "failed",
    ("PAYOUT_EXPIRE", True): "failed",
    ("PAIDOUT_REVERSED", True): "refunded",
}
TRANSACTION_STATUSES: dict[str, ProviderStatus] = {
    "Received": "pending",
    "Pending": "pending",
    "RedirectShopper": "pending",
    "Authorised": "succeeded",
    "Captured": "succeeded",
    "Refused": "failed",
    "Error": "failed",
    "Cancelled": "canceled",
    "Refunded": "refunded",
}
SETTLEMENT_TYPES: dict[str, tuple[PaymentKind, ProviderStatus]] = {
    "Settled": ("deposit", "succeeded"),
    "Refunded": ("deposit", "refunded"),
    "Chargeback": ("deposit", "refunded"),
    "PaidOut": ("withdrawal", "succeeded"),
    "PaidOutReversed": ("withdrawal", "refunded"),
}
FEE_COLUMNS = ("Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)")


def hmac_key(secret: str) -> bytes:
    """The HMAC key bytes: Adyen keys are hex; a secret that is not hex (the simulator's `whsec_sim_...`) is used as
    its UTF-8 bytes, i.e. as if it had been configured hex-encoded."""
    try:
        return bytes.fromhex(secret) if secret else b""
    except ValueError:
        return secret.encode()


def signing_string(item: Mapping[str, Any]) -> str:
    amount = item.get("amount") or {}
    fields = (
        item.get("pspReference"),
        item.get("originalReference"),
        item.get("merchantAccountCode"),
        item.get("merchantReference"),
        amount.get("value"),
        amount.get("currency"),
        item.get("eventCode"),
        item.get("success"),
    )
    return ":".join("" if field is None else str(field) for field in fields)


class Adapter:
    """One configured Adyen-protocol provider."""

    protocol = "adyen"

    def __init__(self, config: ProviderConfig, http: httpx.AsyncClient | None = None) -> None:
        self.name = config.name
        self.config = config
        self._base = config.base_url.rstrip("/")
        self._payout_base = str(config.options.get("payout_base_url") or self._base).rstrip("/")
        self._merchant_account = str(config.options.get("merchant_account") or DEFAULT_MERCHANT_ACCOUNT)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient()

    def _headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"X-API-Key": self.config.api_key.get_secret_value()}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    async def _post(self, url: str, body: dict[str, Any], key: str) -> AttemptResult | tuple[dict[str, Any], float]:
        """POST JSON: the failure as an AttemptResult, or the decoded answer and the latency in ms."""
        started = time.perf_counter()
        try:
            response = await self._http.post(
                url, json=body, headers=self._headers(key), timeout=self.config.timeout_seconds
            )
        except httpx.TimeoutException as error:
            latency = (time.perf_counter() - started) * 1000
            return AttemptResult(Outcome.TIMEOUT, error_code="timeout", detail=str(error), latency_ms=latency)
        except httpx.HTTPError as error:
            latency = (time.perf_counter() - started) * 1000
            return AttemptResult(Outcome.PROVIDER_ERROR, None, None, "connection_error", repr(error), latency)
        latency = (time.perf_counter() - started) * 1000
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 400 or not isinstance(answer, dict):
            answer = answer if isinstance(answer, dict) else {}
            code = str(answer.get("errorCode") or response.status_code)
            detail = f"HTTP {response.status_code}: {answer.get('message', 'unreadable answer')}"
            return AttemptResult(Outcome.PROVIDER_ERROR, None, None, code, detail, latency)
        return answer, latency

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        """GET a resource; None when the provider answers 404; ProviderUnavailable when it cannot be asked."""
        try:
            response = await self._http.get(
                f"{self._base}{path}", params=params, headers=self._headers(), timeout=self.config.timeout_seconds
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"{self.name}: {error!r}") from error
        return resource_or_none(self.name, response)

    def _request(self, order: PaymentOrder) -> dict[str, Any]:
        return {
            "merchantAccount": self._merchant_account,
            "reference": order.attempt_id,
            "amount": {"value": order.amount, "currency": order.currency},
            "shopperReference": order.player_id,
            "countryCode": order.country,
            "metadata": {"payment_id": str(order.payment_id), "brand_id": order.brand_id},
        }

    async def start(self, order: PaymentOrder) -> AttemptResult:
        refused = _refuse_amount(order)
        if refused is not None:
            return refused
        token = str(order.details.get("card_token") or "")
        if not token:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="missing_card_token", detail="no card token")
        method: dict[str, Any] = {"type": "scheme", "storedPaymentMethodId": token}
        if order.details.get("holder_name"):
            method["holderName"] = str(order.details["holder_name"])
        body = {
            **self._request(order),
            "paymentMethod": method,
            "shopperInteraction": "ContAuth",
            "recurringProcessingModel": "CardOnFile",
        }
        if order.return_url:
            body["returnUrl"] = order.return_url
        answer = await self._post(f"{self._base}{PAYMENTS_PATH}", body, order.attempt_id)
        return answer if isinstance(answer, AttemptResult) else _result(*answer)

    async def payout(self, order: PaymentOrder) -> AttemptResult:
        refused = _refuse_amount(order)
        if refused is not None:
            return refused
        body = {**self._request(order), "recurring": {"contract": "PAYOUT"}}
        destination = order.details.get("destination") or order.details.get("card_token")
        if destination:
            body["selectedRecurringDetailReference"] = str(destination)
        answer = await self._post(f"{self._payout_base}{PAYOUT_PATH}", body, order.attempt_id)
        return answer if isinstance(answer, AttemptResult) else _result(*answer)

    async def status(self, attempt_id: str, provider_ref: str | None, kind: PaymentKind) -> ProviderEvent | None:
        if provider_ref:
            found = await self._get(f"/v71/transactions/{provider_ref}")
        else:
            result = await self._get("/v71/transactions", {"merchantReference": attempt_id})
            matches = [t for t in (result or {}).get("data") or [] if t.get("type") == _sim_type(kind)]
            found = matches[0] if matches else None
        if found is None:
            return None
        status = TRANSACTION_STATUSES.get(str(found.get("status")), "pending")
        amount = found.get("amount") or {}
        return ProviderEvent(
            event_id=f"status:{found.get('pspReference')}:{status}",
            kind=kind,
            status=status,
            attempt_id=found.get("merchantReference") or attempt_id,
            provider_ref=found.get("pspReference"),
            amount=amount.get("value"),
            currency=amount.get("currency"),
            error_code=found.get("refusalReasonCode"),
            raw_type=str(found.get("status")),
        )

    # -- webhooks ----------------------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: datetime) -> None:
        """Every item must carry a valid hmacSignature. Adyen signs no timestamp, so there is no freshness check:
        replays are harmless because events are deduplicated by their id and statuses only move forward."""
        items = _items(body)
        key = hmac_key(self.config.webhook_secret.get_secret_value())
        if not key:
            raise WebhookRejected("bad_signature", "no HMAC key is configured")
        for item in items:
            presented = (item.get("additionalData") or {}).get("hmacSignature")
            if not presented:
                raise WebhookRejected("missing_signature", f"item {item.get('pspReference')} has no hmacSignature")
            expected = base64.b64encode(hmac.new(key, signing_string(item).encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(expected, str(presented).encode()):
                raise WebhookRejected("bad_signature", f"item {item.get('pspReference')}: hmacSignature mismatch")

    async def parse_webhook(self, body: bytes) -> list[ProviderEvent]:
        events = []
        for item in _items(body):
            code, success = str(item.get("eventCode")), item.get("success") == "true"
            status = EVENT_STATUSES.get((code, success))
            if status is None:
                continue
            amount = item.get("amount") or {}
            event_date = item.get("eventDate")
            events.append(
                ProviderEvent(
                    event_id=f"{code}:{item.get('pspReference')}:{item.get('success')}",
                    kind="withdrawal" if code.startswith(("PAYOUT", "PAIDOUT")) else "deposit",
                    status=status,
                    attempt_id=item.get("merchantReference") or None,
                    provider_ref=item.get("originalReference") or item.get("pspReference"),
                    amount=amount.get("value") if isinstance(amount.get("value"), int) else None,
                    currency=amount.get("currency"),
                    occurred_at=_parse_time(event_date),
                    error_code=None if success else str(item.get("reason") or code),
                    raw_type=code,
                )
            )
        return events

    def webhook_answer(self) -> WebhookAnswer:
        return WebhookAnswer(200, "text/plain", b"[accepted]")

    # -- settlement --------------------------------------------------------------------------------------------------

    async def settlement_report(self, day: date) -> list[SettlementLine]:
        report = await self._get("/reports/settlement_detail_report", {"date": day.isoformat()})
        lines = []
        for row in (report or {}).get("rows") or []:
            kind_status = SETTLEMENT_TYPES.get(str(row.get("Type")))
            if kind_status is None:
                continue  # fees, deposits into the account, balance transfers: not payments of ours
            currency = str(row.get("Gross Currency"))
            exponent = EXPONENTS.get(currency, 2)
            gross = row.get("Gross Credit (GC)") or row.get("Gross Debit (GC)") or "0"
            fee = sum(from_decimal_string(row[c], exponent) for c in FEE_COLUMNS if row.get(c))
            booked = str(row.get("Booking Date") or day.isoformat())
            lines.append(
                SettlementLine(
                    provider_ref=str(row.get("Psp Reference")),
                    reference=row.get("Merchant Reference") or None,
                    kind=kind_status[0],
                    amount=abs(from_decimal_string(gross, exponent)),
                    fee=abs(fee),
                    currency=currency,
                    status=kind_status[1],
                    settled_on=date.fromisoformat(booked[:10]),
                )
            )
        return lines

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()


def _sim_type(kind: PaymentKind) -> str:
    return "payment" if kind == "deposit" else "payout"


def _refuse_amount(order: PaymentOrder) -> AttemptResult | None:
    """Adyen takes integer minor units in the currency's ISO 4217 exponent; anything else would be rescaled."""
    if order.amount < 1 or EXPONENTS.get(order.currency) != order.exponent:
        detail = f"{order.amount} minor units of {order.currency} (exponent {order.exponent}) cannot be sent"
        return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_amount", detail=detail)
    return None


def _result(answer: dict[str, Any], latency: float) -> AttemptResult:
    ref, result_code = answer.get("pspReference"), str(answer.get("resultCode"))
    if result_code == "Authorised":
        return AttemptResult(Outcome.SUCCEEDED, ref, latency_ms=latency)
    if result_code in PENDING_RESULTS:
        return AttemptResult(Outcome.PENDING, ref, latency_ms=latency)
    if result_code in ACTION_RESULTS:
        action = answer.get("action") or {}
        if action.get("type") == "redirect" and action.get("url"):
            return AttemptResult(
                Outcome.PENDING, ref, NextAction("redirect", url=str(action["url"])), latency_ms=latency
            )
        return AttemptResult(Outcome.PROVIDER_ERROR, ref, None, "unsupported_action", str(action.get("type")), latency)
    reason = str(answer.get("refusalReason") or result_code)
    if result_code == "Refused":
        code = str(answer.get("refusalReasonCode") or "2")
        outcome = Outcome.SOFT_DECLINE if code in SOFT_REFUSAL_CODES else Outcome.HARD_DECLINE
        return AttemptResult(outcome, ref, None, code, reason, latency)
    if result_code == "Cancelled":
        return AttemptResult(Outcome.HARD_DECLINE, ref, None, "cancelled", reason, latency)
    return AttemptResult(Outcome.PROVIDER_ERROR, ref, None, result_code, reason, latency)  # Error, or unknown


def _items(body: bytes) -> list[dict[str, Any]]:
    try:
        notification = json.loads(body)
    except ValueError as error:
        raise WebhookRejected("malformed", f"webhook body is not JSON: {error}") from error
    raw = notification.get("notificationItems") if isinstance(notification, dict) else None
    if not isinstance(raw, list) or not raw:
        raise WebhookRejected("malformed", "no notificationItems")
    items = [entry.get("NotificationRequestItem") if isinstance(entry, dict) else None for entry in raw]
    if not all(isinstance(item, dict) for item in items):
        raise WebhookRejected("malformed", "a notification item is not a NotificationRequestItem")
    return [item for item in items if isinstance(item, dict)]


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
