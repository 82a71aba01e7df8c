"""Events the identity service publishes (its public contract), written to identity.outbox in the transaction of the
change. Envelope (croupier.kit.outbox.Event): id (UUIDv7), type, version, occurred_at, brand_id, trace_id, payload.

- `identity.player.registered`: a player completed registration (their wallet cash account is open).
- `identity.player.updated`: profile fields changed (`changed` names them).
- `identity.kyc.changed`: KYC status moved (`from_status` -> `to_status`, by the player or a back-office user).
- `identity.brand.updated`: a brand was created or its settings changed (payload: the whole brand).
- `identity.session.revoked`: a session ended (logout, revoked by the player, or refresh-token reuse).
"""

from datetime import date, datetime
from typing import Any, Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict

VERSION: Final = 1
PLAYER_REGISTERED: Final = "identity.player.registered"
PLAYER_UPDATED: Final = "identity.player.updated"
KYC_CHANGED: Final = "identity.kyc.changed"
BRAND_UPDATED: Final = "identity.brand.updated"
SESSION_REVOKED: Final = "identity.session.revoked"


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class PlayerRegistered(_Payload):
    """`identity.player.registered`."""

    player_id: UUID
    brand_id: str
    email: str
    date_of_birth: date
    country: str
    currency: str
    wallet_account_id: UUID
    registered_at: datetime


class PlayerUpdated(_Payload):
    """`identity.player.updated`: `changed` lists the fields that changed (values are not repeated: PII)."""

    player_id: UUID
    brand_id: str
    changed: list[str]


class KycChanged(_Payload):
    """`identity.kyc.changed`: `by` is an admin id or 'player'."""

    player_id: UUID
    brand_id: str
    from_status: str
    to_status: str
    by: str
    reason: str
    at: datetime


class BrandUpdated(_Payload):
    """`identity.brand.updated`: the brand's settings after the change (`created` true for a new brand)."""

    brand: dict[str, Any]
    created: bool


class SessionRevokedEvent(_Payload):
    """`identity.session.revoked`: reason is logout, revoked_by_player, refresh_token_reused or revoked_by_admin."""

    session_id: UUID
    player_id: UUID
    brand_id: str
    reason: str
    revoked_at: datetime
