"""Events the wallet publishes (its public contract). Each is written to wallet.outbox in the transaction of the change.

Envelope (croupier.kit.outbox.Event): id (UUIDv7), type, version, occurred_at, brand_id, trace_id, payload.
Payload of every transfer event is the transfer as the API returns it (see TransferCommitted).

Money flows, for consumers that sum them: `wallet.transfer.committed` (money moved, including reversals, whose
`reverses_id` names the original) and `wallet.hold.posted` (a hold turned into a movement of `amount`).
`wallet.hold.created`, `wallet.hold.voided` and `wallet.hold.expired` only reserve or release funds.
"""

from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

VERSION: Final = 1


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class TransferCommitted(_Payload):
    """A transfer row as committed (type `wallet.transfer.committed`, and the hold events below)."""

    id: UUID
    idempotency_key: str
    position: int
    kind: Literal["transfer", "hold", "hold_post", "hold_void", "hold_expiry"]
    type: str
    brand_id: str
    debit_account_id: UUID
    credit_account_id: UUID
    amount: int
    currency: str
    hold_id: UUID | None
    reverses_id: UUID | None
    expires_at: datetime | None
    metadata: dict[str, Any]
    created_at: datetime


class HoldCreated(TransferCommitted):
    """`wallet.hold.created`: funds reserved on the debit account."""


class HoldPosted(TransferCommitted):
    """`wallet.hold.posted`: `amount` of hold `hold_id` moved; the rest of the hold was released."""


class HoldVoided(TransferCommitted):
    """`wallet.hold.voided`: hold `hold_id` released in full by request."""


class HoldExpired(TransferCommitted):
    """`wallet.hold.expired`: hold `hold_id` released in full because it expired."""


class TransferTombstoned(_Payload):
    """`wallet.transfer.tombstoned`: a reversal arrived for a transfer never seen; that key is now refused."""

    idempotency_key: str
    reversal_idempotency_key: str


class AccountOpened(_Payload):
    """`wallet.account.opened`."""

    id: UUID
    brand_id: str
    owner_type: Literal["player", "house"]
    owner_id: str
    kind: str
    label: str
    currency: str
    allow_negative: bool
    metadata: dict[str, Any]
    created_at: datetime


PAYLOADS: Final[dict[str, type[_Payload]]] = {
    "wallet.transfer.committed": TransferCommitted,
    "wallet.hold.created": HoldCreated,
    "wallet.hold.posted": HoldPosted,
    "wallet.hold.voided": HoldVoided,
    "wallet.hold.expired": HoldExpired,
    "wallet.transfer.tombstoned": TransferTombstoned,
    "wallet.account.opened": AccountOpened,
}


def parse_payload(event_type: str, payload: dict[str, Any]) -> _Payload:
    """Typed payload of a wallet event, for consumers."""
    return PAYLOADS[event_type].model_validate(payload)
