"""Login sessions and their refresh-token families: rotation, reuse detection, revocation.

A session is one login. Its refresh tokens are opaque random strings stored only as SHA-256; each refresh uses one up
and issues the next. A refresh token presented a second time means a copy exists: the whole session is revoked.
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from croupier.identity import events, repository
from croupier.identity.errors import (
    AccountDisabled,
    InvalidRefreshToken,
    RefreshTokenExpired,
    RefreshTokenReused,
    SessionNotFound,
    SessionRevoked,
)
from croupier.identity.schemas import SessionOut, TokenPairOut
from croupier.kit.auth import Principal, TokenSigner
from croupier.kit.clock import Clock
from croupier.kit.db import Database
from croupier.kit.ids import uuid7
from croupier.kit.outbox import Event
from croupier.kit.tracing import current_trace_id

#: last_seen of a session is written at most this often.
TOUCH_EVERY = timedelta(seconds=60)


def refresh_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class SessionStore:
    def __init__(self, db: Database, clock: Clock, signer: TokenSigner, *, refresh_lifetime: timedelta) -> None:
        self._db = db
        self._clock = clock
        self._signer = signer
        self._refresh_lifetime = refresh_lifetime

    async def open(
        self,
        player: dict[str, Any],
        *,
        ip: str,
        user_agent: str,
        restricted: bool,
        restriction_reason: str | None,
        rehashed: str | None,
    ) -> TokenPairOut:
        """Start a session for a player whose credentials were checked: a token pair, the first of its family."""
        now = self._clock()
        refresh_token = secrets.token_urlsafe(32)
        async with self._db.transaction() as connection:
            await repository.record_successful_login(connection, "players", player["id"], rehashed)
            session = await repository.insert_session(
                connection,
                {
                    "id": uuid7(),
                    "player_id": player["id"],
                    "created_at": now,
                    "expires_at": now + self._refresh_lifetime,
                    "ip": ip,
                    "user_agent": user_agent[:512],
                    "restricted": restricted,
                    "restriction_reason": restriction_reason,
                },
            )
            await repository.insert_refresh_token(
                connection, refresh_token_hash(refresh_token), session["id"], now, session["expires_at"]
            )
        return self._token_pair(player["brand_id"], session, refresh_token)

    def _token_pair(self, brand_id: str, session: Any, refresh_token: str) -> TokenPairOut:
        principal = Principal(
            "player",
            str(session["player_id"]),
            brand_id,
            str(session["id"]),
            restricted=session["restricted"],
        )
        access_token, expires = self._signer.issue(principal)
        return TokenPairOut(
            access_token=access_token,
            expires_at=expires,
            refresh_token=refresh_token,
            refresh_expires_at=session["expires_at"],
            session_id=session["id"],
            player_id=session["player_id"],
            restricted=session["restricted"],
            restriction_reason=session["restriction_reason"],
        )

    async def refresh(self, refresh_token: str) -> TokenPairOut:
        """Rotate: the presented token is used up and a new one issued. A token presented twice revokes its session."""
        token_hash = refresh_token_hash(refresh_token)
        now = self._clock()
        reused = False
        new_token = secrets.token_urlsafe(32)
        async with self._db.transaction() as connection:
            token = await repository.lock_refresh_token(connection, token_hash)
            if token is None:
                raise InvalidRefreshToken("unknown refresh token; log in again")
            session = await repository.get_session(connection, token["session_id"], lock=True)
            assert session is not None
            if session["revoked_at"] is not None:
                raise SessionRevoked("the session of this refresh token was revoked; log in again")
            player = await repository.get_player(connection, session["player_id"])
            assert player is not None
            if token["used_at"] is not None:
                # Someone holds a copy of a rotated token: end the whole family, for the thief and the owner alike.
                await self._revoke(connection, player, [session["id"]], now, "refresh_token_reused")
                reused = True
            else:
                if token["expires_at"] <= now:
                    raise RefreshTokenExpired("the refresh token has expired; log in again")
                if player["status"] in ("blocked", "closed"):
                    raise AccountDisabled(f"this account is {player['status']}")
                await repository.mark_refresh_token_used(connection, token_hash, now)
                await repository.insert_refresh_token(
                    connection, refresh_token_hash(new_token), session["id"], now, session["expires_at"]
                )
                await repository.touch_session(connection, session["id"], now, timedelta(0))
        if reused:  # raised after the commit, so the revocation stands
            raise RefreshTokenReused("this refresh token was already used; the session is revoked, log in again")
        return self._token_pair(player["brand_id"], session, new_token)

    async def logout(self, principal: Principal) -> None:
        player_id, session_id = player_session(principal)
        async with self._db.transaction() as connection:
            player = await repository.get_player(connection, player_id)
            if player is not None:
                await self._revoke(connection, player, [session_id], self._clock(), "logout")

    async def _revoke(
        self, connection: Any, player: Any, session_ids: list[UUID] | None, now: datetime, reason: str
    ) -> int:
        revoked = await repository.revoke_sessions(connection, player["id"], session_ids, now, reason)
        await repository.outbox(
            connection,
            [
                identity_event(
                    events.SESSION_REVOKED,
                    events.SessionRevokedEvent(
                        session_id=session["id"],
                        player_id=player["id"],
                        brand_id=player["brand_id"],
                        reason=reason,
                        revoked_at=now,
                    ),
                    player["brand_id"],
                    now,
                )
                for session in revoked
            ],
        )
        return len(revoked)

    # -- sessions ----------------------------------------------------------------------------------------------------

    async def check_session(self, principal: Principal) -> None:
        """Refuse a player's access token whose session was revoked (identity endpoints check this on every call)."""
        player_id, session_id = player_session(principal)
        now = self._clock()
        async with self._db.connection() as connection:
            session = await repository.get_session(connection, session_id)
            if session is None or session["player_id"] != player_id or session["revoked_at"] is not None:
                raise SessionRevoked("this session was revoked; log in again")
            await repository.touch_session(connection, session_id, now, TOUCH_EVERY)

    async def list_sessions(self, principal: Principal, *, active_only: bool = True) -> list[SessionOut]:
        player_id, current = player_session(principal)
        async with self._db.connection() as connection:
            rows = await repository.list_sessions(connection, player_id, active_only=active_only, now=self._clock())
        return [SessionOut.model_validate({**dict(row), "current": row["id"] == current}) for row in rows]

    async def revoke_session(self, principal: Principal, session_id: UUID) -> None:
        """Revoke one of the player's own sessions; another player's session is not found."""
        player_id, _ = player_session(principal)
        async with self._db.transaction() as connection:
            session = await repository.get_session(connection, session_id)
            if session is None or session["player_id"] != player_id:
                raise SessionNotFound(f"no session {session_id}")
            player = await repository.get_player(connection, player_id)
            await self._revoke(connection, player, [session_id], self._clock(), "revoked_by_player")

    async def revoke_other_sessions(self, principal: Principal) -> int:
        player_id, current = player_session(principal)
        now = self._clock()
        async with self._db.transaction() as connection:
            player = await repository.get_player(connection, player_id)
            rows = await repository.list_sessions(connection, player_id, active_only=True, now=now)
            others = [row["id"] for row in rows if row["id"] != current]
            if not others:
                return 0
            return await self._revoke(connection, player, others, now, "revoked_by_player")

    async def get_session(self, session_id: UUID) -> SessionOut:
        async with self._db.connection() as connection:
            row = await repository.get_session(connection, session_id)
        if row is None:
            raise SessionNotFound(f"no session {session_id}")
        return SessionOut.model_validate(dict(row))


def player_session(principal: Principal) -> tuple[UUID, UUID]:
    """The player and session ids of a player's access token."""
    if principal.kind != "player" or principal.session_id is None:
        raise SessionRevoked("this token has no player session")
    try:
        return UUID(principal.subject), UUID(principal.session_id)
    except ValueError:
        raise SessionRevoked("this token has no player session") from None


def identity_event(event_type: str, payload: Any, brand_id: str, at: datetime) -> Event:
    return Event(
        type=event_type,
        payload=payload.model_dump(mode="json"),
        occurred_at=at,
        brand_id=brand_id,
        trace_id=current_trace_id.get(),
    )
