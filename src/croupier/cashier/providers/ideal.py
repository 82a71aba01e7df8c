"""The iDEAL adapter, for a Mollie-style Payments API: bank redirects, SEPA payouts, id-only webhooks, settlements.

Mollie's webhooks are not signed: they carry only a payment (or payout) id, and the merchant fetches the resource
with its API key to learn the status. So `verify_webhook` can only check the body's shape, and `parse_webhook`
is the real check: an id the provider does not know is refused as `bad_signature` (a forged webhook cannot make us
believe anything the API does not confirm). A webhook that arrives twice, late or out of order is harmless: each
fetch reads the current status, and the event id is `<id>:<status>`.
"""

from __future__ import annotations

import json
import re
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
    elapsed_ms,
    from_decimal_string,
    resource_or_none,
    to_decimal_string,
)
from croupier.cashier.providers.config import ProviderConfig

RESOURCE_ID = re.compile(r"^(tr|po)_[A-Za-z0-9]{1,64}$")
PAYMENT_STATUS: dict[str, ProviderStatus] = {
    "open": "pending",
    "pending": "processing",
    "authorized": "processing",
    "paid": "succeeded",
    "failed": "failed",
    "expired": "failed",
    "canceled": "canceled",
}
PAYOUT_STATUS: dict[str, ProviderStatus] = {
    "queued": "pending",
    "processing": "processing",
    "paid": "succeeded",
    "failed": "failed",
}
#: A 422 about one of these fields is this provider's problem (the method is not available here): cascade.
SOFT_FIELDS = {"method"}
#: How many recent payments `status()` searches for an attempt whose payment id it does not know.
SEARCH_LIMIT = 250


def _cents(money: Any) -> int:
    return from_decimal_string(str(money["value"]), 2)


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


