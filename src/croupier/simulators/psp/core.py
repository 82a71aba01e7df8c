"""What every simulated provider shares: its transactions, injected faults, outgoing webhooks, settlement reports.

A protocol module (stripe.py, pix.py, ...) exports:

    PROTOCOL = "stripe"
    def build_router(state: ProviderState) -> APIRouter      # the provider's own API, mounted at /<name>
    def render_webhook(state, txn, status) -> (headers, body) # one webhook in the protocol's shape, signed
    def render_settlement(state, lines) -> Response           # the settlement report in the protocol's shape

Handlers call `await state.fault()` first and honour what it returns; they create transactions with
`state.create(...)` (idempotent by the merchant's reference) and move them with `state.move(txn, status)`, which
queues the webhooks. Everything is in memory: a restart forgets it, as a sandbox does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import httpx
from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger("croupier.simulators.psp")

#: How long a "timeout" fault holds a request (every client gives up long before).
HANG_SECONDS = 300.0
FINAL = ("succeeded", "failed", "canceled", "refunded")


class Faults(BaseModel):
    """Faults injected into one provider until cleared (or for the next `count` API calls)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(0, ge=0, le=600_000, description="Delay before every API answer.")
    error_status: int | None = Field(None, ge=500, le=599, description="Answer API calls with this 5xx status.")
    timeout: bool = Field(False, description="Hold API calls without answering (the client times out).")
    decline: Literal["soft", "hard"] | None = Field(None, description="Decline new payments / payouts.")
    error_after_charge: bool = Field(False, description="Charge, then answer 500 (the caller cannot tell).")
    count: int | None = Field(None, ge=1, description="Affect only the next N API calls (None: until cleared).")
    webhook_duplicates: int = Field(0, ge=0, le=10, description="Extra copies of every webhook.")
    webhook_out_of_order: bool = Field(False, description="Send a transaction's webhooks newest status first.")
    webhook_delay_ms: int = Field(0, ge=0, le=600_000, description="Delay before webhooks are sent.")
    webhook_drop: bool = Field(False, description="Send no webhooks at all.")


