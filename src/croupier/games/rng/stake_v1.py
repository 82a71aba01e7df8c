"""`stake-v1`: the public provably fair scheme of the large crypto casinos, bit for bit.

The normative text is /work/shared/reference/provably-fair.md (summarised in docs/provably-fair.md):

    digest_k = HMAC_SHA256(key=server_seed as UTF-8 text, message=f"{client_seed}:{nonce}:{k}"), k = 0, 1, ...
    every 4 bytes b0..b3 give f = b0/256 + b1/256^2 + b2/256^3 + b3/256^4, a digest gives 8 floats.

Exactness. Every f is u / 2^32 for the 32-bit big-endian integer u, which a binary64 float holds exactly, and the
verifiers' sum of four exact powers-of-two fractions is that same number. floor(f * N) for N <= 10001 multiplies
u by N (< 2^46, exact in binary64) and divides by a power of two, so it equals the integer (u * N) >> 32 that we
compute. Limbo is the one formula whose result depends on rounding: third-party verifiers evaluate
1e8 / (f * 1e8) * 0.99 and floor(x * 100) in IEEE-754 binary64 with round-to-nearest-even, left to right. Python's
float operations are the same IEEE-754 operations, so `limbo_multiplier` performs exactly that sequence of float
operations (no fused multiply-add, no reassociation, no Decimal) and only then turns the integer number of
hundredths into an exact Decimal. tests/games/test_stake_v1.py re-derives every step with correctly rounded
Fraction arithmetic to prove it.

Slots are not in the reference; the mapping follows its pattern: one float per reel, stop = floor(f * strip
length), reel by reel; free spins continue the same bet's float stream (spin i uses the next `reels` floats).

This module is frozen: a changed outcome would be a new RNG version (adding a game's mapping changes none).
"""

import hashlib
import hmac
import math
from collections.abc import Iterator, Sequence
from decimal import Decimal

from croupier.games.rng.outcomes import (
    DECK_SIZE,
    KENO_DRAWN,
    KENO_SQUARES,
    LIMBO_INFINITE,
    MINES_TILES,
    BlackjackDeal,
    Card,
    PlinkoDrop,
    check_card_count,
    check_mines,
    check_plinko_rows,
)

NAME = "stake-v1"
FLOATS_PER_DIGEST = 8
MINES_FLOATS = 24
SLOT_MAX_STRIP = 2**20
_TWO_32 = 2**32


def digests(server_seed: str, client_seed: str, nonce: int) -> Iterator[bytes]:
    """digest_0, digest_1, ... of one bet (endless; callers take what they need)."""
    if nonce < 0:
        raise ValueError("the nonce is a non-negative integer")
    key = server_seed.encode()
    k = 0
    while True:
        yield hmac.new(key, f"{client_seed}:{nonce}:{k}".encode(), hashlib.sha256).digest()
        k += 1


def words(server_seed: str, client_seed: str, nonce: int, count: int) -> list[int]:
    """The first `count` 32-bit big-endian integers u of the bet's byte stream (f = u / 2^32)."""
    result: list[int] = []
    for digest in digests(server_seed, client_seed, nonce):
        for offset in range(0, 32, 4):
            if len(result) == count:
                return result
            result.append(int.from_bytes(digest[offset : offset + 4], "big"))
    raise AssertionError("unreachable")  # pragma: no cover - the digest stream is endless


def word_stream(server_seed: str, client_seed: str, nonce: int) -> Iterator[int]:
    """Every 32-bit word u of the bet's byte stream in order, without end (f = u / 2^32)."""
    for digest in digests(server_seed, client_seed, nonce):
        for offset in range(0, 32, 4):
            yield int.from_bytes(digest[offset : offset + 4], "big")


def floats(server_seed: str, client_seed: str, nonce: int, count: int) -> list[float]:
    """The first `count` floats f in [0, 1) of a bet, exactly as the verifiers compute them."""
    if count == 0:
        return []
    return [word / _TWO_32 for word in words(server_seed, client_seed, nonce, count)]


def _word(f: float) -> int:
    """u for f = u / 2^32; refuses floats the byte stream cannot produce."""
    scaled = f * _TWO_32
    if not (0.0 <= f < 1.0) or scaled != math.floor(scaled):
        raise ValueError(f"{f!r} is not a float of the byte stream (a multiple of 2^-32 in [0, 1))")
    return int(scaled)


def scale(f: float, n: int) -> int:
    """floor(f * n), computed exactly."""
    return (_word(f) * n) >> 32


def dice_roll(f: float) -> Decimal:
    """floor(f * 10001) / 100: 0.00 … 100.00."""
    return Decimal(scale(f, 10001)).scaleb(-2)


def limbo_multiplier(f: float) -> Decimal:
    """max(floor(1e8 / (f * 1e8) * 0.99 * 100) / 100, 1.00), float operations in the verifiers' order."""
    _word(f)
    if f == 0.0:
        return LIMBO_INFINITE
    x = 1e8 / (f * 1e8) * 0.99
    hundredths = math.floor(x * 100)
    return Decimal(max(hundredths, 100)).scaleb(-2)


