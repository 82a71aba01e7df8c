"""The registry of RNG versions: a round stores its version's name and replays with exactly that implementation.

Released versions are frozen (their golden vectors are pinned in tests/games/test_versions.py); adding a version
adds an entry and never touches the others.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Generic, Self, TypeVar

from croupier.games.rng import certified_v1, stake_v1
from croupier.games.rng.outcomes import DECK_SIZE, BlackjackDeal, Card, PlinkoDrop
from croupier.games.rng.seeds import BetSeeds

GAMES = ("dice", "limbo", "roulette", "plinko", "keno", "mines", "cards", "hilo", "blackjack")


@dataclass(frozen=True, slots=True)
class GameParams:
    """Parameters that change what is drawn (pay-table parameters such as plinko risk do not)."""

    rows: int = 16
    mines: int = 3
    cards: int = DECK_SIZE


@dataclass(frozen=True, slots=True)
class CertifiedSeed:
    """The seed material of one certified-v1 round, stored in the round log as hex."""

    seed: bytes

    @classmethod
    def new(cls) -> Self:
        return cls(certified_v1.new_seed())

    @classmethod
    def from_hex(cls, seed_hex: str) -> Self:
        return cls(certified_v1.parse_seed(seed_hex))

    @property
    def hex(self) -> str:
        return self.seed.hex()


SeedsT = TypeVar("SeedsT")


class RngVersion(ABC, Generic[SeedsT]):
    """One RNG version: a method per game, each taking the round's seed material."""

    name: ClassVar[str]

    @abstractmethod
    def dice(self, seeds: SeedsT) -> Decimal: ...

    @abstractmethod
    def limbo(self, seeds: SeedsT) -> Decimal: ...

    @abstractmethod
    def roulette(self, seeds: SeedsT) -> int: ...

    @abstractmethod
    def plinko(self, seeds: SeedsT, rows: int) -> PlinkoDrop: ...

    @abstractmethod
    def keno(self, seeds: SeedsT) -> tuple[int, ...]: ...

    @abstractmethod
    def mines(self, seeds: SeedsT, mines: int) -> tuple[int, ...]: ...

    @abstractmethod
    def cards(self, seeds: SeedsT, count: int) -> tuple[Card, ...]: ...

    @abstractmethod
    def blackjack(self, seeds: SeedsT, count: int = DECK_SIZE) -> BlackjackDeal: ...

    @abstractmethod
    def slot_spins(self, seeds: SeedsT, strip_lengths: Sequence[int]) -> Iterator[tuple[int, ...]]:
        """Reel stops (one per reel) of spin 0 (the paid spin), then 1, 2, … (the round's free spins), without end."""

    def slots(self, seeds: SeedsT, strip_lengths: Sequence[int], spins: int = 1) -> tuple[tuple[int, ...], ...]:
        """The reel stops of the round's first `spins` spins."""
        if spins < 1:
            raise ValueError("a slot round has at least one spin")
        stream = self.slot_spins(seeds, strip_lengths)
        return tuple(next(stream) for _ in range(spins))

    def play(self, game: str, seeds: SeedsT, params: GameParams | None = None) -> object:
        """The outcome of `game` (one of GAMES) for these seeds."""
        params = params or GameParams()
        match game:
            case "dice":
                return self.dice(seeds)
            case "limbo":
                return self.limbo(seeds)
            case "roulette":
                return self.roulette(seeds)
            case "plinko":
                return self.plinko(seeds, params.rows)
            case "keno":
                return self.keno(seeds)
            case "mines":
                return self.mines(seeds, params.mines)
            case "cards" | "hilo":
                return self.cards(seeds, params.cards)
            case "blackjack":
                return self.blackjack(seeds, params.cards)
        raise ValueError(f"unknown game {game!r}; known: {', '.join(GAMES)}")


class StakeV1(RngVersion[BetSeeds]):
    """The public provably fair scheme (croupier.games.rng.stake_v1)."""

    name = stake_v1.NAME

    @staticmethod
    def _args(seeds: BetSeeds) -> tuple[str, str, int]:
        return seeds.server_seed.reveal(), seeds.client_seed, seeds.nonce

    def dice(self, seeds: BetSeeds) -> Decimal:
        return stake_v1.dice(*self._args(seeds))

    def limbo(self, seeds: BetSeeds) -> Decimal:
        return stake_v1.limbo(*self._args(seeds))

    def roulette(self, seeds: BetSeeds) -> int:
        return stake_v1.roulette(*self._args(seeds))

    def plinko(self, seeds: BetSeeds, rows: int) -> PlinkoDrop:
        return stake_v1.plinko(*self._args(seeds), rows)

    def keno(self, seeds: BetSeeds) -> tuple[int, ...]:
        return stake_v1.keno(*self._args(seeds))

    def mines(self, seeds: BetSeeds, mines: int) -> tuple[int, ...]:
        return stake_v1.mines(*self._args(seeds), mines)

    def cards(self, seeds: BetSeeds, count: int) -> tuple[Card, ...]:
        return stake_v1.cards(*self._args(seeds), count)

    def blackjack(self, seeds: BetSeeds, count: int = DECK_SIZE) -> BlackjackDeal:
        return stake_v1.blackjack(*self._args(seeds), count)

    def slot_spins(self, seeds: BetSeeds, strip_lengths: Sequence[int]) -> Iterator[tuple[int, ...]]:
        return stake_v1.slots(*self._args(seeds), strip_lengths)


class CertifiedV1(RngVersion[CertifiedSeed]):
    """CSPRNG with rejection sampling (croupier.games.rng.certified_v1)."""

    name = certified_v1.NAME

    def dice(self, seeds: CertifiedSeed) -> Decimal:
        return certified_v1.dice(seeds.seed)

    def limbo(self, seeds: CertifiedSeed) -> Decimal:
        return certified_v1.limbo(seeds.seed)

    def roulette(self, seeds: CertifiedSeed) -> int:
        return certified_v1.roulette(seeds.seed)

    def plinko(self, seeds: CertifiedSeed, rows: int) -> PlinkoDrop:
        return certified_v1.plinko(seeds.seed, rows)

    def keno(self, seeds: CertifiedSeed) -> tuple[int, ...]:
        return certified_v1.keno(seeds.seed)

    def mines(self, seeds: CertifiedSeed, mines: int) -> tuple[int, ...]:
        return certified_v1.mines(seeds.seed, mines)

    def cards(self, seeds: CertifiedSeed, count: int) -> tuple[Card, ...]:
        return certified_v1.cards(seeds.seed, count)

    def blackjack(self, seeds: CertifiedSeed, count: int = DECK_SIZE) -> BlackjackDeal:
        return certified_v1.blackjack(seeds.seed, count)

    def slot_spins(self, seeds: CertifiedSeed, strip_lengths: Sequence[int]) -> Iterator[tuple[int, ...]]:
        return certified_v1.slots(seeds.seed, strip_lengths)


RNG_VERSIONS: dict[str, RngVersion[Any]] = {version.name: version for version in (StakeV1(), CertifiedV1())}


def rng_version(name: str) -> RngVersion[Any]:
    """The implementation a round stored by name; unknown names are an error, never a fallback."""
    try:
        return RNG_VERSIONS[name]
    except KeyError:
        raise ValueError(f"unknown RNG version {name!r}; known: {', '.join(RNG_VERSIONS)}") from None
