"""Provably fair seed pairs: commitment before any bet, player's client seed, nonces, rotation that reveals.

No persistence here: the round lifecycle stores pairs. The server seed is wrapped in `ServerSeed`, whose repr, str,
format and pickling never show it, so it cannot leak through logs, error messages or API models by accident; the
only way to read it is `ServerSeed.reveal()`, called by the RNG to compute outcomes, by storage, and by rotation.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, NoReturn, Self

from pydantic import BaseModel

SERVER_SEED_HEX_CHARS = 64
CLIENT_SEED_MAX_CHARS = 64


class ServerSeed:
    """A server seed; shows only its SHA-256 commitment until someone calls `reveal()`."""

    __slots__ = ("_value", "sha256")

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a server seed is not empty")
        self._value = value
        self.sha256 = commitment(value)

    @classmethod
    def generate(cls) -> Self:
        """64 hex characters (256 bits) from the OS CSPRNG."""
        return cls(secrets.token_hex(SERVER_SEED_HEX_CHARS // 2))

    def reveal(self) -> str:
        """The seed itself: for computing outcomes, for storage, and for the player after rotation."""
        return self._value

    def __repr__(self) -> str:
        return f"ServerSeed(sha256={self.sha256!r})"

    def __str__(self) -> str:
        return f"<server seed sha256={self.sha256}>"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServerSeed) and hmac.compare_digest(self.sha256, other.sha256)

    def __hash__(self) -> int:
        return hash(self.sha256)

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("a ServerSeed is not pickled: store reveal() explicitly where secrets are stored")


def commitment(server_seed: str) -> str:
    """sha256(server seed as UTF-8) in hex: what the player sees before any bet."""
    return hashlib.sha256(server_seed.encode()).hexdigest()


def default_client_seed() -> str:
    """A random client seed offered to the player (who may replace it)."""
    return secrets.token_hex(8)


def check_client_seed(client_seed: str) -> str:
    if not 1 <= len(client_seed) <= CLIENT_SEED_MAX_CHARS or not client_seed.isprintable():
        raise ValueError(f"a client seed is 1 to {CLIENT_SEED_MAX_CHARS} printable characters")
    return client_seed


@dataclass(frozen=True, slots=True)
class BetSeeds:
    """The seed material of one stake-v1 bet."""

    server_seed: ServerSeed
    client_seed: str
    nonce: int


class SeedPairOut(BaseModel):
    """What a player may see of the active pair."""

    server_seed_hash: str
    client_seed: str
    nonce: int


class RevealedSeedPairOut(BaseModel):
    """A rotated-out pair: the server seed is public now, so every bet played with it can be verified."""

    server_seed: str
    server_seed_hash: str
    client_seed: str
    bets: int


@dataclass(frozen=True, slots=True)
class SeedPair:
    """A server seed with the player's client seed; `nonce` is the nonce of the next bet (= bets placed)."""

    server_seed: ServerSeed
    client_seed: str
    nonce: int = 0

    def __post_init__(self) -> None:
        check_client_seed(self.client_seed)
        if self.nonce < 0:
            raise ValueError("the nonce is a non-negative integer")

    @classmethod
    def new(cls, client_seed: str | None = None) -> "SeedPair":
        return cls(ServerSeed.generate(), client_seed if client_seed is not None else default_client_seed())

    @property
    def server_seed_hash(self) -> str:
        return self.server_seed.sha256

    def bet(self) -> tuple[BetSeeds, "SeedPair"]:
        """The seeds of the next bet, and the pair with the nonce incremented (store it before playing)."""
        seeds = BetSeeds(self.server_seed, self.client_seed, self.nonce)
        return seeds, SeedPair(self.server_seed, self.client_seed, self.nonce + 1)

    def with_client_seed(self, client_seed: str) -> "SeedPair":
        """The player sets the client seed: that starts a new pair (a fresh server seed), like a rotation."""
        return self.rotate(client_seed)[1]

    def rotate(self, client_seed: str | None = None) -> tuple[RevealedSeedPairOut, "SeedPair"]:
        """Reveal this pair's server seed and start a new pair (new server seed, nonce 0)."""
        revealed = RevealedSeedPairOut(
            server_seed=self.server_seed.reveal(),
            server_seed_hash=self.server_seed_hash,
            client_seed=self.client_seed,
            bets=self.nonce,
        )
        return revealed, SeedPair.new(client_seed if client_seed is not None else self.client_seed)

    def public(self) -> SeedPairOut:
        return SeedPairOut(server_seed_hash=self.server_seed_hash, client_seed=self.client_seed, nonce=self.nonce)

    def __repr__(self) -> str:
        return (
            f"SeedPair(server_seed_hash={self.server_seed_hash!r}, client_seed={self.client_seed!r}, "
            f"nonce={self.nonce})"
        )

    __str__ = __repr__
