"""`certified-v1`: a CSPRNG with exactly uniform scaling, for regulated brands (docs/adr/0007-rng-versions.md).

Seeding: every round draws a fresh 256-bit seed from the operating system's CSPRNG (`secrets.token_bytes`, i.e.
os.urandom / getrandom(2)) and the round log stores it as 64 hex characters. Nothing else enters the round.

Raw stream: HMAC-SHA256 in counter mode keyed by the seed,

    block_i = HMAC_SHA256(key=seed (32 bytes), message=b"croupier/certified-v1" || i as 8 bytes big-endian)

for i = 0, 1, 2, ...; the stream is block_0 || block_1 || ... .

Integers: the stream is read as 32-bit big-endian words w. An integer in [0, n), 1 <= n <= 2^32, is drawn as:
limit = 2^32 - (2^32 mod n); take the next word w; if w >= limit discard it and take the next; return w mod n.
[0, limit) holds exactly limit / n words per value, so every value is exactly equally probable.

Games, each from its own round stream in this order of draws:
- dice: below(10001) / 100; roulette: below(37); plinko: below(2) per row (0 left, 1 right);
- keno: for i in 0..9 pick index below(40 - i) of the remaining squares 1..40 (in increasing order) and remove it;
- mines: the same over tiles 0..24 for m picks: the picks are the mines;
- cards: below(52) per card (infinite deck, ♦2 ♥2 ♠2 ♣2 ♦3 … ♣A); blackjack: player, player, dealer, dealer, then
  cards in order of play;
- slots: below(strip length) per reel, reel by reel, for spin 0 (the paid spin) then each free spin of the round
  in order, all from the one round stream;
- limbo: r = 1 + (the next two words as a 64-bit big-endian integer >> 12), uniform on 1..2^52 (no rejection
  needed since 2^52 divides 2^64); hundredths = max(floor(99 * 2^52 / r), 100); multiplier = hundredths / 100.
  This is floor(100 * 0.99 / f) for f = r / 2^52 in (0, 1], in exact integer arithmetic.

This module is frozen: a changed outcome would be a new RNG version.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Sequence
from decimal import Decimal

from croupier.games.rng.outcomes import (
    DECK_SIZE,
    KENO_DRAWN,
    KENO_SQUARES,
    MINES_TILES,
    BlackjackDeal,
    Card,
    PlinkoDrop,
    check_card_count,
    check_mines,
    check_plinko_rows,
)

NAME = "certified-v1"
SEED_BYTES = 32
LABEL = b"croupier/certified-v1"
BLOCK_BYTES = 32
_TWO_32 = 2**32
SLOT_MAX_STRIP = 2**20


def new_seed() -> bytes:
    """A fresh round seed from the OS CSPRNG."""
    return secrets.token_bytes(SEED_BYTES)


def parse_seed(seed_hex: str) -> bytes:
    """The round seed from its logged form (64 hex characters)."""
    seed = bytes.fromhex(seed_hex)
    if len(seed) != SEED_BYTES:
        raise ValueError("a certified-v1 seed is 32 bytes (64 hex characters)")
    return seed


def blocks(seed: bytes, start: int = 0) -> Iterator[bytes]:
    """block_start, block_start+1, ... of the raw stream."""
    if len(seed) != SEED_BYTES:
        raise ValueError("a certified-v1 seed is 32 bytes")
    # HMAC's keyed inner and outer states are computed once; copy() then costs two hash compressions per block.
    keyed = hmac.new(seed, digestmod=hashlib.sha256)
    counter = start
    while True:
        mac = keyed.copy()
        mac.update(LABEL + counter.to_bytes(8, "big"))
        yield mac.digest()
        counter += 1


def raw_bytes(seed: bytes, count: int) -> bytes:
    """The first `count` bytes of the raw stream."""
    chunks: list[bytes] = []
    size = 0
    for block in blocks(seed):
        if size >= count:
            break
        chunks.append(block)
        size += len(block)
    return b"".join(chunks)[:count]


def rejection_limit(n: int) -> int:
    """Words w >= this limit are discarded when drawing below n: the largest multiple of n not above 2^32."""
    if not 1 <= n <= _TWO_32:
        raise ValueError(f"draw below 1 to 2^32, not {n}")
    return _TWO_32 - _TWO_32 % n


class CertifiedStream:
    """The integer draws of one round, in order."""

    def __init__(self, seed: bytes) -> None:
        self._blocks = blocks(seed)
        self._block = b""
        self._offset = BLOCK_BYTES
        self.words_used = 0
        self.rejected = 0

    def word(self) -> int:
        """The next 32-bit big-endian word of the raw stream."""
        if self._offset == BLOCK_BYTES:
            self._block = next(self._blocks)
            self._offset = 0
        word = int.from_bytes(self._block[self._offset : self._offset + 4], "big")
        self._offset += 4
        self.words_used += 1
        return word

    def below(self, n: int) -> int:
        """An integer in [0, n), every value exactly equally probable (rejection sampling)."""
        limit = rejection_limit(n)
        while True:
            word = self.word()
            if word < limit:
                return word % n
            self.rejected += 1

    def unit_numerator(self) -> int:
        """r uniform on 1..2^52 (f = r / 2^52 in (0, 1])."""
        wide = (self.word() << 32) | self.word()
        return (wide >> 12) + 1


def _without_replacement(stream: CertifiedStream, items: list[int], picks: int) -> tuple[int, ...]:
    remaining = list(items)
    return tuple(remaining.pop(stream.below(len(remaining))) for _ in range(picks))


def dice(seed: bytes) -> Decimal:
    return Decimal(CertifiedStream(seed).below(10001)).scaleb(-2)


def limbo_from_numerator(r: int) -> Decimal:
    """max(floor(99 * 2^52 / r), 100) hundredths, for r in 1..2^52."""
    if not 1 <= r <= 2**52:
        raise ValueError("r is in 1..2^52")
    return Decimal(max(99 * 2**52 // r, 100)).scaleb(-2)


def limbo(seed: bytes) -> Decimal:
    return limbo_from_numerator(CertifiedStream(seed).unit_numerator())


def roulette(seed: bytes) -> int:
    return CertifiedStream(seed).below(37)


def plinko(seed: bytes, rows: int) -> PlinkoDrop:
    check_plinko_rows(rows)
    stream = CertifiedStream(seed)
    return PlinkoDrop(tuple(stream.below(2) for _ in range(rows)))


def keno(seed: bytes) -> tuple[int, ...]:
    return _without_replacement(CertifiedStream(seed), list(range(1, KENO_SQUARES + 1)), KENO_DRAWN)


def mines(seed: bytes, mines: int) -> tuple[int, ...]:
    check_mines(mines)
    return _without_replacement(CertifiedStream(seed), list(range(MINES_TILES)), mines)


def cards(seed: bytes, count: int) -> tuple[Card, ...]:
    check_card_count(count)
    stream = CertifiedStream(seed)
    return tuple(Card(stream.below(DECK_SIZE)) for _ in range(count))


def blackjack(seed: bytes, count: int = DECK_SIZE) -> BlackjackDeal:
    dealt = cards(seed, max(count, 4))
    return BlackjackDeal(player=(dealt[0], dealt[1]), dealer=(dealt[2], dealt[3]), next=dealt[4:])


def slots(seed: bytes, strip_lengths: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """The stops of spin 0 (the paid spin), 1, 2, … (free spins of the round), without end."""
    lengths = tuple(strip_lengths)
    if not lengths or not all(isinstance(n, int) and 1 <= n <= SLOT_MAX_STRIP for n in lengths):
        raise ValueError(f"a slot has at least one reel of 1 to {SLOT_MAX_STRIP} symbols")
    stream = CertifiedStream(seed)
    while True:
        yield tuple(stream.below(n) for n in lengths)
