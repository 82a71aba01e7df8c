"""The identity service: registration, login, rotating refresh tokens, sessions, profiles and KYC.

Brands live in `brands.BrandCatalog`, back-office users in `admins.AdminDirectory` and sessions with their refresh
tokens in `sessions.SessionStore`; they hang off the service as `service.brands`, `service.admins` and
`service.sessions`. Each method is its own unit of work (one short transaction, never held across
a call to another service).
"""

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from croupier.compliance.client import ComplianceGate, RegistrationFacts, Verdict
from croupier.identity import events, repository
from croupier.identity.admins import LOCKOUT, MAX_FAILED_LOGINS, AdminDirectory
from croupier.identity.brands import BrandCatalog
from croupier.identity.cache import ReadCache
from croupier.identity.errors import (
    AccountDisabled,
    AccountLocked,
    CountryNotAllowed,
    CurrencyNotAllowed,
    EmailTaken,
    InvalidCredentials,
    LoginRefused,
    PlayerNotFound,
    ProfileLocked,
    RegistrationRefused,
    Underage,
)
from croupier.identity.kyc import check_transition
from croupier.identity.passwords import hash_password, needs_rehash, verify_password
from croupier.identity.ratelimit import (
    LOGIN_LIMIT,
    LOGIN_WINDOW,
    REGISTRATION_LIMIT,
    REGISTRATION_WINDOW,
    SlidingWindowLimiter,
)
from croupier.identity.schemas import (
    KycEventOut,
    KycOut,
    LoginRequest,
    MoveKycRequest,
    PlayerOut,
    PlayerPage,
    ProfileOut,
    RegisterPlayerRequest,
    SessionOut,
    SubmitKycRequest,
    TokenPairOut,
    UpdateProfileRequest,
)
from croupier.identity.sessions import SessionStore, identity_event
from croupier.kit.auth import Principal, TokenSigner
from croupier.kit.clock import Clock, system_clock
from croupier.kit.db import Database
from croupier.kit.errors import DomainError, ServiceUnavailable, ValidationFailed
from croupier.kit.ids import uuid7
from croupier.kit.money import CurrencyRegistry
from croupier.wallet.client import OpenAccountRequest, WalletClient

