"""A simulated card provider speaking a Stripe-shaped PaymentIntents API (docs/providers/stripe.md).

    POST /v1/payment_intents                  form: amount, currency, confirm=true, payment_method, return_url,
                                              metadata[...]; headers Authorization: Bearer, Idempotency-Key
    GET  /v1/payment_intents/search?query=metadata['attempt_id']:'X'
    GET  /v1/payment_intents/{id}
    POST /v1/payouts                          form: amount, currency, destination, metadata[...]
    GET  /v1/payouts/search?query=...          (a simulator extension: Stripe has no payout search)
    GET  /v1/payouts/{id}
    GET  /v1/reports/settlement?date=YYYY-MM-DD   balance-transaction lines settled that day
    GET  /authenticate/{id}?result=succeeded|failed   the 3-D Secure page the player is redirected to

Webhooks are Stripe Event objects signed with `Stripe-Signature: t=<unix>,v1=<HMAC-SHA256(secret, "t.body")>`.
This module is the API's behaviour; the objects it answers with, the webhooks and their signature are in
`stripe_objects`.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from croupier.simulators.psp.core import Fault, ProviderState, SimTransaction
from croupier.simulators.psp.stripe_objects import (
    balance_transaction,
    intent_json,
    object_json,
    payout_json,
    render_webhook,
    stripe_error,
    unix,
)

__all__ = ["build_router", "complete", "render_webhook"]

PROTOCOL = "stripe"
MAX_AMOUNT = 99_999_999  # Stripe takes at most eight digits of minor units

#: Test payment methods that decline, as (error code, decline code), like Stripe's test tokens.
DECLINING_TOKENS = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds"),
    "pm_card_chargeDeclinedLostCard": ("card_declined", "lost_card"),
    "pm_card_chargeDeclinedStolenCard": ("card_declined", "stolen_card"),
    "pm_card_chargeDeclinedFraudulent": ("card_declined", "fraudulent"),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card"),
    "pm_card_chargeDeclinedIncorrectCvc": ("incorrect_cvc", "incorrect_cvc"),
    "pm_card_chargeDeclinedProcessingError": ("processing_error", "processing_error"),
    "pm_card_chargeDeclinedTryAgainLater": ("card_declined", "try_again_later"),
}
#: Test payment methods that need 3-D Secure: the intent waits in requires_action until the player authenticates.
AUTHENTICATING_TOKENS = ("pm_card_threeDSecure2Required", "pm_card_authenticationRequired")
#: What the decline faults answer with.
FAULT_DECLINES = {"soft_decline": ("card_declined", "try_again_later"), "hard_decline": ("card_declined", "lost_card")}
FAULT_PAYOUT_FAILURES = {"soft_decline": "could_not_process", "hard_decline": "account_closed"}

SEARCH_QUERY = re.compile(r"^\s*metadata\['(?P<key>[A-Za-z0-9_]+)'\]\s*:\s*'(?P<value>[^']*)'\s*$")


def complete(state: ProviderState, txn: SimTransaction, status: str, amount: int | None) -> None:
    """The player finished (or abandoned) 3-D Secure; `amount` is what the issuer actually let through."""
    if txn.kind != "payment" or txn.status != "pending":
        return
    if status == "succeeded":
        if amount is not None:
            txn.amount = amount
        txn.data["charge_id"] = f"ch_{secrets.token_hex(12)}"
        state.move(txn, "processing", "succeeded")
    else:
        txn.data.update(error_code="payment_intent_authentication_failure", decline_code=None)
        state.move(txn, "failed")


def _form(raw: bytes) -> tuple[dict[str, str], dict[str, str]]:
    """A form body as (fields, metadata): `metadata[key]=value` pairs go to the second."""
    fields: dict[str, str] = {}
    metadata: dict[str, str] = {}
    for key, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        match = re.fullmatch(r"metadata\[([^\]]+)\]", key)
        if match:
            metadata[match.group(1)] = value
        else:
            fields[key] = value
    return fields, metadata


def _amount(fields: dict[str, str]) -> int | None:
    value = fields.get("amount", "")
    if not value.isdigit():
        return None
    amount = int(value)
    return amount if 1 <= amount <= MAX_AMOUNT else None


def build_router(state: ProviderState) -> APIRouter:
    router = APIRouter()

    def unauthorised(request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        presented = header[7:] if header.lower().startswith("bearer ") else None
        if state.authorised(presented):
            return None
        return stripe_error(401, "invalid_request_error", "Invalid API Key provided.")

    async def refused(request: Request) -> tuple[Response | None, Fault | None]:
        """A response that ends the call now (bad key, error or timeout fault), and the fault of this call."""
        if (answer := unauthorised(request)) is not None:
            return answer, None
        fault = await state.fault()
        if fault is not None and fault.kind in ("error", "timeout"):
            return await state.failure_response(fault), fault
        return None, fault

    def replay_mismatch(txn: SimTransaction, kind: str, amount: int, currency: str) -> Response | None:
        if txn.kind == kind and txn.amount == amount and txn.currency == currency:
            return None
        return stripe_error(
            400,
            "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
        )

    def intent_answer(txn: SimTransaction) -> Response:
        if txn.status == "failed":
            return stripe_error(
                402,
                "card_error",
                "Your card was declined.",
                code=txn.data.get("error_code"),
                decline_code=txn.data.get("decline_code"),
                payment_intent=intent_json(txn),
            )
        return JSONResponse(intent_json(txn))

    @router.post("/v1/payment_intents")
    async def create_intent(request: Request) -> Response:
        answer, fault = await refused(request)
        if answer is not None:
            return answer
        fields, metadata = _form(await request.body())
        amount, currency = _amount(fields), fields.get("currency", "")
        if amount is None:
            return stripe_error(400, "invalid_request_error", "Invalid amount.", code="parameter_invalid_integer")
        if not re.fullmatch(r"[a-z]{3}", currency):
            return stripe_error(400, "invalid_request_error", "Invalid currency.", code="parameter_invalid_string")
        key = request.headers.get("idempotency-key") or metadata.get("attempt_id") or secrets.token_hex(12)
        existing = state.find(key)
        if existing is not None:
            return replay_mismatch(existing, "payment", amount, currency.upper()) or intent_answer(existing)
        token = fields.get("payment_method", "")
        txn, _ = state.create(
            key,
            kind="payment",
            method="card",
            amount=amount,
            currency=currency.upper(),
            prefix="pi_",
            data={"metadata": metadata, "payment_method": token, "secret": secrets.token_hex(8)},
        )
        if fault is not None and fault.kind in FAULT_DECLINES:
            declined: tuple[str, str] | None = FAULT_DECLINES[fault.kind]
        else:
            declined = DECLINING_TOKENS.get(token)
        if declined is not None:
            txn.data.update(error_code=declined[0], decline_code=declined[1])
            state.move(txn, "failed")
        elif token in AUTHENTICATING_TOKENS and fault is None:
            base = str(request.url).split("/v1/", 1)[0]
            txn.data.update(authenticate_url=f"{base}/authenticate/{txn.id}", return_url=fields.get("return_url"))
            state.schedule_completion(txn, lambda t: complete(state, t, "succeeded", None))
        else:
            txn.data["charge_id"] = f"ch_{secrets.token_hex(12)}"
            state.move(txn, "processing", "succeeded")
        if fault is not None and fault.kind == "error_after_charge":
            return stripe_error(500, "api_error", "An unknown error occurred.")
        return intent_answer(txn)

    async def search(request: Request, kind: Literal["payment", "payout"]) -> Response:
        answer, _ = await refused(request)
        if answer is not None:
            return answer
        match = SEARCH_QUERY.match(request.query_params.get("query", ""))
        if match is None:
            return stripe_error(400, "invalid_request_error", "Only metadata['key']:'value' queries are supported.")
        key, value = match.group("key"), match.group("value")
        found = [
            object_json(t)
            for t in state.transactions.values()
            if t.kind == kind and t.data.get("metadata", {}).get(key) == value
        ]
        path = "/v1/payment_intents/search" if kind == "payment" else "/v1/payouts/search"
        return JSONResponse({"object": "search_result", "url": path, "has_more": False, "data": found})

    async def retrieve(request: Request, txn_id: str, kind: Literal["payment", "payout"]) -> Response:
        answer, _ = await refused(request)
        if answer is not None:
            return answer
        txn = state.transactions.get(txn_id)
        if txn is None or txn.kind != kind:
            return stripe_error(404, "invalid_request_error", f"No such object: '{txn_id}'", code="resource_missing")
        return JSONResponse(object_json(txn))

    @router.get("/v1/payment_intents/search")
    async def search_intents(request: Request) -> Response:
        return await search(request, "payment")

    @router.get("/v1/payment_intents/{intent_id}")
    async def retrieve_intent(request: Request, intent_id: str) -> Response:
        return await retrieve(request, intent_id, "payment")

    @router.post("/v1/payouts")
    async def create_payout(request: Request) -> Response:
        answer, fault = await refused(request)
        if answer is not None:
            return answer
        fields, metadata = _form(await request.body())
        amount, currency = _amount(fields), fields.get("currency", "")
        if amount is None or not re.fullmatch(r"[a-z]{3}", currency):
            return stripe_error(400, "invalid_request_error", "Invalid amount or currency.")
        key = request.headers.get("idempotency-key") or metadata.get("attempt_id") or secrets.token_hex(12)
        existing = state.find(key)
        if existing is not None:
            return replay_mismatch(existing, "payout", amount, currency.upper()) or JSONResponse(payout_json(existing))
        txn, _ = state.create(
            key,
            kind="payout",
            method="card",
            amount=amount,
            currency=currency.upper(),
            prefix="po_",
            data={"metadata": metadata, "destination": fields.get("destination")},
        )
        if fault is not None and fault.kind in FAULT_PAYOUT_FAILURES:
            txn.data["failure_code"] = FAULT_PAYOUT_FAILURES[fault.kind]
            state.move(txn, "failed")
        else:
            state.move(txn, "processing", "succeeded")
        if fault is not None and fault.kind == "error_after_charge":
            return stripe_error(500, "api_error", "An unknown error occurred.")
        return JSONResponse(payout_json(txn))

    @router.get("/v1/payouts/search")
    async def search_payouts(request: Request) -> Response:
        return await search(request, "payout")

    @router.get("/v1/payouts/{payout_id}")
    async def retrieve_payout(request: Request, payout_id: str) -> Response:
        return await retrieve(request, payout_id, "payout")

    @router.get("/v1/reports/settlement")
    async def settlement_report(request: Request) -> Response:
        answer, _ = await refused(request)
        if answer is not None:
            return answer
        try:
            day = date.fromisoformat(request.query_params.get("date", ""))
        except ValueError:
            return stripe_error(400, "invalid_request_error", "date must be YYYY-MM-DD.")
        available_on = unix(datetime(day.year, day.month, day.day, tzinfo=UTC))
        lines = [balance_transaction(item, available_on) for item in state.settlement(day)]
        return JSONResponse({"object": "list", "url": "/v1/reports/settlement", "has_more": False, "data": lines})

    @router.get("/authenticate/{intent_id}")
    async def authenticate(intent_id: str, result: Literal["succeeded", "failed"] = "succeeded") -> Response:
        """The 3-D Secure challenge page: the browser lands here, and is sent back to the merchant's return_url."""
        txn = state.transactions.get(intent_id)
        if txn is None:
            return stripe_error(404, "invalid_request_error", f"No such payment_intent: '{intent_id}'")
        complete(state, txn, result, None)
        back = txn.data.get("return_url")
        if not back:
            return JSONResponse(intent_json(txn))
        query = urlencode({"payment_intent": txn.id, "redirect_status": result})
        return RedirectResponse(f"{back}{'&' if '?' in back else '?'}{query}", 303)

    return router
