"""The numbers `croupier slots rtp FILE` prints."""

from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from croupier.games.slots.definition import SlotDefinition
from croupier.games.slots.rtp import slot_rtp


def as_decimal(value: Fraction, places: int = 10) -> str:
    """`value` rounded half-even to `places` decimals, for display only."""
    with localcontext() as context:
        context.prec = 50
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return str(exact.quantize(Decimal(1).scaleb(-places)))


def rtp_report(definition: SlotDefinition) -> dict[str, Any]:
    """Every RTP part as {fraction, decimal}; JSON-ready."""
    result = slot_rtp(definition)
    parts = {
        "line": result.line,
        "scatter": result.scatter,
        "free_spins": result.free_spins,
        "total": result.total,
    }
    return {
        "name": definition.name,
        "reels": definition.reel_count,
        "rows": definition.rows,
        "paylines": len(definition.paylines),
        "combinations": _combinations(definition),
        "free_spins_per_spin": {"fraction": str(result.free_spins_per_spin)},
        **{name: {"fraction": str(v), "decimal": as_decimal(v)} for name, v in parts.items()},
    }


def _combinations(definition: SlotDefinition) -> int:
    count = 1
    for strip in definition.reels:
        count *= len(strip)
    return count


def format_rtp_report(report: dict[str, Any]) -> str:
    lines = [
        f"{report['name']}: {report['reels']} reels x {report['rows']} rows, {report['paylines']} paylines, "
        f"{report['combinations']:,} stop combinations",
    ]
    for part in ("line", "scatter", "free_spins", "total"):
        lines.append(f"{part:<11} {report[part]['decimal']:>14}  = {report[part]['fraction']}")
    return "\n".join(lines) + "\n"
