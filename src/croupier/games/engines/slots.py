"""Slots engine: reel slots from the shipped definition files (data/slots/*.json, format in docs/slots.md).

A round is the paid spin plus every free spin it awards, played at once inside the same round (retriggers
allowed) up to MAX_FREE_SPINS = 500 free spins per round; awards beyond the cap are forfeited and counted in the
outcome. The reel stops come from `RngVersion.slot_spins`: spin 0 is the paid spin, spin i the i-th free spin.

Params (player):   {"slot": definition name offered by the brand (the file name without .json, e.g. "fruit_five"),
                    "lines": int 1 … the definition's paylines, default all}
                   The first `lines` paylines are played; the stake must be a multiple of `lines`
                   (line bet = stake / lines). Scatter pays multiply the whole stake.
Settings (brand):  {"slots": [definition name, ...] offered, default ["fruit_five"]} (normalised sorted).
Actions:           none (settles at once).
Outcome:           {"rng": {"stops": [[3, 17, 0, 9, 21], ...]},   # every spin's reel stops, in order
                    "slot": "fruit_five", "lines": 10, "line_bet": int,
                    "spins": [{"free": bool,                       # false for the paid spin (the first)
                               "stops": [int per reel],
                               "window": [[symbol per row] per reel],   # window[reel][row]
                               "line_wins": [{"line": payline index, "symbol", "count",
                                              "multiplier": exact text of the line bet}],
                               "scatter_count": int, "scatter_multiplier": exact text of the stake,
                               "free_spins_awarded": int,
                               "multiplier": exact text,       # 1 on the paid spin, the free-spin multiplier after
                               "return": exact text}, ...],    # the spin's return as a multiple of the stake
                    "free_spins_played": int, "free_spins_forfeited": int,
                    "multiplier": exact text,                  # the round's return as a multiple of the stake
                    "payout": int}                             # floor(stake * multiplier)
`describe` gives each offered definition's pay tables and exact RTP (line, scatter, free spins, total), computed
over the reel strips without the free-spin cap, which only ever lowers the return, by a negligible amount.
"""

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any

from croupier.games.engine import JSON, InvalidGameInput
from croupier.games.engines.inputs import choice, exact_text, integer, json_object, rate_text, subset
from croupier.games.engines.single_step import SingleStepEngine
from croupier.games.math.payout import payout_amount
from croupier.games.rng.versions import RngVersion
from croupier.games.slots.definition import SlotDefinition, parse_definition
from croupier.games.slots.evaluate import evaluate_spin
from croupier.games.slots.rtp import slot_rtp

MAX_FREE_SPINS = 500
DEFAULT_SLOTS = ("fruit_five",)


@cache
def shipped_definitions() -> dict[str, SlotDefinition]:
    """The definitions shipped in croupier/games/data/slots, by file name without .json."""
    folder = resources.files("croupier.games").joinpath("data", "slots")
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"), parse_float=Decimal)
            found[entry.name.removesuffix(".json")] = parse_definition(data)
    return found


@cache
def _rtp_json(name: str) -> JSON:
    result = slot_rtp(shipped_definitions()[name])
    parts = {"line": result.line, "scatter": result.scatter, "free_spins": result.free_spins, "total": result.total}
    return {part: rate_text(value) for part, value in parts.items()}


def _definition_json(name: str, definition: SlotDefinition) -> JSON:
    free = definition.free_spins
    return {
        "slot": name,
        "title": definition.name,
        "reels": [list(strip) for strip in definition.reels],
        "rows": definition.rows,
        "paylines": [list(line) for line in definition.paylines],
        "wild": definition.wild,
        "scatter": definition.scatter,
        "line_pays": {s: {str(n): exact_text(m) for n, m in t.items()} for s, t in definition.line_pays.items()},
        "scatter_pays": {str(n): exact_text(m) for n, m in definition.scatter_pays.items()},
        "free_spins": None
        if free is None
        else {"awards": {str(n): a for n, a in free.awards.items()}, "multiplier": exact_text(free.multiplier)},
        "rtp": _rtp_json(name),
    }


