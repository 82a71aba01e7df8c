"""Back-office users: their own table (never players), argon2id passwords, roles, and short-lived access tokens.

Admins do not get refresh tokens: when the access token expires (at most 15 minutes) they log in again.
"""

from datetime import timedelta
from uuid import UUID

from croupier.identity import repository
from croupier.identity.errors import AccountDisabled, AccountLocked, AdminExists, AdminNotFound, InvalidCredentials
from croupier.identity.passwords import hash_password, needs_rehash, verify_password
from croupier.identity.schemas import AdminOut, AdminTokenOut, CreateAdminRequest, UpdateAdminRequest
from croupier.kit.auth import Principal, TokenSigner
from croupier.kit.clock import Clock
from croupier.kit.db import Database
from croupier.kit.ids import uuid7

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class AdminDirectory:
    def __init__(self, db: Database, clock: Clock, signer: TokenSigner | None) -> None:
        self._db = db
        self._clock = clock
        self._signer = signer

    async def create(self, request: CreateAdminRequest) -> AdminOut:
        values = {
            "id": uuid7(),
            "email": request.email,
            "password_hash": await hash_password(request.password),
            "roles": sorted(set(request.roles)),
            "created_at": self._clock(),
        }
        async with self._db.transaction() as connection:
            row = await repository.insert_admin(connection, values)
        if row is None:
            raise AdminExists(f"a back-office user {request.email} already exists", email=request.email)
        return AdminOut.model_validate(dict(row))

    async def list(self) -> list[AdminOut]:
        async with self._db.connection() as connection:
            rows = await repository.list_admins(connection)
        return [AdminOut.model_validate(dict(row)) for row in rows]

    async def get(self, admin_id: UUID) -> AdminOut:
        async with self._db.connection() as connection:
            row = await repository.get_admin(connection, admin_id)
        if row is None:
            raise AdminNotFound(f"no back-office user {admin_id}", admin_id=str(admin_id))
        return AdminOut.model_validate(dict(row))

    async def update(self, admin_id: UUID, request: UpdateAdminRequest) -> AdminOut:
        roles: list[str] | None = sorted(set(request.roles)) if request.roles is not None else None
        async with self._db.transaction() as connection:
            row = await repository.update_admin(connection, admin_id, roles, request.disabled, self._clock())
        if row is None:
            raise AdminNotFound(f"no back-office user {admin_id}", admin_id=str(admin_id))
        return AdminOut.model_validate(dict(row))

    async def login(self, email: str, password: str) -> AdminTokenOut:
        """An access token naming the admin and their roles. Same lockout rule as players (5 failures, 15 min)."""
        if self._signer is None:
            raise RuntimeError("this directory was built without a token signer")
        email = email.strip().lower()
        now = self._clock()
        async with self._db.connection() as connection:
            row = await repository.find_admin_by_email(connection, email)
        if row is not None and row["locked_until"] is not None and row["locked_until"] > now:
            raise AccountLocked(
                "too many failed logins; the account is locked", locked_until=row["locked_until"].isoformat()
            )
        if not await verify_password(row["password_hash"] if row else None, password) or row is None:
            if row is not None:
                async with self._db.transaction() as connection:
                    await repository.record_failed_login(
                        connection, "admins", row["id"], now, MAX_FAILED_LOGINS, LOCKOUT
                    )
            raise InvalidCredentials("email or password is wrong")
        if row["disabled"]:
            raise AccountDisabled("this back-office user is disabled")
        rehashed = await hash_password(password) if needs_rehash(row["password_hash"]) else None
        async with self._db.transaction() as connection:
            await repository.record_successful_login(connection, "admins", row["id"], rehashed)
        roles = frozenset(row["roles"])
        token, expires = self._signer.issue(Principal("admin", str(row["id"]), roles=roles))
        return AdminTokenOut(access_token=token, expires_at=expires, admin_id=row["id"], roles=sorted(roles))
