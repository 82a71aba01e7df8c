"""Events the compliance service publishes (its public contract), written to compliance.outbox in the transaction of
the change. Marketing must stop for an excluded player; the cashier and games may react to limit changes.

Envelope (croupier.kit.outbox.Event): id (UUIDv7), type, version, occurred_at, brand_id, trace_id, payload.
"""

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

VERSION: Final = 1


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class LimitChanged(_Payload):
    """`compliance.limit.changed`: a player asked to set, raise, lower or remove a limit."""

    player_id: str
    kind: Literal["deposit", "loss", "wager", "session_time"]
    period: Literal["day", "week", "month", "session"]
    requested: int | None
    in_force: int | None
    effective_at: datetime
    immediate: bool


class ExclusionStarted(_Payload):
    """`compliance.exclusion.started`: a time-out or self-exclusion began (no gambling, no marketing until ends_at)."""

    player_id: str
    kind: Literal["timeout", "self_exclusion"]
    starts_at: datetime
    ends_at: datetime


PAYLOADS: Final[dict[str, type[_Payload]]] = {
    "compliance.limit.changed": LimitChanged,
    "compliance.exclusion.started": ExclusionStarted,
}


def parse_payload(event_type: str, payload: dict[str, object]) -> _Payload:
    return PAYLOADS[event_type].model_validate(payload)