def _spin(
    definition: SlotDefinition, stops: tuple[int, ...], lines: int, multiplier: Fraction, free: bool
) -> tuple[JSON, Fraction]:
    """One spin's JSON and its return as a multiple of the stake."""
    spin = evaluate_spin(definition, stops)
    wins = [w for w in spin.line_wins if w.line < lines]
    line_total = sum((w.multiplier for w in wins), Fraction(0))
    spin_return = (line_total / lines + spin.scatter_multiplier) * multiplier
    return {
        "free": free,
        "stops": list(stops),
        "window": [list(column) for column in spin.window],
        "line_wins": [
            {"line": w.line, "symbol": w.symbol, "count": w.count, "multiplier": exact_text(w.multiplier)} for w in wins
        ],
        "scatter_count": spin.scatter_count,
        "scatter_multiplier": exact_text(spin.scatter_multiplier),
        "free_spins_awarded": spin.free_spins_awarded,
        "multiplier": exact_text(multiplier),
        "return": exact_text(spin_return),
    }, spin_return


def play_spins(
    definition: SlotDefinition, lines: int, stops: Iterator[tuple[int, ...]]
) -> tuple[list[JSON], Fraction, int]:
    """Every spin of a round (the paid spin, then free spins up to the cap), the round's return as a multiple of
    the stake, and the free spins forfeited to the cap."""
    spin, total = _spin(definition, next(stops), lines, Fraction(1), free=False)
    spins = [spin]
    pending: int = spin["free_spins_awarded"]
    free_multiplier = definition.free_spins.multiplier if definition.free_spins else Fraction(1)
    while pending and len(spins) <= MAX_FREE_SPINS:
        spin, spin_return = _spin(definition, next(stops), lines, free_multiplier, free=True)
        spins.append(spin)
        total += spin_return
        pending += spin["free_spins_awarded"] - 1
    return spins, total, pending


class SlotsEngine(SingleStepEngine):
    name = "slots"

    def check_settings(self, settings: Mapping[str, Any]) -> JSON:
        raw = json_object(settings, "slots settings", optional=("slots",))
        offered = subset(raw.get("slots", list(DEFAULT_SLOTS)), "slots", sorted(shipped_definitions()), str)
        return {"slots": offered}

    def check_params(self, params: Mapping[str, Any], stake: int, settings: Mapping[str, Any]) -> JSON:
        offered = self.check_settings(settings)["slots"]
        raw = json_object(params, "slots params", required=("slot",), optional=("lines",))
        name = choice(raw["slot"], "slot", offered)
        paylines = len(shipped_definitions()[name].paylines)
        lines = integer(raw.get("lines", paylines), "lines", 1, paylines)
        if stake % lines:
            raise InvalidGameInput(f"the stake {stake} is not a multiple of the {lines} lines played")
        return {"slot": name, "lines": lines}

    def describe(self, settings: Mapping[str, Any]) -> JSON:
        offered = self.check_settings(settings)["slots"]
        definitions = shipped_definitions()
        return {
            "game": self.name,
            "max_free_spins_per_round": MAX_FREE_SPINS,
            "slots": [_definition_json(name, definitions[name]) for name in offered],
        }

    def settle(self, rng: RngVersion[Any], seeds: Any, params: JSON, settings: JSON, stake: int) -> tuple[int, JSON]:
        name, lines = params["slot"], params["lines"]
        definition = shipped_definitions()[name]
        stops = rng.slot_spins(seeds, [len(strip) for strip in definition.reels])
        spins, total, forfeited = play_spins(definition, lines, stops)
        payout = payout_amount(stake, total)
        return payout, {
            "rng": {"stops": [spin["stops"] for spin in spins]},
            "slot": name,
            "lines": lines,
            "line_bet": stake // lines,
            "spins": spins,
            "free_spins_played": len(spins) - 1,
            "free_spins_forfeited": forfeited,
            "multiplier": exact_text(total),
            "payout": payout,
        }


ENGINE = SlotsEngine()
