"""The adapter for card providers speaking Stripe's PaymentIntents API (docs/providers/stripe.md).

Deposits are PaymentIntents created and confirmed in one call; withdrawals are Payouts. Both carry our attempt id
as the Idempotency-Key and as metadata[attempt_id], so a retry returns the original object and the attempt can be
found again by search when we never learnt the provider's id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
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
    resource_or_none,
)
from croupier.cashier.providers.config import ProviderConfig

API_VERSION = "2024-06-20"
SIGNATURE_TOLERANCE_SECONDS = 300
MAX_AMOUNT = 99_999_999  # Stripe takes at most eight digits of minor units

#: Card decline codes (Stripe's `decline_code`, else its error `code`) another provider would not see: the issuer or
#: the provider could not answer now. Every other card decline is hard: the issuer refused this card, and sending
#: it through the next provider would only repeat the refusal (and look like card testing).
SOFT_DECLINE_CODES = frozenset(
    {
        "processing_error",
        "try_again_later",
        "issuer_not_available",
        "reenter_transaction",
        "rate_limit",
        "authentication_required",  # the next provider may run 3-D Secure where this one could not
        "approve_with_id",
    }
)
#: Payout failure codes that are about this provider (its balance, its processing), not the player's account.
SOFT_PAYOUT_FAILURES = frozenset({"could_not_process", "insufficient_funds", "invalid_currency"})

INTENT_STATUSES: dict[str, ProviderStatus] = {
    "requires_payment_method": "pending",
    "requires_confirmation": "pending",
    "requires_action": "pending",
    "requires_capture": "processing",
    "processing": "processing",
    "succeeded": "succeeded",
    "canceled": "canceled",
}
PAYOUT_STATUSES: dict[str, ProviderStatus] = {
    "pending": "pending",
    "in_transit": "processing",
    "paid": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
}
#: Event types whose name fixes the status (others, like payout.updated, take it from the object).
EVENT_STATUSES: dict[str, ProviderStatus] = {
    "payment_intent.created": "pending",
    "payment_intent.requires_action": "pending",
    "payment_intent.processing": "processing",
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "canceled",
    "charge.refunded": "refunded",
    "payout.paid": "succeeded",
    "payout.failed": "failed",
    "payout.canceled": "canceled",
}
SETTLEMENT_CATEGORIES: dict[str, tuple[PaymentKind, ProviderStatus]] = {
    "charge": ("deposit", "succeeded"),
    "refund": ("deposit", "refunded"),
    "payout": ("withdrawal", "succeeded"),
    "payout_reversal": ("withdrawal", "refunded"),
}


class Adapter:
    """One configured Stripe-protocol provider."""

    protocol = "stripe"

    def __init__(self, config: ProviderConfig, http: httpx.AsyncClient | None = None) -> None:
        self.name = config.name
        self.config = config
        self._base = config.base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient()

    # -- calls -------------------------------------------------------------------------------------------------------

    def _headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.config.api_key.get_secret_value()}",
            "Stripe-Version": API_VERSION,
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    async def _post(self, path: str, form: dict[str, str], key: str) -> AttemptResult | tuple[dict[str, Any], float]:
        """POST a form: the failure as an AttemptResult, or the decoded answer and the latency in ms."""
        started = time.perf_counter()
        try:
            response = await self._http.post(
                f"{self._base}{path}", data=form, headers=self._headers(key), timeout=self.config.timeout_seconds
            )
        except httpx.TimeoutException as error:
            latency = (time.perf_counter() - started) * 1000
            return AttemptResult(Outcome.TIMEOUT, error_code="timeout", detail=str(error), latency_ms=latency)
        except httpx.HTTPError as error:
            latency = (time.perf_counter() - started) * 1000
            return AttemptResult(Outcome.PROVIDER_ERROR, None, None, "connection_error", repr(error), latency)
        latency = (time.perf_counter() - started) * 1000
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            detail = f"HTTP {response.status_code}: unreadable answer"
            return AttemptResult(Outcome.PROVIDER_ERROR, None, None, str(response.status_code), detail, latency)
        if response.status_code >= 400:
            return _classify_error(response.status_code, body, latency)
        return body, latency

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        """GET a resource; None when the provider answers 404; ProviderUnavailable when it cannot be asked."""
        try:
            response = await self._http.get(
                f"{self._base}{path}", params=params, headers=self._headers(), timeout=self.config.timeout_seconds
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"{self.name}: {error!r}") from error
        return resource_or_none(self.name, response)

    # -- payments ----------------------------------------------------------------------------------------------------

    async def start(self, order: PaymentOrder) -> AttemptResult:
        refused = _refuse_amount(order)
        if refused is not None:
            return refused
        token = str(order.details.get("card_token") or "")
        if not token:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="missing_card_token", detail="no card token")
        form = {
            "amount": str(order.amount),
            "currency": order.currency.lower(),
            "confirm": "true",
            "payment_method": token,
            "metadata[attempt_id]": order.attempt_id,
            "metadata[payment_id]": str(order.payment_id),
        }
        if order.return_url:
            form["return_url"] = order.return_url
        answer = await self._post("/v1/payment_intents", form, order.attempt_id)
        if isinstance(answer, AttemptResult):
            return answer
        return _intent_result(*answer)

    async def payout(self, order: PaymentOrder) -> AttemptResult:
        refused = _refuse_amount(order)
        if refused is not None:
            return refused
        form = {
            "amount": str(order.amount),
            "currency": order.currency.lower(),
            "method": "standard",
            "metadata[attempt_id]": order.attempt_id,
            "metadata[payment_id]": str(order.payment_id),
        }
        destination = order.details.get("destination") or order.details.get("card_token")
        if destination:
            form["destination"] = str(destination)
        answer = await self._post("/v1/payouts", form, order.attempt_id)
        if isinstance(answer, AttemptResult):
            return answer
        return _payout_result(*answer)

    async def status(self, attempt_id: str, provider_ref: str | None, kind: PaymentKind) -> ProviderEvent | None:
        collection = "/v1/payment_intents" if kind == "deposit" else "/v1/payouts"
        if provider_ref:
            found = await self._get(f"{collection}/{provider_ref}")
        else:
            result = await self._get(f"{collection}/search", {"query": f"metadata['attempt_id']:'{attempt_id}'"})
            matches = (result or {}).get("data") or []
            found = matches[0] if matches else None
        if found is None:
            return None
        status = _object_status(found)
        return ProviderEvent(
            event_id=f"status:{found.get('id')}:{status}",
            kind=kind,
            status=status,
            attempt_id=(found.get("metadata") or {}).get("attempt_id") or attempt_id,
            provider_ref=found.get("id"),
            amount=_object_amount(found, status),
            currency=str(found.get("currency", "")).upper() or None,
            error_code=_object_error(found),
            raw_type=f"{found.get('object')}.{found.get('status')}",
        )

    # -- webhooks ----------------------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: datetime) -> None:
        header = headers.get("stripe-signature")
        if not header:
            raise WebhookRejected("missing_signature", "no Stripe-Signature header")
        timestamp: int | None = None
        signatures: list[str] = []
        for item in header.split(","):
            key, _, value = item.strip().partition("=")
            if key == "t" and value.isdigit():
                timestamp = int(value)
            elif key == "v1":
                signatures.append(value)
        if timestamp is None or not signatures:
            raise WebhookRejected("bad_signature", "Stripe-Signature has no timestamp or no v1 signature")
        secret = self.config.webhook_secret.get_secret_value().encode()
        if not secret:
            raise WebhookRejected("bad_signature", "no webhook secret is configured")
        expected = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        # Compare with every candidate (no early exit) so timing does not tell which one matched.
        matched = [hmac.compare_digest(expected, candidate) for candidate in signatures]
        if not any(matched):
            raise WebhookRejected("bad_signature", "no v1 signature matches the body")
        if abs(now.timestamp() - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
            raise WebhookRejected("stale_timestamp", f"signed at {timestamp}, outside the 300 s tolerance")

    async def parse_webhook(self, body: bytes) -> list[ProviderEvent]:
        try:
            event = json.loads(body)
        except ValueError as error:
            raise WebhookRejected("malformed", f"webhook body is not JSON: {error}") from error
        if not isinstance(event, dict) or event.get("object") != "event" or not event.get("id"):
            raise WebhookRejected("malformed", "webhook body is not a Stripe event")
        event_type = str(event.get("type", ""))
        obj = (event.get("data") or {}).get("object")
        if not isinstance(obj, dict):
            raise WebhookRejected("malformed", "event has no data.object")
        kind: PaymentKind
        if obj.get("object") in ("payment_intent", "charge"):
            kind = "deposit"
        elif obj.get("object") == "payout":
            kind = "withdrawal"
        else:
            return []  # events about objects the cashier does not track (customers, disputes, ...)
        status = EVENT_STATUSES.get(event_type) or _object_status(obj)
        created = event.get("created")
        return [
            ProviderEvent(
                event_id=str(event["id"]),
                kind=kind,
                status=status,
                attempt_id=(obj.get("metadata") or {}).get("attempt_id"),
                provider_ref=obj.get("payment_intent") or obj.get("id"),
                amount=_object_amount(obj, status),
                currency=str(obj.get("currency", "")).upper() or None,
                occurred_at=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None,
                error_code=_object_error(obj),
                raw_type=event_type,
            )
        ]

    def webhook_answer(self) -> WebhookAnswer:
        return WebhookAnswer()

    # -- settlement --------------------------------------------------------------------------------------------------

    async def settlement_report(self, day: date) -> list[SettlementLine]:
        report = await self._get("/v1/reports/settlement", {"date": day.isoformat()})
        lines: list[SettlementLine] = []
        for row in (report or {}).get("data") or []:
            category = SETTLEMENT_CATEGORIES.get(str(row.get("reporting_category")))
            if category is None:
                continue  # fees, adjustments and the like are not payments of ours
            kind, status = category
            available_on = row.get("available_on")
            settled_on = datetime.fromtimestamp(available_on, UTC).date() if isinstance(available_on, int) else day
            lines.append(
                SettlementLine(
                    provider_ref=str(row.get("source")),
                    reference=(row.get("metadata") or {}).get("attempt_id"),
                    kind=kind,
                    amount=abs(int(row["amount"])),  # balance transactions sign by direction; ours are gross
                    fee=int(row.get("fee", 0)),
                    currency=str(row.get("currency", "")).upper(),
                    status=status,
                    settled_on=settled_on,
                )
            )
        return lines

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()


def _refuse_amount(order: PaymentOrder) -> AttemptResult | None:
    """Stripe amounts are integers in the currency's minor unit; three-decimal currencies must end in 0."""
    if order.exponent not in (0, 2, 3) or not 1 <= order.amount <= MAX_AMOUNT:
        return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_amount", detail="amount Stripe cannot take")
    if order.exponent == 3 and order.amount % 10:
        return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_amount", detail="3-decimal amount must end in 0")
    return None


