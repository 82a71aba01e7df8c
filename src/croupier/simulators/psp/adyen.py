"""A simulated card provider speaking an Adyen-shaped Checkout API (docs/providers/adyen.md).

    POST /v71/payments                            JSON {merchantAccount, reference, amount{value, currency},
                                                  paymentMethod{type: scheme, storedPaymentMethodId, holderName},
                                                  returnUrl}; headers X-API-Key, Idempotency-Key
    POST /pal/servlet/Payout/v68/payout           JSON {merchantAccount, reference, amount, ...}
    GET  /v71/transactions/{pspReference}         simulator extension (Adyen reports status by webhook only)
    GET  /v71/transactions?merchantReference=X    simulator extension: the same, by our reference
    GET  /reports/settlement_detail_report?date=YYYY-MM-DD   settlement detail rows as JSON
    GET  /authenticate/{pspReference}?result=...  the 3-D Secure page of a RedirectShopper payment

Webhooks are standard notifications, each item signed with HMAC-SHA256 (additionalData.hmacSignature).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, date, datetime
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from croupier.kit.currency_data import ISO_4217
from croupier.simulators.psp.core import Fault, ProviderState, SimTransaction

PROTOCOL = "adyen"
EXPONENTS = {c.code: c.exponent for c in ISO_4217}

#: Adyen's test trick: the card holder name asks for a refusal, as (refusalReasonCode, refusalReason).
REFUSING_HOLDER_NAMES = {
    "DECLINED": ("2", "Refused"),
    "REFUSED": ("2", "Refused"),
    "ACQUIRER_ERROR": ("4", "Acquirer Error"),
    "BLOCK_CARD": ("5", "Blocked Card"),
    "CARD_EXPIRED": ("6", "Expired Card"),
    "INVALID_CARD": ("8", "Invalid Card Number"),
    "ISSUER_UNAVAILABLE": ("9", "Issuer Unavailable"),
    "NOT_ENOUGH_BALANCE": ("12", "Not enough balance"),
    "FRAUD": ("20", "FRAUD"),
    "CVC_DECLINED": ("24", "CVC Declined"),
    "RESTRICTED_CARD": ("25", "Restricted Card"),
    "ISSUER_SUSPECTED_FRAUD": ("31", "Issuer Suspected Fraud"),
}
FAULT_REFUSALS = {"soft_decline": ("9", "Issuer Unavailable"), "hard_decline": ("12", "Not enough balance")}
#: The card needs 3-D Secure: the payment answers RedirectShopper (Adyen triggers it with test card numbers).
REDIRECT_TOKENS = ("pm_card_threeDSecure2Required", "pm_card_authenticationRequired", "3DS2_REQUIRED")

#: Our status -> the status the simulator's transaction endpoint shows.
TRANSACTION_STATUS = {
    "pending": "Received",
    "processing": "Authorised",
    "succeeded": "Captured",
    "failed": "Refused",
    "canceled": "Cancelled",
    "refunded": "Refunded",
}
PAYOUT_STATUS = {**TRANSACTION_STATUS, "succeeded": "Authorised"}


def hmac_key(secret: str) -> bytes:
    """Adyen's HMAC keys are hex; a secret that is not hex (like the simulator's `whsec_sim_...`) is used as
    its UTF-8 bytes, i.e. as if it had been given hex-encoded."""
    try:
        return bytes.fromhex(secret) if secret else b""
    except ValueError:
        return secret.encode()


def item_signature(secret: str, item: dict[str, Any]) -> str:
    """base64 HMAC-SHA256 over pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:
    eventCode:success (missing values are empty strings)."""
    amount = item.get("amount") or {}
    fields = [
        item.get("pspReference", ""),
        item.get("originalReference", ""),
        item.get("merchantAccountCode", ""),
        item.get("merchantReference", ""),
        str(amount.get("value", "")),
        amount.get("currency", ""),
        item.get("eventCode", ""),
        item.get("success", ""),
    ]
    digest = hmac.new(hmac_key(secret), ":".join(map(str, fields)).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def adyen_error(status: int, code: str, message: str, error_type: str = "validation") -> JSONResponse:
    return JSONResponse({"status": status, "errorCode": code, "message": message, "errorType": error_type}, status)


def _derived_reference(txn: SimTransaction, what: str) -> str:
    """The pspReference of a modification (capture, refund, ...): stable, so duplicate webhooks carry the same."""
    return hashlib.sha256(f"{txn.id}:{what}".encode()).hexdigest()[:16].upper()


def _notification(txn: SimTransaction, status: str) -> dict[str, Any]:
    """The fields of a NotificationRequestItem for `txn` reaching `status` (unsigned)."""
    item: dict[str, Any] = {"pspReference": txn.id, "success": "true"}
    if txn.kind == "payout":
        codes = {"failed": "PAYOUT_THIRDPARTY", "canceled": "PAYOUT_EXPIRE", "refunded": "PAIDOUT_REVERSED"}
        item["eventCode"] = codes.get(status, "PAYOUT_THIRDPARTY")
        item["success"] = "false" if status == "failed" else "true"
    elif status in ("pending", "processing", "failed"):
        item["eventCode"] = "AUTHORISATION"
        item["success"] = "false" if status == "failed" else "true"
    else:
        item["eventCode"] = {"succeeded": "CAPTURE", "canceled": "CANCELLATION", "refunded": "REFUND"}[status]
        item["pspReference"] = _derived_reference(txn, item["eventCode"])
        item["originalReference"] = txn.id
    if item["success"] == "false":
        item["reason"] = txn.data.get("refusal_reason", "Refused")
    return item


def render_webhook(state: ProviderState, txn: SimTransaction, status: str) -> tuple[dict[str, str], bytes]:
    item = _notification(txn, status)
    item.update(
        merchantAccountCode=txn.data.get("merchant_account", ""),
        merchantReference=txn.reference,
        amount={"value": txn.amount, "currency": txn.currency},
        eventDate=txn.updated_at.isoformat(timespec="seconds"),
        paymentMethod="visa",
        operations=["CANCEL", "CAPTURE", "REFUND"] if item["eventCode"] == "AUTHORISATION" else [],
    )
    item["additionalData"] = {"hmacSignature": item_signature(state.webhook_secret, item)}
    body = json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}).encode()
    return {"Content-Type": "application/json", "User-Agent": "Adyen HttpClient 1.0"}, body


def complete(state: ProviderState, txn: SimTransaction, status: str, amount: int | None) -> None:
    """The shopper came back from 3-D Secure (or gave up there)."""
    if txn.kind != "payment" or txn.status != "pending":
        return
    if status == "succeeded":
        if amount is not None:
            txn.amount = amount
        state.move(txn, "processing", "succeeded")
    else:
        txn.data.update(refusal_code="11", refusal_reason="3D Not Authenticated")
        state.move(txn, "failed")


def _decimal(amount: int, currency: str) -> str:
    """Minor units as the report's decimal string in major units (integers only: no float touches money)."""
    exponent = EXPONENTS.get(currency, 2)
    if not exponent:
        return str(amount)
    digits = str(abs(amount)).rjust(exponent + 1, "0")
    return f"{'-' if amount < 0 else ''}{digits[:-exponent]}.{digits[-exponent:]}"


