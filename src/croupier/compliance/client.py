"""The compliance service's public contract: the gate, as other services call it.

`check(...)` answers allow or deny with a stable reason code; every verdict, allow or deny, is in the decision log.
The gate fails closed: if it cannot decide (database down, a rule's data unavailable), money movement is denied with
reason `gate_unavailable`.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol
from uuid import UUID

Action = Literal["register", "login", "deposit", "bet", "withdraw"]
ACTIONS: tuple[Action, ...] = ("register", "login", "deposit", "bet", "withdraw")

#: Stable reason codes. "allowed" is the reason of every allow verdict.
REASONS = {
    "allowed": "every rule allowed the action",
    "underage": "the player is younger than the brand's minimum age",
    "country_not_allowed": "the declared or resolved country is not allowed by the brand",
    "currency_not_allowed": "the brand does not offer this currency",
    "self_excluded": "the player is self-excluded",
    "timed_out": "the player is on a time-out",
    "external_self_exclusion": "the national self-exclusion register lists the player",
    "register_unavailable": "the self-exclusion register could not be reached and the brand fails closed",
    "kyc_required": "the brand requires verified identity for this action (or this amount)",
    "deposit_limit_exceeded": "the deposit would exceed one of the player's deposit limits",
    "loss_limit_exceeded": "the bet could exceed one of the player's loss limits",
    "wager_limit_exceeded": "the bet would exceed one of the player's wager limits",
    "session_time_limit_reached": "the player's session time limit is reached",
    "player_not_found": "no such player",
    "player_blocked": "the player's account is closed or blocked",
    "gate_unavailable": "the gate could not decide (its data is unavailable); money movement is refused",
}


@dataclass(frozen=True, slots=True)
class RegistrationFacts:
    """What the gate knows about someone who is not a player yet."""

    brand_id: str
    email: str
    date_of_birth: date
    country: str  # declared, ISO 3166-1 alpha-2
    currency: str
    first_name: str | None = None
    last_name: str | None = None
    postcode: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str  # a key of REASONS
    decision_id: UUID  # the decision log entry
    rule: str  # the rule that decided (or "all" for an allow)
    rule_version: int
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)  # e.g. the limit and the amount it would exceed


class ComplianceGate(Protocol):
    async def check(
        self,
        player_id: str | None,
        action: Action,
        amount: int | None = None,
        context: dict[str, Any] | None = None,
        *,
        registration: RegistrationFacts | None = None,
    ) -> Verdict:
        """Decide `action` for a player (or, for register, for `registration`), log the verdict, return it.

        `amount` is in minor units of the player's currency (deposit, bet, withdraw). `context` carries what the
        request knew: `ip` (the client address, already resolved through trusted proxies), `game`, `round_id`, ...
        """
        ...


class InProcessComplianceGate:
    """The gate in the same process: calls the compliance service directly (no HTTP, no JSON)."""

    def __init__(self, service: "ComplianceGate") -> None:
        self._service = service

    async def check(
        self,
        player_id: str | None,
        action: Action,
        amount: int | None = None,
        context: dict[str, Any] | None = None,
        *,
        registration: RegistrationFacts | None = None,
    ) -> Verdict:
        return await self._service.check(player_id, action, amount, context, registration=registration)


async def require_allowed(
    gate: ComplianceGate,
    player_id: str,
    action: Action,
    amount: int | None = None,
    context: dict[str, Any] | None = None,
) -> Verdict:
    """Ask the gate and raise ActionRefused (403, with reason and decision_id) unless it allows the action.

    Every money-moving entry point (bets, deposits, withdrawals) calls this before touching the wallet.
    """
    from croupier.compliance.errors import ActionRefused

    verdict = await gate.check(player_id, action, amount, context)
    if not verdict.allowed:
        raise ActionRefused(
            f"{action} refused: {verdict.detail}",
            reason=verdict.reason,
            decision_id=str(verdict.decision_id),
            **verdict.facts,
        )
    return verdict
