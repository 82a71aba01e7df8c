"""Exact RTP of a slot definition over its reel strips — no simulation.

Each reel stops uniformly on its strip, independently of the other reels. Any fixed row of a reel therefore shows
each symbol with probability (copies on the strip) / (strip length), and every payline has the same distribution:
the line part is the expected line win of ONE line (per line bet), computed by walking prefixes of symbols reel by
reel with their probabilities and stopping as soon as the run is broken. The scatter part convolves, reel by reel,
the distribution of the number of scatters visible in that reel's window. Free spins are played on the same reels:
if a base spin awards `a` free spins on average, each free spin awards `a` again, so a spin is followed by
a / (1 - a) free spins in expectation, each worth multiplier * (line + scatter part).
"""

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from croupier.games.slots.definition import InvalidSlotDefinition, SlotDefinition
from croupier.games.slots.evaluate import line_win, run_is_open


@dataclass(frozen=True)
class SlotRtp:
    line: Fraction
    scatter: Fraction
    free_spins: Fraction
    free_spins_per_spin: Fraction  # expected free spins awarded by one spin

    @property
    def total(self) -> Fraction:
        return self.line + self.scatter + self.free_spins


def symbol_probabilities(strip: tuple[str, ...]) -> dict[str, Fraction]:
    return {s: Fraction(n, len(strip)) for s, n in Counter(strip).items()}


def line_rtp(definition: SlotDefinition) -> Fraction:
    """Expected win of one payline, in line bets (the line part of the RTP)."""
    reels = [symbol_probabilities(strip) for strip in definition.reels]
    total = Fraction(0)
    stack: list[tuple[tuple[str, ...], Fraction]] = [((), Fraction(1))]
    while stack:
        prefix, probability = stack.pop()
        if len(prefix) == len(reels) or (prefix and not run_is_open(definition, prefix)):
            total += probability * line_win(definition, prefix)[2]
            continue
        for symbol, p in reels[len(prefix)].items():
            stack.append(((*prefix, symbol), probability * p))
    return total


def scatter_count_distribution(definition: SlotDefinition) -> dict[int, Fraction]:
    """P(n scatters visible) by convolving each reel's distribution of scatters in its window."""
    distribution = {0: Fraction(1)}
    if definition.scatter is None:
        return distribution
    for strip in definition.reels:
        counts = Counter(
            sum(strip[(stop + row) % len(strip)] == definition.scatter for row in range(definition.rows))
            for stop in range(len(strip))
        )
        reel = {n: Fraction(c, len(strip)) for n, c in counts.items()}
        merged: dict[int, Fraction] = {}
        for a, pa in distribution.items():
            for b, pb in reel.items():
                merged[a + b] = merged.get(a + b, Fraction(0)) + pa * pb
        distribution = merged
    return distribution


def slot_rtp(definition: SlotDefinition) -> SlotRtp:
    line = line_rtp(definition)
    scatters = scatter_count_distribution(definition)
    scatter = sum((p * definition.scatter_pays.get(n, Fraction(0)) for n, p in scatters.items()), Fraction(0))
    free = Fraction(0)
    awarded = Fraction(0)
    if definition.free_spins is not None:
        awarded = sum((p * definition.free_spins.awards.get(n, 0) for n, p in scatters.items()), Fraction(0))
        if awarded >= 1:
            raise InvalidSlotDefinition("free spins award one or more spins per spin on average: play never ends")
        free = awarded / (1 - awarded) * definition.free_spins.multiplier * (line + scatter)
    return SlotRtp(line=line, scatter=scatter, free_spins=free, free_spins_per_spin=awarded)
