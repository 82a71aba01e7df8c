"""What the ledger writer loads for a batch: locked account totals, referenced transfers, stored idempotency records."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(slots=True)
class AccountState:
    id: UUID
    brand_id: str
    currency: str
    allow_negative: bool
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def posted(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending

    def counters(self) -> tuple[int, int, int, int]:
        return (self.debits_posted, self.credits_posted, self.debits_pending, self.credits_pending)

    def restore(self, counters: tuple[int, int, int, int]) -> None:
        self.debits_posted, self.credits_posted, self.debits_pending, self.credits_pending = counters

    def snapshot(self) -> dict[str, int]:
        posted = self.credits_posted - self.debits_posted
        return {"posted": posted, "available": posted - self.debits_pending}


@dataclass(slots=True)
class KnownTransfer:
    """A transfer a command refers to, with what has already happened to it."""

    row: dict[str, Any]
    resolved_by: UUID | None = None
    reversed_by: UUID | None = None


@dataclass(slots=True)
class StoredRequest:
    kind: str
    digest: bytes
    result: dict[str, Any]
