"""The UPI adapter, for a PhonePe-style gateway: collect requests and intent links, payouts to a VPA, callbacks.

Every request is signed the PhonePe way: the JSON payload is sent base64-encoded as `{"request": ...}` with
`X-VERIFY: sha256(base64 + api path + salt key) + "###" + salt index` (a GET signs its api path and query); the
salt key is the provider's API key. Callbacks are `{"response": base64}` with `X-VERIFY: sha256(base64 + webhook
salt) + "###" + salt index`: the salt is the webhook secret. The protocol has no timestamp (no freshness check).
"""

from __future__ import annotations

import base64
import binascii
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
    elapsed_ms,
    from_decimal_string,
    to_decimal_string,
)
from croupier.cashier.providers.config import ProviderConfig

#: Codes that refuse the payment itself (another gateway would refuse it too); other 4xx codes cascade.
HARD_CODES = {"PAYMENT_DECLINED", "INVALID_VPA", "INVALID_AMOUNT", "BAD_REQUEST"}
PAYMENT_STATE: dict[str, ProviderStatus] = {"PENDING": "pending", "COMPLETED": "succeeded", "FAILED": "failed"}
PAYOUT_STATE: dict[str, ProviderStatus] = {"PENDING": "processing", "COMPLETED": "succeeded", "FAILED": "failed"}


