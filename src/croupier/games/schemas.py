"""Request and response models of the games API."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from croupier.kit.money import MAX_MINOR_UNITS


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


# -- rounds ---------------------------------------------------------------------------------------------------------

RequestKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="Client-chosen unique key of this round request (printable ASCII). Sending the same request "
        "again with the same key returns the same round (and continues it if it was interrupted); the same key with "
        "a different request is refused with idempotency_conflict.",
        examples=["b3c1f0e2-play-1"],
    ),
]


class PlayRoundRequest(_In):
    """Start a round. Single-step games (dice, limbo, roulette, plinko, keno, slots) settle at once."""

    game: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", examples=["dice"])
    stake: StrictInt = Field(
        ge=1,
        le=MAX_MINOR_UNITS,
        description="Total stake in minor units of the player's currency (EUR 1.00 = 100). For roulette, the sum of "
        "the bets' amounts; for slots, lines x line bet.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The game's parameters (docs/games.md): dice {target, direction}, limbo {target}, roulette "
        "{bets}, plinko {rows, risk}, keno {picks}, mines {mines}, blackjack {}, slots {slot, lines}.",
        examples=[{"target": 5000, "direction": "over"}],
    )
    request_key: RequestKey


class StepRequest(_In):
    """One action in a multi-step round (mines: reveal/cashout; blackjack: hit/stand/double/split/insurance)."""

    step: StrictInt = Field(
        ge=0,
        le=10_000,
        description="The number of this action: the round's `next_step`. Resending a step already taken with the "
        "same action returns the round again; a different action for a taken step is refused (step_conflict).",
    )
    action: dict[str, Any] = Field(
        description='The action, e.g. {"action": "reveal", "tile": 7} or {"action": "double"}.',
        examples=[{"action": "reveal", "tile": 7}],
    )


class RoundFairnessOut(BaseModel):
    rng_version: str = Field(description="The RNG version the round was played (and is replayed) under.")
    pair_id: UUID | None = None
    server_seed_hash: str | None = Field(default=None, description="stake-v1: the committed server seed's SHA-256.")
    client_seed: str | None = None
    nonce: int | None = None


class RoundOut(BaseModel):
    """A round as its player sees it. `view` never shows hidden information (mines, hole card) before settlement."""

    round_id: UUID
    game: str
    status: Literal["open", "active", "settling", "closed", "voiding", "cancelled", "refunded", "rejected"] = Field(
        description="active: waiting for your next step; settling: outcome fixed, win being paid; closed: done; "
        "cancelled/refunded: voided after an interruption (stake never taken / returned); rejected: stake refused."
    )
    currency: str
    stake: int = Field(description="The initial stake, minor units.")
    staked: int = Field(description="Everything staked in the round so far (doubles, splits, insurance), minor units.")
    payout: int | None = Field(description="What the round pays back (stake included), minor units, once settled.")
    params: dict[str, Any]
    actions: list[dict[str, Any]]
    next_step: int = Field(description="Send this as `step` with the next action.")
    allowed_actions: list[str]
    view: dict[str, Any] = Field(description="The game's state as you may see it (see docs/games.md per game).")
    outcome: dict[str, Any] | None = Field(description="The settled outcome in its documented JSON form.")
    fairness: RoundFairnessOut
    stake_transfer_ids: list[str] = Field(description="Wallet transfers that took the stakes.")
    win_transfer_id: UUID | None = Field(description="The wallet transfer that paid the win.")
    created_at: datetime
    closed_at: datetime | None


class RoundPage(BaseModel):
    items: list[RoundOut]
    next_before: UUID | None = Field(description="Pass as `before` for older rounds; null on the last page.")


class RoundVerificationOut(BaseModel):
    """A past round recomputed from its inputs, as any stake-v1 verifier would."""

    round_id: UUID
    verifiable: bool = Field(
        description="False while the round's server seed is still secret: rotate your seed pair, then verify."
    )
    matches: bool | None = Field(description="Whether the recomputed outcome and payout equal the recorded ones.")
    rng_version: str
    server_seed: str | None = Field(description="The revealed server seed (null until the pair is rotated).")
    server_seed_hash: str | None
    client_seed: str | None
    nonce: int | None
    recorded: dict[str, Any] | None
    recomputed: dict[str, Any] | None
    problems: list[str]


class GameOut(BaseModel):
    """A game as the player's brand offers it."""

    game: str
    multi_step: bool
    rng_version: str
    limits: dict[str, int] = Field(description="min_stake, max_stake, max_win in minor units of `currency`.")
    currency: str
    config: dict[str, Any] = Field(description="The game's rules, options, pay tables and exact RTP.")


# -- back office ----------------------------------------------------------------------------------------------------


class BrandGamesSettingsRequest(_In):
    rng_version: Literal["stake-v1", "certified-v1"] = Field(
        description="RNG of new rounds (rounds in play finish under the version they started with)."
    )


class GameSettingsRequest(_In):
    enabled: StrictBool
    settings: dict[str, Any] = Field(default_factory=dict, description="The game's brand settings (docs/games.md).")


class BetLimitsRequest(_In):
    min_stake: StrictInt = Field(ge=1, le=MAX_MINOR_UNITS)
    max_stake: StrictInt = Field(ge=1, le=MAX_MINOR_UNITS)
    max_win: StrictInt = Field(ge=1, le=MAX_MINOR_UNITS, description="Most a round pays back, stake included.")


class BrandGamesOut(BaseModel):
    brand_id: str
    rng_version: str
    games: dict[str, dict[str, Any]] = Field(description="Per game: enabled and its effective settings.")
    limits: list[dict[str, Any]] = Field(description="Limits the operator set (others: the currency's defaults).")


class AuditEntryOut(BaseModel):
    seq: int | None
    kind: str
    recorded_at: datetime
    body: dict[str, Any]


class AdminRoundOut(BaseModel):
    round: RoundOut
    player_id: str
    brand_id: str
    entries: list[AuditEntryOut]
    replay: dict[str, Any]


class AuditReportOut(BaseModel):
    ok: bool
    entries: int
    sealed: int
    unsealed: int = Field(description="Entries of the last moments, not sealed into the chain yet.")
    head: dict[str, Any] = Field(description="position and chain_hash of the newest link: publish it to anchor.")
    problems: list[dict[str, Any]]
