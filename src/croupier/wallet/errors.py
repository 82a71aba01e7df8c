"""The wallet's refusals. Codes are stable API; callers branch on them (re-exported by croupier.wallet.client)."""

from croupier.kit.errors import DomainError


class AccountNotFound(DomainError):
    code = "account_not_found"
    status = 404
    title = "Account not found"


class TransferNotFound(DomainError):
    code = "transfer_not_found"
    status = 404
    title = "Transfer not found"


class HoldNotFound(DomainError):
    code = "hold_not_found"
    status = 404
    title = "Hold not found"


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    status = 422
    title = "Insufficient funds"


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"
    status = 422
    title = "Currency mismatch"


class BrandMismatch(DomainError):
    code = "brand_mismatch"
    status = 422
    title = "Accounts belong to different brands"


class AmountOverflow(DomainError):
    code = "amount_overflow"
    status = 422
    title = "Balance would overflow"


class IdempotencyConflict(DomainError):
    code = "idempotency_conflict"
    status = 409
    title = "Idempotency key reused with different content"


class TransferTombstoned(DomainError):
    code = "transfer_tombstoned"
    status = 409
    title = "Transfer was cancelled before it arrived"


class AlreadyReversed(DomainError):
    code = "already_reversed"
    status = 409
    title = "Transfer already reversed"


class NotReversible(DomainError):
    code = "not_reversible"
    status = 422
    title = "Transfer cannot be reversed"


class HoldAlreadyResolved(DomainError):
    code = "hold_already_resolved"
    status = 409
    title = "Hold already posted, voided or expired"


class HoldExpired(DomainError):
    code = "hold_expired"
    status = 409
    title = "Hold has expired"


class PostExceedsHold(DomainError):
    code = "post_exceeds_hold"
    status = 422
    title = "Posted amount exceeds the hold"


class AccountExists(DomainError):
    code = "account_exists"
    status = 409
    title = "An account with these owner, kind, label and currency exists with other settings"


class InvalidTimeRange(DomainError):
    """A listing's time window whose end is not after its start (created_to <= created_from)."""

    code = "invalid_time_range"
    status = 422
    title = "The time window is empty or reversed"


class CurrencyExponentChanged(DomainError):
    code = "currency_exponent_changed"
    status = 500
    title = "Configured currency exponent differs from the one the ledger uses"


WALLET_ERRORS: tuple[type[DomainError], ...] = (
    AccountNotFound,
    TransferNotFound,
    HoldNotFound,
    InsufficientFunds,
    CurrencyMismatch,
    BrandMismatch,
    AmountOverflow,
    IdempotencyConflict,
    TransferTombstoned,
    AlreadyReversed,
    NotReversible,
    HoldAlreadyResolved,
    HoldExpired,
    PostExceedsHold,
    AccountExists,
    InvalidTimeRange,
    CurrencyExponentChanged,
)
