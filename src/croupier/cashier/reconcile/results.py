"""What a reconciliation run produces: its counts and one item per difference (as stored, listed and printed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from croupier.kit.ids import uuid7

KINDS = ("missing_in_ledger", "missing_at_provider", "amount_mismatch", "status_mismatch")


@dataclass(frozen=True, slots=True)
class ReconciliationItem:
    kind: str
    reference: str | None
    provider_ref: str | None
    payment_id: UUID | None
    currency: str | None
    ledger_amount: int | None  # gross, minor units, in the direction of the payment (positive)
    provider_amount: int | None
    ledger_status: str | None  # credited, paid_out, reversed (net zero)
    provider_status: str | None
    detail: str
    id: UUID = field(default_factory=uuid7)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["id"], out["payment_id"] = str(self.id), str(self.payment_id) if self.payment_id else None
        return out


@dataclass(frozen=True, slots=True)
class ReconciliationCounts:
    ledger_lines: int  # ledger entries (references) of the day
    provider_lines: int  # lines in the provider's report
    matched: int  # references both sides agree on
    discrepancies: int
    by_kind: dict[str, int]


@dataclass(frozen=True, slots=True)
class ReconciliationResult:
    id: UUID
    provider: str
    day: date
    run_at: datetime
    counts: ReconciliationCounts
    items: list[ReconciliationItem]

    @property
    def clean(self) -> bool:
        return self.counts.discrepancies == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "provider": self.provider,
            "day": self.day.isoformat(),
            "run_at": self.run_at.isoformat(),
            **asdict(self.counts),
            "items": [item.as_dict() for item in self.items],
        }