#: Login verdicts that still let the player in, on a restricted session (withdrawals, profile and limits only).
RESTRICTING_REASONS = frozenset({"self_excluded", "timed_out", "external_self_exclusion"})
MAX_PAGE = 500


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class IdentityService:
    def __init__(
        self,
        db: Database,
        currencies: CurrencyRegistry,
        wallet: WalletClient,
        signer: TokenSigner,
        *,
        clock: Clock = system_clock,
        gate: ComplianceGate | None = None,
        refresh_token_days: int = 30,
        login_limit: int = LOGIN_LIMIT,
        login_window: timedelta = LOGIN_WINDOW,
        registration_limit: int = REGISTRATION_LIMIT,
        registration_window: timedelta = REGISTRATION_WINDOW,
    ) -> None:
        self.db = db
        self.clock = clock
        self.signer = signer
        self._wallet = wallet
        self._gate = gate
        self.brands = BrandCatalog(db, currencies, clock)
        self.sessions = SessionStore(db, clock, signer, refresh_lifetime=timedelta(days=refresh_token_days))
        self.admins = AdminDirectory(db, clock, signer)
        self._players: ReadCache[UUID, PlayerOut] = ReadCache()
        self._logins = SlidingWindowLimiter(login_limit, login_window, clock, what="login")
        self._registrations = SlidingWindowLimiter(registration_limit, registration_window, clock, what="registration")

    def hit_login_limit(self, ip: str) -> None:
        """Count a login attempt from `ip` (player or back-office); RateLimited past the limit."""
        self._logins.hit(ip)

    def set_gate(self, gate: ComplianceGate | None) -> None:
        """Plug in (or remove) the compliance gate consulted at registration and login."""
        self._gate = gate

    # -- registration ----------------------------------------------------------------------------------------------

    async def register(self, brand_id: str, request: RegisterPlayerRequest, *, ip: str) -> ProfileOut:
        """Create the player and open their wallet cash account.

        The player is written as `pending` first and marked `active` once the wallet account exists; if the wallet
        call fails the same registration (same email and password) can be sent again and completes it.
        """
        self._registrations.hit(ip)
        brand = await self.brands.get(brand_id)
        async with self.db.connection() as connection:
            existing = await repository.find_player_by_email(connection, brand_id, request.email)
        if existing is not None:
            return await self._retry_registration(existing, request.password)
        # The id is chosen before the gate decides, so the registration verdict is logged under the player it made.
        player_id = uuid7()
        await self._check_registration(
            brand_id, brand.min_age, brand.allowed_countries, brand.denied_countries, request, ip, player_id
        )
        # The gate decides (and logs) first; the wallet account must be in a currency the brand offers regardless.
        if request.currency not in brand.allowed_currencies:
            raise CurrencyNotAllowed(
                f"brand {brand_id} does not offer {request.currency}", allowed=brand.allowed_currencies
            )
        now = self.clock()
        values = {
            "id": player_id,
            "brand_id": brand_id,
            "email": request.email,
            "password_hash": await hash_password(request.password),
            "date_of_birth": request.date_of_birth,
            "country": request.country,
            "currency": request.currency,
            "first_name": request.first_name,
            "last_name": request.last_name,
            "postcode": request.postcode,
            "created_at": now,
        }
        async with self.db.transaction() as connection:
            row = await repository.insert_player(connection, values)
        if row is None:  # a concurrent registration of the same email won
            async with self.db.connection() as connection:
                existing = await repository.find_player_by_email(connection, brand_id, request.email)
            assert existing is not None
            return await self._retry_registration(existing, request.password)
        return await self._complete_registration(dict(row))

    async def _retry_registration(self, existing: Any, password: str) -> ProfileOut:
        if existing["status"] == "pending" and await verify_password(existing["password_hash"], password):
            return await self._complete_registration(dict(existing))
        raise EmailTaken("this email is already registered with the brand")

    async def _check_registration(
        self,
        brand_id: str,
        min_age: int,
        allowed_countries: list[str],
        denied_countries: list[str],
        request: RegisterPlayerRequest,
        ip: str,
        player_id: UUID,
    ) -> None:
        if self._gate is None:
            # Without the compliance service, identity still enforces the brand's age and country rules itself.
            age = age_on(request.date_of_birth, self.clock().date())
            if age < min_age:
                raise Underage(f"players of this brand must be at least {min_age}", min_age=min_age)
            if request.country not in allowed_countries or request.country in denied_countries:
                raise CountryNotAllowed(f"brand {brand_id} does not accept players from {request.country}")
            return
        facts = RegistrationFacts(
            brand_id=brand_id,
            email=request.email,
            date_of_birth=request.date_of_birth,
            country=request.country,
            currency=request.currency,
            first_name=request.first_name,
            last_name=request.last_name,
            postcode=request.postcode,
        )
        verdict = await self._ask_gate(str(player_id), "register", ip, registration=facts)
        if not verdict.allowed:
            raise RegistrationRefused(
                verdict.detail or f"registration refused: {verdict.reason}",
                reason=verdict.reason,
                decision_id=str(verdict.decision_id),
            )

    async def _ask_gate(self, player_id: str | None, action: Any, ip: str, **kwargs: Any) -> Verdict:
        assert self._gate is not None
        try:
            return await self._gate.check(player_id, action, context={"ip": ip}, **kwargs)
        except DomainError:
            raise
        except Exception as error:  # fail closed: no verdict, no registration or login
            raise ServiceUnavailable("the compliance gate could not decide; retry") from error

    async def _complete_registration(self, player: dict[str, Any]) -> ProfileOut:
        try:
            account = await self._wallet.open_account(
                OpenAccountRequest(
                    brand_id=player["brand_id"],
                    owner_type="player",
                    owner_id=str(player["id"]),
                    kind="cash",
                    currency=player["currency"],
                )
            )
        except DomainError:
            raise
        except Exception as error:
            raise ServiceUnavailable("the wallet could not open the account; send the registration again") from error
        now = self.clock()
        async with self.db.transaction() as connection:
            row = await repository.activate_player(connection, player["id"], account.id, now)
            if row is None:  # completed concurrently (or already active)
                row = await repository.get_player(connection, player["id"])
                assert row is not None
            else:
                payload = events.PlayerRegistered(
                    player_id=row["id"],
                    brand_id=row["brand_id"],
                    email=row["email"],
                    date_of_birth=row["date_of_birth"],
                    country=row["country"],
                    currency=row["currency"],
                    wallet_account_id=account.id,
                    registered_at=now,
                )
                await repository.outbox(
                    connection, [identity_event(events.PLAYER_REGISTERED, payload, row["brand_id"], now)]
                )
        self._players.invalidate(row["id"])
        return ProfileOut.model_validate(dict(row))

    # -- login, refresh, logout ------------------------------------------------------------------------------------

    async def login(self, request: LoginRequest, *, ip: str, user_agent: str = "") -> TokenPairOut:
        self._logins.hit(ip)
        email = request.email.strip().lower()
        now = self.clock()
        async with self.db.connection() as connection:
            row = await repository.find_player_by_email(connection, request.brand_id, email)
        if row is not None and row["locked_until"] is not None and row["locked_until"] > now:
            raise AccountLocked(
                "too many failed logins; the account is locked", locked_until=row["locked_until"].isoformat()
            )
        if not await verify_password(row["password_hash"] if row else None, request.password) or row is None:
            if row is not None:
                async with self.db.transaction() as connection:
                    await repository.record_failed_login(
                        connection, "players", row["id"], now, MAX_FAILED_LOGINS, LOCKOUT
                    )
            raise InvalidCredentials("email or password is wrong")
        if row["status"] in ("blocked", "closed"):
            raise AccountDisabled(f"this account is {row['status']}")
        player = dict(row)
        if player["status"] == "pending":  # registration interrupted before the wallet account was opened
            await self._complete_registration(player)
        restricted, restriction_reason = False, None
        if self._gate is not None:
            verdict = await self._ask_gate(str(player["id"]), "login", ip)
            if not verdict.allowed:
                if verdict.reason not in RESTRICTING_REASONS:
                    raise LoginRefused(
                        verdict.detail or f"login refused: {verdict.reason}",
                        reason=verdict.reason,
                        decision_id=str(verdict.decision_id),
                    )
                restricted, restriction_reason = True, verdict.reason
        rehashed = await hash_password(request.password) if needs_rehash(player["password_hash"]) else None
        return await self.sessions.open(
            player,
            ip=ip,
            user_agent=user_agent,
            restricted=restricted,
            restriction_reason=restriction_reason,
            rehashed=rehashed,
        )

    async def refresh(self, refresh_token: str) -> TokenPairOut:
        """Rotate: the presented token is used up and a new one issued. A token presented twice revokes its session."""
        return await self.sessions.refresh(refresh_token)

    async def logout(self, principal: Principal) -> None:
        await self.sessions.logout(principal)

    async def check_session(self, principal: Principal) -> None:
        """Refuse a player's access token whose session was revoked (identity endpoints check this on every call)."""
        await self.sessions.check_session(principal)

    async def list_sessions(self, principal: Principal, *, active_only: bool = True) -> list[SessionOut]:
        return await self.sessions.list_sessions(principal, active_only=active_only)

    async def revoke_session(self, principal: Principal, session_id: UUID) -> None:
        """Revoke one of the player's own sessions; another player's session is not found."""
        await self.sessions.revoke_session(principal, session_id)

    async def revoke_other_sessions(self, principal: Principal) -> int:
        return await self.sessions.revoke_other_sessions(principal)

    async def get_session(self, session_id: UUID) -> SessionOut:
        return await self.sessions.get_session(session_id)

    # -- players -----------------------------------------------------------------------------------------------------

    async def get_player(self, player_id: UUID) -> PlayerOut:
        cached = self._players.get(player_id)
        if cached is not None:
            return cached
        async with self.db.connection() as connection:
            row = await repository.get_player(connection, player_id)
        if row is None:
            raise PlayerNotFound(f"no player {player_id}", player_id=str(player_id))
        player = PlayerOut.model_validate(dict(row))
        self._players.put(player_id, player)
        return player

    async def get_profile(self, player_id: UUID) -> ProfileOut:
        async with self.db.connection() as connection:
            row = await repository.get_player(connection, player_id)
        if row is None:
            raise PlayerNotFound(f"no player {player_id}", player_id=str(player_id))
        return ProfileOut.model_validate(dict(row))

    async def update_profile(self, player_id: UUID, request: UpdateProfileRequest) -> ProfileOut:
        wanted = request.model_dump(include=request.model_fields_set)
        now = self.clock()
        async with self.db.transaction() as connection:
            row = await repository.get_player(connection, player_id, lock=True)
            if row is None:
                raise PlayerNotFound(f"no player {player_id}", player_id=str(player_id))
            changes = {name: value for name, value in wanted.items() if row[name] != value}
            names = {"first_name", "last_name"} & set(changes)
            if names and row["kyc_status"] in ("pending", "verified"):
                raise ProfileLocked(
                    f"{', '.join(sorted(names))} cannot change while KYC is {row['kyc_status']}", fields=sorted(names)
                )
            if changes:
                row = await repository.update_player(connection, player_id, changes, now)
                payload = events.PlayerUpdated(player_id=player_id, brand_id=row["brand_id"], changed=sorted(changes))
                await repository.outbox(
                    connection, [identity_event(events.PLAYER_UPDATED, payload, row["brand_id"], now)]
                )
        self._players.invalidate(player_id)
        return ProfileOut.model_validate(dict(row))

    async def list_players(
        self, *, brand_id: str | None = None, email: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> PlayerPage:
        try:
            after = UUID(cursor) if cursor else None
        except ValueError:
            raise ValidationFailed("cursor: not a cursor this API returned") from None
        async with self.db.connection() as connection:
            rows = await repository.list_players(
                connection, brand_id=brand_id, email=email.lower() if email else None, after=after, limit=limit + 1
            )
        items = [PlayerOut.model_validate(dict(row)) for row in rows[:limit]]
        return PlayerPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)

    # -- KYC ---------------------------------------------------------------------------------------------------------

    async def get_kyc(self, player_id: UUID) -> KycOut:
        async with self.db.connection() as connection:
            row = await repository.get_player(connection, player_id)
            if row is None:
                raise PlayerNotFound(f"no player {player_id}", player_id=str(player_id))
            history = await repository.list_kyc_events(connection, player_id)
        return KycOut(
            player_id=player_id,
            status=row["kyc_status"],
            events=[KycEventOut.model_validate(dict(event)) for event in history],
        )

    async def submit_kyc(self, player_id: UUID, request: SubmitKycRequest) -> KycOut:
        """The player sent documents (metadata only): unverified or rejected -> pending."""
        today = self.clock().date()
        expired = [document.type for document in request.documents if document.expires_on <= today]
        if expired:
            raise ValidationFailed(f"documents expired: {', '.join(expired)}", expired=expired)
        document = {"documents": [document.model_dump(mode="json") for document in request.documents]}
        return await self._move_kyc(player_id, "pending", "player", "documents submitted", document)

    async def move_kyc(self, player_id: UUID, request: MoveKycRequest, *, by_admin: str) -> KycOut:
        return await self._move_kyc(player_id, request.to, by_admin, request.reason, None)

    async def _move_kyc(
        self, player_id: UUID, target: str, by: str, reason: str, document: dict[str, Any] | None
    ) -> KycOut:
        now = self.clock()
        async with self.db.transaction() as connection:
            row = await repository.get_player(connection, player_id, lock=True)
            if row is None:
                raise PlayerNotFound(f"no player {player_id}", player_id=str(player_id))
            check_transition(row["kyc_status"], target)
            await repository.update_player(connection, player_id, {"kyc_status": target}, now)
            await repository.insert_kyc_event(
                connection,
                {
                    "id": uuid7(),
                    "player_id": player_id,
                    "from_status": row["kyc_status"],
                    "to_status": target,
                    "by": by,
                    "reason": reason,
                    "document": document,
                    "at": now,
                },
            )
            payload = events.KycChanged(
                player_id=player_id,
                brand_id=row["brand_id"],
                from_status=row["kyc_status"],
                to_status=target,
                by=by,
                reason=reason,
                at=now,
            )
            await repository.outbox(connection, [identity_event(events.KYC_CHANGED, payload, row["brand_id"], now)])
        self._players.invalidate(player_id)
        return await self.get_kyc(player_id)
