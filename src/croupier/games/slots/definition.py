"""A slot definition (reel strips, rows, paylines, pay tables) and its JSON loader; see docs/slots.md."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any


class InvalidSlotDefinition(ValueError):
    pass


@dataclass(frozen=True)
class FreeSpins:
    """Free spins awarded by scatter count; played on the same reels, wins times `multiplier`, retriggers allowed."""

    awards: Mapping[int, int]
    multiplier: Fraction = Fraction(1)


@dataclass(frozen=True)
class SlotDefinition:
    name: str
    rows: int
    reels: tuple[tuple[str, ...], ...]
    paylines: tuple[tuple[int, ...], ...]
    line_pays: Mapping[str, Mapping[int, Fraction]]  # symbol -> count -> multiplier of the line bet
    wild: str | None = None
    scatter: str | None = None
    scatter_pays: Mapping[int, Fraction] = field(default_factory=dict)  # count -> multiplier of the total bet
    free_spins: FreeSpins | None = None

    @property
    def reel_count(self) -> int:
        return len(self.reels)

    def window(self, stops: tuple[int, ...] | list[int]) -> tuple[tuple[str, ...], ...]:
        """The visible symbols, window[reel][row]: reel i shows strip[(stop + row) % len(strip)]."""
        if len(stops) != self.reel_count:
            raise ValueError(f"expected {self.reel_count} reel stops")
        shown = []
        for strip, stop in zip(self.reels, stops, strict=True):
            if not 0 <= stop < len(strip):
                raise ValueError(f"stop {stop} is outside a strip of {len(strip)} symbols")
            shown.append(tuple(strip[(stop + row) % len(strip)] for row in range(self.rows)))
        return tuple(shown)


def _multiplier(value: Any, where: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise InvalidSlotDefinition(f"{where}: a multiplier must be a number or a decimal string")
    try:
        result = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise InvalidSlotDefinition(f"{where}: {value!r} is not a number") from None
    if result < 0:
        raise InvalidSlotDefinition(f"{where}: multipliers must not be negative")
    return result


def _count_table(raw: Any, where: str, largest: int) -> dict[int, Fraction]:
    if not isinstance(raw, dict):
        raise InvalidSlotDefinition(f"{where} must be an object of count -> multiplier")
    table = {}
    for count, value in raw.items():
        if not str(count).isdigit() or not 1 <= int(count) <= largest:
            raise InvalidSlotDefinition(f"{where}: count {count!r} must be 1 … {largest}")
        table[int(count)] = _multiplier(value, f"{where}[{count}]")
    return table


def parse_definition(data: Mapping[str, Any]) -> SlotDefinition:
    """Validate a decoded definition; numbers should be decoded exactly (ints, Decimals or strings)."""
    try:
        rows = data["rows"]
        reels = data["reels"]
        paylines = data["paylines"]
        raw_line_pays = data["line_pays"]
    except KeyError as missing:
        raise InvalidSlotDefinition(f"missing key {missing}") from None
    if not isinstance(rows, int) or rows < 1:
        raise InvalidSlotDefinition("rows must be a positive integer")
    if not isinstance(reels, list) or not reels or not all(isinstance(r, list) and r for r in reels):
        raise InvalidSlotDefinition("reels must be a non-empty list of non-empty symbol lists")
    strips = tuple(tuple(str(s) for s in strip) for strip in reels)
    if not isinstance(paylines, list) or not paylines:
        raise InvalidSlotDefinition("paylines must be a non-empty list")
    lines = []
    for i, line in enumerate(paylines):
        if not isinstance(line, list) or len(line) != len(strips):
            raise InvalidSlotDefinition(f"payline {i} must name one row per reel")
        if not all(isinstance(r, int) and 0 <= r < rows for r in line):
            raise InvalidSlotDefinition(f"payline {i}: rows must be 0 … {rows - 1}")
        lines.append(tuple(line))
    symbols = {s for strip in strips for s in strip}
    wild = data.get("wild")
    scatter = data.get("scatter")
    for role, symbol in (("wild", wild), ("scatter", scatter)):
        if symbol is not None and symbol not in symbols:
            raise InvalidSlotDefinition(f"the {role} symbol {symbol!r} is on no reel")
    if wild is not None and wild == scatter:
        raise InvalidSlotDefinition("the wild and the scatter must differ")
    if not isinstance(raw_line_pays, dict):
        raise InvalidSlotDefinition("line_pays must be an object")
    line_pays = {}
    for symbol, table in raw_line_pays.items():
        if symbol not in symbols or symbol == scatter:
            raise InvalidSlotDefinition(f"line_pays: {symbol!r} is not a line symbol on the reels")
        line_pays[symbol] = _count_table(table, f"line_pays[{symbol}]", len(strips))
    window_size = rows * len(strips)
    scatter_pays = _count_table(data.get("scatter_pays", {}), "scatter_pays", window_size)
    if scatter_pays and scatter is None:
        raise InvalidSlotDefinition("scatter_pays needs a scatter symbol")
    free_spins = None
    if (raw_free := data.get("free_spins")) is not None:
        if scatter is None or not isinstance(raw_free, dict):
            raise InvalidSlotDefinition("free_spins needs a scatter symbol and an object {awards, multiplier}")
        awards = {}
        for count, spins in _count_table(raw_free.get("awards", {}), "free_spins.awards", window_size).items():
            if spins.denominator != 1:
                raise InvalidSlotDefinition("free_spins.awards: spins must be whole numbers")
            awards[count] = int(spins)
        free_spins = FreeSpins(awards, _multiplier(raw_free.get("multiplier", 1), "free_spins.multiplier"))
    return SlotDefinition(
        name=str(data.get("name", "unnamed")),
        rows=rows,
        reels=strips,
        paylines=tuple(lines),
        line_pays=line_pays,
        wild=wild,
        scatter=scatter,
        scatter_pays=scatter_pays,
        free_spins=free_spins,
    )


def load_definition(path: Path) -> SlotDefinition:
    """Read a JSON slot definition; decimals are read exactly (never through floats)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InvalidSlotDefinition(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidSlotDefinition(f"{path}: the definition must be a JSON object")
    return parse_definition(data)
