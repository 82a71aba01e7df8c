"""Request and response models of the compliance API."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from croupier.kit.money import MAX_MINOR_UNITS


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


LimitKind = Literal["deposit", "loss", "wager", "session_time"]
LimitPeriod = Literal["day", "week", "month", "session"]


class SetLimitRequest(_In):
    amount: int | None = Field(
        ge=1,
        le=MAX_MINOR_UNITS,
        description="Minor units of the player's currency (minutes for session_time); null removes the limit. "
        "Lowering applies at once; raising or removing only after the brand's cooling-off period.",
    )


class LimitOut(_Out):
    kind: LimitKind
    period: LimitPeriod
    amount: int | None = Field(description="The limit in force now (null: none).")
    pending_amount: int | None
    pending_removal: bool
    pending_effective_at: datetime | None


class LimitChangeOut(_Out):
    kind: LimitKind
    period: LimitPeriod
    requested: int | None
    in_force: int | None = Field(description="The limit in force right after this request.")
    effective_at: datetime = Field(description="When the requested value takes effect.")
    immediate: bool


class TimeoutRequest(_In):
    hours: int = Field(ge=24, le=1008, description="24 hours to 6 weeks.")
    reason: str | None = Field(default=None, max_length=500)


class SelfExclusionRequest(_In):
    months: int = Field(ge=6, le=60, description="6 months to 5 years. It cannot be lifted before it ends.")
    reason: str | None = Field(default=None, max_length=500)


class ExclusionOut(_Out):
    kind: Literal["timeout", "self_exclusion"]
    starts_at: datetime
    ends_at: datetime
    active: bool = True


class RealityCheckRequest(_In):
    interval_minutes: int = Field(ge=5, le=1440)


class RealityCheckOut(_Out):
    interval_minutes: int = Field(description="0: no reminders (the brand's setting).")
    session_started_at: datetime
    next_due_at: datetime | None = Field(
        description="When the client must show the next reminder; null when the interval is 0 (the brand has none)."
    )
    time_played_seconds: int
    wagered: int
    won: int
    net_result: int = Field(description="won - wagered in this session, minor units (negative: a loss).")
    currency: str


class DecisionOut(_Out):
    id: UUID
    player_id: str | None
    brand_id: str
    action: str
    amount: int | None
    allowed: bool
    reason: str
    rule: str
    rule_version: int
    inputs: dict[str, Any]
    decided_at: datetime


class DecisionPage(_Out):
    items: list[DecisionOut]
    next_cursor: str | None
