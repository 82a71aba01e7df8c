"""Compliance errors with stable codes."""

from croupier.kit.auth import Unauthenticated
from croupier.kit.errors import DomainError


class LimitNotValid(DomainError):
    code = "limit_not_valid"
    status = 422
    title = "The limit is not valid"


class ExclusionNotAllowed(DomainError):
    code = "exclusion_not_valid"
    status = 422
    title = "The time-out or self-exclusion is not valid"


class PlayerUnknown(DomainError):
    code = "player_not_found"
    status = 404
    title = "Player not found"


class ActionRefused(DomainError):
    """A money movement the gate denied: `reason` is the gate's stable reason code, `decision_id` its log entry."""

    code = "compliance_refused"
    status = 403
    title = "Refused by the compliance gate"


class SessionEnded(Unauthenticated):
    """A player's access token whose session was logged out or revoked."""

    code = "session_revoked"
    title = "Session revoked"
