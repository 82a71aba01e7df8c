"""Request and response models of the identity API (shared by the HTTP API and both client transports)."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

BRAND_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"
CURRENCY_PATTERN = r"^[A-Z][A-Z0-9]{2,9}$"
PASSWORD_MIN = 10
PASSWORD_MAX = 128

BrandId = Annotated[str, Field(pattern=BRAND_ID_PATTERN, description="Brand slug.", examples=["brand-eu"])]
Country = Annotated[str, Field(pattern=COUNTRY_PATTERN, description="ISO 3166-1 alpha-2.", examples=["GB"])]
CurrencyCode = Annotated[str, Field(pattern=CURRENCY_PATTERN, examples=["EUR"])]
Email = Annotated[
    str,
    Field(
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="Normalised to lower case; unique per brand.",
        examples=["alice@example.com"],
    ),
]
Password = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX, description="10 to 128 characters.")]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Postcode = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9 -]+$")]
Role = Literal["support", "risk", "finance", "admin"]
KycStatus = Literal["unverified", "pending", "verified", "rejected"]
PlayerStatus = Literal["pending", "active", "blocked", "closed"]
UnreachablePolicy = Literal["deny", "allow"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


def _unique_upper(values: list[str]) -> list[str]:
    return sorted(set(values))


# -- brands ---------------------------------------------------------------------------------------------------------


class BrandSettingsIn(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    licence: str | None = Field(default=None, max_length=200, description="Licence reference.")
    jurisdiction: str | None = Field(default=None, max_length=100, examples=["UKGC"])
    allowed_countries: list[Country] | None = Field(default=None, min_length=1, max_length=250)
    denied_countries: list[Country] | None = Field(default=None, max_length=250)
    allowed_currencies: list[CurrencyCode] | None = Field(default=None, min_length=1, max_length=50)
    min_age: StrictInt | None = Field(default=None, ge=18, le=25)
    kyc_required_for_deposit: StrictBool | None = None
    kyc_deposit_threshold: StrictInt | None = Field(
        default=None, ge=0, description="Deposits above this many minor units need verified KYC; null: no threshold."
    )
    kyc_required_for_withdrawal: StrictBool | None = None
    cooling_off_hours: StrictInt | None = Field(default=None, ge=0, le=24 * 30)
    reality_check_minutes: StrictInt | None = Field(default=None, ge=0, le=24 * 60)
    register_unreachable_on_registration: UnreachablePolicy | None = Field(
        default=None, description="When the external self-exclusion register cannot be reached at registration."
    )
    register_unreachable_on_login: UnreachablePolicy | None = Field(
        default=None, description="When the external self-exclusion register cannot be reached at login."
    )

    @field_validator("allowed_countries", "denied_countries", "allowed_currencies")
    @classmethod
    def _dedupe(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _unique_upper(values)


class CreateBrandRequest(BrandSettingsIn):
    """A new brand. Unset settings take their defaults (min_age 18, KYC before withdrawal, ...)."""

    id: BrandId
    name: str = Field(min_length=1, max_length=200)
    allowed_countries: list[Country] = Field(min_length=1, max_length=250)
    allowed_currencies: list[CurrencyCode] = Field(min_length=1, max_length=50)


class UpdateBrandRequest(BrandSettingsIn):
    """Change some settings of a brand; fields left out keep their value. kyc_deposit_threshold: send
    `clear_kyc_deposit_threshold: true` to remove it."""

    clear_kyc_deposit_threshold: StrictBool = False


class BrandOut(_Out):
    id: str
    name: str
    licence: str
    jurisdiction: str
    allowed_countries: list[str]
    denied_countries: list[str]
    allowed_currencies: list[str]
    min_age: int
    kyc_required_for_deposit: bool
    kyc_deposit_threshold: int | None
    kyc_required_for_withdrawal: bool
    cooling_off_hours: int
    reality_check_minutes: int
    register_unreachable_on_registration: UnreachablePolicy
    register_unreachable_on_login: UnreachablePolicy
    created_at: datetime
    updated_at: datetime


# -- players --------------------------------------------------------------------------------------------------------


class RegisterPlayerRequest(_In):
    email: Email
    password: Password
    date_of_birth: date
    country: Country
    currency: CurrencyCode
    first_name: Name | None = None
    last_name: Name | None = None
    postcode: Postcode | None = None

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class PlayerOut(_Out):
    """A player as other services see it (no credentials, no contact details beyond the email)."""

    id: UUID
    brand_id: str
    email: str
    date_of_birth: date
    country: str
    currency: str
    kyc_status: KycStatus
    status: PlayerStatus
    wallet_account_id: UUID | None
    created_at: datetime


class ProfileOut(PlayerOut):
    """The player's own profile."""

    first_name: str | None
    last_name: str | None
    postcode: str | None


