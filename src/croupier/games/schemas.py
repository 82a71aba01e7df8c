"""Request and response models of the games API."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SeedPairOut(BaseModel):
    """The active seed pair as the player sees it: the server seed only as its SHA-256 commitment."""

    pair_id: UUID
    server_seed_hash: str = Field(description="sha256(server_seed), hex: committed before any bet of this pair.")
    client_seed: str
    next_nonce: int = Field(description="The nonce of the next bet (0 for the first bet of a pair).")
    created_at: datetime


class RevealedSeedPairOut(BaseModel):
    """A rotated pair with its server seed: enough to recompute every bet of the pair (nonces 0 .. bets - 1)."""

    pair_id: UUID
    server_seed: str
    server_seed_hash: str
    client_seed: str
    bets: int = Field(description="How many bets used this pair (their nonces are 0 to bets - 1).")
    created_at: datetime
    revealed_at: datetime


class RotateSeedsRequest(_In):
    client_seed: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The client seed of the new pair; omitted: a random one.",
    )


class RotationOut(BaseModel):
    revealed: RevealedSeedPairOut
    active: SeedPairOut
