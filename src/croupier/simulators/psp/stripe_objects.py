"""Stripe's objects as the simulated Stripe-shaped API shows them: PaymentIntents, payouts, signed webhook Events,
balance-transaction lines of the settlement report, and its error bodies (docs/providers/stripe.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse

from croupier.simulators.psp.core import ProviderState, SettlementItem, SimTransaction

API_VERSION = "2024-06-20"

INTENT_STATUS = {
    "pending": "requires_action",
    "processing": "processing",
    "succeeded": "succeeded",
    "failed": "requires_payment_method",
    "canceled": "canceled",
    "refunded": "succeeded",
}
PAYOUT_STATUS = {
    "pending": "pending",
    "processing": "in_transit",
    "succeeded": "paid",
    "failed": "failed",
    "canceled": "canceled",
    "refunded": "paid",
}
INTENT_EVENTS = {
    "pending": "payment_intent.requires_action",
    "processing": "payment_intent.processing",
    "succeeded": "payment_intent.succeeded",
    "failed": "payment_intent.payment_failed",
    "canceled": "payment_intent.canceled",
    "refunded": "charge.refunded",
}
PAYOUT_EVENTS = {
    "pending": "payout.created",
    "processing": "payout.updated",
    "succeeded": "payout.paid",
    "failed": "payout.failed",
    "canceled": "payout.canceled",
    "refunded": "payout.reversed",
}


def stripe_error(status: int, type_: str, message: str, **fields: Any) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "message": message, **fields}}, status)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The Stripe-Signature header value for `body`, as Stripe computes it."""
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def intent_json(txn: SimTransaction, status: str | None = None) -> dict[str, Any]:
    """The PaymentIntent as Stripe shows it, at `status` (our word) or where it stands now."""
    ours = status or txn.status
    last_error = None
    if ours == "failed":
        code, decline_code = txn.data.get("error_code", "card_declined"), txn.data.get("decline_code")
        last_error = {"type": "card_error", "code": code, "decline_code": decline_code, "message": "declined"}
    next_action = None
    if ours == "pending" and txn.data.get("authenticate_url"):
        next_action = {
            "type": "redirect_to_url",
            "redirect_to_url": {"url": txn.data["authenticate_url"], "return_url": txn.data.get("return_url")},
        }
    return {
        "id": txn.id,
        "object": "payment_intent",
        "amount": txn.amount,
        "amount_received": txn.amount if ours in ("succeeded", "refunded") else 0,
        "currency": txn.currency.lower(),
        "status": INTENT_STATUS.get(ours, ours),
        "capture_method": "automatic",
        "confirmation_method": "automatic",
        "client_secret": f"{txn.id}_secret_{txn.data.get('secret', '')}",
        "created": unix(txn.created_at),
        "latest_charge": txn.data.get("charge_id") if ours in ("succeeded", "refunded") else None,
        "last_payment_error": last_error,
        "livemode": False,
        "metadata": txn.data.get("metadata", {}),
        "next_action": next_action,
        "payment_method": txn.data.get("payment_method"),
        "payment_method_types": ["card"],
    }


def payout_json(txn: SimTransaction, status: str | None = None) -> dict[str, Any]:
    ours = status or txn.status
    failure = txn.data.get("failure_code") if ours == "failed" else None
    return {
        "id": txn.id,
        "object": "payout",
        "amount": txn.amount,
        "currency": txn.currency.lower(),
        "status": PAYOUT_STATUS.get(ours, ours),
        "arrival_date": unix(txn.created_at),
        "created": unix(txn.created_at),
        "destination": txn.data.get("destination"),
        "failure_code": failure,
        "failure_message": "simulated payout failure" if failure else None,
        "livemode": False,
        "metadata": txn.data.get("metadata", {}),
        "method": "standard",
        "type": "card",
    }


def object_json(txn: SimTransaction, status: str | None = None) -> dict[str, Any]:
    return intent_json(txn, status) if txn.kind == "payment" else payout_json(txn, status)


def render_webhook(state: ProviderState, txn: SimTransaction, status: str) -> tuple[dict[str, str], bytes]:
    """One Event for `txn` reaching `status`; its id is a digest of both, so duplicates carry the same id."""
    events = INTENT_EVENTS if txn.kind == "payment" else PAYOUT_EVENTS
    event_id = "evt_" + hashlib.sha256(f"{state.name}:{txn.id}:{status}".encode()).hexdigest()[:24]
    event = {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": unix(txn.updated_at),
        "livemode": False,
        "pending_webhooks": 1,
        "type": events.get(status, f"{txn.kind}.updated"),
        "data": {"object": object_json(txn, status)},
    }
    body = json.dumps(event, indent=2).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "Stripe-Signature": sign(state.webhook_secret, body, int(time.time())),
    }
    return headers, body


def balance_transaction(item: SettlementItem, available_on: int) -> dict[str, Any]:
    """One settled transaction as a line of the settlement report (a Stripe balance transaction)."""
    category = {
        ("payment", "succeeded"): "charge",
        ("payment", "refunded"): "refund",
        ("payout", "succeeded"): "payout",
        ("payout", "refunded"): "payout_reversal",
    }.get((item.kind, item.status), "other_adjustment")
    # Balance transactions sign money by direction: charges and payout reversals add to the balance.
    sign_ = 1 if category in ("charge", "payout_reversal") else -1
    return {
        "id": "txn_" + hashlib.sha256(f"{item.provider_ref}:{category}".encode()).hexdigest()[:24],
        "object": "balance_transaction",
        "source": item.provider_ref,
        "reporting_category": category,
        "type": category,
        "amount": sign_ * item.amount,
        "fee": item.fee,
        "net": sign_ * item.amount - item.fee,
        "currency": item.currency.lower(),
        "status": "available",
        "available_on": available_on,
        "metadata": {"attempt_id": item.reference},
    }
