"""A simulated iDEAL acquirer, shaped like Mollie's Payments API (v2).

- POST /v2/payments (method "ideal"): a payment the customer finishes at their bank: the answer's
  `_links.checkout.href` is the "bank" (a page on this simulator, or the control API's `complete()`).
- GET /v2/payments/{id}, GET /v2/payments (newest first, `_embedded.payments`): the payment(s) and status
  (open, pending, paid, failed, canceled, expired).
- POST /v2/payouts, GET /v2/payouts/{id}: a SEPA credit transfer to an IBAN (not a Mollie API: our own design in
  the same style).
- GET /v2/settlements?date=YYYY-MM-DD: the day's settlement, with its payments and payouts embedded.

Webhooks carry only the resource id (Mollie posts `id=tr_...` form-encoded; the simulator posts JSON
`{"id": "tr_..."}` because our platform only accepts JSON) and no signature: the merchant learns what happened, and
that it really happened, by fetching the resource with its API key.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import escape
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from croupier.simulators.psp.core import ProviderState, SimTransaction

PROTOCOL = "ideal"

DOCS = "https://docs.mollie.com/reference/handling-errors"
PAYMENT_STATUS = {"pending": "open", "processing": "pending", "succeeded": "paid", "canceled": "canceled"}
PAYOUT_STATUS = {"pending": "queued", "processing": "processing", "succeeded": "paid", "failed": "failed"}
#: The bank's answers as `complete()` and the checkout page name them -> (our status, Mollie's status).
BANK_RESULTS = {
    "succeeded": ("succeeded", "paid"),
    "paid": ("succeeded", "paid"),
    "failed": ("failed", "failed"),
    "canceled": ("canceled", "canceled"),
    "expired": ("failed", "expired"),
}
AMOUNT_VALUE = re.compile(r"^\d{1,10}\.\d{2}$")


def error(status: int, title: str, detail: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": status, "title": title, "detail": detail}
    if field is not None:
        body["field"] = field
    body["_links"] = {"documentation": {"href": DOCS, "type": "text/html"}}
    return JSONResponse(body, status, media_type="application/hal+json")


def money(amount: int, currency: str) -> dict[str, str]:
    return {"currency": currency, "value": f"{Decimal(amount).scaleb(-2):.2f}"}


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: two letters, two check digits, up to 30 alphanumerics; the mod-97 remainder must be 1."""
    compact = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def mollie_status(txn: SimTransaction) -> str:
    if txn.kind == "payout":
        return PAYOUT_STATUS.get(txn.status, "queued")
    return str(txn.data.get("bank_result")) if txn.status == "failed" else PAYMENT_STATUS.get(txn.status, "open")


def payment_body(state: ProviderState, txn: SimTransaction, base: str) -> dict[str, Any]:
    data = txn.data
    body: dict[str, Any] = {
        "resource": "payment",
        "id": txn.id,
        "mode": "test",
        "createdAt": txn.created_at.isoformat(),
        "amount": money(data["asked"], txn.currency),
        "description": data.get("description", ""),
        "method": "ideal",
        "metadata": data.get("metadata"),
        "status": mollie_status(txn),
        "isCancelable": False,
        "sequenceType": "oneoff",
        "redirectUrl": data.get("redirect_url"),
        "webhookUrl": data.get("webhook_url"),
        "profileId": f"pfl_{state.name}",
        "_links": {"self": {"href": f"{base}/v2/payments/{txn.id}", "type": "application/hal+json"}},
    }
    if txn.status == "pending":
        body["expiresAt"] = (txn.created_at + timedelta(minutes=15)).isoformat()
        body["_links"]["checkout"] = {"href": f"{base}/checkout/{txn.id}", "type": "text/html"}
    if txn.status == "succeeded":
        body["paidAt"] = txn.updated_at.isoformat()
        body["details"] = {"consumerName": "T. TEST", "consumerAccount": "NL91ABNA0417164300"}
    if txn.status == "failed":
        body[f"{data.get('bank_result', 'failed')}At"] = txn.updated_at.isoformat()
    return body


def payout_body(state: ProviderState, txn: SimTransaction, base: str) -> dict[str, Any]:
    return {
        "resource": "payout",
        "id": txn.id,
        "createdAt": txn.created_at.isoformat(),
        "amount": money(txn.amount, txn.currency),
        "description": txn.data.get("description", ""),
        "destination": {"type": "iban", "iban": txn.data["iban"], "accountHolderName": txn.data.get("holder")},
        "status": mollie_status(txn),
        "metadata": txn.data.get("metadata"),
        "_links": {"self": {"href": f"{base}/v2/payouts/{txn.id}", "type": "application/hal+json"}},
    }


