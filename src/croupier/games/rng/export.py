"""Collection tools test labs ask for: the raw RNG output and the scaled outcomes of an RNG version.

Raw output (binary):
- certified-v1: the round stream block_0 || block_1 || ... of one seed (certified_v1.blocks), unmodified.
- stake-v1: for nonce = 0, 1, 2, ... the bet's first digest (digest_0, the 8 floats most games use) of one seed
  pair, concatenated.

Scaled outcomes (text): one line per round, `round,outcome`, the outcome's numbers separated by spaces. Round i is a
complete production round: stake-v1 plays nonce i of the given pair; certified-v1 plays the round seed
HMAC_SHA256(key=master seed, message=b"croupier/export-round" || i as 8 bytes big-endian), a derivation used only
here so that a whole export is reproducible from one logged master seed.
"""

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from croupier.games.rng import certified_v1, stake_v1
from croupier.games.rng.outcomes import outcome_text
from croupier.games.rng.seeds import BetSeeds, ServerSeed
from croupier.games.rng.versions import CertifiedSeed, GameParams, rng_version

EXPORT_ROUND_LABEL = b"croupier/export-round"
_CHUNK = 1 << 16


def stake_raw_digests(server_seed: str, client_seed: str) -> Iterator[bytes]:
    nonce = 0
    while True:
        yield next(stake_v1.digests(server_seed, client_seed, nonce))
        nonce += 1


def raw_stream(version: str, *, seed: bytes, server_seed: str = "", client_seed: str = "") -> Iterator[bytes]:
    """The raw output of a version as successive byte strings (endless)."""
    rng_version(version)
    if version == certified_v1.NAME:
        return certified_v1.blocks(seed)
    return stake_raw_digests(server_seed, client_seed)


def write_raw(out: BinaryIO, stream: Iterable[bytes], count: int | None) -> int:
    """Write `count` bytes of the stream (all of it, forever, when None); return the bytes written."""
    written = 0
    buffer: list[bytes] = []
    buffered = 0
    for block in stream:
        if count is not None and written + buffered + len(block) >= count:
            buffer.append(block[: count - written - buffered])
            out.write(b"".join(buffer))
            return count
        buffer.append(block)
        buffered += len(block)
        if buffered >= _CHUNK:
            out.write(b"".join(buffer))
            written += buffered
            buffer, buffered = [], 0
    raise AssertionError("unreachable")  # pragma: no cover - raw streams are endless


def export_round_seed(master: bytes, index: int) -> CertifiedSeed:
    """The certified-v1 seed of export round `index`."""
    return CertifiedSeed(hmac.new(master, EXPORT_ROUND_LABEL + index.to_bytes(8, "big"), hashlib.sha256).digest())


def outcome_lines(
    version: str,
    game: str,
    count: int,
    params: GameParams,
    *,
    seed: bytes,
    server_seed: str = "",
    client_seed: str = "",
) -> Iterator[str]:
    """`round,outcome` lines of `count` rounds (a header line first)."""
    implementation = rng_version(version)
    yield "round,outcome"
    for index in range(count):
        seeds: object
        if version == certified_v1.NAME:
            seeds = export_round_seed(seed, index)
        else:
            seeds = BetSeeds(ServerSeed(server_seed), client_seed, index)
        yield f"{index},{outcome_text(game, implementation.play(game, seeds, params))}"