class Adapter:
    protocol = "upi"

    def __init__(self, config: ProviderConfig, http: httpx.AsyncClient | None = None) -> None:
        self.name = config.name
        self.config = config
        self._http = http or httpx.AsyncClient()
        self._owns_http = http is None
        self._base = config.base_url.rstrip("/")
        self._merchant_id = str(config.options.get("merchant_id", "CROUPIERSIM"))
        self._salt_index = str(config.options.get("salt_index", "1"))

    # -- HTTP --------------------------------------------------------------------------------------------------------

    def _x_verify(self, text: str, salt: str) -> str:
        return hashlib.sha256((text + salt).encode()).hexdigest() + "###" + self._salt_index

    def _headers(self, signed_text: str) -> dict[str, str]:
        salt = self.config.api_key.get_secret_value()
        return {"X-VERIFY": self._x_verify(signed_text, salt), "X-MERCHANT-ID": self._merchant_id}

    async def _post(self, path: str, payload: dict[str, Any]) -> tuple[dict[str, Any], float] | AttemptResult:
        """The gateway's `data` and the call's latency, or the AttemptResult that classifies its failure."""
        encoded = base64.b64encode(json.dumps(payload).encode()).decode()
        started = time.perf_counter()

        def failed(outcome: Outcome, code: str, detail: str) -> AttemptResult:
            return AttemptResult(outcome, error_code=code, detail=detail, latency_ms=elapsed_ms(started))

        try:
            response = await self._http.post(
                self._base + path,
                json={"request": encoded},
                headers=self._headers(encoded + path),
                timeout=self.config.timeout_seconds,
            )
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
        code = str(answer.get("code") or response.status_code)
        if response.status_code in (401, 403):
            return failed(Outcome.PROVIDER_ERROR, code, str(answer.get("message", "")))
        if response.status_code >= 400 or not answer.get("success"):
            outcome = Outcome.HARD_DECLINE if code in HARD_CODES else Outcome.SOFT_DECLINE
            return failed(outcome, code, str(answer.get("message", "")))
        data = answer.get("data")
        if not isinstance(data, dict):
            return failed(Outcome.PROVIDER_ERROR, code, "no data in the answer")
        return data, elapsed_ms(started)

    async def _get(self, path_and_query: str) -> dict[str, Any] | None:
        """A signed GET whose `data` is returned; TRANSACTION_NOT_FOUND is None; other failures raise."""
        try:
            response = await self._http.get(
                self._base + path_and_query,
                headers=self._headers(path_and_query),
                timeout=self.config.timeout_seconds,
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"{self.name}: {error!r}") from error
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code == 404 and isinstance(answer, dict) and answer.get("code") == "TRANSACTION_NOT_FOUND":
            return None
        data = answer.get("data") if isinstance(answer, dict) else None
        if response.status_code != 200 or not isinstance(data, dict):
            raise ProviderUnavailable(f"{self.name}: GET {path_and_query} answered {response.status_code}")
        return data

    # -- payments ----------------------------------------------------------------------------------------------------

    def _paise(self, order: PaymentOrder) -> int | AttemptResult:
        if order.currency != "INR":
            return AttemptResult(Outcome.HARD_DECLINE, error_code="unsupported_currency", detail=order.currency)
        try:
            paise = from_decimal_string(to_decimal_string(order.amount, order.exponent), 2)
        except ValueError:
            paise = 0
        if paise <= 0:
            detail = f"{order.amount} (exponent {order.exponent}) is not a whole number of paise"
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_amount", detail=detail)
        return paise

    async def start(self, order: PaymentOrder) -> AttemptResult:
        paise = self._paise(order)
        if isinstance(paise, AttemptResult):
            return paise
        intent = order.details.get("flow") == "intent"
        vpa = order.details.get("vpa")
        if not intent and (not isinstance(vpa, str) or not vpa):
            return AttemptResult(Outcome.HARD_DECLINE, error_code="missing_vpa", detail="details.vpa")
        payload: dict[str, Any] = {
            "merchantId": self._merchant_id,
            "merchantTransactionId": order.attempt_id,
            "merchantUserId": order.player_id,
            "amount": paise,
            "paymentInstrument": {"type": "UPI_INTENT"} if intent else {"type": "UPI_COLLECT", "vpa": vpa},
        }
        if not intent:
            payload["vpa"] = vpa
        if order.webhook_url:
            payload["callbackUrl"] = order.webhook_url
        result = await self._post("/v1/upi/intent" if intent else "/v1/upi/collect", payload)
        if isinstance(result, AttemptResult):
            return result
        data, latency = result
        ref = str(data.get("transactionId", ""))
        status = PAYMENT_STATE.get(str(data.get("state")))
        if status is None or not ref:
            return AttemptResult(Outcome.PROVIDER_ERROR, error_code="unreadable", latency_ms=latency)
        if status == "succeeded":  # a replay after the payer approved
            return AttemptResult(Outcome.SUCCEEDED, ref, latency_ms=latency)
        if status == "failed":
            return AttemptResult(Outcome.HARD_DECLINE, ref, error_code="FAILED", latency_ms=latency)
        instrument = data.get("instrumentResponse") or {}
        if intent:
            url = instrument.get("intentUrl")
            if not isinstance(url, str) or not url.startswith("upi://pay?"):
                return AttemptResult(Outcome.PROVIDER_ERROR, ref, error_code="no_intent_url", latency_ms=latency)
            action = NextAction("upi_intent", url=url)
        else:
            action = NextAction(
                "approve_on_phone", message=f"Approve the payment request sent to {vpa} in your UPI app"
            )
        return AttemptResult(Outcome.PENDING, ref, action, latency_ms=latency)

    async def payout(self, order: PaymentOrder) -> AttemptResult:
        paise = self._paise(order)
        if isinstance(paise, AttemptResult):
            return paise
        vpa = order.details.get("vpa")
        if not isinstance(vpa, str) or not vpa:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="missing_vpa", detail="details.vpa")
        payload = {
            "merchantId": self._merchant_id,
            "merchantPayoutId": order.attempt_id,
            "amount": paise,
            "vpa": vpa,
            "remarks": f"Withdrawal {order.payment_id}",
        }
        result = await self._post("/v1/payouts/upi", payload)
        if isinstance(result, AttemptResult):
            return result
        data, latency = result
        ref = str(data.get("payoutId", ""))
        status = PAYOUT_STATE.get(str(data.get("state")))
        if status is None or not ref:
            return AttemptResult(Outcome.PROVIDER_ERROR, error_code="unreadable", latency_ms=latency)
        if status == "failed":
            return AttemptResult(Outcome.HARD_DECLINE, ref, error_code="FAILED", latency_ms=latency)
        outcome = Outcome.SUCCEEDED if status == "succeeded" else Outcome.PENDING
        return AttemptResult(outcome, ref, latency_ms=latency)

    async def status(self, attempt_id: str, provider_ref: str | None, kind: PaymentKind) -> ProviderEvent | None:
        path = f"/v1/status/{attempt_id}" if kind == "deposit" else f"/v1/payouts/status/{attempt_id}"
        data = await self._get(path)
        return self._event(data, "") if data is not None else None

    def _event(self, data: dict[str, Any], code: str) -> ProviderEvent:
        payout = "merchantPayoutId" in data
        ref = str(data["payoutId"] if payout else data["transactionId"])
        state = str(data["state"])
        status = (PAYOUT_STATE if payout else PAYMENT_STATE)[state]
        return ProviderEvent(
            event_id=f"{ref}:{state}",
            kind="withdrawal" if payout else "deposit",
            status=status,
            attempt_id=str(data["merchantPayoutId" if payout else "merchantTransactionId"]),
            provider_ref=ref,
            amount=int(data["amount"]),
            currency="INR",
            error_code=(code or state) if status == "failed" else None,
            raw_type=code or state,
        )

    # -- webhooks ----------------------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: datetime) -> None:
        presented = headers.get("x-verify")
        if not presented:
            raise WebhookRejected("missing_signature", "no X-VERIFY header")
        digest, separator, index = presented.partition("###")
        if not separator or index != self._salt_index:
            raise WebhookRejected("bad_signature", "X-VERIFY is not <sha256>###<salt index> with our salt index")
        encoded = self._response(body)
        expected = self._x_verify(encoded, self.config.webhook_secret.get_secret_value())
        if not hmac.compare_digest(expected, f"{digest.strip().lower()}###{index}"):
            raise WebhookRejected("bad_signature", "X-VERIFY does not match the body")

    @staticmethod
    def _response(body: bytes) -> str:
        try:
            encoded = json.loads(body)["response"]
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookRejected("malformed", 'the body is not {"response": <base64>}') from error
        if not isinstance(encoded, str):
            raise WebhookRejected("malformed", "response is not a string")
        return encoded

    async def parse_webhook(self, body: bytes) -> list[ProviderEvent]:
        try:
            payload = json.loads(base64.b64decode(self._response(body), validate=True))
            return [self._event(payload["data"], str(payload.get("code", "")))]
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            raise WebhookRejected("malformed", f"unreadable UPI callback: {error!r}") from error

    def webhook_answer(self) -> WebhookAnswer:
        return WebhookAnswer()

    # -- settlement --------------------------------------------------------------------------------------------------

    async def settlement_report(self, day: date) -> list[SettlementLine]:
        data = await self._get(f"/v1/settlements?date={day.isoformat()}")
        return [
            SettlementLine(
                provider_ref=str(item["transactionId"]),
                reference=item.get("merchantReference"),
                kind="deposit" if item["type"] == "PAYMENT" else "withdrawal",
                amount=int(item["amount"]),
                fee=int(item["fee"]),
                currency=str(item.get("currency", "INR")),
                status="succeeded" if item["state"] == "COMPLETED" else "refunded",
                settled_on=date.fromisoformat(str(item.get("settlementDate", day.isoformat()))),
            )
            for item in (data or {}).get("transactions", [])
        ]

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()
