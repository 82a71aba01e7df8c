"""Adapter for e-wallets (GCash, GrabPay, Alipay, ...) through a Xendit-shaped API: charges, payouts, callbacks.

A charge is finished by the player in the wallet app: we answer PENDING with a redirect to the checkout page (or a
QR code for QR channels such as Alipay), and the gateway reports the result with an `ewallet.capture` callback
authenticated by a static `x-callback-token` (Xendit's scheme: no signature, no timestamp).
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
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
)
from croupier.cashier.providers.config import ProviderConfig

CHANNELS = {
    "PH_GCASH": "PHP",
    "PH_GRABPAY": "PHP",
    "PH_PAYMAYA": "PHP",
    "SG_GRABPAY": "SGD",
    "MY_GRABPAY": "MYR",
    "MY_TOUCHNGO": "MYR",
    "TH_TRUEMONEY": "THB",
    "CN_ALIPAY": "CNY",
}
WIRE_DECIMALS = 2  # PHP, SGD, MYR, THB and CNY all have cents
HARD_CODES = {"API_VALIDATION_ERROR", "UNSUPPORTED_CURRENCY", "ACCOUNT_ACCESS_BLOCKED", "INVALID_ACCOUNT_DETAILS"}
SOFT_CODES = {"CHANNEL_UNAVAILABLE", "CHANNEL_NOT_ACTIVATED", "MAXIMUM_LIMIT_REACHED"}
STATUSES: dict[str, ProviderStatus] = {
    "PENDING": "pending",
    "ACCEPTED": "processing",
    "REQUESTED": "processing",
    "SUCCEEDED": "succeeded",
    "SUCCESS": "succeeded",
    "FAILED": "failed",
    "VOIDED": "canceled",
    "CANCELLED": "canceled",
    "REFUNDED": "refunded",
    "REVERSED": "refunded",
}


class _Failed(Exception):
    def __init__(self, outcome: Outcome, code: str, detail: str) -> None:
        self.outcome, self.code, self.detail = outcome, code, detail


class Adapter:
    protocol = "ewallet"

    def __init__(self, config: ProviderConfig, http: httpx.AsyncClient | None = None) -> None:
        self.name = config.name
        self.config = config
        self._own_http = http is None
        self._http = http or httpx.AsyncClient()
        self._auth = "Basic " + base64.b64encode(f"{config.api_key.get_secret_value()}:".encode()).decode()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None, key: str | None = None) -> Any:
        headers = {"Authorization": self._auth}
        if key is not None:
            headers["Idempotency-key"] = key
        try:
            response = await self._http.request(
                method,
                f"{self.config.base_url.rstrip('/')}{path}",
                content=json.dumps(body).encode() if body is not None else None,
                headers={**headers, "content-type": "application/json"},
                timeout=self.config.timeout_seconds,
            )
        except httpx.TimeoutException:
            raise _Failed(Outcome.TIMEOUT, "timeout", "no answer in time") from None
        except httpx.HTTPError as error:
            raise _Failed(Outcome.PROVIDER_ERROR, "connection", str(error)) from None
        try:
            answer = response.json()
        except ValueError:
            raise _Failed(Outcome.PROVIDER_ERROR, str(response.status_code), "unreadable answer") from None
        if response.status_code < 400:
            return answer
        code = str(answer.get("error_code", response.status_code)) if isinstance(answer, dict) else ""
        detail = str(answer.get("message", "")) if isinstance(answer, dict) else ""
        if code in HARD_CODES:
            raise _Failed(Outcome.HARD_DECLINE, code, detail)
        if code in SOFT_CODES or (
            400 <= response.status_code < 500 and code not in ("INVALID_API_KEY", "DATA_NOT_FOUND")
        ):
            raise _Failed(Outcome.SOFT_DECLINE, code, detail)
        raise _Failed(Outcome.PROVIDER_ERROR, code or str(response.status_code), detail)

    @staticmethod
    def _checked(order: PaymentOrder) -> tuple[str, float] | AttemptResult:
        """(channel, amount in major units), or the hard decline for an order this gateway cannot take."""
        channel = str(order.details.get("channel", ""))
        if CHANNELS.get(channel) != order.currency:
            detail = f"channel {channel!r} does not take {order.currency}"
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_channel", detail=detail)
        major = Decimal(order.amount).scaleb(-order.exponent)
        if order.amount <= 0 or major != major.quantize(Decimal(1).scaleb(-WIRE_DECIMALS)):
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_amount", detail=f"{major} {order.currency}")
        return channel, float(major)

    async def start(self, order: PaymentOrder) -> AttemptResult:
        checked = self._checked(order)
        if isinstance(checked, AttemptResult):
            return checked
        channel, amount = checked
        body = {
            "reference_id": order.attempt_id,
            "currency": order.currency,
            "amount": amount,
            "checkout_method": "ONE_TIME_PAYMENT",
            "channel_code": channel,
            "channel_properties": {"success_redirect_url": order.return_url, "failure_redirect_url": order.return_url},
            "metadata": {"payment_id": str(order.payment_id)},
        }
        started = time.perf_counter()
        try:
            charge = await self._call("POST", "/ewallets/charges", body, key=order.attempt_id)
            charge_id, actions = str(charge["id"]), charge.get("actions") or {}
        except _Failed as failed:
            return _result(failed.outcome, started, error_code=failed.code, detail=failed.detail)
        except (KeyError, TypeError):
            return _result(Outcome.PROVIDER_ERROR, started, detail="no charge id")
        if charge.get("status") == "SUCCEEDED":
            return _result(Outcome.SUCCEEDED, started, provider_ref=charge_id)
        url = actions.get("mobile_deeplink_checkout_url") if order.details.get("mobile") else None
        url = url or actions.get("desktop_web_checkout_url") or actions.get("mobile_web_checkout_url")
        if url:
            action = NextAction("redirect", url=str(url))
        elif actions.get("qr_checkout_string"):
            action = NextAction("qr", qr_data=str(actions["qr_checkout_string"]))
        else:
            return _result(Outcome.PROVIDER_ERROR, started, provider_ref=charge_id, detail="no checkout action")
        return _result(Outcome.PENDING, started, provider_ref=charge_id, next_action=action)

    async def payout(self, order: PaymentOrder) -> AttemptResult:
        checked = self._checked(order)
        if isinstance(checked, AttemptResult):
            return checked
        channel, amount = checked
        account = order.details.get("account_number") or order.details.get("phone")
        if not account:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_account", detail="no wallet account")
        body = {
            "reference_id": order.attempt_id,
            "channel_code": channel,
            "channel_properties": {
                "account_number": str(account),
                "account_holder_name": str(order.details.get("account_holder_name", order.player_id)),
            },
            "amount": amount,
            "currency": order.currency,
            "description": "Withdrawal",
        }
        started = time.perf_counter()
        try:
            payout = await self._call("POST", "/v2/payouts", body, key=order.attempt_id)
            payout_id = str(payout["id"])
        except _Failed as failed:
            return _result(failed.outcome, started, error_code=failed.code, detail=failed.detail)
        except (KeyError, TypeError):
            return _result(Outcome.PROVIDER_ERROR, started, detail="no payout id")
        outcome = Outcome.SUCCEEDED if payout.get("status") == "SUCCEEDED" else Outcome.PENDING
        return _result(outcome, started, provider_ref=payout_id)

    async def status(self, attempt_id: str, provider_ref: str | None, kind: PaymentKind) -> ProviderEvent | None:
        try:
            if kind == "withdrawal":
                path = f"/v2/payouts/{provider_ref}" if provider_ref else f"/v2/payouts?reference_id={attempt_id}"
                found = await self._call("GET", path)
                found = found if isinstance(found, dict) else (found[0] if found else None)
            else:
                path = (
                    f"/ewallets/charges/{provider_ref}"
                    if provider_ref
                    else f"/ewallets/charges?reference_id={attempt_id}"
                )
                found = await self._call("GET", path)
                found = found if "id" in found else (found["data"][0] if found["data"] else None)
        except _Failed as failed:
            if failed.code == "DATA_NOT_FOUND":
                return None
            raise ProviderUnavailable(f"{self.name}: status query failed: {failed.detail}") from None
        return None if found is None else self._event(found, kind, "status")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: datetime) -> None:
        presented = headers.get("x-callback-token")
        if not presented:
            raise WebhookRejected("missing_signature", "no x-callback-token header")
        if not hmac.compare_digest(presented.encode(), self.config.webhook_secret.get_secret_value().encode()):
            raise WebhookRejected("bad_signature", "x-callback-token is not ours")

    async def parse_webhook(self, body: bytes) -> list[ProviderEvent]:
        try:
            payload = json.loads(body)
            event = str(payload["event"])
            kind: PaymentKind = "withdrawal" if event.startswith("payout.") else "deposit"
            return [self._event(payload["data"], kind, event)]
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookRejected("malformed", f"unreadable e-wallet callback: {error!r}") from None

    def webhook_answer(self) -> WebhookAnswer:
        return WebhookAnswer()

    async def settlement_report(self, day: date) -> list[SettlementLine]:
        try:
            report = await self._call("GET", f"/reports/settlement?date={day.isoformat()}")
        except _Failed as failed:
            raise ProviderUnavailable(f"{self.name}: settlement report failed: {failed.detail}") from None
        return [
            SettlementLine(
                provider_ref=str(row["product_id"]),
                reference=row.get("reference_id"),
                kind="deposit" if row["type"] == "PAYMENT" else "withdrawal",
                amount=from_decimal_string(row["amount"], WIRE_DECIMALS),
                fee=from_decimal_string(row["fee"]["xendit_fee"], WIRE_DECIMALS),
                currency=str(row["currency"]),
                status=STATUSES.get(str(row["status"]), "pending"),
                settled_on=date.fromisoformat(str(row["estimated_settlement_time"])[:10]),
            )
            for row in report["data"]
        ]

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    @staticmethod
    def _event(data: Mapping[str, Any], kind: PaymentKind, raw_type: str) -> ProviderEvent:
        wire_status = str(data["status"])
        status = STATUSES.get(wire_status, "processing")
        amount = data.get("capture_amount") if kind == "deposit" else data.get("amount")  # captured: what was paid
        return ProviderEvent(
            event_id=f"{data['id']}:{wire_status}",  # one callback per status change; its copies share the id
            kind=kind,
            status=status,
            attempt_id=data.get("reference_id"),
            provider_ref=str(data["id"]),
            amount=from_decimal_string(amount, WIRE_DECIMALS) if amount is not None else None,
            currency=data.get("currency"),
            occurred_at=datetime.fromisoformat(data["updated"]) if data.get("updated") else None,
            error_code=data.get("failure_code"),
            raw_type=raw_type,
        )


def _result(outcome: Outcome, started: float, **fields: Any) -> AttemptResult:
    return AttemptResult(outcome, latency_ms=(time.perf_counter() - started) * 1000, **fields)
