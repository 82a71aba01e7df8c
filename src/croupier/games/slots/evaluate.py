"""Evaluate one spin: line wins (left to right, wild substitutes), scatter wins anywhere, free spins awarded."""

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from croupier.games.slots.definition import SlotDefinition


@dataclass(frozen=True)
class LineWin:
    line: int
    symbol: str
    count: int
    multiplier: Fraction  # of the line bet


@dataclass(frozen=True)
class SpinOutcome:
    window: tuple[tuple[str, ...], ...]
    line_wins: tuple[LineWin, ...]
    scatter_count: int
    scatter_multiplier: Fraction  # of the total bet
    free_spins_awarded: int

    def return_multiplier(self, lines: int, win_multiplier: Fraction = Fraction(1)) -> Fraction:
        """The spin's return as a multiple of the total bet (= lines * line bet), before money rounding."""
        line_total = sum((w.multiplier for w in self.line_wins), Fraction(0))
        return (line_total / lines + self.scatter_multiplier) * win_multiplier


def line_win(definition: SlotDefinition, symbols: Sequence[str]) -> tuple[str, int, Fraction]:
    """The best left-to-right win on a sequence of symbols: (symbol, count, multiplier of the line bet).

    Wilds substitute for every symbol but the scatter; a run of leading wilds may also pay as wilds. A prefix that
    has been broken by a non-matching symbol is evaluated the same as the full line, which the exact RTP uses.
    """
    wild, scatter, pays = definition.wild, definition.scatter, definition.line_pays
    leading_wilds = 0
    while leading_wilds < len(symbols) and symbols[leading_wilds] == wild:
        leading_wilds += 1
    best: tuple[str, int, Fraction] = ("", 0, Fraction(0))
    if wild is not None and leading_wilds:
        paid = pays.get(wild, {}).get(leading_wilds, Fraction(0))
        best = (wild, leading_wilds, paid)
    if leading_wilds < len(symbols):
        symbol = symbols[leading_wilds]
        if symbol != scatter:
            count = leading_wilds
            while count < len(symbols) and symbols[count] in (symbol, wild):
                count += 1
            paid = pays.get(symbol, {}).get(count, Fraction(0))
            if paid > best[2]:
                best = (symbol, count, paid)
    return best


def run_is_open(definition: SlotDefinition, prefix: Sequence[str]) -> bool:
    """Whether more reels could still change the line win of this prefix."""
    wild = definition.wild
    if all(s == wild for s in prefix):
        return True
    first = next(s for s in prefix if s != wild)
    return first != definition.scatter and all(s in (first, wild) for s in prefix)


def evaluate_spin(definition: SlotDefinition, stops: Sequence[int]) -> SpinOutcome:
    window = definition.window(list(stops))
    wins = []
    for index, line in enumerate(definition.paylines):
        symbol, count, paid = line_win(definition, [window[reel][row] for reel, row in enumerate(line)])
        if paid:
            wins.append(LineWin(index, symbol, count, paid))
    scatters = sum(column.count(definition.scatter) for column in window) if definition.scatter else 0
    free = definition.free_spins.awards.get(scatters, 0) if definition.free_spins else 0
    return SpinOutcome(
        window=window,
        line_wins=tuple(wins),
        scatter_count=scatters,
        scatter_multiplier=definition.scatter_pays.get(scatters, Fraction(0)),
        free_spins_awarded=free,
    )