class Discrepancy(BaseModel):
    """A difference to inject into the settlement report (to prove reconciliation finds it)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["missing_at_provider", "extra_at_provider", "amount_mismatch", "status_mismatch"]
    reference: str | None = Field(None, description="The merchant reference (attempt id) of the line to alter.")
    amount_delta: int = Field(100, description="amount_mismatch: minor units added to the reported amount.")
    amount: int = Field(1000, ge=1, description="extra_at_provider: amount of the invented line.")
    currency: str = Field("EUR", description="extra_at_provider: currency of the invented line.")
    kind_of_line: Literal["payment", "payout"] = "payment"


@dataclass
class SimTransaction:
    id: str  # the provider's reference
    reference: str  # the merchant's reference (our attempt id; for crypto, the tx hash)
    kind: Literal["payment", "payout"]
    method: str
    amount: int  # minor units
    currency: str
    status: str = "pending"
    fee: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    history: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # protocol extras: vpa, phone, address, callback url, ...

    @property
    def settled_on(self) -> date:
        return self.created_at.date()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference": self.reference,
            "kind": self.kind,
            "method": self.method,
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "fee": self.fee,
            "created_at": self.created_at.isoformat(),
            "history": self.history,
            "data": {k: v for k, v in self.data.items() if isinstance(v, str | int | float | bool | None)},
        }


@dataclass(frozen=True)
class SettlementItem:
    """A settlement line before the protocol renders it."""

    provider_ref: str
    reference: str
    kind: Literal["payment", "payout"]
    amount: int
    fee: int
    currency: str
    status: str
    settled_on: date


@dataclass(frozen=True)
class Fault:
    kind: Literal["error", "timeout", "soft_decline", "hard_decline", "error_after_charge"]
    status: int = 500


Renderer = Callable[["ProviderState", SimTransaction, str], tuple[dict[str, str], bytes]]


class ProviderState:
    """One simulated provider instance."""

    def __init__(
        self,
        name: str,
        protocol: str,
        *,
        webhook_url: str | None,
        webhook_secret: str,
        api_key: str,
        render_webhook: Renderer,
        sender: WebhookSender,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.protocol = protocol
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.api_key = api_key
        self.options = options or {}
        self._render = render_webhook
        self._sender = sender
        self.reset()

    def reset(self) -> None:
        self.transactions: dict[str, SimTransaction] = {}
        self.by_reference: dict[str, str] = {}
        self.faults = Faults()
        self._faults_left: int | None = None
        self.discrepancies: list[Discrepancy] = []
        self.api_calls = 0
        self.charges: Counter[str] = Counter()  # merchant reference -> times money actually moved
        self.auto_complete_ms: int | None = self.options.get("auto_complete_ms")

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self._faults_left = faults.count

    # -- API calls ---------------------------------------------------------------------------------------------------

    async def fault(self) -> Fault | None:
        """Count the call, apply latency, and say which fault (if any) this call suffers."""
        self.api_calls += 1
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        kind: Fault | None = None
        if faults.timeout:
            kind = Fault("timeout")
        elif faults.error_status is not None:
            kind = Fault("error", faults.error_status)
        elif faults.error_after_charge:
            kind = Fault("error_after_charge")
        elif faults.decline is not None:
            kind = Fault("soft_decline" if faults.decline == "soft" else "hard_decline")
        if kind is not None and self._faults_left is not None:
            self._faults_left -= 1
            if self._faults_left <= 0:
                self.set_faults(
                    Faults(
                        webhook_duplicates=faults.webhook_duplicates,
                        webhook_out_of_order=faults.webhook_out_of_order,
                        webhook_delay_ms=faults.webhook_delay_ms,
                        webhook_drop=faults.webhook_drop,
                    )
                )
        return kind

    async def failure_response(self, fault: Fault) -> Response:
        """The generic answer to an `error` or `timeout` fault (a timeout never answers in time)."""
        if fault.kind == "timeout":
            await asyncio.sleep(HANG_SECONDS)
        return JSONResponse({"error": {"type": "api_error", "message": "simulated provider error"}}, fault.status)

    def authorised(self, presented: str | None) -> bool:
        return presented is not None and secrets.compare_digest(presented, self.api_key)

    # -- transactions ------------------------------------------------------------------------------------------------

    def find(self, reference: str) -> SimTransaction | None:
        txn_id = self.by_reference.get(reference)
        return self.transactions.get(txn_id) if txn_id else None

    def create(
        self,
        reference: str,
        *,
        kind: Literal["payment", "payout"],
        method: str,
        amount: int,
        currency: str,
        prefix: str,
        data: dict[str, Any] | None = None,
    ) -> tuple[SimTransaction, bool]:
        """The transaction for `reference`, created now (True) or the one created before (False): idempotency."""
        existing = self.find(reference)
        if existing is not None:
            return existing, False
        txn = SimTransaction(
            id=f"{prefix}{secrets.token_hex(10)}",
            reference=reference,
            kind=kind,
            method=method,
            amount=amount,
            currency=currency,
            fee=self.fee_for(amount),
            data=dict(data or {}),
        )
        txn.history.append(txn.status)
        self.transactions[txn.id] = txn
        self.by_reference[reference] = txn.id
        return txn, True

    def fee_for(self, amount: int) -> int:
        bps = int(self.options.get("fee_bps", 150))
        return amount * bps // 10_000

    def move(self, txn: SimTransaction, *statuses: str, url: str | None = None) -> None:
        """Move a transaction through `statuses` (only forward, never out of a final one) and send their webhooks."""
        sent: list[str] = []
        for status in statuses:
            if txn.status in FINAL or status == txn.status:
                continue
            txn.status = status
            txn.updated_at = datetime.now(UTC)
            txn.history.append(status)
            if status == "succeeded":
                self.charges[txn.reference] += 1
            sent.append(status)
        if sent:
            self.notify(txn, sent, url=url)

    def notify(self, txn: SimTransaction, statuses: list[str], *, url: str | None = None) -> None:
        """Queue the webhooks for `statuses` of `txn`, with the duplicate / order / delay / drop faults applied."""
        target = url or txn.data.get("webhook_url") or self.webhook_url
        if not target or self.faults.webhook_drop:
            return
        ordered = list(reversed(statuses)) if self.faults.webhook_out_of_order else list(statuses)
        deliveries = [self._render(self, txn, status) for status in ordered]
        copies = 1 + self.faults.webhook_duplicates
        self._sender.send(target, [d for d in deliveries for _ in range(copies)], self.faults.webhook_delay_ms)

    def schedule_completion(self, txn: SimTransaction, complete: Callable[[SimTransaction], None]) -> None:
        """With auto-completion on (the demo), the customer 'pays' after auto_complete_ms."""
        if self.auto_complete_ms is None:
            return

        async def later() -> None:
            await asyncio.sleep(self.auto_complete_ms / 1000 if self.auto_complete_ms else 0)
            if txn.status not in FINAL:
                complete(txn)

        self._sender.spawn(later())

    # -- settlement --------------------------------------------------------------------------------------------------

    def settlement(self, day: date) -> list[SettlementItem]:
        """What the provider settled on `day`: its final transactions, with the injected discrepancies applied."""
        lines = [
            SettlementItem(t.id, t.reference, t.kind, t.amount, t.fee, t.currency, t.status, t.settled_on)
            for t in sorted(self.transactions.values(), key=lambda t: t.created_at)
            if t.settled_on == day and t.status in ("succeeded", "refunded")
        ]
        for discrepancy in self.discrepancies:
            lines = _apply(discrepancy, lines, day)
        return lines


def _apply(discrepancy: Discrepancy, lines: list[SettlementItem], day: date) -> list[SettlementItem]:
    if discrepancy.kind == "extra_at_provider":
        invented = SettlementItem(
            f"sim_extra_{secrets.token_hex(6)}",
            discrepancy.reference or f"unknown-{secrets.token_hex(4)}",
            discrepancy.kind_of_line,
            discrepancy.amount,
            0,
            discrepancy.currency,
            "succeeded",
            day,
        )
        return [*lines, invented]
    out: list[SettlementItem] = []
    for line in lines:
        if line.reference != discrepancy.reference:
            out.append(line)
        elif discrepancy.kind == "missing_at_provider":
            continue
        elif discrepancy.kind == "amount_mismatch":
            out.append(_replace(line, amount=line.amount + discrepancy.amount_delta))
        else:  # status_mismatch
            out.append(_replace(line, status="refunded" if line.status == "succeeded" else "succeeded"))
    return out


def _replace(line: SettlementItem, **changes: Any) -> SettlementItem:
    values = {**line.__dict__, **changes}
    return SettlementItem(**values)


class WebhookSender:
    """Posts webhooks in the background, one delivery after another per call, retrying on connection errors."""

    def __init__(self, http: httpx.AsyncClient | None = None) -> None:
        self._http = http
        self._tasks: set[asyncio.Task[None]] = set()
        self.delivered: list[dict[str, Any]] = []  # what was sent, for the control API

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send(self, url: str, deliveries: list[tuple[dict[str, str], bytes]], delay_ms: int) -> None:
        self.spawn(self._deliver(url, deliveries, delay_ms))

    async def _deliver(self, url: str, deliveries: list[tuple[dict[str, str], bytes]], delay_ms: int) -> None:
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        http = self._http or httpx.AsyncClient(timeout=10.0)
        try:
            for headers, body in deliveries:
                status = await self._post(http, url, headers, body)
                self.delivered.append({"url": url, "status": status, "bytes": len(body)})
        finally:
            if self._http is None:
                await http.aclose()

    async def _post(self, http: httpx.AsyncClient, url: str, headers: dict[str, str], body: bytes) -> int | None:
        # Like real providers: retry a failed delivery a few times with backoff, then give up.
        for attempt in range(5):
            try:
                response = await http.post(url, content=body, headers=headers)
                if response.status_code < 500:
                    return response.status_code
            except httpx.HTTPError as error:
                log.info("webhook to %s failed: %s", url, error)
            await asyncio.sleep(0.2 * 2**attempt * (0.5 + random.random()))
        return None

    async def drain(self, seconds: float = 10.0) -> None:
        """Wait for queued deliveries (tests and the reset call use it)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while self._tasks:
                    await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