class UpdateProfileRequest(_In):
    """Fields a player may change. Names are locked once KYC is pending or verified."""

    first_name: Name | None = None
    last_name: Name | None = None
    postcode: Postcode | None = None

    @model_validator(mode="after")
    def _something(self) -> "UpdateProfileRequest":
        if not self.model_fields_set:
            raise ValueError("send at least one field")
        return self


# -- login, tokens, sessions ---------------------------------------------------------------------------------------


class LoginRequest(_In):
    brand_id: BrandId
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class RefreshRequest(_In):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPairOut(_Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_at: datetime = Field(description="When the access token expires (at most 15 minutes).")
    refresh_token: str = Field(description="Opaque, single use: each refresh returns a new one.")
    refresh_expires_at: datetime
    session_id: UUID
    player_id: UUID
    restricted: bool = Field(description="Timed out or self-excluded: only withdrawals, profile and limits work.")
    restriction_reason: str | None = None


class SessionOut(_Out):
    id: UUID
    player_id: UUID
    created_at: datetime
    last_seen: datetime
    ip: str
    user_agent: str
    revoked_at: datetime | None
    restricted: bool
    current: bool = False


class RevokedSessionsOut(_Out):
    revoked: int


# -- KYC ------------------------------------------------------------------------------------------------------------


class KycDocumentIn(_In):
    """Document metadata only; files are never sent to or stored by identity."""

    type: Literal["passport", "id_card", "driving_licence", "residence_permit"]
    number_last4: str = Field(pattern=r"^[A-Za-z0-9]{4}$", description="Last 4 characters of the document number.")
    issuing_country: Country
    expires_on: date


class SubmitKycRequest(_In):
    documents: list[KycDocumentIn] = Field(min_length=1, max_length=5)


class MoveKycRequest(_In):
    to: KycStatus
    reason: str = Field(min_length=1, max_length=500)


class KycEventOut(_Out):
    id: UUID
    from_status: KycStatus
    to_status: KycStatus
    by: str
    reason: str
    document: dict[str, object] | None
    at: datetime


class KycOut(_Out):
    player_id: UUID
    status: KycStatus
    events: list[KycEventOut]


# -- back office ----------------------------------------------------------------------------------------------------


class AdminLoginRequest(_In):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class AdminTokenOut(_Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_at: datetime
    admin_id: UUID
    roles: list[Role]


class CreateAdminRequest(_In):
    email: Email
    password: Password
    roles: list[Role] = Field(min_length=1, max_length=4)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("roles")
    @classmethod
    def _dedupe(cls, values: list[Role]) -> list[Role]:
        return sorted(set(values))


class UpdateAdminRequest(_In):
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=4)
    disabled: StrictBool | None = None


class AdminOut(_Out):
    id: UUID
    email: str
    roles: list[Role]
    disabled: bool
    created_at: datetime
    updated_at: datetime


class PlayerPage(_Out):
    items: list[PlayerOut]
    next_cursor: str | None
