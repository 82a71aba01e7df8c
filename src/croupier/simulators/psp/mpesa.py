"""A simulated M-Pesa, shaped like Safaricom's Daraja API: OAuth token, STK push, STK query, B2C, statement.

Daraja signs nothing: operators protect callbacks with an IP allow-list and a secret in the callback URL. The
simulator stands in for that with a header, `X-Callback-Token: <webhook secret>`, on every callback.

Daraja has no idempotency key either; this simulator dedups STK pushes by AccountReference and B2C requests by
OriginatorConversationID (both carry our attempt id), so a retried call never pushes or pays twice.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from croupier.simulators.psp.core import FINAL, ProviderState, SimTransaction

PROTOCOL = "mpesa"

EAT = timezone(timedelta(hours=3))  # Daraja timestamps are Nairobi time
DEFAULT_SHORTCODE = "174379"
DEFAULT_PASSKEY = "sim_mpesa_passkey_0123456789"
EXPONENTS = {"KES": 2, "TZS": 2, "UGX": 0}
PHONE = re.compile(r"^25[456]\d{9}$")
RESULT_TEXT = {
    0: "The service request is processed successfully.",
    1: "The balance is insufficient for the transaction.",
    1032: "Request cancelled by user.",
    2001: "The initiator information is invalid.",
}


@dataclass
class _Tokens:
    """Access tokens issued, tied to the transaction table so a simulator reset revokes them."""

    transactions: dict[str, SimTransaction]
    expiry: dict[str, datetime] = field(default_factory=dict)


def _tokens(state: ProviderState) -> _Tokens:
    tokens: _Tokens | None = getattr(state, "_mpesa_tokens", None)
    if tokens is None or tokens.transactions is not state.transactions:
        tokens = _Tokens(state.transactions)
        state._mpesa_tokens = tokens  # type: ignore[attr-defined]
    return tokens


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def _daraja_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"requestId": secrets.token_hex(8), "errorCode": code, "errorMessage": message}, status)


def _bad_request(message: str) -> JSONResponse:
    return _daraja_error(400, "400.002.02", f"Bad Request - {message}")


def _receipt() -> str:
    return "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(10))


def _currency(state: ProviderState) -> str:
    return str(state.options.get("currency", "KES"))


def _whole_units(txn: SimTransaction, amount: int | None = None) -> int:
    unit: int = 10 ** EXPONENTS.get(txn.currency, 2)
    return int(txn.amount if amount is None else amount) // unit


def _stk_callback(txn: SimTransaction) -> dict[str, Any]:
    code = int(txn.data.get("result_code", 0 if txn.status == "succeeded" else 1032))
    callback: dict[str, Any] = {
        "MerchantRequestID": txn.data["merchant_request_id"],
        "CheckoutRequestID": txn.id,
        "ResultCode": code,
        "ResultDesc": RESULT_TEXT.get(code, "The transaction failed."),
    }
    if code == 0:
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": _whole_units(txn, txn.data.get("paid"))},
                {"Name": "MpesaReceiptNumber", "Value": txn.data["receipt"]},
                {"Name": "TransactionDate", "Value": int(txn.updated_at.astimezone(EAT).strftime("%Y%m%d%H%M%S"))},
                {"Name": "PhoneNumber", "Value": int(txn.data["phone"])},
            ]
        }
    return {"Body": {"stkCallback": callback}}


def _b2c_result(txn: SimTransaction) -> dict[str, Any]:
    code = int(txn.data.get("result_code", 0 if txn.status == "succeeded" else 1))
    result: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": RESULT_TEXT.get(code, "The transaction failed."),
        "OriginatorConversationID": txn.reference,
        "ConversationID": txn.id,
        "TransactionID": txn.data["receipt"],
        "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://internal/timeout"}},
    }
    if code == 0:
        completed = txn.updated_at.astimezone(EAT).strftime("%d.%m.%Y %H:%M:%S")
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "TransactionAmount", "Value": _whole_units(txn)},
                {"Key": "TransactionReceipt", "Value": txn.data["receipt"]},
                {"Key": "ReceiverPartyPublicName", "Value": f"{txn.data['phone']} - Simulated Customer"},
                {"Key": "TransactionCompletedDateTime", "Value": completed},
                {"Key": "B2CChargesPaidAccountAvailableFunds", "Value": 0.0},
            ]
        }
    return {"Result": result}


def render_webhook(state: ProviderState, txn: SimTransaction, status: str) -> tuple[dict[str, str], bytes]:
    """The STK callback or B2C result (one per transaction: M-Pesa reports only the final result)."""
    payload = _stk_callback(txn) if txn.kind == "payment" else _b2c_result(txn)
    headers = {"content-type": "application/json", "x-callback-token": state.webhook_secret}
    return headers, json.dumps(payload, separators=(",", ":")).encode()


def complete(state: ProviderState, txn: SimTransaction, status: str, amount: int | None) -> None:
    """The customer entered the PIN ("succeeded") or dismissed the prompt ("failed": ResultCode 1032)."""
    finish(state, txn, 0 if status == "succeeded" else 1032, amount)


def finish(state: ProviderState, txn: SimTransaction, result_code: int, amount: int | None = None) -> None:
    if txn.status in FINAL:
        return
    txn.data["result_code"] = result_code
    if amount is not None:
        txn.data["paid"] = amount
    final = "succeeded" if result_code == 0 else "canceled" if result_code == 1032 else "failed"
    state.move(txn, final)


def build_router(state: ProviderState) -> APIRouter:
    router = APIRouter()
    shortcode = str(state.options.get("shortcode", DEFAULT_SHORTCODE))
    passkey = str(state.options.get("passkey", DEFAULT_PASSKEY))

    async def guard(authorization: str | None) -> tuple[Response | None, bool]:
        """(the answer to give instead, or None; whether to fail with a 500 after acting)."""
        fault = await state.fault()
        token = (authorization or "").removeprefix("Bearer ").strip()
        expiry = _tokens(state).expiry.get(token)
        if expiry is None or expiry < datetime.now(UTC):
            return _daraja_error(401, "404.001.03", "Invalid Access Token"), False
        if fault is None or fault.kind == "error_after_charge":
            return None, fault is not None
        if fault.kind in ("error", "timeout"):
            return await state.failure_response(fault), False
        if fault.kind == "soft_decline":
            message = "Unable to lock subscriber, a transaction is already in process for the current subscriber"
            return _daraja_error(500, "500.001.1001", message), False
        return _bad_request("Invalid PhoneNumber"), False

    def accepted(body: dict[str, Any], fail_after: bool) -> JSONResponse:
        if fail_after:
            return JSONResponse({"error": {"type": "api_error", "message": "simulated failure"}}, 500)
        return JSONResponse(body)

    @router.get("/oauth/v1/generate")
    async def generate_token(grant_type: str = "", authorization: str | None = Header(None)) -> Response:
        fault = await state.fault()
        if fault is not None and fault.kind in ("error", "timeout"):
            return await state.failure_response(fault)
        try:
            consumer_key = base64.b64decode((authorization or "").removeprefix("Basic ")).decode().split(":")[0]
        except ValueError:
            consumer_key = ""
        if grant_type != "client_credentials" or not state.authorised(consumer_key):
            return _bad_request("Invalid Authentication passed")
        token = secrets.token_urlsafe(21)
        ttl = int(state.options.get("token_ttl_seconds", 3599))
        _tokens(state).expiry[token] = datetime.now(UTC) + timedelta(seconds=ttl)
        return JSONResponse({"access_token": token, "expires_in": str(ttl)})

    @router.post("/mpesa/stkpush/v1/processrequest")
    async def stk_push(request: Request, authorization: str | None = Header(None)) -> Response:
        refused, fail_after = await guard(authorization)
        if refused is not None:
            return refused
        body = await request.json()
        timestamp = str(body.get("Timestamp", ""))
        if str(body.get("BusinessShortCode")) != shortcode:
            return _bad_request("Invalid BusinessShortCode")
        if not secrets.compare_digest(str(body.get("Password", "")), stk_password(shortcode, passkey, timestamp)):
            return _bad_request("Invalid Password")
        amount, phone = body.get("Amount"), str(body.get("PhoneNumber", ""))
        if not isinstance(amount, int) or amount < 1:
            return _bad_request("Invalid Amount")
        if not PHONE.match(phone) or str(body.get("PartyA")) != phone:
            return _bad_request("Invalid PhoneNumber")
        reference = str(body.get("AccountReference", ""))
        if not reference or body.get("TransactionType") != "CustomerPayBillOnline":
            return _bad_request("Invalid AccountReference or TransactionType")
        currency = _currency(state)
        txn, created = state.create(
            reference,
            kind="payment",
            method="mobile_money",
            amount=amount * 10 ** EXPONENTS.get(currency, 2),
            currency=currency,
            prefix="ws_CO_",
            data={
                "phone": phone,
                "merchant_request_id": f"{secrets.randbelow(90000) + 10000}-{secrets.randbelow(10**8)}-1",
                "receipt": _receipt(),
                "webhook_url": body.get("CallBackURL") or None,
            },
        )
        if created:
            state.schedule_completion(txn, lambda t: complete(state, t, "succeeded", None))
        message = "Success. Request accepted for processing"
        answer = {
            "MerchantRequestID": txn.data["merchant_request_id"],
            "CheckoutRequestID": txn.id,
            "ResponseCode": "0",
            "ResponseDescription": message,
            "CustomerMessage": message,
        }
        return accepted(answer, fail_after)

    @router.post("/mpesa/stkpushquery/v1/query")
    async def stk_query(request: Request, authorization: str | None = Header(None)) -> Response:
        refused, _ = await guard(authorization)
        if refused is not None:
            return refused
        body = await request.json()
        txn = state.transactions.get(str(body.get("CheckoutRequestID", "")))
        if txn is None or txn.kind != "payment":
            return _bad_request("Invalid CheckoutRequestID")
        if txn.status not in FINAL:
            return _daraja_error(500, "500.001.1001", "The transaction is being processed")
        callback = _stk_callback(txn)["Body"]["stkCallback"]
        return JSONResponse(
            {
                "ResponseCode": "0",
                "ResponseDescription": "The service request has been accepted successsfully",
                "MerchantRequestID": callback["MerchantRequestID"],
                "CheckoutRequestID": txn.id,
                "ResultCode": str(callback["ResultCode"]),
                "ResultDesc": callback["ResultDesc"],
            }
        )

    @router.post("/mpesa/b2c/v3/paymentrequest")
    async def b2c(request: Request, authorization: str | None = Header(None)) -> Response:
        refused, fail_after = await guard(authorization)
        if refused is not None:
            return refused
        body = await request.json()
        amount, phone = body.get("Amount"), str(body.get("PartyB", ""))
        reference = str(body.get("OriginatorConversationID", ""))
        if not isinstance(amount, int) or amount < 1:
            return _bad_request("Invalid Amount")
        if not PHONE.match(phone):
            return _bad_request("Invalid PartyB")
        if not reference or not body.get("SecurityCredential") or str(body.get("PartyA")) != shortcode:
            return _bad_request("Invalid OriginatorConversationID, SecurityCredential or PartyA")
        currency = _currency(state)
        txn, created = state.create(
            reference,
            kind="payout",
            method="mobile_money",
            amount=amount * 10 ** EXPONENTS.get(currency, 2),
            currency=currency,
            prefix="AG_",
            data={"phone": phone, "receipt": _receipt(), "webhook_url": body.get("ResultURL") or None},
        )
        if created:
            # B2C needs no customer: the result follows at once (ResultCode 1 when the option says funds ran out).
            finish(state, txn, 1 if state.options.get("b2c_insufficient_funds") else 0)
        answer = {
            "ConversationID": txn.id,
            "OriginatorConversationID": txn.reference,
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }
        return accepted(answer, fail_after)

    @router.post("/mpesa/transactionstatus/v1/query")
    async def transaction_status(request: Request, authorization: str | None = Header(None)) -> Response:
        """Daraja answers this one by callback; the simulator also gives the result inline, which we rely on."""
        refused, _ = await guard(authorization)
        if refused is not None:
            return refused
        body = await request.json()
        txn = state.find(str(body.get("OriginatorConversationID", ""))) or state.transactions.get(
            str(body.get("TransactionID", ""))
        )
        if txn is None or txn.kind != "payout":
            return _bad_request("Invalid OriginatorConversationID")
        return JSONResponse({"ResponseCode": "0", **_b2c_result(txn)})

    @router.get("/mpesa/reports/v1/statement")
    async def statement(date: date, authorization: str | None = Header(None)) -> Response:
        """The organisation statement for one day, as the M-Pesa portal exports it."""
        refused, _ = await guard(authorization)
        if refused is not None:
            return refused
        rows = []
        for line in state.settlement(date):
            txn = state.transactions.get(line.provider_ref)
            exponent = EXPONENTS.get(line.currency, 2)
            amount = format(Decimal(line.amount).scaleb(-exponent), "f")
            rows.append(
                {
                    "ReceiptNo": txn.data["receipt"] if txn else line.provider_ref,
                    "TransactionID": line.provider_ref,
                    "CompletionTime": line.settled_on.isoformat(),
                    "Details": "Customer Paybill" if line.kind == "payment" else "Business Payment to Customer",
                    "TransactionStatus": "Completed" if line.status == "succeeded" else "Reversed",
                    "PaidIn": amount if line.kind == "payment" else "0",
                    "Withdrawn": amount if line.kind == "payout" else "0",
                    "Charges": format(Decimal(line.fee).scaleb(-exponent), "f"),
                    "Currency": line.currency,
                    "Reference": line.reference,
                }
            )
        return JSONResponse({"ShortCode": shortcode, "Date": date.isoformat(), "Transactions": rows})

    @router.post("/_sim/stk/{checkout_request_id}/result")
    async def stk_result(checkout_request_id: str, request: Request) -> Response:
        """Control route: finish an STK push with a chosen ResultCode (1 insufficient funds, 2001 wrong PIN, ...)."""
        txn = state.transactions.get(checkout_request_id)
        if txn is None:
            return _bad_request("Invalid CheckoutRequestID")
        finish(state, txn, int((await request.json()).get("ResultCode", 0)))
        return JSONResponse(txn.as_dict())

    return router
