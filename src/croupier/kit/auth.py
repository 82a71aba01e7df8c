"""Access tokens: signed (HS256 JWT), short-lived, verified by every service without a database round trip.

The identity service issues them at login and refresh; any service's API verifies them with `TokenVerifier` and the
FastAPI dependencies below. A token names its principal: a player (with brand and session) or an admin (with roles).
Refresh tokens are not JWTs: they are opaque random strings that only the identity service stores and rotates.
"""

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import jwt
from fastapi import Request

from croupier.kit.clock import Clock, system_clock
from croupier.kit.errors import DomainError

ISSUER = "croupier"
ALGORITHM = "HS256"
ADMIN_ROLES = ("support", "risk", "finance", "admin")


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["player", "admin"]
    subject: str  # player id or admin id
    brand_id: str | None = None  # players only
    session_id: str | None = None  # players only
    roles: frozenset[str] = field(default_factory=frozenset)  # admins only
    expires_at: datetime | None = None
    # A player who is timed out or self-excluded may log in, but only to what stays allowed (withdraw, profile,
    # limits): the session is restricted, and the gate refuses bets and deposits anyway.
    restricted: bool = False


class TokenSigner:
    def __init__(self, secret: str, *, lifetime: timedelta, clock: Clock = system_clock) -> None:
        if len(secret) < 32:
            raise ValueError("the token secret must be at least 32 characters")
        self._secret = secret
        self.lifetime = lifetime
        self._clock = clock

    def issue(self, principal: Principal) -> tuple[str, datetime]:
        now = self._clock()
        expires = now + self.lifetime
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": principal.subject,
            "typ": principal.kind,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_hex(8),
        }
        if principal.kind == "player":
            claims["brand"] = principal.brand_id
            claims["sid"] = principal.session_id
            if principal.restricted:
                claims["rst"] = True
        else:
            claims["roles"] = sorted(principal.roles)
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; Unauthenticated for an expired, tampered or malformed one."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"], "verify_exp": False},
            )
        except jwt.PyJWTError as error:
            raise Unauthenticated("the access token is invalid", reason="invalid_token") from error
        expires = datetime.fromtimestamp(int(claims["exp"]), tz=self._clock().tzinfo)
        # Expiry is checked against our clock (injectable), not the wall clock PyJWT would use.
        if self._clock() >= expires:
            raise Unauthenticated("the access token has expired; refresh it", reason="token_expired")
        kind = claims.get("typ")
        if kind == "player":
            return Principal(
                "player",
                str(claims["sub"]),
                claims.get("brand"),
                claims.get("sid"),
                expires_at=expires,
                restricted=bool(claims.get("rst", False)),
            )
        if kind == "admin":
            return Principal("admin", str(claims["sub"]), roles=frozenset(claims.get("roles", ())), expires_at=expires)
        raise Unauthenticated("the access token is invalid", reason="invalid_token")


def load_or_create_secret(data_dir: Path) -> str:
    """The deployment's token key: data_dir/auth-secret, created (mode 0600) with 256 random bits at first use."""
    path = data_dir.expanduser() / "auth-secret"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = path.open("x", encoding="utf-8")  # fails if another process created it first
    try:
        path.chmod(0o600)
        fd.write(secret)
    finally:
        fd.close()
    return secret


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an access token: Authorization: Bearer <token>", reason="missing_token")
    return token.strip()


def _verifier(request: Request) -> TokenSigner:
    signer: TokenSigner | None = getattr(request.app.state, "token_signer", None)
    if signer is None:
        raise Unauthenticated("this process does not accept tokens")
    return signer


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated player or admin."""
    return _verifier(request).verify(bearer_token(request))


async def current_player(request: Request) -> Principal:
    principal = await current_principal(request)
    if principal.kind != "player":
        raise Forbidden("this endpoint is for players")
    return principal


def admin_with_roles(*roles: str) -> Callable[[Request], Any]:
    """FastAPI dependency factory: an admin holding at least one of `roles` (the `admin` role holds every one)."""
    allowed = frozenset(roles) | {"admin"}

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if principal.kind != "admin":
            raise Forbidden("this endpoint is for back-office users")
        if not principal.roles & allowed:
            raise Forbidden(f"this endpoint needs one of the roles {sorted(allowed)}", required_roles=sorted(allowed))
        return principal

    return dependency


def has_any_role(principal: Principal, roles: Iterable[str]) -> bool:
    return bool(principal.roles & (frozenset(roles) | {"admin"}))