def render_webhook(state: ProviderState, txn: SimTransaction, status: str) -> tuple[dict[str, str], bytes]:
    # The webhook says only "look at this": the status is whatever the API says when the merchant asks.
    return {"content-type": "application/json"}, json.dumps({"id": txn.id}).encode()


def complete(state: ProviderState, txn: SimTransaction, status: str, amount: int | None) -> None:
    """The customer at their bank: pays, fails, cancels, or lets the payment expire. iDEAL always pays the amount
    asked (the bank fills it in), so `amount` does not apply."""
    if txn.kind != "payment" or txn.status != "pending":
        return
    ours, theirs = BANK_RESULTS.get(status, ("failed", "failed"))
    txn.data["bank_result"] = theirs
    state.move(txn, ours)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else None


def _amount(body: dict[str, Any]) -> tuple[int, str] | JSONResponse:
    amount = body.get("amount")
    if not isinstance(amount, dict) or amount.get("currency") != "EUR":
        return error(422, "Unprocessable Entity", "The amount currency must be EUR", "amount.currency")
    value = amount.get("value")
    if not isinstance(value, str) or not AMOUNT_VALUE.match(value) or Decimal(value) < Decimal("0.01"):
        return error(422, "Unprocessable Entity", "The amount value is invalid", "amount.value")
    return int(Decimal(value).scaleb(2)), "EUR"