def build_router(state: ProviderState) -> APIRouter:
    router = APIRouter()

    async def refused(request: Request) -> tuple[Response | None, Fault | None]:
        """An answer that ends the call now (bad key, error or timeout fault), and the fault of this call."""
        if not state.authorised(request.headers.get("x-api-key")):
            return adyen_error(401, "000", "HTTP Status Response - Unauthorized", "security"), None
        fault = await state.fault()
        if fault is not None and fault.kind in ("error", "timeout"):
            return await state.failure_response(fault), fault
        return None, fault

    async def read_request(request: Request) -> dict[str, Any] | Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return adyen_error(400, "702", "Structure of the request is invalid")
        if not isinstance(body, dict):
            return adyen_error(400, "702", "Structure of the request is invalid")
        amount = body.get("amount") or {}
        value, currency = amount.get("value"), amount.get("currency")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1 or currency not in EXPONENTS:
            return adyen_error(422, "137", "Invalid amount specified")
        if not body.get("reference"):
            return adyen_error(422, "130", "Required field 'reference' is not provided.")
        expected_account = state.options.get("merchant_account")
        account = body.get("merchantAccount")
        if not account or (expected_account and account != expected_account):
            return adyen_error(403, "901", "Invalid Merchant Account", "security")
        return body

    def answer(txn: SimTransaction) -> JSONResponse:
        out: dict[str, Any] = {
            "pspReference": txn.id,
            "merchantReference": txn.reference,
            "amount": {"value": txn.amount, "currency": txn.currency},
        }
        if txn.status == "failed":
            out.update(
                resultCode="Refused",
                refusalReason=txn.data.get("refusal_reason"),
                refusalReasonCode=txn.data.get("refusal_code"),
            )
        elif txn.status == "pending" and txn.data.get("redirect_url"):
            out["resultCode"] = "RedirectShopper"
            out["action"] = {"type": "redirect", "method": "GET", "url": txn.data["redirect_url"]}
        else:
            out["resultCode"] = {"pending": "Received", "canceled": "Cancelled"}.get(txn.status, "Authorised")
        return JSONResponse(out)

    async def create(request: Request, kind: Literal["payment", "payout"]) -> Response:
        stop, fault = await refused(request)
        if stop is not None:
            return stop
        body = await read_request(request)
        if isinstance(body, Response):
            return body
        value, currency = body["amount"]["value"], body["amount"]["currency"]
        reference, key = str(body["reference"]), request.headers.get("idempotency-key")
        existing = (state.find(key) if key else None) or state.find(reference)
        if existing is not None:
            if (existing.kind, existing.amount, existing.currency) != (kind, value, currency):
                return adyen_error(422, "704", "Idempotency key was used before with a different request")
            return answer(existing)
        method = body.get("paymentMethod") or {}
        token = str(method.get("storedPaymentMethodId") or body.get("selectedRecurringDetailReference") or "")
        txn, _ = state.create(
            reference,
            kind=kind,
            method="card",
            amount=value,
            currency=currency,
            prefix="",
            data={"merchant_account": body["merchantAccount"], "token": token, "return_url": body.get("returnUrl")},
        )
        if key:
            state.by_reference.setdefault(key, txn.id)  # a retry may carry only the Idempotency-Key
        refusal = FAULT_REFUSALS.get(fault.kind) if fault is not None else None
        refusal = refusal or REFUSING_HOLDER_NAMES.get(str(method.get("holderName", "")).upper())
        if refusal is not None:
            txn.data.update(refusal_code=refusal[0], refusal_reason=refusal[1])
            state.move(txn, "failed")
        elif kind == "payment" and token in REDIRECT_TOKENS and fault is None:
            txn.data["redirect_url"] = f"{str(request.base_url).rstrip('/')}/{state.name}/authenticate/{txn.id}"
            state.schedule_completion(txn, lambda t: complete(state, t, "succeeded", None))
        elif kind == "payment":
            state.move(txn, "processing", "succeeded")  # authorised, then captured (automatic capture)
        else:
            state.move(txn, "succeeded")
        if fault is not None and fault.kind == "error_after_charge":
            return adyen_error(500, "000", "Internal error", "internal")
        return answer(txn)

    @router.post("/v71/payments")
    async def payments(request: Request) -> Response:
        return await create(request, "payment")

    @router.post("/pal/servlet/Payout/v68/payout")
    async def payout(request: Request) -> Response:
        return await create(request, "payout")

    def transaction_json(txn: SimTransaction) -> dict[str, Any]:
        statuses = TRANSACTION_STATUS if txn.kind == "payment" else PAYOUT_STATUS
        return {
            "pspReference": txn.id,
            "merchantReference": txn.reference,
            "merchantAccount": txn.data.get("merchant_account"),
            "type": txn.kind,
            "status": statuses.get(txn.status, txn.status),
            "amount": {"value": txn.amount, "currency": txn.currency},
            "refusalReason": txn.data.get("refusal_reason"),
            "refusalReasonCode": txn.data.get("refusal_code"),
            "creationDate": txn.created_at.isoformat(timespec="seconds"),
        }

    @router.get("/v71/transactions")
    async def find_transactions(request: Request, merchantReference: str = "") -> Response:
        stop, _ = await refused(request)
        if stop is not None:
            return stop
        found = [transaction_json(t) for t in state.transactions.values() if t.reference == merchantReference]
        return JSONResponse({"data": found})

    @router.get("/v71/transactions/{psp_reference}")
    async def get_transaction(request: Request, psp_reference: str) -> Response:
        stop, _ = await refused(request)
        if stop is not None:
            return stop
        txn = state.transactions.get(psp_reference)
        if txn is None:
            return adyen_error(404, "000", f"No transaction {psp_reference}")
        return JSONResponse(transaction_json(txn))

    @router.get("/reports/settlement_detail_report")
    async def settlement_report(request: Request) -> Response:
        stop, _ = await refused(request)
        if stop is not None:
            return stop
        try:
            day = date.fromisoformat(request.query_params.get("date", ""))
        except ValueError:
            return adyen_error(422, "000", "date must be YYYY-MM-DD")
        booked = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")
        rows = []
        for number, item in enumerate(state.settlement(day), start=1):
            kind_type = {
                ("payment", "succeeded"): "Settled",
                ("payment", "refunded"): "Refunded",
                ("payout", "succeeded"): "PaidOut",
                ("payout", "refunded"): "PaidOutReversed",
            }.get((item.kind, item.status), "Fee")
            gross = _decimal(item.amount, item.currency)
            credit = kind_type in ("Settled", "PaidOutReversed")
            fee = _decimal(item.fee, item.currency)
            net = _decimal(item.amount - item.fee if credit else item.amount + item.fee, item.currency)
            rows.append(
                {
                    "Company Account": "CroupierCompany",
                    "Merchant Account": state.options.get("merchant_account", "CroupierECOM"),
                    "Psp Reference": item.provider_ref,
                    "Merchant Reference": item.reference,
                    "Payment Method": "visa",
                    "Creation Date": booked,
                    "TimeZone": "UTC",
                    "Type": kind_type,
                    "Modification Reference": hashlib.sha256(item.provider_ref.encode()).hexdigest()[:16].upper(),
                    "Gross Currency": item.currency,
                    "Gross Debit (GC)": "" if credit else gross,
                    "Gross Credit (GC)": gross if credit else "",
                    "Exchange Rate": "1",
                    "Net Currency": item.currency,
                    "Net Debit (NC)": "" if credit else net,
                    "Net Credit (NC)": net if credit else "",
                    "Commission (NC)": fee,
                    "Markup (NC)": "",
                    "Scheme Fees (NC)": "",
                    "Interchange (NC)": "",
                    "Batch Number": str(number),
                    "Booking Date": booked,
                }
            )
        return JSONResponse({"date": day.isoformat(), "rows": rows})

    @router.get("/authenticate/{psp_reference}")
    async def authenticate(psp_reference: str, result: Literal["succeeded", "failed"] = "succeeded") -> Response:
        """The issuer's 3-D Secure page: complete the payment and send the shopper back with a redirectResult."""
        txn = state.transactions.get(psp_reference)
        if txn is None:
            return adyen_error(404, "000", f"No payment {psp_reference}")
        complete(state, txn, result, None)
        back = txn.data.get("return_url")
        if not back:
            return JSONResponse(transaction_json(txn))
        redirect_result = base64.urlsafe_b64encode(secrets.token_bytes(24)).decode()
        query = urlencode({"redirectResult": redirect_result})
        return RedirectResponse(f"{back}{'&' if '?' in back else '?'}{query}", 303)

    return router
