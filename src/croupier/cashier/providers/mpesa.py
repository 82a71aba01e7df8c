"""Adapter for M-Pesa through Safaricom's Daraja API: OAuth token, STK push deposits, B2C payouts.

Deposits: an STK push prompts the player's phone for the M-Pesa PIN; the result comes by callback, keyed by
Daraja's CheckoutRequestID (our `provider_ref`; the callback does not carry our reference, so the cashier finds the
attempt by provider_ref, and `status` asks the STK query API by CheckoutRequestID). Payouts: B2C, keyed by
OriginatorConversationID = our attempt id, which the result callback echoes.

Daraja signs nothing; operators allow-list Safaricom's IPs and put a secret in the callback. Here the secret comes
as `X-Callback-Token: <webhook secret>` and is compared in constant time: it stands in for the allow-list.
M-Pesa takes whole units only: an amount with cents is refused as `invalid_amount`. Callbacks carry no currency;
a shortcode has one, options["currency"] (default: the first configured currency).
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
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

EAT = timezone(timedelta(hours=3))
EXPONENTS = {"KES": 2, "TZS": 2, "UGX": 0}
COUNTRY_CODES = {"KE": "254", "TZ": "255", "UG": "256"}
PHONE = re.compile(r"^25[456]\d{9}$")
#: Daraja's code for "another request for this subscriber is in progress" (and "still processing" on a query).
BUSY = "500.001.1001"
BAD_REQUEST = "400.002.02"  # every validation failure: phone, amount, ...


def _status_of(result_code: int) -> ProviderStatus:
    if result_code == 0:
        return "succeeded"
    return "canceled" if result_code == 1032 else "failed"


class _Failed(Exception):
    def __init__(self, outcome: Outcome, code: str, detail: str) -> None:
        self.outcome, self.code, self.detail = outcome, code, detail


class Adapter:
    protocol = "mpesa"

    def __init__(self, config: ProviderConfig, http: httpx.AsyncClient | None = None) -> None:
        self.name = config.name
        self.config = config
        self._own_http = http is None
        self._http = http or httpx.AsyncClient()
        self.shortcode = str(config.options.get("shortcode", "174379"))
        self.passkey = str(config.options.get("passkey", "sim_mpesa_passkey_0123456789"))
        self.currency = str(config.options.get("currency", (config.currencies or ["KES"])[0]))
        self._token: tuple[str, float] | None = None  # (access token, monotonic expiry)

    # -- calls ---------------------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.config.base_url.rstrip('/')}{path}"

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, self._url(path), timeout=self.config.timeout_seconds, **kwargs)
        except httpx.TimeoutException:
            raise _Failed(Outcome.TIMEOUT, "timeout", "no answer in time") from None
        except httpx.HTTPError as error:
            raise _Failed(Outcome.PROVIDER_ERROR, "connection", str(error)) from None

    async def _access_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token[1]:
            return self._token[0]
        basic = base64.b64encode(f"{self.config.api_key.get_secret_value()}:".encode()).decode()
        response = await self._send(
            "GET",
            "/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        try:
            answer = response.json()
            token, ttl = str(answer["access_token"]), int(answer["expires_in"])
        except (ValueError, KeyError, TypeError):
            raise _Failed(Outcome.PROVIDER_ERROR, str(response.status_code), "no access token") from None
        self._token = (token, time.monotonic() + ttl - 30)  # renew a little before Daraja expires it
        return token

    async def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with a bearer token (fetched once, renewed on expiry or when refused); _Failed classifies errors."""
        for attempt in range(2):
            token = await self._access_token()
            response = await self._send("POST", path, json=body, headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 401 and attempt == 0:
                self._token = None
                continue
            break
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise _Failed(Outcome.PROVIDER_ERROR, str(response.status_code), "unreadable answer")
        code = str(answer.get("errorCode", ""))
        if code == BUSY:
            raise _Failed(Outcome.SOFT_DECLINE, code, str(answer.get("errorMessage", "")))
        if code == BAD_REQUEST:
            raise _Failed(Outcome.HARD_DECLINE, code, str(answer.get("errorMessage", "")))
        if response.status_code >= 400 or answer.get("ResponseCode", "0") != "0":
            detail = str(answer.get("errorMessage") or answer.get("ResponseDescription") or "")
            raise _Failed(Outcome.PROVIDER_ERROR, code or str(response.status_code), detail)
        return answer

    def _credentials(self) -> dict[str, str]:
        timestamp = datetime.now(EAT).strftime("%Y%m%d%H%M%S")
        password = base64.b64encode(f"{self.shortcode}{self.passkey}{timestamp}".encode()).decode()
        return {"BusinessShortCode": self.shortcode, "Password": password, "Timestamp": timestamp}

    @staticmethod
    def _phone(order: PaymentOrder) -> str | None:
        raw = re.sub(r"[\s+-]", "", str(order.details.get("phone", "")))
        if raw.startswith("0") and order.country in COUNTRY_CODES:
            raw = COUNTRY_CODES[order.country] + raw[1:]  # 0712... as dialled in the country
        return raw if PHONE.match(raw) else None

    @staticmethod
    def _whole_units(order: PaymentOrder) -> int | None:
        unit = 10**order.exponent
        return order.amount // unit if order.amount > 0 and order.amount % unit == 0 else None

    # -- the port ------------------------------------------------------------------------------------------------

    async def start(self, order: PaymentOrder) -> AttemptResult:
        phone, amount = self._phone(order), self._whole_units(order)
        if amount is None:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_amount", detail="M-Pesa takes whole units")
        if phone is None:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_phone", detail="not an M-Pesa number")
        body = {
            **self._credentials(),
            "TransactionType": "CustomerPayBillOnline",
            "Amount": amount,
            "PartyA": phone,
            "PartyB": self.shortcode,
            "PhoneNumber": phone,
            "CallBackURL": order.webhook_url,
            "AccountReference": order.attempt_id,
            "TransactionDesc": f"Deposit {order.brand_id}"[:13],
        }
        started = time.perf_counter()
        try:
            answer = await self._call("/mpesa/stkpush/v1/processrequest", body)
            checkout_request_id = str(answer["CheckoutRequestID"])
        except _Failed as failed:
            return _result(failed.outcome, started, error_code=failed.code, detail=failed.detail)
        except KeyError:
            return _result(Outcome.PROVIDER_ERROR, started, detail="no CheckoutRequestID")
        message = str(answer.get("CustomerMessage") or "Enter your M-Pesa PIN on your phone")
        action = NextAction("approve_on_phone", message=message)
        return _result(Outcome.PENDING, started, provider_ref=checkout_request_id, next_action=action)

    async def payout(self, order: PaymentOrder) -> AttemptResult:
        phone, amount = self._phone(order), self._whole_units(order)
        if amount is None:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_amount", detail="M-Pesa takes whole units")
        if phone is None:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_phone", detail="not an M-Pesa number")
        body = {
            "OriginatorConversationID": order.attempt_id,
            "InitiatorName": str(self.config.options.get("initiator_name", "croupier")),
            "SecurityCredential": str(self.config.options.get("security_credential", "sim-security-credential")),
            "CommandID": "BusinessPayment",
            "Amount": amount,
            "PartyA": self.shortcode,
            "PartyB": phone,
            "Remarks": "Withdrawal",
            "QueueTimeOutURL": order.webhook_url,
            "ResultURL": order.webhook_url,
            "Occasion": order.attempt_id,
        }
        started = time.perf_counter()
        try:
            answer = await self._call("/mpesa/b2c/v3/paymentrequest", body)
            conversation_id = str(answer["ConversationID"])
        except _Failed as failed:
            return _result(failed.outcome, started, error_code=failed.code, detail=failed.detail)
        except KeyError:
            return _result(Outcome.PROVIDER_ERROR, started, detail="no ConversationID")
        return _result(Outcome.PENDING, started, provider_ref=conversation_id)

    async def status(self, attempt_id: str, provider_ref: str | None, kind: PaymentKind) -> ProviderEvent | None:
        try:
            if kind == "withdrawal":
                body = {"CommandID": "TransactionStatusQuery", "OriginatorConversationID": attempt_id}
                answer = await self._call("/mpesa/transactionstatus/v1/query", {**body, "PartyA": self.shortcode})
                return self._b2c_event(answer["Result"])
            if provider_ref is None:
                return None
            answer = await self._call(
                "/mpesa/stkpushquery/v1/query", {**self._credentials(), "CheckoutRequestID": provider_ref}
            )
        except _Failed as failed:
            if failed.code == BAD_REQUEST:
                return None  # Daraja does not know the request
            if failed.code == BUSY:
                return ProviderEvent(f"{provider_ref}:pending", "deposit", "pending", attempt_id, provider_ref)
            raise ProviderUnavailable(f"{self.name}: status query failed: {failed.detail}") from None
        code = int(answer["ResultCode"])
        return ProviderEvent(
            event_id=f"{provider_ref}:{code}",
            kind="deposit",
            status=_status_of(code),
            attempt_id=attempt_id,
            provider_ref=provider_ref,
            error_code=None if code == 0 else str(code),
            raw_type="stkpushquery",
        )

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: datetime) -> None:
        presented = headers.get("x-callback-token")
        if not presented:
            raise WebhookRejected("missing_signature", "no X-Callback-Token header")
        if not hmac.compare_digest(presented.encode(), self.config.webhook_secret.get_secret_value().encode()):
            raise WebhookRejected("bad_signature", "X-Callback-Token is not ours")

    async def parse_webhook(self, body: bytes) -> list[ProviderEvent]:
        try:
            payload = json.loads(body)
            if "Body" in payload:
                return [self._stk_event(payload["Body"]["stkCallback"])]
            return [self._b2c_event(payload["Result"])]
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookRejected("malformed", f"unreadable M-Pesa callback: {error!r}") from None

    def webhook_answer(self) -> WebhookAnswer:
        return WebhookAnswer(body=b'{"ResultCode":0,"ResultDesc":"Accepted"}')  # what Daraja expects back

    async def settlement_report(self, day: date) -> list[SettlementLine]:
        try:
            token = await self._access_token()
            response = await self._send(
                "GET",
                "/mpesa/reports/v1/statement",
                params={"date": day.isoformat()},
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            rows = response.json()["Transactions"]
        except (_Failed, httpx.HTTPError, ValueError, KeyError) as error:
            raise ProviderUnavailable(f"{self.name}: statement failed: {error!r}") from None
        lines = []
        for row in rows:
            exponent = EXPONENTS.get(row["Currency"], 2)
            paid_in = Decimal(row["PaidIn"])
            lines.append(
                SettlementLine(
                    provider_ref=str(row["TransactionID"]),
                    reference=row.get("Reference"),
                    kind="deposit" if paid_in > 0 else "withdrawal",
                    amount=from_decimal_string(paid_in if paid_in > 0 else row["Withdrawn"], exponent),
                    fee=from_decimal_string(row["Charges"], exponent),
                    currency=str(row["Currency"]),
                    status="succeeded" if row["TransactionStatus"] == "Completed" else "refunded",
                    settled_on=date.fromisoformat(row["CompletionTime"][:10]),
                )
            )
        return lines

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    # -- events --------------------------------------------------------------------------------------------------

    def _minor(self, whole: Any) -> int:
        if Decimal(str(whole)) != Decimal(str(whole)).to_integral_value():
            raise ValueError(f"M-Pesa amounts are whole units, not {whole}")
        return from_decimal_string(str(whole), EXPONENTS.get(self.currency, 2))

    def _stk_event(self, callback: Mapping[str, Any]) -> ProviderEvent:
        code = int(callback["ResultCode"])
        items = {i["Name"]: i.get("Value") for i in (callback.get("CallbackMetadata") or {}).get("Item", [])}
        paid_at = items.get("TransactionDate")
        return ProviderEvent(
            # Daraja callbacks have no id: one request has one result, so the request id and result code name it.
            event_id=f"{callback['CheckoutRequestID']}:{code}",
            kind="deposit",
            status=_status_of(code),
            provider_ref=str(callback["CheckoutRequestID"]),
            amount=self._minor(items["Amount"]) if "Amount" in items else None,
            currency=self.currency,
            occurred_at=datetime.strptime(str(paid_at), "%Y%m%d%H%M%S").replace(tzinfo=EAT).astimezone(UTC)
            if paid_at
            else None,
            error_code=None if code == 0 else str(code),
            raw_type=f"stkCallback.{code}",
        )

    def _b2c_event(self, result: Mapping[str, Any]) -> ProviderEvent:
        code = int(result["ResultCode"])
        params = {p["Key"]: p.get("Value") for p in (result.get("ResultParameters") or {}).get("ResultParameter", [])}
        return ProviderEvent(
            event_id=f"{result['ConversationID']}:{code}",
            kind="withdrawal",
            status="succeeded" if code == 0 else "failed",
            attempt_id=str(result["OriginatorConversationID"]),
            provider_ref=str(result["ConversationID"]),
            amount=self._minor(params["TransactionAmount"]) if "TransactionAmount" in params else None,
            currency=self.currency,
            error_code=None if code == 0 else str(code),
            raw_type=f"b2c.{code}",
        )


def _result(outcome: Outcome, started: float, **fields: Any) -> AttemptResult:
    return AttemptResult(outcome, latency_ms=(time.perf_counter() - started) * 1000, **fields)
