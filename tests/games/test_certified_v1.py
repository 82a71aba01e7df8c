"""certified-v1: the documented stream, exact rejection sampling, and chi-square uniformity of scaled outcomes."""

import hashlib
import hmac
import math
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest

from croupier.games.rng import certified_v1
from croupier.games.rng.certified_v1 import CertifiedStream, rejection_limit
from croupier.games.rng.export import export_round_seed
from croupier.games.rng.versions import CertifiedSeed, CertifiedV1

MASTER = bytes.fromhex("c0ffee" * 10 + "00")[:32]
Z_0001 = 3.090232306167813  # standard normal quantile of 1 - 0.001


def chi_square_critical(degrees: int) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile at p = 0.001 (good to < 1% for df >= 30)."""
    k = degrees
    return k * (1 - 2 / (9 * k) + Z_0001 * math.sqrt(2 / (9 * k))) ** 3


def chi_square(counts: Counter[int], cells: range) -> float:
    total = sum(counts.values())
    expected = total / len(cells)
    assert set(counts) <= set(cells)
    return sum((counts.get(cell, 0) - expected) ** 2 / expected for cell in cells)


def rounds(count: int) -> Iterator[bytes]:
    for index in range(count):
        yield export_round_seed(MASTER, index).seed


class FixedWords(CertifiedStream):
    def __init__(self, words: list[int]) -> None:
        super().__init__(bytes(32))
        self._words = iter(words)

    def word(self) -> int:
        return next(self._words)


def test_stream_when_reimplemented_from_the_docs_is_identical() -> None:
    seed = bytes(range(32))
    expected = b"".join(
        hmac.digest(seed, b"croupier/certified-v1" + i.to_bytes(8, "big"), hashlib.sha256) for i in range(4)
    )
    assert certified_v1.raw_bytes(seed, 100) == expected[:100]


def test_integers_when_reimplemented_from_the_docs_are_identical() -> None:
    seed = bytes(range(32))
    raw = certified_v1.raw_bytes(seed, 4000)
    words = iter(int.from_bytes(raw[i : i + 4], "big") for i in range(0, len(raw), 4))
    stream = CertifiedStream(seed)
    for n in (37, 10001, 52, 2, 40, 3_000_000_019, 2**32 - 5):
        limit = 2**32 - 2**32 % n
        word = next(words)
        while word >= limit:
            word = next(words)
        assert stream.below(n) == word % n


@pytest.mark.parametrize("n", [1, 2, 3, 37, 52, 10001, 2**31, 2**31 + 1, 3 * 2**30, 2**32 - 1, 2**32])
def test_rejection_limit_when_computed_is_the_largest_multiple_of_n(n: int) -> None:
    limit = rejection_limit(n)
    assert limit % n == 0
    assert 0 <= 2**32 - limit < n


def test_below_when_word_is_in_the_rejection_zone_discards_it() -> None:
    limit = rejection_limit(37)  # 2^32 = 37 * 116080197 + 7, so 2^32 - 7
    assert limit == 4294967289
    stream = FixedWords([2**32 - 1, limit, limit - 1])
    assert stream.below(37) == (limit - 1) % 37 == 36
    assert stream.rejected == 2


def test_below_when_words_span_the_accepted_zone_reaches_every_value_equally() -> None:
    for n in (37, 52, 10001):
        limit = rejection_limit(n)
        # Every value has exactly limit / n preimages in [0, limit); the last n accepted words hit each value once.
        stream = FixedWords(list(range(limit - n, limit)))
        assert sorted(stream.below(n) for _ in range(n)) == list(range(n))
        assert limit // n * n == limit


def test_below_when_n_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="draw below"):
        rejection_limit(0)
    with pytest.raises(ValueError, match="draw below"):
        rejection_limit(2**32 + 1)


def test_limbo_when_r_is_extreme_stays_exact() -> None:
    assert certified_v1.limbo_from_numerator(2**52) == Decimal("1.00")
    assert certified_v1.limbo_from_numerator(2**51) == Decimal("1.98")
    assert certified_v1.limbo_from_numerator(1) == Decimal(99 * 2**52).scaleb(-2)
    assert FixedWords([0, 0]).unit_numerator() == 1
    assert FixedWords([2**32 - 1, 2**32 - 1]).unit_numerator() == 2**52


def test_roulette_when_many_rounds_is_uniform() -> None:
    counts = Counter(CertifiedV1().roulette(CertifiedSeed(s)) for s in rounds(37 * 200))
    assert chi_square(counts, range(37)) < chi_square_critical(36)


def test_dice_when_many_rounds_is_uniform() -> None:
    counts = Counter(int(certified_v1.dice(s) * 100) for s in rounds(10001 * 5))
    assert len(counts) > 9900
    assert chi_square(counts, range(10001)) < chi_square_critical(10000)


def test_cards_when_many_rounds_are_uniform() -> None:
    counts = Counter(card.index for s in rounds(200) for card in certified_v1.cards(s, 52))
    assert chi_square(counts, range(52)) < chi_square_critical(51)


def test_keno_when_many_rounds_every_draw_position_is_uniform() -> None:
    draws = [certified_v1.keno(s) for s in rounds(4000)]
    for position in (0, 4, 9):
        counts = Counter(draw[position] for draw in draws)
        assert chi_square(counts, range(1, 41)) < chi_square_critical(39)
    assert all(len(set(draw)) == 10 for draw in draws)


def test_mines_when_many_rounds_every_pick_is_uniform() -> None:
    picks = [certified_v1.mines(s, 24) for s in rounds(2500)]
    for position in (0, 12, 23):
        counts = Counter(pick[position] for pick in picks)
        assert chi_square(counts, range(25)) < chi_square_critical(24) * 1.02  # WH is ~1% low at df 24
    assert all(len(set(pick)) == 24 for pick in picks)


def test_plinko_when_many_rounds_each_row_is_a_fair_coin() -> None:
    drops = [certified_v1.plinko(s, 16) for s in rounds(4000)]
    for row in range(16):
        rights = sum(drop.path[row] for drop in drops)
        assert abs(rights - 2000) < 3.3 * math.sqrt(1000)  # |z| < 3.3 is p ~ 0.001
