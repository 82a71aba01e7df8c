"""A simulated e-wallet gateway (GCash, GrabPay, Alipay, ...), shaped like Xendit's e-wallet charges and payouts.

The merchant creates a charge; the player approves it in the wallet app (redirect / deep link, or a QR code for
QR channels) and the gateway posts an `ewallet.capture` callback with the charge. Payouts go to a wallet account
(Xendit's payouts API). Callbacks carry `x-callback-token: <webhook secret>`, a static token, as Xendit's do.
Amounts are JSON numbers in major units.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from croupier.simulators.psp.core import FINAL, ProviderState, SimTransaction

PROTOCOL = "ewallet"

#: channel -> the currency it charges in.
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
QR_CHANNELS = {"CN_ALIPAY"}  # paid by scanning a QR code, not by a redirect
EXPONENT = 2  # every supported currency has cents
CHARGE_STATUSES = {"pending": "PENDING", "succeeded": "SUCCEEDED", "failed": "FAILED", "canceled": "VOIDED"}
PAYOUT_STATUSES = {"pending": "ACCEPTED", "succeeded": "SUCCEEDED", "failed": "FAILED", "canceled": "CANCELLED"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error_code": code, "message": message}, status)


def _major(minor: int) -> float:
    return float(Decimal(minor).scaleb(-EXPONENT))


def _minor(value: Any) -> int | None:
    try:
        scaled = Decimal(str(value)).scaleb(EXPONENT)
    except (InvalidOperation, ValueError):
        return None
    if isinstance(value, bool) or scaled != scaled.to_integral_value() or scaled <= 0:
        return None
    return int(scaled)


def charge_view(state: ProviderState, txn: SimTransaction) -> dict[str, Any]:
    captured = txn.data.get("captured", txn.amount) if txn.status == "succeeded" else None
    base = f"https://ewallet.sim/{txn.data['channel_code'].lower()}/{txn.id}"
    qr = txn.data["channel_code"] in QR_CHANNELS
    return {
        "id": txn.id,
        "business_id": state.name,
        "reference_id": txn.reference,
        "status": CHARGE_STATUSES.get(txn.status, "PENDING"),
        "currency": txn.currency,
        "charge_amount": _major(txn.amount),
        "capture_amount": _major(captured) if captured is not None else None,
        "checkout_method": "ONE_TIME_PAYMENT",
        "channel_code": txn.data["channel_code"],
        "channel_properties": txn.data["channel_properties"],
        "actions": {
            "desktop_web_checkout_url": None if qr else f"{base}/checkout",
            "mobile_web_checkout_url": None if qr else f"{base}/checkout?mobile=1",
            "mobile_deeplink_checkout_url": None if qr else f"{txn.data['channel_code'].lower()}://pay/{txn.id}",
            "qr_checkout_string": f"https://qr.alipay.sim/{txn.id}" if qr else None,
        },
        "is_redirect_required": not qr,
        "failure_code": txn.data.get("failure_code"),
        "created": txn.created_at.isoformat(),
        "updated": txn.updated_at.isoformat(),
    }


def payout_view(txn: SimTransaction, status: str | None = None) -> dict[str, Any]:
    return {
        "id": txn.id,
        "reference_id": txn.reference,
        "channel_code": txn.data["channel_code"],
        "channel_properties": txn.data["channel_properties"],
        "amount": _major(txn.amount),
        "currency": txn.currency,
        "status": PAYOUT_STATUSES.get(status or txn.status, "ACCEPTED"),
        "failure_code": txn.data.get("failure_code"),
        "created": txn.created_at.isoformat(),
        "updated": txn.updated_at.isoformat(),
    }


def render_webhook(state: ProviderState, txn: SimTransaction, status: str) -> tuple[dict[str, str], bytes]:
    """`ewallet.capture` for charges, `payout.<status>` for payouts; the token is the webhook secret."""
    if txn.kind == "payment":
        data = {**charge_view(state, txn), "status": CHARGE_STATUSES.get(status, "PENDING")}
        event = "ewallet.capture" if status != "canceled" else "ewallet.void"
    else:
        data = payout_view(txn, status)
        event = f"payout.{data['status'].lower()}"
    body = {"event": event, "business_id": state.name, "created": txn.updated_at.isoformat(), "data": data}
    webhook_id = hashlib.sha256(f"{txn.id}|{status}".encode()).hexdigest()[:32]
    headers = {"content-type": "application/json", "x-callback-token": state.webhook_secret, "webhook-id": webhook_id}
    return headers, json.dumps(body, separators=(",", ":")).encode()


def complete(state: ProviderState, txn: SimTransaction, status: str, amount: int | None) -> None:
    """The player approved the charge in the wallet app ("succeeded") or declined it ("failed")."""
    if txn.status in FINAL:
        return
    if status == "succeeded":
        txn.data["captured"] = amount if amount is not None else txn.amount
    else:
        txn.data["failure_code"] = "USER_DECLINED_PAYMENT"
    state.move(txn, status)


def _api_key(authorization: str | None) -> str | None:
    if not authorization or not authorization.startswith("Basic "):
        return None
    try:
        return base64.b64decode(authorization[6:]).decode().split(":")[0]
    except ValueError:
        return None


def build_router(state: ProviderState) -> APIRouter:
    router = APIRouter()

    async def guard(authorization: str | None) -> tuple[Response | None, bool]:
        """(the answer to give instead, or None; whether to fail with a 500 after acting)."""
        fault = await state.fault()
        if not state.authorised(_api_key(authorization)):
            return _error(401, "INVALID_API_KEY", "API key is invalid"), False
        if fault is None or fault.kind == "error_after_charge":
            return None, fault is not None
        if fault.kind in ("error", "timeout"):
            return await state.failure_response(fault), False
        if fault.kind == "soft_decline":
            return _error(503, "CHANNEL_UNAVAILABLE", "The e-wallet partner is temporarily unavailable"), False
        return _error(400, "ACCOUNT_ACCESS_BLOCKED", "The end user's e-wallet account is blocked"), False

    def answer(body: dict[str, Any], created: bool, fail_after: bool) -> JSONResponse:
        if fail_after:
            return JSONResponse({"error_code": "SERVER_ERROR", "message": "simulated failure"}, 500)
        return JSONResponse(body, 202 if created else 200)

    async def validated(request: Request) -> tuple[dict[str, Any], int] | JSONResponse:
        body = await request.json()
        channel = body.get("channel_code")
        if channel not in CHANNELS:
            return _error(400, "API_VALIDATION_ERROR", f"channel_code {channel!r} is not supported")
        if body.get("currency") != CHANNELS[channel]:
            return _error(400, "UNSUPPORTED_CURRENCY", f"{channel} does not take {body.get('currency')}")
        amount = _minor(body.get("amount"))
        if amount is None or not body.get("reference_id"):
            return _error(400, "API_VALIDATION_ERROR", "amount and reference_id are required")
        return body, amount

    @router.post("/ewallets/charges")
    async def create_charge(
        request: Request,
        authorization: str | None = Header(None),
    ) -> Response:
        refused, fail_after = await guard(authorization)
        if refused is not None:
            return refused
        checked = await validated(request)
        if isinstance(checked, JSONResponse):
            return checked
        body, amount = checked
        txn, created = state.create(
            str(body["reference_id"]),  # the adapter sends it as the Idempotency-key too
            kind="payment",
            method="ewallet",
            amount=amount,
            currency=str(body["currency"]),
            prefix="ewc_",
            data={"channel_code": body["channel_code"], "channel_properties": body.get("channel_properties") or {}},
        )
        if created:
            state.schedule_completion(txn, lambda t: complete(state, t, "succeeded", None))
        return answer(charge_view(state, txn), created, fail_after)

    @router.get("/ewallets/charges/{charge_id}")
    async def get_charge(charge_id: str, authorization: str | None = Header(None)) -> Response:
        refused, _ = await guard(authorization)
        if refused is not None:
            return refused
        txn = state.transactions.get(charge_id)
        if txn is None or txn.kind != "payment":
            return _error(404, "DATA_NOT_FOUND", "Charge not found")
        return JSONResponse(charge_view(state, txn))

    @router.get("/ewallets/charges")
    async def charges_by_reference(reference_id: str, authorization: str | None = Header(None)) -> Response:
        refused, _ = await guard(authorization)
        if refused is not None:
            return refused
        txn = state.find(reference_id)
        found = [charge_view(state, txn)] if txn is not None and txn.kind == "payment" else []
        return JSONResponse({"data": found, "has_more": False})

    @router.post("/v2/payouts")
    async def create_payout(
        request: Request,
        authorization: str | None = Header(None),
    ) -> Response:
        refused, fail_after = await guard(authorization)
        if refused is not None:
            return refused
        checked = await validated(request)
        if isinstance(checked, JSONResponse):
            return checked
        body, amount = checked
        account = (body.get("channel_properties") or {}).get("account_number")
        if not account:
            return _error(400, "API_VALIDATION_ERROR", "channel_properties.account_number is required")
        txn, created = state.create(
            str(body["reference_id"]),  # the adapter sends it as the Idempotency-key too
            kind="payout",
            method="ewallet",
            amount=amount,
            currency=str(body["currency"]),
            prefix="disb-",
            data={"channel_code": body["channel_code"], "channel_properties": body["channel_properties"]},
        )
        accepted = payout_view(txn)
        if created:
            state.move(txn, "succeeded")  # wallets credit at once; the callback says so
        return answer(accepted, created, fail_after)

    @router.get("/v2/payouts/{payout_id}")
    async def get_payout(payout_id: str, authorization: str | None = Header(None)) -> Response:
        refused, _ = await guard(authorization)
        if refused is not None:
            return refused
        txn = state.transactions.get(payout_id)
        if txn is None or txn.kind != "payout":
            return _error(404, "DATA_NOT_FOUND", "Payout not found")
        return JSONResponse(payout_view(txn))

    @router.get("/v2/payouts")
    async def payouts_by_reference(reference_id: str, authorization: str | None = Header(None)) -> Response:
        refused, _ = await guard(authorization)
        if refused is not None:
            return refused
        txn = state.find(reference_id)
        return JSONResponse([payout_view(txn)] if txn is not None and txn.kind == "payout" else [])

    @router.get("/reports/settlement")
    async def settlement(date: date, authorization: str | None = Header(None)) -> Response:
        """The day's settled transactions, shaped like Xendit's transactions API."""
        refused, _ = await guard(authorization)
        if refused is not None:
            return refused
        rows = []
        for line in state.settlement(date):
            txn = state.transactions.get(line.provider_ref)
            rows.append(
                {
                    "id": f"txn_{line.provider_ref}",
                    "product_id": line.provider_ref,
                    "reference_id": line.reference,
                    "type": "PAYMENT" if line.kind == "payment" else "DISBURSEMENT",
                    "channel_code": txn.data["channel_code"] if txn else None,
                    "currency": line.currency,
                    "amount": _major(line.amount),
                    "fee": {"xendit_fee": _major(line.fee), "value_added_tax": 0},
                    "status": "SUCCESS" if line.status == "succeeded" else "REVERSED",
                    "settlement_status": "SETTLED",
                    "estimated_settlement_time": line.settled_on.isoformat(),
                }
            )
        return JSONResponse({"date": date.isoformat(), "data": rows, "has_more": False})

    return router
