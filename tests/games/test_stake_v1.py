"""stake-v1 against an independent re-implementation of the reference (hmac.digest + struct + Fraction)."""

import hmac
import math
import struct
from decimal import Decimal
from fractions import Fraction

import pytest

from croupier.games.rng import stake_v1
from croupier.games.rng.outcomes import LIMBO_INFINITE

LAST = 1 - 2**-32
SERVER_SEEDS = [f"{i:064x}" for i in (0, 1, 0xDEADBEEF, 2**255 + 12345)] + ["server seed with spaces é", "x" * 64]
CLIENT_SEEDS = ["client", "player-seed-0123", "é:ü"]
NONCES = [0, 1, 2, 7, 41, 1000, 2**32 + 3]
CASES = [(s, c, n) for s in SERVER_SEEDS for c in CLIENT_SEEDS for n in NONCES]


def ref_fractions(server_seed: str, client_seed: str, nonce: int, count: int) -> list[Fraction]:
    """The reference byte stream, f = b0/256 + b1/256^2 + b2/256^3 + b3/256^4 as exact fractions."""
    out: list[Fraction] = []
    k = 0
    while len(out) < count:
        digest = hmac.digest(server_seed.encode("utf-8"), f"{client_seed}:{nonce}:{k}".encode(), "sha256")
        for group in struct.iter_unpack("4B", digest):
            out.append(sum((Fraction(b, 256 ** (i + 1)) for i, b in enumerate(group)), Fraction(0)))
        k += 1
    return out[:count]


def ieee(value: Fraction) -> Fraction:
    """Round to the nearest binary64 (ties to even): int / int true division is correctly rounded."""
    return Fraction(value.numerator / value.denominator)


def ref_limbo(f: Fraction) -> Decimal:
    """The verifiers' binary64 evaluation of 1e8 / (f * 1e8) * 0.99, floor(x * 100) / 100, at least 1.00."""
    if f == 0:
        return LIMBO_INFINITE
    x = ieee(ieee(Fraction(10**8) / ieee(f * Fraction(10**8))) * Fraction(0.99))
    hundredths = math.floor(ieee(x * 100))
    return Decimal(max(hundredths, 100)) / 100


def ref_without_replacement(fs: list[Fraction], items: list[int], picks: int) -> list[int]:
    remaining = list(items)
    return [remaining.pop(math.floor(f * len(remaining))) for f in fs[:picks]]


def test_floats_when_computed_independently_match_exactly() -> None:
    for server, client, nonce in CASES:
        expected = ref_fractions(server, client, nonce, 20)  # crosses into digest_1 and digest_2
        assert [Fraction(f) for f in stake_v1.floats(server, client, nonce, 20)] == expected


@pytest.mark.parametrize(("server", "client", "nonce"), CASES[:: len(NONCES)])
def test_every_game_when_computed_independently_matches(server: str, client: str, nonce: int) -> None:
    for n in (nonce, nonce + 1, nonce + 5):
        fs = ref_fractions(server, client, n, 52)
        assert stake_v1.dice(server, client, n) == Decimal(math.floor(fs[0] * 10001)) / 100
        assert stake_v1.limbo(server, client, n) == ref_limbo(fs[0])
        assert stake_v1.roulette(server, client, n) == math.floor(fs[0] * 37)
        for rows in range(8, 17):
            drop = stake_v1.plinko(server, client, n, rows)
            assert list(drop.path) == [math.floor(f * 2) for f in fs[:rows]]
            assert drop.slot == sum(math.floor(f * 2) for f in fs[:rows])
        assert list(stake_v1.keno(server, client, n)) == ref_without_replacement(fs, list(range(1, 41)), 10)
        order = ref_without_replacement(fs, list(range(25)), 24)
        for m in (1, 3, 24):
            assert list(stake_v1.mines(server, client, n, m)) == order[:m]
        assert [c.index for c in stake_v1.cards(server, client, n, 52)] == [math.floor(f * 52) for f in fs]
        deal = stake_v1.blackjack(server, client, n, 10)
        indexes = [math.floor(f * 52) for f in fs[:10]]
        assert [c.index for c in (*deal.player, *deal.dealer, *deal.next)] == indexes


def test_limbo_when_many_floats_matches_binary64_reference() -> None:
    for server, client, nonce in CASES:
        for f in ref_fractions(server, client, nonce, 24):
            assert stake_v1.limbo_multiplier(float(f)) == ref_limbo(f)


