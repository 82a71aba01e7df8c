"""The gate's view of players, brands and sessions, read through the identity service's client."""

import functools
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from croupier.compliance.client import RegistrationFacts
from croupier.compliance.geo import IpCountryDatabase
from croupier.compliance.ports import BrandRules, PlayerFacts, RegisterStatus
from croupier.compliance.register import RegisterPerson, SelfExclusionRegister
from croupier.identity.client import BrandNotFound, IdentityClient, PlayerNotFound, SessionNotFound


class IdentityPlayerDirectory:
    def __init__(self, identity: IdentityClient) -> None:
        self._identity = identity

    async def player(self, player_id: str) -> PlayerFacts | None:
        try:
            player = await self._identity.get_player(UUID(player_id))
        except (PlayerNotFound, ValueError):
            return None
        return PlayerFacts(
            id=str(player.id),
            brand_id=player.brand_id,
            email=player.email,
            date_of_birth=player.date_of_birth,
            country=player.country,
            currency=player.currency,
            kyc_status=player.kyc_status,
            status=player.status,
            wallet_account_id=str(player.wallet_account_id) if player.wallet_account_id else None,
        )

    async def brand(self, brand_id: str) -> BrandRules | None:
        try:
            brand = await self._identity.get_brand(brand_id)
        except BrandNotFound:
            return None
        return BrandRules(
            id=brand.id,
            allowed_countries=list(brand.allowed_countries),
            denied_countries=list(brand.denied_countries),
            allowed_currencies=list(brand.allowed_currencies),
            min_age=brand.min_age,
            kyc_required_for_deposit=brand.kyc_required_for_deposit,
            kyc_deposit_threshold=brand.kyc_deposit_threshold,
            kyc_required_for_withdrawal=brand.kyc_required_for_withdrawal,
            cooling_off_hours=brand.cooling_off_hours,
            reality_check_minutes=brand.reality_check_minutes,
            register_unreachable_policy_registration=brand.register_unreachable_on_registration,
            register_unreachable_policy_login=brand.register_unreachable_on_login,
        )

    async def session_revoked(self, session_id: str) -> bool:
        try:
            session = await self._identity.get_session(UUID(session_id))
        except (SessionNotFound, ValueError):
            return True
        return session.revoked_at is not None

    async def session_started_at(self, session_id: str) -> datetime | None:
        try:
            session = await self._identity.get_session(UUID(session_id))
        except (SessionNotFound, ValueError):
            return None
        return session.created_at


class RegisterAdapter:
    """The national self-exclusion register as the gate asks it: one status and a detail, never an exception."""

    def __init__(self, register: SelfExclusionRegister) -> None:
        self._register = register

    async def status(self, person: RegistrationFacts | PlayerFacts) -> tuple[RegisterStatus, str]:
        asked = RegisterPerson(
            email=person.email,
            date_of_birth=person.date_of_birth,
            first_name=person.first_name,
            last_name=person.last_name,
            postcode=person.postcode,
        )
        result = await self._register.check(asked)
        detail = result.request_id or result.detail or ""
        return result.status, f"{result.register}: {detail}" if detail else result.register

    async def aclose(self) -> None:
        await self._register.aclose()


@functools.cache
def shipped_country_database() -> IpCountryDatabase:
    """The IP-range database shipped with the package, loaded once per process (about a second, 10 MB)."""
    return IpCountryDatabase.load()


def country_resolver(database: IpCountryDatabase) -> Callable[[str], str | None]:
    def country_of(ip: str) -> str | None:
        try:
            return database.country(ip)
        except ValueError:
            return None

    return country_of
