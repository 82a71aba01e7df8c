"""Access tokens: signed (HS256 JWT), short-lived, verified by every service without a database round trip.

The identity service issues them at login and refresh; any service's API verifies them with `TokenVerifier` and the
FastAPI dependencies below. A token names its principal: a player (with brand and session) or an admin (with roles).
Refresh tokens are not JWTs: they are opaque random strings that only the identity service stores and rotates.
"""

import secrets
from collections.abc import Awaitable, Callable
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
CLOCK_SKEW = timedelta(seconds=60)
VERIFIED_CACHE_SIZE = 10_000


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
    kind: Literal["player", "admin", "service"]
    subject: str  # player id, admin id, or the calling service's name
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
        self._verified: dict[str, tuple[Principal, datetime]] = {}

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
        """The principal of a valid token; Unauthenticated for an expired, tampered or malformed one.

        A token whose signature was checked once is remembered (bounded) with its principal: services present the
        same token on every call for minutes, and the HMAC check and JSON parsing cost more than the call's own
        work on the wallet's hot path. Its times are checked again against the clock on every use.
        """
        known = self._verified.get(token)
        if known is not None:
            principal, issued = known
            self._check_times(issued, principal.expires_at)
            return principal
        principal, issued = self._verify_signature(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (principal, issued)
        return principal

    def _check_times(self, issued: datetime, expires: datetime | None) -> None:
        now = self._clock()
        if issued > now + CLOCK_SKEW:  # issued in the future, beyond the skew between our processes' clocks
            raise Unauthenticated("the access token is not valid yet", reason="invalid_token")
        if expires is None or now >= expires:
            raise Unauthenticated("the access token has expired; refresh it", reason="token_expired")

    def _verify_signature(self, token: str) -> tuple[Principal, datetime]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                # Time is checked below against our clock (injectable), not the wall clock PyJWT would use.
                options={"require": ["exp", "iat", "sub", "iss"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as error:
            raise Unauthenticated("the access token is invalid", reason="invalid_token") from error
        tz = self._clock().tzinfo
        expires = datetime.fromtimestamp(int(claims["exp"]), tz=tz)
        issued = datetime.fromtimestamp(int(claims["iat"]), tz=tz)
        self._check_times(issued, expires)
        kind = claims.get("typ")
        if kind == "player":
            player = Principal(
                "player",
                str(claims["sub"]),
                claims.get("brand"),
                claims.get("sid"),
                expires_at=expires,
                restricted=bool(claims.get("rst", False)),
            )
            return player, issued
        if kind in ("admin", "service"):
            roles = frozenset(claims.get("roles", ()))
            return Principal(kind, str(claims["sub"]), roles=roles, expires_at=expires), issued
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


SessionRevoked = Callable[[str], Awaitable[bool]]


def live_player(
    revoked_lookup: Callable[[Request], SessionRevoked | None],
) -> Callable[[Request], Awaitable[Principal]]:
    """FastAPI dependency factory: a player whose login session is still open (a logged-out or revoked session gets
    401 with reason session_revoked). `revoked_lookup` finds the service's session check (None: tokens only)."""

    async def dependency(request: Request) -> Principal:
        player = await current_player(request)
        revoked = revoked_lookup(request)
        if player.session_id is None or (revoked is not None and await revoked(player.session_id)):
            raise Unauthenticated("this session was revoked; log in again", reason="session_revoked")
        return player

    return dependency


def admin_with_roles(*roles: str, services: bool = False) -> Callable[[Request], Any]:
    """FastAPI dependency factory: an admin holding at least one of `roles` (the `admin` role holds every one); with
    `services`, also any service (a token minted with ServiceTokens: another Croupier service's client)."""
    allowed = frozenset(roles) | {"admin"}

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if services and principal.kind == "service":
            return principal
        if principal.kind != "admin":
            raise Forbidden("this endpoint is for back-office users" + (" and services" if services else ""))
        if not principal.roles & allowed:
            raise Forbidden(f"this endpoint needs one of the roles {sorted(allowed)}", required_roles=sorted(allowed))
        return principal

    return dependency


class ServiceTokens:
    """Short-lived tokens a service presents to another service's API (typ "service"), minted from the deployment's
    shared key: no long-lived credential exists anywhere. A token is reused until a minute before it expires."""

    def __init__(self, signer: TokenSigner, service: str) -> None:
        self._signer = signer
        self._service = service
        self._token: str | None = None
        self._renew_at: datetime | None = None

    def __call__(self) -> str:
        now = self._signer._clock()
        if self._token is None or self._renew_at is None or now >= self._renew_at:
            self._token, expires = self._signer.issue(Principal("service", self._service))
            self._renew_at = expires - min(timedelta(minutes=1), self._signer.lifetime / 2)
        return self._token


class InternalApiGuard:
    """Pure ASGI middleware: the internal APIs under `prefixes` (the wallet's) answer only services and back-office
    users. Reads: any service, or an admin with a role in `read_roles`; writes: any service, or an admin with a role
    in `write_roles`. Players are refused (403): they reach money only through the services that check them.

    It sits in front of the lean command path and FastAPI alike, so no route can be served unauthenticated.
    """

    def __init__(
        self,
        app: Any,
        *,
        prefixes: tuple[str, ...],
        read_roles: frozenset[str] = frozenset({"support", "risk", "finance", "admin"}),
        write_roles: frozenset[str] = frozenset({"finance", "admin"}),
    ) -> None:
        self.app = app
        self._prefixes = prefixes
        self._read_roles = read_roles
        self._write_roles = write_roles

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = self.refusal_response(scope)
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal_response(self, scope: Any) -> Any:
        """The problem+json answer (a starlette Response) refusing this request, or None if it may pass."""
        if not scope["path"].startswith(self._prefixes):
            return None
        refusal = self._refusal(scope)
        if refusal is None:
            return None
        from croupier.kit.http import problem_response

        status, code, title, detail, extensions = refusal
        response = problem_response(status, code, title, detail, **extensions)
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    def _refusal(self, scope: Any) -> tuple[int, str, str, str, dict[str, Any]] | None:
        signer: TokenSigner | None = getattr(scope["app"].state, "token_signer", None)
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        scheme, _, token = header.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return (
                401,
                "unauthenticated",
                "Authentication required",
                "send a token: Authorization: Bearer <token>",
                {"reason": "missing_token"},
            )
        if signer is None:
            return (401, "unauthenticated", "Authentication required", "this process accepts no tokens", {})
        try:
            principal = signer.verify(token.strip())
        except Unauthenticated as error:
            return (401, error.code, error.title, error.detail, error.extensions)
        if principal.kind == "service":
            return None
        allowed = self._read_roles if scope["method"] in ("GET", "HEAD") else self._write_roles
        if principal.kind == "admin" and principal.roles & allowed:
            return None
        return (
            403,
            "forbidden",
            "Not allowed",
            f"this internal API answers services and back-office users with one of the roles {sorted(allowed)}",
            {"required_roles": sorted(allowed)},
        )
