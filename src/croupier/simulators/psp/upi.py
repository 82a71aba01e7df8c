"""A simulated UPI payment gateway, shaped like PhonePe's PG API (collect and intent flows, payouts to a VPA).

Requests are PhonePe-style: the JSON payload travels base64-encoded as `{"request": "<base64>"}`, with headers
`X-MERCHANT-ID` and `X-VERIFY: sha256(<base64> + <api path> + <salt key>) + "###" + <salt index>` (for a GET:
`sha256(<api path with query> + <salt key>)`); the salt key is the merchant's API key. The api path is the part
after this provider's prefix, e.g. `/v1/upi/collect`.

- POST /v1/upi/collect: a collect request to the payer's VPA; they approve it in their UPI app (`complete()`).
- POST /v1/upi/intent: a `upi://pay?...` link the payer's UPI app opens (same payload, no VPA needed).
- GET /v1/status/{merchantTransactionId}: the payment.
- POST /v1/payouts/upi, GET /v1/payouts/status/{merchantPayoutId}: a transfer to a VPA.
- GET /v1/settlements?date=YYYY-MM-DD: the day's settled payments and payouts.

Callbacks (webhooks) are `{"response": "<base64 JSON>"}` with `X-VERIFY: sha256(<base64> + <webhook salt>) + "###"
+ <salt index>`; the webhook salt is the provider's webhook secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from croupier.simulators.psp.core import Fault, ProviderState, SimTransaction

PROTOCOL = "upi"

SALT_INDEX = "1"
VPA = re.compile(r"^[a-zA-Z0-9.\-_]{2,256}@[a-zA-Z]{2,64}$")
STATE = {"pending": "PENDING", "processing": "PENDING", "succeeded": "COMPLETED", "failed": "FAILED"}
PAYMENT_CODE = {"pending": "PAYMENT_PENDING", "processing": "PAYMENT_PENDING", "succeeded": "PAYMENT_SUCCESS"}
PAYOUT_CODE = {"pending": "PAYOUT_PENDING", "processing": "PAYOUT_PENDING", "succeeded": "PAYOUT_SUCCESS"}


def x_verify(text: str, salt: str, index: str = SALT_INDEX) -> str:
    return hashlib.sha256((text + salt).encode()).hexdigest() + "###" + index


def answer(status: int, success: bool, code: str, message: str, data: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"success": success, "code": code, "message": message}
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status)


def rupees(paise: int) -> str:
    return f"{Decimal(paise).scaleb(-2):.2f}"


def utr() -> str:
    return str(secrets.randbelow(10**12)).rjust(12, "0")


def code_of(txn: SimTransaction, status: str | None = None) -> str:
    status = status or txn.status
    if status == "failed":
        return str(txn.data.get("failure_code", "PAYMENT_ERROR" if txn.kind == "payment" else "PAYOUT_FAILED"))
    return (PAYMENT_CODE if txn.kind == "payment" else PAYOUT_CODE).get(status, "PAYMENT_PENDING")


def txn_data(state: ProviderState, txn: SimTransaction, status: str | None = None) -> dict[str, Any]:
    status = status or txn.status
    merchant_id = str(state.options.get("merchant_id", "CROUPIERSIM"))
    if txn.kind == "payout":
        data: dict[str, Any] = {"merchantId": merchant_id, "merchantPayoutId": txn.reference, "payoutId": txn.id}
    else:
        data = {"merchantId": merchant_id, "merchantTransactionId": txn.reference, "transactionId": txn.id}
    data.update(amount=txn.amount, state=STATE.get(status, "PENDING"))
    if status == "succeeded":
        data["paymentInstrument"] = {
            "type": "UPI",
            "utr": txn.data.setdefault("utr", utr()),
            "vpa": txn.data.get("vpa"),
        }
    return data


def render_webhook(state: ProviderState, txn: SimTransaction, status: str) -> tuple[dict[str, str], bytes]:
    # The callback describes `status`, even when it is sent after a later one (out-of-order delivery).
    payload = {"success": status != "failed", "code": code_of(txn, status), "data": txn_data(state, txn, status)}
    encoded = base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    body = json.dumps({"response": encoded}).encode()
    return {"content-type": "application/json", "x-verify": x_verify(encoded, state.webhook_secret)}, body


def complete(state: ProviderState, txn: SimTransaction, status: str, amount: int | None) -> None:
    """The payer's UPI app: approves the request (UPI debits exactly the amount asked, so `amount` does not
    apply) or declines it."""
    if txn.kind != "payment" or txn.status != "pending":
        return
    if status != "succeeded":
        txn.data["failure_code"] = "PAYMENT_DECLINED"
    state.move(txn, "succeeded" if status == "succeeded" else "failed")


def build_router(state: ProviderState) -> APIRouter:
    router = APIRouter()
    prefix = f"/{state.name}"

    def api_path(request: Request) -> str:
        path = request.url.path.removeprefix(prefix)
        return f"{path}?{request.url.query}" if request.url.query else path

    def signed(request: Request, text: str) -> bool:
        presented = request.headers.get("x-verify", "")
        return bool(presented) and hmac.compare_digest(presented, x_verify(text, state.api_key))

    async def guard(request: Request, text: str) -> tuple[Response | None, Fault | None]:
        fault = await state.fault()
        if not signed(request, text):
            return answer(401, False, "AUTHORIZATION_FAILED", "X-VERIFY header is missing or wrong"), None
        if fault is not None and fault.kind in ("error", "timeout"):
            return await state.failure_response(fault), None
        return None, fault

    async def payload_of(request: Request) -> tuple[str, dict[str, Any] | None]:
        try:
            encoded = str(json.loads(await request.body())["request"])
            payload = json.loads(base64.b64decode(encoded, validate=True))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return "", None
        return encoded, payload if isinstance(payload, dict) else None

    def declined(fault: Fault | None) -> JSONResponse | None:
        if fault is not None and fault.kind == "hard_decline":
            return answer(400, False, "PAYMENT_DECLINED", "the payer's bank declined the request")
        if fault is not None and fault.kind == "soft_decline":
            return answer(400, False, "ROUTE_UNAVAILABLE", "no UPI route to the payer's bank right now")
        return None

    async def pay(request: Request, flow: str) -> Response:
        encoded, payload = await payload_of(request)
        refused, fault = await guard(request, encoded + api_path(request))
        if refused is not None:
            return refused
        if payload is None:
            return answer(400, False, "BAD_REQUEST", "request must be base64-encoded JSON")
        reference, amount = payload.get("merchantTransactionId"), payload.get("amount")
        if not isinstance(reference, str) or not re.fullmatch(r"[\w\-]{1,63}", reference):
            return answer(400, False, "BAD_REQUEST", "merchantTransactionId is missing or invalid")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 100:
            return answer(400, False, "INVALID_AMOUNT", "amount must be whole paise, at least 100")
        existing = state.find(reference)
        if existing is not None:  # the same merchantTransactionId: the request already made
            return answer(200, True, code_of(existing), "already initiated", initiated(existing))
        vpa = payload.get("vpa") or (payload.get("paymentInstrument") or {}).get("vpa")
        if flow == "UPI_COLLECT" and (not isinstance(vpa, str) or not VPA.match(vpa)):
            return answer(400, False, "INVALID_VPA", "the VPA is not a valid name@handle")
        refusal = declined(fault)
        if refusal is not None:
            return refusal
        txn, _ = state.create(
            reference,
            kind="payment",
            method="upi",
            amount=amount,
            currency="INR",
            prefix="T",
            data={"flow": flow, "vpa": vpa, "webhook_url": payload.get("callbackUrl") or None},
        )
        state.schedule_completion(txn, lambda t: complete(state, t, "succeeded", None))
        if fault is not None and fault.kind == "error_after_charge":
            return answer(500, False, "INTERNAL_SERVER_ERROR", "simulated failure after the request was made")
        return answer(200, True, "PAYMENT_INITIATED", "Payment initiated", initiated(txn))

    def initiated(txn: SimTransaction) -> dict[str, Any]:
        data = txn_data(state, txn)
        if txn.data["flow"] == "UPI_INTENT":
            query = {
                "pa": str(state.options.get("merchant_vpa", "croupier@ybl")),
                "pn": str(state.options.get("merchant_name", "Croupier")),
                "am": rupees(txn.amount),
                "tr": txn.id,
                "tn": f"Deposit {txn.reference}",
                "cu": "INR",
            }
            url = "upi://pay?" + urlencode(query, quote_via=quote)
            data["instrumentResponse"] = {"type": "UPI_INTENT", "intentUrl": url}
        else:
            data["instrumentResponse"] = {"type": "UPI_COLLECT", "vpa": txn.data["vpa"]}
        return data

    @router.post("/v1/upi/collect")
    async def collect(request: Request) -> Response:
        return await pay(request, "UPI_COLLECT")

    @router.post("/v1/upi/intent")
    async def intent(request: Request) -> Response:
        return await pay(request, "UPI_INTENT")

    @router.get("/v1/status/{reference}")
    async def payment_status(reference: str, request: Request) -> Response:
        refused, _ = await guard(request, api_path(request))
        if refused is not None:
            return refused
        txn = state.find(reference)
        if txn is None or txn.kind != "payment":
            return answer(404, False, "TRANSACTION_NOT_FOUND", "no such merchantTransactionId")
        return answer(200, txn.status != "failed", code_of(txn), "status", txn_data(state, txn))

    @router.post("/v1/payouts/upi")
    async def payout(request: Request) -> Response:
        encoded, payload = await payload_of(request)
        refused, fault = await guard(request, encoded + api_path(request))
        if refused is not None:
            return refused
        if payload is None:
            return answer(400, False, "BAD_REQUEST", "request must be base64-encoded JSON")
        reference, amount, vpa = payload.get("merchantPayoutId"), payload.get("amount"), payload.get("vpa")
        if not isinstance(reference, str) or not re.fullmatch(r"[\w\-]{1,63}", reference):
            return answer(400, False, "BAD_REQUEST", "merchantPayoutId is missing or invalid")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 100:
            return answer(400, False, "INVALID_AMOUNT", "amount must be whole paise, at least 100")
        existing = state.find(reference)
        if existing is not None:
            return answer(200, True, code_of(existing), "already initiated", txn_data(state, existing))
        if not isinstance(vpa, str) or not VPA.match(vpa):
            return answer(400, False, "INVALID_VPA", "the VPA is not a valid name@handle")
        refusal = declined(fault)
        if refusal is not None:
            return refusal
        txn, _ = state.create(
            reference, kind="payout", method="upi", amount=amount, currency="INR", prefix="P", data={"vpa": vpa}
        )
        initiated_payout = txn_data(state, txn)
        state.move(txn, "processing", "succeeded")  # UPI transfers settle within seconds
        if fault is not None and fault.kind == "error_after_charge":
            return answer(500, False, "INTERNAL_SERVER_ERROR", "simulated failure after the payout was made")
        return answer(200, True, "PAYOUT_INITIATED", "Payout initiated", initiated_payout)

    @router.get("/v1/payouts/status/{reference}")
    async def payout_status(reference: str, request: Request) -> Response:
        refused, _ = await guard(request, api_path(request))
        if refused is not None:
            return refused
        txn = state.find(reference)
        if txn is None or txn.kind != "payout":
            return answer(404, False, "TRANSACTION_NOT_FOUND", "no such merchantPayoutId")
        return answer(200, txn.status != "failed", code_of(txn), "status", txn_data(state, txn))

    @router.get("/v1/settlements")
    async def settlements(request: Request) -> Response:
        refused, _ = await guard(request, api_path(request))
        if refused is not None:
            return refused
        try:
            day = date.fromisoformat(request.query_params.get("date", ""))
        except ValueError:
            return answer(400, False, "BAD_REQUEST", "date must be YYYY-MM-DD")
        transactions = [
            {
                "type": "PAYMENT" if line.kind == "payment" else "PAYOUT",
                "merchantReference": line.reference,
                "transactionId": line.provider_ref,
                "amount": line.amount,
                "fee": line.fee,
                "currency": line.currency,
                "state": "COMPLETED" if line.status == "succeeded" else "REFUNDED",
                "settlementDate": line.settled_on.isoformat(),
            }
            for line in state.settlement(day)
        ]
        merchant_id = str(state.options.get("merchant_id", "CROUPIERSIM"))
        data = {"merchantId": merchant_id, "settlementDate": day.isoformat(), "transactions": transactions}
        return answer(200, True, "SUCCESS", "settlement report", data)

    return router