class Adapter:
    protocol = "ideal"

    def __init__(self, config: ProviderConfig, http: httpx.AsyncClient | None = None) -> None:
        self.name = config.name
        self.config = config
        self._http = http or httpx.AsyncClient()
        self._owns_http = http is None
        self._base = config.base_url.rstrip("/")

    # -- HTTP --------------------------------------------------------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.config.api_key.get_secret_value()}", **kwargs.pop("headers", {})}
        return await self._http.request(
            method, self._base + path, headers=headers, timeout=self.config.timeout_seconds, **kwargs
        )

    async def _create(
        self, path: str, order: PaymentOrder, body: dict[str, Any]
    ) -> tuple[dict[str, Any], float] | AttemptResult:
        """POST with the attempt id as Idempotency-Key: the answer and latency, or the classified failure."""
        started = time.perf_counter()

        def failed(outcome: Outcome, code: str, detail: str) -> AttemptResult:
            return AttemptResult(outcome, error_code=code, detail=detail, latency_ms=elapsed_ms(started))

        try:
            response = await self._send("POST", path, json=body, headers={"Idempotency-Key": order.attempt_id})
        except httpx.TimeoutException:
            return failed(Outcome.TIMEOUT, "timeout", "no answer in time")
        except httpx.HTTPError as error:
            return failed(Outcome.PROVIDER_ERROR, "connection", str(error))
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 500 or not isinstance(answer, dict):
            return failed(Outcome.PROVIDER_ERROR, str(response.status_code), response.text[:200])
        if response.status_code in (401, 403, 404):
            return failed(Outcome.PROVIDER_ERROR, str(response.status_code), str(answer.get("detail", "")))
        if response.status_code >= 400:
            field = str(answer.get("field") or response.status_code)
            outcome = Outcome.SOFT_DECLINE if field in SOFT_FIELDS else Outcome.HARD_DECLINE
            return failed(outcome, field, str(answer.get("detail", "")))
        return answer, elapsed_ms(started)

    async def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any] | None:
        """A GET whose 404 means "unknown" (None); any other failure raises ProviderUnavailable."""
        try:
            response = await self._send("GET", path, params=params)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"{self.name}: {error!r}") from error
        return resource_or_none(self.name, response)

    # -- payments ----------------------------------------------------------------------------------------------------

    def _amount(self, order: PaymentOrder) -> dict[str, str] | AttemptResult:
        """Mollie's amount object: the exact number of decimals of the currency (EUR: "10.00")."""
        if order.currency != "EUR":
            return AttemptResult(Outcome.HARD_DECLINE, error_code="unsupported_currency", detail=order.currency)
        try:
            cents = from_decimal_string(to_decimal_string(order.amount, order.exponent), 2)
        except ValueError:
            cents = 0
        if cents <= 0:
            detail = f"{order.amount} (exponent {order.exponent}) is not a EUR amount"
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_amount", detail=detail)
        return {"currency": "EUR", "value": to_decimal_string(cents, 2)}

    def _metadata(self, order: PaymentOrder) -> dict[str, str]:
        return {"attempt_id": order.attempt_id, "payment_id": str(order.payment_id)}

    async def start(self, order: PaymentOrder) -> AttemptResult:
        amount = self._amount(order)
        if isinstance(amount, AttemptResult):
            return amount
        body: dict[str, Any] = {
            "amount": amount,
            "description": f"Deposit {order.payment_id}",
            "redirectUrl": order.return_url or str(self.config.options.get("return_url", "https://example.invalid/")),
            "method": "ideal",
            "metadata": self._metadata(order),
        }
        if order.webhook_url:
            body["webhookUrl"] = order.webhook_url
        result = await self._create("/v2/payments", order, body)
        if isinstance(result, AttemptResult):
            return result
        payment, latency = result
        status = PAYMENT_STATUS.get(str(payment.get("status")))
        ref = str(payment.get("id", ""))
        if status is None or not ref:
            return AttemptResult(Outcome.PROVIDER_ERROR, error_code="unreadable", latency_ms=latency)
        if status in ("failed", "canceled"):  # a replay after the customer gave up at the bank
            return AttemptResult(Outcome.HARD_DECLINE, ref, error_code=str(payment["status"]), latency_ms=latency)
        if status == "succeeded":
            return AttemptResult(Outcome.SUCCEEDED, ref, latency_ms=latency)
        checkout = ((payment.get("_links") or {}).get("checkout") or {}).get("href")
        if not isinstance(checkout, str):
            return AttemptResult(Outcome.PROVIDER_ERROR, ref, error_code="no_checkout_link", latency_ms=latency)
        action = NextAction("redirect", url=checkout, expires_at=_when(payment.get("expiresAt")))
        return AttemptResult(Outcome.PENDING, ref, action, latency_ms=latency)

    async def payout(self, order: PaymentOrder) -> AttemptResult:
        amount = self._amount(order)
        if isinstance(amount, AttemptResult):
            return amount
        iban = order.details.get("iban")
        if not isinstance(iban, str) or not iban:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="missing_iban", detail="details.iban")
        destination = {"type": "iban", "iban": iban, "accountHolderName": order.details.get("account_holder")}
        body: dict[str, Any] = {
            "amount": amount,
            "description": f"Withdrawal {order.payment_id}",
            "destination": destination,
            "metadata": self._metadata(order),
        }
        if order.webhook_url:
            body["webhookUrl"] = order.webhook_url
        result = await self._create("/v2/payouts", order, body)
        if isinstance(result, AttemptResult):
            return result
        payout, latency = result
        status = PAYOUT_STATUS.get(str(payout.get("status")))
        ref = str(payout.get("id", ""))
        if status is None or not ref:
            return AttemptResult(Outcome.PROVIDER_ERROR, error_code="unreadable", latency_ms=latency)
        if status == "failed":
            return AttemptResult(Outcome.HARD_DECLINE, ref, error_code="failed", latency_ms=latency)
        outcome = Outcome.SUCCEEDED if status == "succeeded" else Outcome.PENDING
        return AttemptResult(outcome, ref, latency_ms=latency)

    async def status(self, attempt_id: str, provider_ref: str | None, kind: PaymentKind) -> ProviderEvent | None:
        if provider_ref is None and kind == "deposit":
            # Mollie cannot look a payment up by metadata: search the most recent ones for our attempt id.
            listing = await self._get("/v2/payments", {"limit": str(SEARCH_LIMIT)})
            payments = ((listing or {}).get("_embedded") or {}).get("payments") or []
            found = [p for p in payments if (p.get("metadata") or {}).get("attempt_id") == attempt_id]
            return self._event(found[0]) if found else None
        if provider_ref is None:
            return None  # a payout is only known by its id
        resource = await self._get(f"/v2/{'payments' if kind == 'deposit' else 'payouts'}/{provider_ref}")
        return self._event(resource) if resource is not None else None

    def _event(self, resource: dict[str, Any]) -> ProviderEvent:
        payout = resource["resource"] == "payout"
        status = (PAYOUT_STATUS if payout else PAYMENT_STATUS)[str(resource["status"])]
        at = (
            resource.get("paidAt")
            or resource.get("failedAt")
            or resource.get("expiredAt")
            or resource.get("canceledAt")
        )
        return ProviderEvent(
            event_id=f"{resource['id']}:{resource['status']}",
            kind="withdrawal" if payout else "deposit",
            status=status,
            attempt_id=(resource.get("metadata") or {}).get("attempt_id"),
            provider_ref=str(resource["id"]),
            amount=_cents(resource["amount"]),
            currency=str(resource["amount"]["currency"]),
            occurred_at=_when(at or resource.get("createdAt")),
            error_code=str(resource["status"]) if status in ("failed", "canceled") else None,
            raw_type=f"{resource['resource']}.{resource['status']}",
        )

    # -- webhooks ----------------------------------------------------------------------------------------------------

    def _resource_id(self, body: bytes) -> str:
        try:
            resource_id = json.loads(body)["id"]
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookRejected("malformed", 'the body is not {"id": ...}') from error
        if not isinstance(resource_id, str) or not RESOURCE_ID.match(resource_id):
            raise WebhookRejected("malformed", "the id is not a payment (tr_) or payout (po_) id")
        return resource_id

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: datetime) -> None:
        # Nothing to verify cryptographically: the fetch in parse_webhook is the authentication.
        self._resource_id(body)

    async def parse_webhook(self, body: bytes) -> list[ProviderEvent]:
        resource_id = self._resource_id(body)
        path = f"/v2/payments/{resource_id}" if resource_id.startswith("tr_") else f"/v2/payouts/{resource_id}"
        resource = await self._get(path)
        if resource is None:
            raise WebhookRejected("bad_signature", f"{self.name} does not know {resource_id}")
        try:
            return [self._event(resource)]
        except (KeyError, TypeError, ValueError) as error:
            raise WebhookRejected("malformed", f"{resource_id}: unreadable resource: {error!r}") from error

    def webhook_answer(self) -> WebhookAnswer:
        return WebhookAnswer()

    # -- settlement --------------------------------------------------------------------------------------------------

    async def settlement_report(self, day: date) -> list[SettlementLine]:
        listing = await self._get("/v2/settlements", {"date": day.isoformat()})
        lines: list[SettlementLine] = []
        for settlement in ((listing or {}).get("_embedded") or {}).get("settlements") or []:
            settled_on = (_when(settlement.get("settledAt")) or datetime.combine(day, datetime.min.time())).date()
            for item in (settlement.get("_embedded") or {}).get("transactions") or []:
                lines.append(
                    SettlementLine(
                        provider_ref=str(item["id"]),
                        reference=(item.get("metadata") or {}).get("attempt_id"),
                        kind="withdrawal" if item["resource"] == "payout" else "deposit",
                        amount=_cents(item["amount"]),
                        fee=_cents(item["costs"]),
                        currency=str(item["amount"]["currency"]),
                        status="succeeded" if item["status"] == "paid" else "refunded",
                        settled_on=settled_on,
                    )
                )
        return lines

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()