def test_limbo_when_float_products_round_matches_binary64_not_exact_math() -> None:
    # Floats whose binary64 evaluation and exact arithmetic disagree: 0.99 / f is just below a whole hundredth.
    disagreements = 0
    for u in range(1, 200_000, 7):
        f = Fraction(u, 2**32)
        exact = max(math.floor(Fraction(99, 1) / f), 100)
        assert stake_v1.limbo_multiplier(float(f)) == ref_limbo(f)
        disagreements += ref_limbo(f) != Decimal(exact) / 100
    assert disagreements > 0  # the verifiers' float formula is what we match, and it differs from exact math


def test_mappings_when_f_is_zero_give_the_lowest_outcomes() -> None:
    assert stake_v1.dice_roll(0.0) == Decimal("0.00")
    assert stake_v1.roulette_pocket(0.0) == 0
    assert stake_v1.limbo_multiplier(0.0) == LIMBO_INFINITE
    assert stake_v1.card(0.0).label == "♦2"
    assert stake_v1.plinko_drop([0.0] * 16, 16).slot == 0
    assert stake_v1.keno_draw([0.0] * 10) == tuple(range(1, 11))
    assert stake_v1.mines_positions([0.0] * 24, 5) == (0, 1, 2, 3, 4)


def test_mappings_when_f_is_the_largest_float_give_the_highest_outcomes() -> None:
    assert stake_v1.dice_roll(LAST) == Decimal("100.00")
    assert stake_v1.roulette_pocket(LAST) == 36
    assert stake_v1.limbo_multiplier(LAST) == Decimal("1.00")
    assert stake_v1.card(LAST).label == "♣A"
    assert stake_v1.plinko_drop([LAST] * 8, 8).slot == 8
    assert stake_v1.keno_draw([LAST] * 10) == tuple(range(40, 30, -1))
    assert stake_v1.mines_positions([LAST] * 24, 3) == (24, 23, 22)


def test_mappings_when_f_is_one_half_give_hand_computed_outcomes() -> None:
    # floor(0.5 * 10001) = 5000; floor(0.5 * 37) = 18; 1e8 / 5e7 * 0.99 = 1.98; floor(0.5 * 52) = 26 = ♠8.
    assert stake_v1.dice_roll(0.5) == Decimal("50.00")
    assert stake_v1.roulette_pocket(0.5) == 18
    assert stake_v1.limbo_multiplier(0.5) == Decimal("1.98")
    assert stake_v1.card(0.5).label == "♠8"
    assert stake_v1.limbo_multiplier(0.25) == Decimal("3.96")
    assert stake_v1.limbo_multiplier(127 / 128) == Decimal("1.00")  # 0.99 * 128 / 127 < 1


def test_limbo_when_f_is_three_quarters_follows_binary64_rounding() -> None:
    # Exact math gives 1e8 / 7.5e7 * 0.99 = 1.32, but in binary64 1e8 / 7.5e7 = 1.3333333333333333,
    # * 0.99 = 1.3199999999999998, * 100 = 131.99999999999997, floor -> 131: the verifiers show 1.31.
    assert stake_v1.limbo_multiplier(0.75) == Decimal("1.31")


def test_limbo_when_f_is_the_smallest_nonzero_float_is_finite() -> None:
    # 1e8 / (2^-32 * 1e8) * 0.99 = 0.99 * 2^32 = 4252017623.04 -> floor to hundredths.
    assert stake_v1.limbo_multiplier(2**-32) == Decimal("4252017623.04")


def test_bytes_when_hand_decoded_give_the_float() -> None:
    # The first 4 bytes of the first digest, decoded by hand from the hex.
    digest = hmac.digest(b"a", b"b:0:0", "sha256")
    b0, b1, b2, b3 = digest[:4]
    assert stake_v1.floats("a", "b", 0, 1)[0] == b0 / 256 + b1 / 256**2 + b2 / 256**3 + b3 / 256**4


def test_mapping_when_float_is_not_from_the_stream_is_refused() -> None:
    with pytest.raises(ValueError, match="not a float of the byte stream"):
        stake_v1.dice_roll(0.1)
    with pytest.raises(ValueError, match="not a float of the byte stream"):
        stake_v1.roulette_pocket(1.0)


def test_parameters_when_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="8 to 16 rows"):
        stake_v1.plinko("a", "b", 0, 7)
    with pytest.raises(ValueError, match="1 to 24 mines"):
        stake_v1.mines("a", "b", 0, 25)
    with pytest.raises(ValueError, match="non-negative"):
        stake_v1.floats("a", "b", -1, 1)
