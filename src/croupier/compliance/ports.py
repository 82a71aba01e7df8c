"""What the gate needs from outside the compliance service, as small interfaces wired in bootstrap.

Players and brands belong to the identity service, the country database and the external register are adapters;
the gate sees them only through these protocols, so each can be replaced (and the gate tested against the real ones).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

from croupier.compliance.client import RegistrationFacts


@dataclass(frozen=True, slots=True)
class PlayerFacts:
    id: str
    brand_id: str
    email: str
    date_of_birth: date
    country: str
    currency: str
    kyc_status: str  # unverified | pending | verified | rejected
    status: str  # active | ... anything else blocks money movement
    wallet_account_id: str | None
    first_name: str | None = None
    last_name: str | None = None
    postcode: str | None = None


@dataclass(frozen=True, slots=True)
class BrandRules:
    id: str
    allowed_countries: list[str] = field(default_factory=list)
    denied_countries: list[str] = field(default_factory=list)
    allowed_currencies: list[str] = field(default_factory=list)
    min_age: int = 18
    kyc_required_for_deposit: bool = False
    kyc_deposit_threshold: int | None = None
    kyc_required_for_withdrawal: bool = True
    cooling_off_hours: int = 24
    reality_check_minutes: int = 60
    register_unreachable_policy_registration: Literal["deny", "allow"] = "deny"
    register_unreachable_policy_login: Literal["deny", "allow"] = "allow"


class PlayerDirectory(Protocol):
    async def player(self, player_id: str) -> PlayerFacts | None: ...

    async def brand(self, brand_id: str) -> BrandRules | None: ...

    async def session_started_at(self, session_id: str) -> datetime | None: ...

    async def session_revoked(self, session_id: str) -> bool:
        """True if the session was revoked (logout, revocation, refresh-token reuse) or does not exist."""
        ...


RegisterStatus = Literal["excluded", "not_excluded", "previously_excluded", "unavailable"]


class ExclusionRegister(Protocol):
    """The national self-exclusion register (GAMSTOP-style), as the gate asks it."""

    async def status(self, person: RegistrationFacts | PlayerFacts) -> tuple[RegisterStatus, str]:
        """The register's answer and a detail (request id, or why it was unavailable). Never raises."""
        ...


class NoExclusionRegister:
    """For brands and deployments without a national register: nobody is listed there."""

    async def status(self, person: RegistrationFacts | PlayerFacts) -> tuple[RegisterStatus, str]:
        return "not_excluded", "no register configured"


#: The country (ISO 3166-1 alpha-2) an IP address is registered in; None when unknown (private, unassigned, invalid).
CountryResolver = Callable[[str], str | None]
