"""The identity service's refusals. Codes are stable API; callers branch on them (re-exported by the client)."""

from croupier.kit.errors import DomainError


class BrandNotFound(DomainError):
    code = "brand_not_found"
    status = 404
    title = "Brand not found"


class BrandExists(DomainError):
    code = "brand_exists"
    status = 409
    title = "Brand already exists"


class PlayerNotFound(DomainError):
    code = "player_not_found"
    status = 404
    title = "Player not found"


class SessionNotFound(DomainError):
    code = "session_not_found"
    status = 404
    title = "Session not found"


class AdminNotFound(DomainError):
    code = "admin_not_found"
    status = 404
    title = "Back-office user not found"


class AdminExists(DomainError):
    code = "admin_exists"
    status = 409
    title = "Back-office user already exists"


class EmailTaken(DomainError):
    code = "email_taken"
    status = 409
    title = "Email already registered"


class CurrencyNotAllowed(DomainError):
    code = "currency_not_allowed"
    status = 422
    title = "Currency not offered by the brand"


class CountryNotAllowed(DomainError):
    code = "country_not_allowed"
    status = 422
    title = "Country not allowed by the brand"


class Underage(DomainError):
    code = "underage"
    status = 422
    title = "Younger than the brand's minimum age"


class RegistrationRefused(DomainError):
    code = "registration_refused"
    status = 403
    title = "Registration refused"


class LoginRefused(DomainError):
    code = "login_refused"
    status = 403
    title = "Login refused"


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401
    title = "Invalid credentials"


class AccountLocked(DomainError):
    code = "account_locked"
    status = 423
    title = "Account temporarily locked"


class AccountDisabled(DomainError):
    code = "account_disabled"
    status = 403
    title = "Account disabled"


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        # Rendered as the Retry-After header by the HTTP layer (kit.http reads `headers`).
        self.headers = {"Retry-After": str(retry_after)}


class InvalidRefreshToken(DomainError):
    code = "invalid_refresh_token"
    status = 401
    title = "Invalid refresh token"


class RefreshTokenExpired(DomainError):
    code = "refresh_token_expired"
    status = 401
    title = "Refresh token expired"


class RefreshTokenReused(DomainError):
    code = "refresh_token_reused"
    status = 401
    title = "Refresh token already used: the session is revoked"


class SessionRevoked(DomainError):
    code = "session_revoked"
    status = 401
    title = "Session revoked"


class InvalidKycTransition(DomainError):
    code = "invalid_kyc_transition"
    status = 409
    title = "Invalid KYC transition"


class ProfileLocked(DomainError):
    code = "profile_locked"
    status = 409
    title = "Profile field locked by KYC"


IDENTITY_ERRORS: tuple[type[DomainError], ...] = (
    BrandNotFound,
    BrandExists,
    PlayerNotFound,
    SessionNotFound,
    AdminNotFound,
    AdminExists,
    EmailTaken,
    CurrencyNotAllowed,
    CountryNotAllowed,
    Underage,
    RegistrationRefused,
    LoginRefused,
    InvalidCredentials,
    AccountLocked,
    AccountDisabled,
    InvalidRefreshToken,
    RefreshTokenExpired,
    RefreshTokenReused,
    SessionRevoked,
    InvalidKycTransition,
    ProfileLocked,
)
