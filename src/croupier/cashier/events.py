"""Events the cashier publishes (its public contract), written to cashier.outbox in the transaction of the change.

Envelope (croupier.kit.outbox.Event): id, type, version, occurred_at, brand_id, trace_id, payload.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict

VERSION: Final = 1


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class PaymentChanged(_Payload):
    """`cashier.deposit.<status>` / `cashier.withdrawal.<status>`: a payment reached a status the player sees.

    Deposit statuses published: pending, succeeded (credited; `credited_amount` in the wallet's currency), failed;
    crypto also held (arrived, refused by the compliance gate on arrival, waiting for an admin) and
    refund_requested (an admin decided to send the coins back; never credited).
    Withdrawal statuses: pending_approval, approved, processing, paid, failed, rejected, canceled.
    """

    payment_id: UUID
    kind: str
    player_id: str
    status: str
    method: str
    currency: str
    amount: int
    provider: str | None
    wallet_currency: str
    credited_amount: int | None = None
    failure_code: str | None = None
    occurred_at: datetime


class ChargedAfterFailover(_Payload):
    """`cashier.alert.charged_after_failover`: a provider reported success for an attempt the cashier had given up
    on (it timed out and another provider was used). Operations must refund it; reconciliation lists it too."""

    payment_id: UUID
    attempt_id: str
    provider: str
    provider_ref: str | None
    amount: int | None
    currency: str | None


class DepositHeld(_Payload):
    """`cashier.alert.deposit_held`: coins arrived for a player the compliance gate now refuses (self-excluded,
    deposit limit reached, KYC revoked since the address was handed out). They are in suspense, not playable, until
    an admin releases them to the player or marks them for a refund (back office: /admin/deposits)."""

    payment_id: UUID
    player_id: str
    provider: str
    tx_hash: str | None
    network: str | None
    currency: str
    amount: int  # what arrived, minor units of currency
    wallet_currency: str
    reason: str  # the gate's stable reason code
    rule: str
    decision_id: UUID  # the gate's decision log entry


class ReconciliationDiscrepancies(_Payload):
    """`cashier.alert.reconciliation_discrepancies`: a reconciliation run found differences."""

    reconciliation_id: UUID
    provider: str
    day: date
    discrepancies: int
    by_kind: dict[str, int]


class CircuitOpened(_Payload):
    """`cashier.alert.circuit_opened`: a provider was taken out of rotation after a burst of failures."""

    provider: str
    failures: int
    until: datetime


def payment_event_type(kind: str, status: str) -> str:
    return f"cashier.{kind}.{status}"


def dump(payload: _Payload) -> dict[str, Any]:
    return payload.model_dump(mode="json")
