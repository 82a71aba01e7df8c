"""A simulated crypto payment gateway (USDT on Tron and Ethereum, BTC on Bitcoin), shaped like NOWPayments/Coinbase.

The merchant asks for a player's deposit address (one per customer, asset and network, handed out again on every
request); the player sends coins to it; the gateway reports the on-chain transfer by webhook as it gains
confirmations. Withdrawals are broadcast, then confirmed by webhook. The simulated chain is driven by the control
routes under this router: POST /_sim/chain/send creates a transfer with 0 confirmations, POST /_sim/chain/mine adds
blocks to every unconfirmed transfer (deposits and withdrawals alike).

Webhooks are signed like NOWPayments' IPN: `X-Signature: hex(HMAC-SHA512(secret, raw body))`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from croupier.simulators.psp.core import FINAL, ProviderState, SimTransaction

PROTOCOL = "crypto"

#: asset -> minor-unit exponent (USDT is 6 decimals on both Tron and Ethereum; BTC is counted in satoshi).
ASSET_EXPONENTS = {"USDT": 6, "BTC": 8}
#: (asset, network) pairs the gateway handles.
SUPPORTED = {("USDT", "tron"), ("USDT", "ethereum"), ("BTC", "bitcoin")}
DEFAULT_CONFIRMATIONS = {"bitcoin": 2, "ethereum": 12, "tron": 20}
#: What the gateway pays the chain to send a withdrawal, in minor units of the asset.
NETWORK_FEES = {"tron": 1_000_000, "ethereum": 3_000_000, "bitcoin": 2_000}
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


@dataclass
class _AddressBook:
    """The addresses handed out. Tied to the state's transaction table so a simulator reset forgets them too."""

    transactions: dict[str, SimTransaction]
    by_owner: dict[tuple[str, str, str], str] = field(default_factory=dict)
    owners: dict[str, dict[str, str]] = field(default_factory=dict)  # address -> customer, brand, asset, network


def _book(state: ProviderState) -> _AddressBook:
    book: _AddressBook | None = getattr(state, "_crypto_addresses", None)
    if book is None or book.transactions is not state.transactions:
        book = _AddressBook(state.transactions)
        state._crypto_addresses = book  # type: ignore[attr-defined]
    return book


def _new_address(network: str) -> str:
    if network == "tron":
        return "T" + "".join(secrets.choice(_BASE58) for _ in range(33))
    if network == "ethereum":
        return "0x" + secrets.token_hex(20)
    return "bc1q" + "".join(secrets.choice(_BECH32) for _ in range(38))


def required_confirmations(state: ProviderState, network: str) -> int:
    configured = state.options.get("confirmations") or {}
    return int(configured.get(network, DEFAULT_CONFIRMATIONS[network]))


def decimal_amount(minor: int, asset: str) -> str:
    """Minor units as the gateway writes them: the asset's units without trailing zeros ("12.5", "0.0012")."""
    value = Decimal(minor).scaleb(-ASSET_EXPONENTS.get(asset, 2))
    return format(value.normalize(), "f")


def _minor(amount: str, asset: str) -> int | None:
    try:
        scaled = Decimal(amount).scaleb(ASSET_EXPONENTS[asset])
    except (ArithmeticError, ValueError, KeyError):
        return None
    if scaled != scaled.to_integral_value() or scaled <= 0:
        return None
    return int(scaled)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


class AddressRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    customer_id: str = Field(min_length=1)
    brand: str = ""
    asset: str
    network: str


class WithdrawalRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    address: str = Field(min_length=1)
    asset: str
    network: str
    amount: str
    reference: str = Field(min_length=1)


