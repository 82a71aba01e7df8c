"""Plinko: 8 … 16 rows; each row the ball goes right with probability 1/2; the slot is the number of rights.

Slot s of n rows has probability C(n, s) / 2^n. Pay tables (multiplier per slot, symmetric, stake included) per
rows and risk; `rtp` is their exact binomial expectation.
"""

from collections.abc import Sequence
from enum import StrEnum
from fractions import Fraction
from math import comb

MIN_ROWS = 8
MAX_ROWS = 16


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# Half tables: multipliers from the edge slot (0) to the centre; the full table mirrors them.
_HALF_TABLES: dict[tuple[int, Risk], tuple[str, ...]] = {
    (8, Risk.LOW): ("5.6", "2.1", "1.1", "1", "0.5"),
    (8, Risk.MEDIUM): ("13", "3", "1.3", "0.7", "0.4"),
    (8, Risk.HIGH): ("29", "4", "1.5", "0.3", "0.2"),
    (9, Risk.LOW): ("5.6", "2", "1.6", "1", "0.7"),
    (9, Risk.MEDIUM): ("18", "4", "1.7", "0.9", "0.5"),
    (9, Risk.HIGH): ("43", "7", "2", "0.6", "0.2"),
    (10, Risk.LOW): ("8.9", "3", "1.4", "1.1", "1", "0.5"),
    (10, Risk.MEDIUM): ("22", "5", "2", "1.4", "0.6", "0.4"),
    (10, Risk.HIGH): ("76", "10", "3", "0.9", "0.3", "0.2"),
    (11, Risk.LOW): ("8.4", "3", "1.9", "1.3", "1", "0.7"),
    (11, Risk.MEDIUM): ("24", "6", "3", "1.8", "0.7", "0.5"),
    (11, Risk.HIGH): ("120", "14", "5.2", "1.4", "0.4", "0.2"),
    (12, Risk.LOW): ("10", "3", "1.6", "1.4", "1.1", "1", "0.5"),
    (12, Risk.MEDIUM): ("33", "11", "4", "2", "1.1", "0.6", "0.3"),
    (12, Risk.HIGH): ("170", "24", "8.1", "2", "0.7", "0.2", "0.2"),
    (13, Risk.LOW): ("8.1", "4", "3", "1.9", "1.2", "0.9", "0.7"),
    (13, Risk.MEDIUM): ("43", "13", "6", "3", "1.3", "0.7", "0.4"),
    (13, Risk.HIGH): ("260", "37", "11", "4", "1", "0.2", "0.2"),
    (14, Risk.LOW): ("7.1", "4", "1.9", "1.4", "1.3", "1.1", "1", "0.5"),
    (14, Risk.MEDIUM): ("58", "15", "7", "4", "1.9", "1", "0.5", "0.2"),
    (14, Risk.HIGH): ("420", "56", "18", "5", "1.9", "0.3", "0.2", "0.2"),
    (15, Risk.LOW): ("15", "8", "3", "2", "1.5", "1.1", "1", "0.7"),
    (15, Risk.MEDIUM): ("88", "18", "11", "5", "3", "1.3", "0.5", "0.3"),
    (15, Risk.HIGH): ("620", "83", "27", "8", "3", "0.5", "0.2", "0.2"),
    (16, Risk.LOW): ("16", "9", "2", "1.4", "1.4", "1.2", "1.1", "1", "0.5"),
    (16, Risk.MEDIUM): ("110", "41", "10", "5", "3", "1.5", "1", "0.5", "0.3"),
    (16, Risk.HIGH): ("1000", "130", "26", "9", "4", "2", "0.2", "0.2", "0.2"),
}


def check_rows(rows: int) -> None:
    if not MIN_ROWS <= rows <= MAX_ROWS:
        raise ValueError(f"plinko rows must be {MIN_ROWS} … {MAX_ROWS}")


def pay_table(rows: int, risk: Risk) -> tuple[Fraction, ...]:
    """Multiplier of each slot 0 … rows (symmetric)."""
    check_rows(rows)
    half = [Fraction(m) for m in _HALF_TABLES[(rows, Risk(risk))]]
    # rows + 1 slots: the half holds slots 0 … rows // 2; mirror the rest
    return tuple(half[min(s, rows - s)] for s in range(rows + 1))


def slot(bits: Sequence[int]) -> int:
    """The slot a ball reaches from the RNG's per-row bits (0 left, 1 right)."""
    check_rows(len(bits))
    if any(b not in (0, 1) for b in bits):
        raise ValueError("plinko bits must be 0 or 1")
    return sum(bits)


def settle(bits: Sequence[int], risk: Risk) -> Fraction:
    return pay_table(len(bits), risk)[slot(bits)]


def slot_probability(rows: int, s: int) -> Fraction:
    return Fraction(comb(rows, s), 2**rows)


def rtp(rows: int, risk: Risk) -> Fraction:
    """Exact return to player: Σ C(rows, s) / 2^rows * multiplier(s)."""
    table = pay_table(rows, risk)
    return sum((slot_probability(rows, s) * m for s, m in enumerate(table)), Fraction(0))
