"""Seed pairs: commitment, nonces, rotation, and a server seed that never shows before rotation."""

import copy
import dataclasses
import hashlib
import logging
import pickle

import pytest

from croupier.games.rng.seeds import SeedPair, ServerSeed, commitment

SECRET = "a3" * 32


def pair() -> SeedPair:
    return SeedPair(ServerSeed(SECRET), "player-seed", 5)


def test_new_pair_when_created_has_64_hex_server_seed_committed_by_sha256() -> None:
    new = SeedPair.new()
    seed = new.server_seed.reveal()
    assert len(seed) == 64
    int(seed, 16)
    assert new.server_seed_hash == hashlib.sha256(seed.encode()).hexdigest()
    assert new.nonce == 0
    assert new.client_seed
    assert SeedPair.new().server_seed != new.server_seed


def test_bet_when_placed_uses_the_nonce_and_increments_it() -> None:
    first, after = SeedPair.new("mine").bet()
    second, after = after.bet()
    assert (first.nonce, second.nonce, after.nonce) == (0, 1, 2)
    assert first.server_seed == second.server_seed


def test_rotate_when_called_reveals_the_previous_seed_and_starts_a_new_pair() -> None:
    revealed, new = pair().rotate("new-client")
    assert revealed.server_seed == SECRET
    assert revealed.server_seed_hash == commitment(SECRET)
    assert (revealed.client_seed, revealed.bets) == ("player-seed", 5)
    assert new.server_seed.reveal() != SECRET
    assert (new.client_seed, new.nonce) == ("new-client", 0)


def test_client_seed_when_changed_starts_a_new_pair() -> None:
    changed = pair().with_client_seed("other")
    assert changed.client_seed == "other"
    assert changed.nonce == 0
    assert changed.server_seed.reveal() != SECRET


def test_client_seed_when_invalid_is_refused_without_the_server_seed() -> None:
    with pytest.raises(ValueError, match="client seed") as error:
        SeedPair(ServerSeed(SECRET), "")
    assert SECRET not in str(error.value)


def test_server_seed_when_formatted_never_shows() -> None:
    p = pair()
    bet, _ = p.bet()
    texts = [repr(p), str(p), f"{p}", f"{p!r}", f"{p.server_seed}", f"{p.server_seed:>10}", repr(bet), str(bet)]
    texts += [str(dataclasses.asdict(p)), str(copy.deepcopy(p)), str(vars(p.public()))]
    for text in texts:
        assert SECRET not in text
    assert commitment(SECRET) in repr(p)


def test_server_seed_when_logged_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    p = pair()
    bet, _ = p.bet()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("croupier.games").info("pair %s %r bet %s", p, p, bet)
        logging.getLogger("croupier.games").info("seed %s", p.server_seed, extra={"pair": p})
    assert caplog.records
    assert SECRET not in caplog.text
    assert all(SECRET not in str(record.__dict__) for record in caplog.records)


def test_public_model_when_dumped_has_only_the_commitment() -> None:
    public = pair().public()
    assert public.model_dump() == {"server_seed_hash": commitment(SECRET), "client_seed": "player-seed", "nonce": 5}
    assert SECRET not in public.model_dump_json()
    assert 'server_seed"' not in public.model_dump_json()


def test_server_seed_when_pickled_is_refused() -> None:
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(pair())
