"""The gate's rules as pure functions of what the service loaded (no I/O here): each returns a denial or None.

Every rule has a name and a version; the decision log stores both, so a verdict can be explained years later
with the rule as it was. Change a rule's behaviour => bump its version.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

RULE_VERSIONS: dict[str, int] = {
    "player_status": 1,
    "age": 1,
    "geo": 1,
    "currency": 1,
    "exclusion": 1,
    "external_register": 1,
    "kyc": 1,
    "deposit_limit": 1,
    "wager_limit": 1,
    "loss_limit": 1,
    "session_time_limit": 1,
    "availability": 1,
}

#: Rolling windows, measured in whole hours of activity (see ActivityWindow): never shorter than the period.
PERIOD_HOURS = {"day": 24, "week": 24 * 7, "month": 24 * 30}
LIMIT_KINDS = ("deposit", "loss", "wager", "session_time")
MONEY_PERIODS = ("day", "week", "month")

TIMEOUT_MIN = timedelta(hours=24)
TIMEOUT_MAX = timedelta(weeks=6)
SELF_EXCLUSION_MIN_MONTHS = 6
SELF_EXCLUSION_MAX_MONTHS = 60


@dataclass(frozen=True, slots=True)
class Denial:
    reason: str
    rule: str
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Limit:
    kind: str
    period: str
    amount: int | None  # in effect now (None: no limit)
    pending_amount: int | None = None
    pending_removal: bool = False
    pending_effective_at: datetime | None = None

    def effective(self, now: datetime) -> int | None:
        """The limit in force at `now`: a pending raise or removal counts only once its cooling-off has passed."""
        if self.pending_effective_at is not None and self.pending_effective_at <= now:
            return None if self.pending_removal else self.pending_amount
        return self.amount


@dataclass(frozen=True, slots=True)
class Exclusion:
    kind: str  # timeout | self_exclusion
    starts_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class Activity:
    """Sums over one window."""

    wagered: int = 0
    won: int = 0
    deposited: int = 0
    withdrawn: int = 0

    @property
    def net_loss(self) -> int:
        return self.wagered - self.won


def age_on(born: date, today: date) -> int:
    years = today.year - born.year
    if (today.month, today.day) < (born.month, born.day):
        years -= 1
    return years


def check_age(born: date, today: date, minimum: int) -> Denial | None:
    age = age_on(born, today)
    if age < minimum:
        return Denial("underage", "age", f"the player is {age}; this brand requires {minimum}", {"age": age})
    return None


def check_country(country: str | None, allowed: list[str], denied: list[str], *, source: str) -> Denial | None:
    """A known country must be on the brand's allow list and not on its deny list. `source`: declared or ip."""
    if country is None:
        return None
    if country in denied or (allowed and country not in allowed):
        return Denial(
            "country_not_allowed",
            "geo",
            f"the {source} country {country} is not allowed by this brand",
            {f"{source}_country": country},
        )
    return None


def active_exclusion(exclusions: list[Exclusion], now: datetime) -> Exclusion | None:
    """The active exclusion that ends last (self-exclusions first)."""
    active = [e for e in exclusions if e.active(now)]
    if not active:
        return None
    return max(active, key=lambda e: (e.kind == "self_exclusion", e.ends_at))


def check_exclusion(exclusions: list[Exclusion], now: datetime) -> Denial | None:
    found = active_exclusion(exclusions, now)
    if found is None:
        return None
    reason = "self_excluded" if found.kind == "self_exclusion" else "timed_out"
    return Denial(
        reason,
        "exclusion",
        f"the player is {'self-excluded' if reason == 'self_excluded' else 'on a time-out'} until "
        f"{found.ends_at.isoformat()}",
        {"exclusion_kind": found.kind, "ends_at": found.ends_at.isoformat()},
    )


def check_money_limits(
    kind: str,
    limits: list[Limit],
    windows: dict[str, Activity],
    amount: int,
    now: datetime,
) -> Denial | None:
    """Deposit, wager and loss limits: would `amount` take a window's sum over the limit in force?

    A loss limit counts the bet's full stake as a possible loss (a bet could lose all of it).
    """
    for limit in limits:
        if limit.kind != kind or limit.period not in MONEY_PERIODS:
            continue
        value = limit.effective(now)
        if value is None:
            continue
        window = windows[limit.period]
        used = {"deposit": window.deposited, "wager": window.wagered, "loss": max(window.net_loss, 0)}[kind]
        if used + amount > value:
            return Denial(
                f"{kind}_limit_exceeded",
                f"{kind}_limit",
                f"{kind} limit per {limit.period} is {value}; {used} already used, {amount} more would exceed it",
                {"period": limit.period, "limit": value, "used": used, "amount": amount},
            )
    return None


def check_session_time(limits: list[Limit], session_started_at: datetime | None, now: datetime) -> Denial | None:
    for limit in limits:
        if limit.kind != "session_time":
            continue
        minutes = limit.effective(now)
        if minutes is None or session_started_at is None:
            continue
        played = now - session_started_at
        if played >= timedelta(minutes=minutes):
            return Denial(
                "session_time_limit_reached",
                "session_time_limit",
                f"the session has lasted {int(played.total_seconds() // 60)} minutes; the limit is {minutes}",
                {"limit_minutes": minutes, "played_minutes": int(played.total_seconds() // 60)},
            )
    return None


def check_kyc(
    action: str,
    kyc_status: str,
    amount: int | None,
    *,
    required_for_deposit: bool,
    deposit_threshold: int | None,
    required_for_withdrawal: bool,
) -> Denial | None:
    if kyc_status == "verified":
        return None
    needed = False
    if action == "deposit":
        needed = required_for_deposit or (
            deposit_threshold is not None and amount is not None and amount > deposit_threshold
        )
    elif action == "withdraw":
        needed = required_for_withdrawal
    if not needed:
        return None
    return Denial(
        "kyc_required",
        "kyc",
        f"this brand requires verified identity to {action}"
        + (f" more than {deposit_threshold}" if action == "deposit" and not required_for_deposit else ""),
        {"kyc_status": kyc_status},
    )


def months_later(start: datetime, months: int) -> datetime:
    """The same day-of-month `months` later (clamped to the month's last day)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return start.replace(year=year, month=month, day=min(start.day, day))
        except ValueError:
            continue
    raise ValueError("unreachable")
