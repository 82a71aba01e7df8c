"""Adapter for a crypto payment gateway (USDT on Tron/Ethereum, BTC on Bitcoin), NOWPayments/Coinbase-shaped.

A deposit is a per-player address, not a charge: `start` asks for the player's address (the same one every time)
and answers PENDING with a `crypto_address` next action. The gateway then reports each on-chain transfer to that
address by webhook; we call a transfer "processing" until it has the confirmations this provider's configuration
requires for its network (options["confirmations"]), then "succeeded". Under- and over-payment are the cashier's
business: the event carries exactly the amount that arrived.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import replace
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
    from_decimal_string,
    to_decimal_string,
)
from croupier.cashier.providers.config import ProviderConfig

ASSET_EXPONENTS = {"USDT": 6, "BTC": 8}
SUPPORTED = {("USDT", "tron"), ("USDT", "ethereum"), ("BTC", "bitcoin")}
DEFAULT_CONFIRMATIONS = {"bitcoin": 2, "ethereum": 12, "tron": 20}
#: Gateway error codes another provider would refuse too (everything else cascades).
HARD_CODES = {"unsupported_network", "customer_blocked", "address_blacklisted", "invalid_address", "invalid_amount"}
WIRE_STATUSES: dict[str, ProviderStatus] = {
    "broadcast": "processing",
    "confirming": "processing",
    "confirmed": "succeeded",
    "failed": "failed",
    "reversed": "refunded",
}


class _Failed(Exception):
    def __init__(self, result: AttemptResult) -> None:
        self.result = result


class Adapter:
    protocol = "crypto"

    def __init__(self, config: ProviderConfig, http: httpx.AsyncClient | None = None) -> None:
        self.name = config.name
        self.config = config
        self._own_http = http is None
        self._http = http or httpx.AsyncClient()
        configured = config.options.get("confirmations") or {}
        self.confirmations = {net: int(configured.get(net, n)) for net, n in DEFAULT_CONFIRMATIONS.items()}

    # -- calls ---------------------------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: str) -> Any:
        """The JSON answer of one API call; _Failed carries the classified failure (latency filled in by callers)."""
        try:
            response = await self._http.request(
                method,
                f"{self.config.base_url.rstrip('/')}{path}",
                json=body,
                params=params or None,
                headers={"x-api-key": self.config.api_key.get_secret_value()},
                timeout=self.config.timeout_seconds,
            )
        except httpx.TimeoutException:
            raise _Failed(AttemptResult(Outcome.TIMEOUT, error_code="timeout", detail="no answer in time")) from None
        except httpx.HTTPError as error:
            raise _Failed(AttemptResult(Outcome.PROVIDER_ERROR, error_code="connection", detail=str(error))) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 500 or response.status_code == 401 or not isinstance(answer, dict):
            detail = f"HTTP {response.status_code}"
            raise _Failed(AttemptResult(Outcome.PROVIDER_ERROR, error_code=str(response.status_code), detail=detail))
        if response.status_code >= 400:
            refusal = answer.get("error") or {}
            code = str(refusal.get("code", response.status_code))
            outcome = Outcome.HARD_DECLINE if code in HARD_CODES else Outcome.SOFT_DECLINE
            if response.status_code == 404:
                outcome = Outcome.PROVIDER_ERROR
            raise _Failed(AttemptResult(outcome, error_code=code, detail=str(refusal.get("message", ""))))
        return answer

    @staticmethod
    def _network(order: PaymentOrder) -> str | None:
        network = order.details.get("network") or ("bitcoin" if order.currency == "BTC" else None)
        if not isinstance(network, str) or (order.currency, network) not in SUPPORTED:
            return None
        return network

    # -- the port ------------------------------------------------------------------------------------------------

    async def start(self, order: PaymentOrder) -> AttemptResult:
        started = time.perf_counter()
        network = self._network(order)
        if network is None:
            detail = f"{order.currency} on {order.details.get('network')!r} is not supported"
            return AttemptResult(Outcome.HARD_DECLINE, error_code="unsupported_network", detail=detail)
        request = {"customer_id": order.player_id, "brand": order.brand_id, "asset": order.currency, "network": network}
        try:
            answer = await self._call("POST", "/v1/addresses", request)
            address = str(answer["address"])
        except _Failed as failed:
            return _timed(failed.result, started)
        except KeyError:
            return _timed(AttemptResult(Outcome.PROVIDER_ERROR, detail="no address in the answer"), started)
        action = NextAction("crypto_address", address=address, network=network, asset=order.currency)
        return _timed(AttemptResult(Outcome.PENDING, provider_ref=address, next_action=action), started)

    async def payout(self, order: PaymentOrder) -> AttemptResult:
        started = time.perf_counter()
        network = self._network(order)
        address = order.details.get("address")
        if network is None:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="unsupported_network", detail="unsupported network")
        if not isinstance(address, str) or not address:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_address", detail="no destination address")
        asset_exponent = ASSET_EXPONENTS[order.currency]
        if order.exponent > asset_exponent or order.amount <= 0:
            return AttemptResult(Outcome.HARD_DECLINE, error_code="invalid_amount", detail="amount not representable")
        request = {
            "address": address,
            "asset": order.currency,
            "network": network,
            "amount": to_decimal_string(order.amount, order.exponent),
            "reference": order.attempt_id,
        }
        try:
            answer = await self._call("POST", "/v1/withdrawals", request)
            provider_ref = str(answer["id"])
        except _Failed as failed:
            return _timed(failed.result, started)
        except KeyError:
            return _timed(AttemptResult(Outcome.PROVIDER_ERROR, detail="no withdrawal id in the answer"), started)
        outcome = Outcome.SUCCEEDED if answer.get("status") == "confirmed" else Outcome.PENDING
        return _timed(AttemptResult(outcome, provider_ref=provider_ref), started)

    async def status(self, attempt_id: str, provider_ref: str | None, kind: PaymentKind) -> ProviderEvent | None:
        """A withdrawal by our reference; a deposit attempt by its address (its latest transfer, or still pending)."""
        try:
            if kind == "withdrawal":
                event = self._withdrawal_event(await self._call("GET", f"/v1/withdrawals/{attempt_id}"))
                return _with_attempt(event, attempt_id)
            if provider_ref is None:
                return None
            answer = await self._call("GET", f"/v1/addresses/{provider_ref}")
        except _Failed as failed:
            if failed.result.error_code == "not_found":
                return None
            raise ProviderUnavailable(f"{self.name}: status query failed: {failed.result.detail}") from None
        deposits = answer.get("deposits") or []
        if not deposits:
            return ProviderEvent(
                event_id=f"{provider_ref}:awaiting",
                kind="deposit",
                status="pending",
                attempt_id=attempt_id,
                provider_ref=provider_ref,
                currency=answer.get("asset"),
                address=provider_ref,
                network=answer.get("network"),
                raw_type="address",
            )
        return _with_attempt(self._deposit_event(deposits[-1]), attempt_id)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], now: datetime) -> None:
        presented = headers.get("x-signature")
        if not presented:
            raise WebhookRejected("missing_signature", "no X-Signature header")
        expected = hmac.new(self.config.webhook_secret.get_secret_value().encode(), body, hashlib.sha512).hexdigest()
        if not hmac.compare_digest(presented.strip().lower(), expected):
            raise WebhookRejected("bad_signature", "X-Signature does not match the body")

    async def parse_webhook(self, body: bytes) -> list[ProviderEvent]:
        try:
            payload = json.loads(body)
            if payload["type"] == "deposit":
                return [self._deposit_event(payload)]
            if payload["type"] == "withdrawal":
                return [self._withdrawal_event(payload)]
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookRejected("malformed", f"unreadable crypto webhook: {error!r}") from None
        raise WebhookRejected("malformed", f"unknown webhook type {payload.get('type')!r}")

    def webhook_answer(self) -> WebhookAnswer:
        return WebhookAnswer()

    async def settlement_report(self, day: date) -> list[SettlementLine]:
        try:
            answer = await self._call("GET", "/v1/reports/settlement", date=day.isoformat())
        except _Failed as failed:
            raise ProviderUnavailable(f"{self.name}: settlement report failed: {failed.result.detail}") from None
        lines = []
        for item in answer.get("items", []):
            asset = str(item["asset"])
            exponent = ASSET_EXPONENTS.get(asset, 2)  # an unknown asset still shows up for reconciliation
            lines.append(
                SettlementLine(
                    provider_ref=str(item["id"]),
                    reference=item.get("reference"),
                    kind="deposit" if item["type"] == "deposit" else "withdrawal",
                    amount=from_decimal_string(item["amount"], exponent),
                    fee=from_decimal_string(item.get("fee") or "0", exponent),
                    currency=asset,
                    status=WIRE_STATUSES.get(str(item["status"]), "pending"),
                    settled_on=date.fromisoformat(item["settled_on"]),
                )
            )
        return lines

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    # -- events --------------------------------------------------------------------------------------------------

    def _deposit_event(self, transfer: Mapping[str, Any]) -> ProviderEvent:
        network = str(transfer["network"])
        asset = str(transfer["asset"])
        confirmations = int(transfer["confirmations"])
        if transfer.get("status") in ("failed", "reversed"):
            status: ProviderStatus = WIRE_STATUSES[str(transfer["status"])]
        elif confirmations >= self.confirmations.get(network, max(DEFAULT_CONFIRMATIONS.values())):
            status = "succeeded"
        else:
            status = "processing"
        tx_hash = str(transfer["tx_hash"])
        return ProviderEvent(
            # One event per state a transfer reaches: more confirmations while still processing add nothing new.
            event_id=f"{network}:{tx_hash}:{status}",
            kind="deposit",
            status=status,
            provider_ref=tx_hash,
            amount=from_decimal_string(transfer["amount"], ASSET_EXPONENTS[asset]),
            currency=asset,
            occurred_at=_timestamp(transfer.get("created_at")),
            address=str(transfer["address"]),
            network=network,
            tx_hash=tx_hash,
            confirmations=confirmations,
            raw_type=f"deposit.{transfer.get('status', '')}",
        )

    def _withdrawal_event(self, withdrawal: Mapping[str, Any]) -> ProviderEvent:
        asset = str(withdrawal["asset"])
        status = WIRE_STATUSES.get(str(withdrawal["status"]), "processing")
        return ProviderEvent(
            event_id=f"{withdrawal['id']}:{status}",
            kind="withdrawal",
            status=status,
            attempt_id=withdrawal.get("reference"),
            provider_ref=str(withdrawal["id"]),
            amount=from_decimal_string(withdrawal["amount"], ASSET_EXPONENTS[asset]),
            currency=asset,
            occurred_at=_timestamp(withdrawal.get("created_at")),
            error_code="withdrawal_failed" if status == "failed" else None,
            address=withdrawal.get("address"),
            network=withdrawal.get("network"),
            tx_hash=withdrawal.get("tx_hash"),
            confirmations=withdrawal.get("confirmations"),
            raw_type=f"withdrawal.{withdrawal['status']}",
        )


def _timed(result: AttemptResult, started: float) -> AttemptResult:
    return AttemptResult(
        result.outcome,
        provider_ref=result.provider_ref,
        next_action=result.next_action,
        error_code=result.error_code,
        detail=result.detail,
        latency_ms=(time.perf_counter() - started) * 1000,
    )


def _with_attempt(event: ProviderEvent, attempt_id: str) -> ProviderEvent:
    return replace(event, attempt_id=attempt_id)


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None
