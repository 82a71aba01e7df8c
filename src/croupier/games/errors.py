"""Games errors with stable codes (part of the public API: never renamed or reused)."""

from croupier.kit.errors import DomainError


class GameUnavailable(DomainError):
    """The game does not exist, or the player's brand does not offer it."""

    code = "game_unavailable"
    status = 404
    title = "Game not available"


class InvalidGameRequest(DomainError):
    """Parameters or an action the game refuses (a dice target out of range, a step not allowed now)."""

    code = "invalid_game_input"
    status = 422
    title = "The game refuses this input"


class StakeOutOfLimits(DomainError):
    code = "stake_out_of_limits"
    status = 422
    title = "The stake is outside the bet limits"


class RoundNotFound(DomainError):
    """No such round for this player (another player's round is reported the same way)."""

    code = "round_not_found"
    status = 404
    title = "Round not found"


class RoundNotActive(DomainError):
    """A step sent to a round that is not waiting for the player (settled, voided, or being recovered)."""

    code = "round_not_active"
    status = 409
    title = "The round does not take steps now"


class RoundRequestConflict(DomainError):
    """The same request key was used for a different round request."""

    code = "idempotency_conflict"
    status = 409
    title = "Idempotency key reused with different content"


class RoundInterrupted(DomainError):
    """The round could not be completed now (the wallet or the database did not answer); the recovery worker
    finishes or refunds it. Retrying with the same request key continues it."""

    code = "round_interrupted"
    status = 503
    title = "The round was interrupted"


class NoPlayerAccount(DomainError):
    code = "player_account_not_found"
    status = 409
    title = "The player has no cash account"


class LimitsNotValid(DomainError):
    code = "limits_not_valid"
    status = 422
    title = "The bet limits are not valid"


class StepConflict(DomainError):
    """The step number does not match the round (a stale client, or the same step sent with another action)."""

    code = "step_conflict"
    status = 409
    title = "The round is at another step"