def _classify_error(status: int, body: dict[str, Any], latency: float) -> AttemptResult:
    raw = body.get("error")
    error: dict[str, Any] = raw if isinstance(raw, dict) else {}
    code = str(error.get("decline_code") or error.get("code") or error.get("type") or status)
    detail = str(error.get("message", ""))
    intent = error.get("payment_intent") if isinstance(error.get("payment_intent"), dict) else None
    ref = intent.get("id") if intent else None
    if error.get("type") == "card_error":
        outcome = Outcome.SOFT_DECLINE if code in SOFT_DECLINE_CODES else Outcome.HARD_DECLINE
        return AttemptResult(outcome, ref, None, code, detail, latency)
    if status == 429:
        return AttemptResult(Outcome.SOFT_DECLINE, ref, None, "rate_limit", detail, latency)
    return AttemptResult(Outcome.PROVIDER_ERROR, ref, None, code, f"HTTP {status}: {detail}", latency)


def _intent_result(intent: dict[str, Any], latency: float) -> AttemptResult:
    ref, status = intent.get("id"), intent.get("status")
    if status == "succeeded":
        return AttemptResult(Outcome.SUCCEEDED, ref, latency_ms=latency)
    if status in ("processing", "requires_capture"):
        return AttemptResult(Outcome.PENDING, ref, latency_ms=latency)
    if status == "requires_action":
        redirect = ((intent.get("next_action") or {}).get("redirect_to_url") or {}).get("url")
        if redirect:
            return AttemptResult(Outcome.PENDING, ref, NextAction("redirect", url=redirect), latency_ms=latency)
        return AttemptResult(Outcome.PROVIDER_ERROR, ref, None, "unsupported_next_action", "", latency)
    error = intent.get("last_payment_error") or {}
    if status in ("requires_payment_method", "canceled"):
        code = str(error.get("decline_code") or error.get("code") or status)
        outcome = Outcome.SOFT_DECLINE if code in SOFT_DECLINE_CODES else Outcome.HARD_DECLINE
        return AttemptResult(outcome, ref, None, code, str(error.get("message", "")), latency)
    return AttemptResult(Outcome.PROVIDER_ERROR, ref, None, "unexpected_status", f"status {status!r}", latency)