def build_router(state: ProviderState) -> APIRouter:
    router = APIRouter()

    def base(request: Request) -> str:
        return f"{str(request.base_url).rstrip('/')}/{state.name}"

    async def guard(request: Request) -> tuple[Response | None, Any]:
        fault = await state.fault()
        if not state.authorised(_bearer(request)):
            return error(401, "Unauthorized Request", "Missing authentication, or failed to authenticate"), None
        if fault is not None and fault.kind in ("error", "timeout"):
            return await state.failure_response(fault), None
        return None, fault

    async def json_body(request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def declined(fault: Any) -> JSONResponse | None:
        if fault is not None and fault.kind == "hard_decline":
            return error(422, "Unprocessable Entity", "The consumer's bank account is blocked", "consumer")
        if fault is not None and fault.kind == "soft_decline":
            return error(422, "Unprocessable Entity", "The method ideal is temporarily unavailable", "method")
        return None

    def reference_of(request: Request, body: dict[str, Any]) -> str | None:
        metadata = body.get("metadata")
        from_metadata = metadata.get("attempt_id") if isinstance(metadata, dict) else None
        return request.headers.get("idempotency-key") or (str(from_metadata) if from_metadata else None)

    @router.post("/v2/payments")
    async def create_payment(request: Request) -> Response:
        refused, fault = await guard(request)
        if refused is not None:
            return refused
        body = await json_body(request)
        if body is None:
            return error(400, "Bad Request", "The request body is not valid JSON")
        amount = _amount(body)
        if isinstance(amount, JSONResponse):
            return amount
        if body.get("method", "ideal") != "ideal":
            return error(422, "Unprocessable Entity", "The payment method is invalid", "method")
        if not isinstance(body.get("redirectUrl"), str) or not body["redirectUrl"]:
            return error(422, "Unprocessable Entity", "The redirect URL is missing", "redirectUrl")
        reference = reference_of(request, body)
        existing = state.find(reference) if reference else None
        if existing is not None:  # a replay of the same Idempotency-Key: the original payment
            return JSONResponse(payment_body(state, existing, base(request)), 201)
        refusal = declined(fault)
        if refusal is not None:
            return refusal
        txn, _ = state.create(
            reference or f"anonymous-{len(state.transactions)}",
            kind="payment",
            method="ideal",
            amount=amount[0],
            currency="EUR",
            prefix="tr_",
            data={
                "asked": amount[0],
                "description": str(body.get("description", "")),
                "redirect_url": body["redirectUrl"],
                "webhook_url": body.get("webhookUrl") or None,
                "metadata": body.get("metadata"),
            },
        )
        state.schedule_completion(txn, lambda t: complete(state, t, "paid", None))
        if fault is not None and fault.kind == "error_after_charge":
            return error(500, "Internal Server Error", "simulated failure after the payment was created")
        return JSONResponse(payment_body(state, txn, base(request)), 201)

    @router.get("/v2/payments/{payment_id}")
    async def get_payment(payment_id: str, request: Request) -> Response:
        refused, _ = await guard(request)
        if refused is not None:
            return refused
        txn = state.transactions.get(payment_id)
        if txn is None or txn.kind != "payment":
            return error(404, "Not Found", f"No payment exists with token {payment_id}.")
        return JSONResponse(payment_body(state, txn, base(request)))

    @router.get("/v2/payments")
    async def list_payments(request: Request) -> Response:
        refused, _ = await guard(request)
        if refused is not None:
            return refused
        limit = min(int(request.query_params.get("limit", "50")), 250)
        payments = [t for t in state.transactions.values() if t.kind == "payment"][::-1][:limit]
        embedded = [payment_body(state, t, base(request)) for t in payments]
        return JSONResponse({"count": len(embedded), "_embedded": {"payments": embedded}})

    @router.get("/checkout/{payment_id}")
    async def checkout_page(payment_id: str) -> Response:
        """The "bank": a page where a person can finish the payment by hand in the demo."""
        txn = state.transactions.get(payment_id)
        if txn is None:
            return HTMLResponse("<p>Unknown payment.</p>", 404)
        buttons = "".join(
            f'<form method="post" action="{escape(payment_id)}?status={s}"><button>{s}</button></form>'
            for s in ("paid", "failed", "canceled", "expired")
        )
        amount = money(txn.amount, txn.currency)
        return HTMLResponse(f"<h1>Simulated iDEAL bank</h1><p>Pay {amount['value']} EUR?</p>{buttons}")

    @router.post("/checkout/{payment_id}")
    async def checkout_answer(payment_id: str, request: Request) -> Response:
        txn = state.transactions.get(payment_id)
        if txn is None:
            return HTMLResponse("<p>Unknown payment.</p>", 404)
        complete(state, txn, request.query_params.get("status", "paid"), None)
        return RedirectResponse(str(txn.data.get("redirect_url") or "/"), 303)

    @router.post("/v2/payouts")
    async def create_payout(request: Request) -> Response:
        refused, fault = await guard(request)
        if refused is not None:
            return refused
        body = await json_body(request)
        if body is None:
            return error(400, "Bad Request", "The request body is not valid JSON")
        amount = _amount(body)
        if isinstance(amount, JSONResponse):
            return amount
        reference = reference_of(request, body)
        existing = state.find(reference) if reference else None
        if existing is not None:
            return JSONResponse(payout_body(state, existing, base(request)), 201)
        destination = body.get("destination") or {}
        iban = destination.get("iban") if isinstance(destination, dict) else None
        if not isinstance(iban, str) or not iban_is_valid(iban):
            return error(422, "Unprocessable Entity", "The IBAN is invalid", "destination.iban")
        refusal = declined(fault)
        if refusal is not None:
            return refusal
        txn, _ = state.create(
            reference or f"anonymous-{len(state.transactions)}",
            kind="payout",
            method="sepa_credit_transfer",
            amount=amount[0],
            currency="EUR",
            prefix="po_",
            data={
                "iban": iban.replace(" ", "").upper(),
                "holder": destination.get("accountHolderName"),
                "description": str(body.get("description", "")),
                "webhook_url": body.get("webhookUrl") or None,
                "metadata": body.get("metadata"),
            },
        )
        answer = payout_body(state, txn, base(request))
        state.move(txn, "processing", "succeeded")  # SEPA Instant: the bank confirms within seconds
        if fault is not None and fault.kind == "error_after_charge":
            return error(500, "Internal Server Error", "simulated failure after the payout was created")
        return JSONResponse(answer, 201)

    @router.get("/v2/payouts/{payout_id}")
    async def get_payout(payout_id: str, request: Request) -> Response:
        refused, _ = await guard(request)
        if refused is not None:
            return refused
        txn = state.transactions.get(payout_id)
        if txn is None or txn.kind != "payout":
            return error(404, "Not Found", f"No payout exists with token {payout_id}.")
        return JSONResponse(payout_body(state, txn, base(request)))

    @router.get("/v2/settlements")
    async def settlements(request: Request) -> Response:
        refused, _ = await guard(request)
        if refused is not None:
            return refused
        try:
            day = date.fromisoformat(request.query_params.get("date", ""))
        except ValueError:
            return error(400, "Bad Request", "The date must be YYYY-MM-DD", "date")
        lines = state.settlement(day)
        if not lines:
            return JSONResponse({"count": 0, "_embedded": {"settlements": []}})
        transactions = [
            {
                "resource": line.kind,
                "id": line.provider_ref,
                "amount": money(line.amount, line.currency),
                "costs": money(line.fee, line.currency),
                "status": "paid" if line.status == "succeeded" else "refunded",
                "metadata": {"attempt_id": line.reference},
            }
            for line in lines
        ]
        net = sum((-1 if line.kind == "payout" else 1) * line.amount - line.fee for line in lines)
        settlement = {
            "resource": "settlement",
            "id": f"stl_{day:%Y%m%d}",
            "reference": f"{day:%Y%m%d}.01",
            "createdAt": datetime.now(UTC).isoformat(),
            "settledAt": f"{day.isoformat()}T00:00:00+00:00",
            "status": "paidout",
            "amount": money(net, "EUR"),
            "_embedded": {"transactions": transactions},
        }
        return JSONResponse({"count": 1, "_embedded": {"settlements": [settlement]}})

    return router
