"""The commands the ledger writer applies, their content fingerprint, and what applying one produced."""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from croupier.kit.errors import DomainError


@dataclass(slots=True, frozen=True)
class Leg:
    debit: UUID
    credit: UUID
    amount: int
    currency: str
    type: str
    metadata: dict[str, Any]


@dataclass(slots=True)
class Command:
    """One client request to the ledger. `digest` fingerprints its content for idempotency checks."""

    kind: str  # transfer | batch | hold | hold_post | hold_void | hold_expiry | reversal
    key: str
    legs: tuple[Leg, ...] = ()
    expires_at: datetime | None = None
    hold_id: UUID | None = None
    amount: int | None = None
    target_id: UUID | None = None
    target_key: str | None = None
    type: str = "reversal"
    metadata: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    digest: bytes = b""

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = fingerprint(self)


def fingerprint(command: Command) -> bytes:
    content = (
        command.kind,
        [(str(leg.debit), str(leg.credit), leg.amount, leg.currency, leg.type, leg.metadata) for leg in command.legs],
        command.expires_at.isoformat() if command.expires_at else None,
        str(command.hold_id) if command.hold_id else None,
        command.amount,
        str(command.target_id) if command.target_id else None,
        command.target_key,
        command.type if command.kind == "reversal" else None,
        command.metadata,
    )
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).digest()


@dataclass(slots=True)
class Outcome:
    result: dict[str, Any] | None = None
    replayed: bool = False
    error: DomainError | None = None


def transfer_ids_of_result(result: dict[str, Any]) -> list[UUID]:
    """The transfers a stored command result names (a single transfer, or the list of a batch or reversal)."""
    if "transfer" in result:
        return [UUID(str(result["transfer"]["id"]))]
    return [UUID(str(row["id"])) for row in result.get("transfers", [])]
