"""Slot reel stops in both RNG versions: pinned golden vectors and an independent re-implementation of each."""

import hashlib
import hmac
import math
import struct
from fractions import Fraction

import pytest

from croupier.games.rng import certified_v1, stake_v1
from croupier.games.rng.seeds import BetSeeds, ServerSeed
from croupier.games.rng.versions import CertifiedSeed, rng_version

STAKE_SEEDS = BetSeeds(
    ServerSeed("3f2c9a1b7d4e8f60a5b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1"), "golden-client", 42
)
CERTIFIED_SEED = CertifiedSeed.from_hex("9e3779b97f4a7c15f39cc0605cedc8341082276bf3a27251f86c6a11d0c18e95")
FIVE_REELS = (30, 30, 30, 30, 30)
UNEVEN_REELS = (7, 37, 100, 2, 1000)

GOLDEN = {
    "stake-v1": ((10, 10, 21, 1, 16), (27, 11, 2, 27, 0), (21, 10, 9, 23, 24)),
    "certified-v1": ((2, 8, 23, 23, 18), (23, 25, 13, 23, 13), (10, 9, 13, 3, 12)),
}


def reference_stake_stops(
    server: str, client: str, nonce: int, lengths: tuple[int, ...], spins: int
) -> list[tuple[int, ...]]:
    """The provably fair reference: HMAC digests, 4 bytes a float, one float per reel, floor(f * length)."""
    fs: list[Fraction] = []
    k = 0
    while len(fs) < spins * len(lengths):
        digest = hmac.digest(server.encode("utf-8"), f"{client}:{nonce}:{k}".encode(), "sha256")
        for group in struct.iter_unpack("4B", digest):
            fs.append(sum((Fraction(b, 256 ** (i + 1)) for i, b in enumerate(group)), Fraction(0)))
        k += 1
    reels = len(lengths)
    return [tuple(math.floor(fs[spin * reels + reel] * n) for reel, n in enumerate(lengths)) for spin in range(spins)]


def reference_certified_stops(seed: bytes, lengths: tuple[int, ...], spins: int) -> list[tuple[int, ...]]:
    """The documented certified-v1 stream with rejection sampling, one draw per reel, spin after spin."""
    raw = b"".join(
        hmac.digest(seed, b"croupier/certified-v1" + i.to_bytes(8, "big"), hashlib.sha256) for i in range(64)
    )
    words = iter(int.from_bytes(raw[i : i + 4], "big") for i in range(0, len(raw), 4))

    def below(n: int) -> int:
        limit = 2**32 - 2**32 % n
        word = next(words)
        while word >= limit:
            word = next(words)
        return word % n

    return [tuple(below(n) for n in lengths) for _ in range(spins)]


@pytest.mark.parametrize("version", sorted(GOLDEN))
def test_slot_stops_when_replayed_by_version_name_match_golden_vector(version: str) -> None:
    seeds = STAKE_SEEDS if version == "stake-v1" else CERTIFIED_SEED
    assert rng_version(version).slots(seeds, FIVE_REELS, 3) == GOLDEN[version]


@pytest.mark.parametrize("lengths", [FIVE_REELS, UNEVEN_REELS, (8, 8, 8)])
def test_stake_slot_stops_when_computed_from_the_reference_match(lengths: tuple[int, ...]) -> None:
    for server, client, nonce in (("golden", "client", 0), ("x" * 64, "é:ü", 7), ("s", "c", 2**32 + 3)):
        seeds = BetSeeds(ServerSeed(server), client, nonce)
        # 7 spins of 5 reels cross four digests: free spins continue the bet's float stream
        expected = reference_stake_stops(server, client, nonce, lengths, 7)
        assert list(rng_version("stake-v1").slots(seeds, lengths, 7)) == expected


@pytest.mark.parametrize("lengths", [FIVE_REELS, UNEVEN_REELS, (8, 8, 8)])
def test_certified_slot_stops_when_computed_from_the_docs_match(lengths: tuple[int, ...]) -> None:
    for seed in (bytes(range(32)), CERTIFIED_SEED.seed, bytes(32)):
        expected = reference_certified_stops(seed, lengths, 7)
        assert list(rng_version("certified-v1").slots(CertifiedSeed(seed), lengths, 7)) == expected


def test_first_spin_when_stake_v1_uses_the_same_floats_as_other_games() -> None:
    fs = stake_v1.floats("golden", "client", 3, 5)
    assert stake_v1.slot_stops(fs, FIVE_REELS) == next(stake_v1.slots("golden", "client", 3, FIVE_REELS))


@pytest.mark.parametrize("version", sorted(GOLDEN))
def test_slot_spins_when_more_are_taken_keep_the_earlier_ones(version: str) -> None:
    seeds = STAKE_SEEDS if version == "stake-v1" else CERTIFIED_SEED
    rng = rng_version(version)
    assert rng.slots(seeds, UNEVEN_REELS, 20)[:5] == rng.slots(seeds, UNEVEN_REELS, 5)


@pytest.mark.parametrize("lengths", [(), (0, 5), (5, 2**20 + 1)])
def test_slot_strips_when_invalid_are_refused(lengths: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="reel"):
        next(stake_v1.slots("golden", "client", 0, lengths))
    with pytest.raises(ValueError, match="reel"):
        next(certified_v1.slots(CERTIFIED_SEED.seed, lengths))


def test_slot_spins_when_zero_requested_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one spin"):
        rng_version("stake-v1").slots(STAKE_SEEDS, FIVE_REELS, 0)
