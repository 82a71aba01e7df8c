"""Golden vectors: released RNG versions never change their outcomes (adding a version must not touch them)."""

import hashlib

import pytest

from croupier.games.rng import certified_v1, stake_v1
from croupier.games.rng.outcomes import outcome_text
from croupier.games.rng.seeds import BetSeeds, ServerSeed
from croupier.games.rng.versions import GAMES, RNG_VERSIONS, CertifiedSeed, GameParams, rng_version

STAKE_SEEDS = BetSeeds(
    ServerSeed("3f2c9a1b7d4e8f60a5b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1"), "golden-client", 42
)
CERTIFIED_SEED = CertifiedSeed.from_hex("9e3779b97f4a7c15f39cc0605cedc8341082276bf3a27251f86c6a11d0c18e95")
PARAMS = GameParams(rows=12, mines=5, cards=8)
GOLDEN_STAKE_STREAM = "68d0eb1ea81d3028"
GOLDEN_CERTIFIED_STREAM = "2a9803d968db13a1"

GOLDEN = {
    "stake-v1": {
        "dice": "33.39",
        "limbo": "2.96",
        "roulette": "12",
        "plinko": "0 0 1 0 1 1 0 0 1 0 1 0",
        "keno": "14 15 29 3 24 38 17 4 37 1",
        "mines": "8 9 18 1 14",
        "cards": "17 17 36 3 29 48 19 3",
        "hilo": "17 17 36 3 29 48 19 3",
        "blackjack": "17 17 36 3 29 48 19 3",
    },
    "certified-v1": {
        "dice": "37.84",
        "limbo": "4.00",
        "roulette": "29",
        "plinko": "0 0 1 1 0 1 1 1 1 1 0 1",
        "keno": "13 31 29 9 15 39 17 27 40 26",
        "mines": "7 21 3 17 11",
        "cards": "0 16 21 15 0 3 29 25",
        "hilo": "0 16 21 15 0 3 29 25",
        "blackjack": "0 16 21 15 0 3 29 25",
    },
}


def test_registry_when_listed_holds_the_released_versions() -> None:
    assert set(RNG_VERSIONS) >= {"stake-v1", "certified-v1"}
    assert all(version.name == name for name, version in RNG_VERSIONS.items())


@pytest.mark.parametrize("version", sorted(GOLDEN))
@pytest.mark.parametrize("game", GAMES)
def test_outcome_when_replayed_by_version_name_matches_golden_vector(version: str, game: str) -> None:
    seeds = STAKE_SEEDS if version == "stake-v1" else CERTIFIED_SEED
    assert outcome_text(game, rng_version(version).play(game, seeds, PARAMS)) == GOLDEN[version][game]


def test_raw_streams_when_hashed_match_golden_digests() -> None:
    stake = b"".join(next(stake_v1.digests("golden", "client", nonce)) for nonce in range(64))
    certified = certified_v1.raw_bytes(CERTIFIED_SEED.seed, 2048)
    assert hashlib.sha256(stake).hexdigest()[:16] == GOLDEN_STAKE_STREAM
    assert hashlib.sha256(certified).hexdigest()[:16] == GOLDEN_CERTIFIED_STREAM


def test_version_when_unknown_is_refused_not_defaulted() -> None:
    with pytest.raises(ValueError, match="unknown RNG version"):
        rng_version("stake-v2")


def test_game_when_unknown_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown game"):
        rng_version("certified-v1").play("craps", CERTIFIED_SEED)