class ChainSend(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str
    amount: int = Field(ge=1, description="Minor units of the address's asset.")
    tx_hash: str | None = None
    confirmations: int = Field(0, ge=0, description="Already this deep when the gateway first sees it.")


class ChainMine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    blocks: int = Field(1, ge=1, le=10_000)


def _deposit_view(txn: SimTransaction) -> dict[str, Any]:
    return {
        "tx_hash": txn.reference,
        "address": txn.data["address"],
        "asset": txn.currency,
        "network": txn.data["network"],
        "amount": decimal_amount(txn.amount, txn.currency),
        "confirmations": txn.data["confirmations"],
        "status": _wire_status(txn, txn.status),
        "created_at": txn.created_at.isoformat(),
    }


def _withdrawal_view(txn: SimTransaction) -> dict[str, Any]:
    return {
        "id": txn.id,
        "reference": txn.reference,
        "tx_hash": txn.data["tx_hash"],
        "address": txn.data["address"],
        "asset": txn.currency,
        "network": txn.data["network"],
        "amount": decimal_amount(txn.amount, txn.currency),
        "network_fee": decimal_amount(txn.fee, txn.currency),
        "confirmations": txn.data["confirmations"],
        "status": _wire_status(txn, txn.status),
        "created_at": txn.created_at.isoformat(),
    }


def _wire_status(txn: SimTransaction, status: str) -> str:
    if status == "succeeded":
        return "confirmed"
    if status in ("failed", "canceled"):
        return "failed"
    if status == "refunded":
        return "reversed"
    return "broadcast" if txn.kind == "payout" else "confirming"


def render_webhook(state: ProviderState, txn: SimTransaction, status: str) -> tuple[dict[str, str], bytes]:
    """One IPN: the transfer as it stood when `status` was reached, signed with HMAC-SHA512 of the raw body."""
    view = _deposit_view(txn) if txn.kind == "payment" else _withdrawal_view(txn)
    # The confirmations this status was reported with (a "confirming" sent late still says how deep it was then).
    view["confirmations"] = txn.data.get("reported", {}).get(status, txn.data["confirmations"])
    view["status"] = _wire_status(txn, status)
    digest = hashlib.sha256(f"{txn.id}|{view['status']}|{view['confirmations']}".encode()).hexdigest()
    payload = {"event_id": f"evt_{digest[:24]}", "type": "deposit" if txn.kind == "payment" else "withdrawal"}
    body = json.dumps({**payload, **view}, separators=(",", ":")).encode()
    signature = hmac.new(state.webhook_secret.encode(), body, hashlib.sha512).hexdigest()
    return {"content-type": "application/json", "x-signature": signature}, body


def _report(state: ProviderState, txn: SimTransaction, *statuses: str) -> None:
    """Move `txn` (or re-announce its confirmations) and send the webhooks."""
    reported = txn.data.setdefault("reported", {})
    for status in statuses:
        reported[status] = txn.data["confirmations"] if status == statuses[-1] else reported.get(status, 0)
    if statuses == (txn.status,):
        state.notify(txn, [txn.status])  # more confirmations, same status: NOWPayments re-sends "confirming"
    else:
        state.move(txn, *statuses)


def _add_blocks(state: ProviderState, txn: SimTransaction, blocks: int) -> None:
    txn.data["confirmations"] += blocks
    if txn.data["confirmations"] >= required_confirmations(state, txn.data["network"]):
        _report(state, txn, "succeeded")
    elif txn.kind == "payment":
        _report(state, txn, "processing")


def complete(state: ProviderState, txn: SimTransaction, status: str, amount: int | None) -> None:
    """Control API: "succeeded" mines the transfer to the required depth; "failed" drops it (a chain reorg)."""
    if txn.status in FINAL:
        return
    if status == "succeeded":
        needed = required_confirmations(state, txn.data["network"]) - txn.data["confirmations"]
        _add_blocks(state, txn, max(needed, 1))
    else:
        _report(state, txn, "failed")


def build_router(state: ProviderState) -> APIRouter:
    router = APIRouter()

    def book() -> _AddressBook:  # looked up on every call: a reset replaces it
        return _book(state)

    async def guard(api_key: str | None) -> tuple[Response | None, bool]:
        """(the refusal to answer instead, or None; whether to fail with a 500 after acting)."""
        fault = await state.fault()
        if not state.authorised(api_key):
            return _error(401, "unauthorized", "invalid x-api-key"), False
        if fault is None or fault.kind == "error_after_charge":
            return None, fault is not None
        if fault.kind in ("error", "timeout"):
            return await state.failure_response(fault), False
        if fault.kind == "soft_decline":
            return _error(422, "network_maintenance", "the network is under maintenance; try later"), False
        return _error(403, "customer_blocked", "compliance refused this customer or address"), False

    @router.post("/v1/addresses")
    async def create_address(request: AddressRequest, x_api_key: str | None = Header(None)) -> Response:
        refused, fail_after = await guard(x_api_key)
        if refused is not None:
            return refused
        if (request.asset, request.network) not in SUPPORTED:
            return _error(400, "unsupported_network", f"{request.asset} on {request.network} is not supported")
        key = (request.customer_id, request.asset, request.network)
        address = book().by_owner.get(key)
        if address is None:
            address = _new_address(request.network)
            book().by_owner[key] = address
            book().owners[address] = {
                "customer_id": request.customer_id,
                "brand": request.brand,
                "asset": request.asset,
                "network": request.network,
            }
        if fail_after:
            return JSONResponse({"error": {"code": "internal_error", "message": "simulated failure"}}, 500)
        return JSONResponse({"address": address, "asset": request.asset, "network": request.network}, 201)

    @router.get("/v1/addresses/{address}")
    async def address_info(address: str, x_api_key: str | None = Header(None)) -> Response:
        refused, _ = await guard(x_api_key)
        if refused is not None:
            return refused
        owner = book().owners.get(address)
        if owner is None:
            return _error(404, "not_found", "unknown address")
        transfers = [
            _deposit_view(t)
            for t in sorted(state.transactions.values(), key=lambda t: t.created_at)
            if t.kind == "payment" and t.data.get("address") == address
        ]
        return JSONResponse({"address": address, **owner, "deposits": transfers})

    @router.get("/v1/deposits/{tx_hash}")
    async def deposit(tx_hash: str, x_api_key: str | None = Header(None)) -> Response:
        refused, _ = await guard(x_api_key)
        if refused is not None:
            return refused
        txn = state.find(tx_hash)
        if txn is None or txn.kind != "payment":
            return _error(404, "not_found", "unknown transaction")
        return JSONResponse(_deposit_view(txn))

    @router.post("/v1/withdrawals")
    async def withdraw(request: WithdrawalRequest, x_api_key: str | None = Header(None)) -> Response:
        refused, fail_after = await guard(x_api_key)
        if refused is not None:
            return refused
        if (request.asset, request.network) not in SUPPORTED:
            return _error(400, "unsupported_network", f"{request.asset} on {request.network} is not supported")
        amount = _minor(request.amount, request.asset)
        if amount is None:
            return _error(400, "invalid_amount", f"{request.amount!r} is not a positive {request.asset} amount")
        txn, created = state.create(
            request.reference,
            kind="payout",
            method="crypto",
            amount=amount,
            currency=request.asset,
            prefix="wd_",
            data={"address": request.address, "network": request.network, "confirmations": 0},
        )
        if created:
            txn.fee = NETWORK_FEES[request.network]
            txn.data["tx_hash"] = secrets.token_hex(32)
            _report(state, txn, "processing")  # broadcast
            state.schedule_completion(txn, lambda t: complete(state, t, "succeeded", None))
        if fail_after:
            return JSONResponse({"error": {"code": "internal_error", "message": "simulated failure"}}, 500)
        return JSONResponse(_withdrawal_view(txn), 201 if created else 200)

    @router.get("/v1/withdrawals/{reference}")
    async def withdrawal(reference: str, x_api_key: str | None = Header(None)) -> Response:
        refused, _ = await guard(x_api_key)
        if refused is not None:
            return refused
        txn = state.find(reference) or state.transactions.get(reference)
        if txn is None or txn.kind != "payout":
            return _error(404, "not_found", "unknown withdrawal")
        return JSONResponse(_withdrawal_view(txn))

    @router.get("/v1/reports/settlement")
    async def settlement(date: date, x_api_key: str | None = Header(None)) -> Response:
        refused, _ = await guard(x_api_key)
        if refused is not None:
            return refused
        items = []
        for line in state.settlement(date):
            txn = state.transactions.get(line.provider_ref)
            items.append(
                {
                    "id": line.provider_ref,
                    "type": "deposit" if line.kind == "payment" else "withdrawal",
                    "reference": line.reference,
                    "tx_hash": (txn.data.get("tx_hash") or txn.reference) if txn else line.reference,
                    "network": txn.data.get("network") if txn else None,
                    "asset": line.currency,
                    "amount": decimal_amount(line.amount, line.currency),
                    "fee": decimal_amount(line.fee, line.currency),
                    "status": "confirmed" if line.status == "succeeded" else "reversed",
                    "settled_on": line.settled_on.isoformat(),
                }
            )
        return JSONResponse({"date": date.isoformat(), "items": items})

    @router.post("/_sim/chain/send")
    async def chain_send(transfer: ChainSend) -> Response:
        owner = book().owners.get(transfer.address)
        if owner is None:
            return _error(404, "not_found", "no address of this gateway")
        txn, created = state.create(
            transfer.tx_hash or secrets.token_hex(32),
            kind="payment",
            method="crypto",
            amount=transfer.amount,
            currency=owner["asset"],
            prefix="dep_",
            data={"address": transfer.address, "network": owner["network"], "confirmations": 0},
        )
        if created:
            txn.data["confirmations"] = transfer.confirmations
            if transfer.confirmations >= required_confirmations(state, owner["network"]):
                _report(state, txn, "processing", "succeeded")  # seen late: both webhooks go out at once
            else:
                _report(state, txn, "processing")  # seen in the mempool
            state.schedule_completion(txn, lambda t: complete(state, t, "succeeded", None))
        return JSONResponse(_deposit_view(txn), 201 if created else 200)

    @router.post("/_sim/chain/mine")
    async def chain_mine(mine: ChainMine) -> dict[str, Any]:
        moved = [t for t in state.transactions.values() if t.status not in FINAL]
        for txn in moved:
            _add_blocks(state, txn, mine.blocks)
        return {"blocks": mine.blocks, "transfers": [t.data.get("tx_hash") or t.reference for t in moved]}

    return router