def roulette_pocket(f: float) -> int:
    """European wheel: floor(f * 37), 0..36."""
    return scale(f, 37)


def plinko_drop(fs: Sequence[float], rows: int) -> PlinkoDrop:
    """One float per row, floor(f * 2): 0 left, 1 right."""
    check_plinko_rows(rows)
    if len(fs) < rows:
        raise ValueError(f"plinko with {rows} rows needs {rows} floats")
    return PlinkoDrop(tuple(scale(f, 2) for f in fs[:rows]))


def _without_replacement(fs: Sequence[float], items: list[int], picks: int) -> tuple[int, ...]:
    if len(fs) < picks:
        raise ValueError(f"the draw needs {picks} floats")
    remaining = list(items)
    return tuple(remaining.pop(scale(f, len(remaining))) for f in fs[:picks])


def keno_draw(fs: Sequence[float]) -> tuple[int, ...]:
    """10 of the squares 1..40: pick index floor(f * remaining) of the remaining squares and remove it."""
    return _without_replacement(fs, list(range(1, KENO_SQUARES + 1)), KENO_DRAWN)


def mines_positions(fs: Sequence[float], mines: int) -> tuple[int, ...]:
    """The same draw over tiles 0..24 (row-major) with 24 floats; the first `mines` picks are the mines."""
    check_mines(mines)
    order = _without_replacement(fs, list(range(MINES_TILES)), MINES_FLOATS)
    return order[:mines]


def card(f: float) -> Card:
    """Infinite deck: floor(f * 52) in the order ♦2 ♥2 ♠2 ♣2 ♦3 … ♣A."""
    return Card(scale(f, DECK_SIZE))


# Whole bets from the seeds.


def dice(server_seed: str, client_seed: str, nonce: int) -> Decimal:
    return dice_roll(floats(server_seed, client_seed, nonce, 1)[0])


def limbo(server_seed: str, client_seed: str, nonce: int) -> Decimal:
    return limbo_multiplier(floats(server_seed, client_seed, nonce, 1)[0])


def roulette(server_seed: str, client_seed: str, nonce: int) -> int:
    return roulette_pocket(floats(server_seed, client_seed, nonce, 1)[0])


def plinko(server_seed: str, client_seed: str, nonce: int, rows: int) -> PlinkoDrop:
    check_plinko_rows(rows)
    return plinko_drop(floats(server_seed, client_seed, nonce, rows), rows)


def keno(server_seed: str, client_seed: str, nonce: int) -> tuple[int, ...]:
    return keno_draw(floats(server_seed, client_seed, nonce, KENO_DRAWN))


def mines(server_seed: str, client_seed: str, nonce: int, mines: int) -> tuple[int, ...]:
    return mines_positions(floats(server_seed, client_seed, nonce, MINES_FLOATS), mines)


def cards(server_seed: str, client_seed: str, nonce: int, count: int) -> tuple[Card, ...]:
    check_card_count(count)
    return tuple(card(f) for f in floats(server_seed, client_seed, nonce, count))


def blackjack(server_seed: str, client_seed: str, nonce: int, count: int = DECK_SIZE) -> BlackjackDeal:
    """The first two floats are the player's cards, the next two the dealer's, then cards in order of play."""
    check_card_count(max(count, 4))
    dealt = cards(server_seed, client_seed, nonce, max(count, 4))
    return BlackjackDeal(player=(dealt[0], dealt[1]), dealer=(dealt[2], dealt[3]), next=dealt[4:])


def check_strips(strip_lengths: Sequence[int]) -> tuple[int, ...]:
    """Reel strip lengths: at least one reel, each 1 … 2^20 symbols (floor(f * n) then stays exact in binary64)."""
    lengths = tuple(strip_lengths)
    if not lengths or not all(isinstance(n, int) and 1 <= n <= SLOT_MAX_STRIP for n in lengths):
        raise ValueError(f"a slot has at least one reel of 1 to {SLOT_MAX_STRIP} symbols")
    return lengths


def slot_stops(fs: Sequence[float], strip_lengths: Sequence[int]) -> tuple[int, ...]:
    """One spin: one float per reel, stop = floor(f * strip length)."""
    lengths = check_strips(strip_lengths)
    if len(fs) < len(lengths):
        raise ValueError(f"a spin of {len(lengths)} reels needs {len(lengths)} floats")
    return tuple(scale(f, n) for f, n in zip(fs, lengths, strict=False))


def slots(server_seed: str, client_seed: str, nonce: int, strip_lengths: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """The stops of spin 0 (the paid spin), 1, 2, … (free spins of the same bet), without end.

    Spin i uses floats i * reels … i * reels + reels - 1 of the bet: free spins continue the float stream.
    """
    lengths = check_strips(strip_lengths)
    stream = word_stream(server_seed, client_seed, nonce)
    while True:
        yield tuple((next(stream) * n) >> 32 for n in lengths)