def _payout_result(payout: dict[str, Any], latency: float) -> AttemptResult:
    ref, status = payout.get("id"), payout.get("status")
    if status == "paid":
        return AttemptResult(Outcome.SUCCEEDED, ref, latency_ms=latency)
    if status in ("pending", "in_transit"):
        return AttemptResult(Outcome.PENDING, ref, latency_ms=latency)
    if status in ("failed", "canceled"):
        code = str(payout.get("failure_code") or status)
        outcome = Outcome.SOFT_DECLINE if code in SOFT_PAYOUT_FAILURES else Outcome.HARD_DECLINE
        return AttemptResult(outcome, ref, None, code, str(payout.get("failure_message") or ""), latency)
    return AttemptResult(Outcome.PROVIDER_ERROR, ref, None, "unexpected_status", f"status {status!r}", latency)


def _object_status(obj: Mapping[str, Any]) -> ProviderStatus:
    status = str(obj.get("status"))
    if obj.get("object") == "payout":
        return PAYOUT_STATUSES.get(status, "pending")
    if status == "requires_payment_method" and obj.get("last_payment_error"):
        return "failed"  # the confirmation was declined; the intent waits for a new card we will never send
    return INTENT_STATUSES.get(status, "pending")


def _object_amount(obj: Mapping[str, Any], status: ProviderStatus) -> int | None:
    if obj.get("object") == "payment_intent" and status in ("succeeded", "refunded"):
        return int(obj.get("amount_received") or obj.get("amount") or 0)
    amount = obj.get("amount")
    return int(amount) if isinstance(amount, int) else None


def _object_error(obj: Mapping[str, Any]) -> str | None:
    if obj.get("object") == "payout":
        code = obj.get("failure_code")
        return str(code) if code else None
    error = obj.get("last_payment_error") or {}
    code = error.get("decline_code") or error.get("code")
    return str(code) if code else None
