"""Strict reading of the JSON the engines receive (player params, brand settings, actions) and exact number text.

JSON has no integers distinct from floats in every client, and Python's bool is an int: these readers accept an
int only when it is a real int (never a bool, a float or a numeric string), and refuse keys nobody asked for, so a
misspelt parameter is an error rather than a silently applied default.
"""

from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from croupier.games.engine import InvalidGameInput


def json_object(
    value: Any, what: str, required: Collection[str] = (), optional: Collection[str] = ()
) -> dict[str, Any]:
    """`value` as a dict with exactly the `required` keys and any of the `optional` ones."""
    if not isinstance(value, Mapping):
        raise InvalidGameInput(f"{what} must be a JSON object")
    keys = set(value)
    if not all(isinstance(key, str) for key in keys):
        raise InvalidGameInput(f"{what}: keys must be strings")
    if missing := sorted(set(required) - keys):
        raise InvalidGameInput(f"{what}: missing {', '.join(missing)}")
    if extra := sorted(keys - set(required) - set(optional)):
        allowed = sorted({*required, *optional})
        known = f"; known: {', '.join(allowed)}" if allowed else "; it takes none"
        raise InvalidGameInput(f"{what}: unknown key(s) {', '.join(extra)}{known}")
    return dict(value)


def integer(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidGameInput(f"{name} must be an integer")
    if not low <= value <= high:
        raise InvalidGameInput(f"{name} must be {low} … {high}, not {value}")
    return value


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidGameInput(f"{name} must be true or false")
    return value


def choice(value: Any, name: str, options: Iterable[str]) -> str:
    allowed = tuple(options)
    if not isinstance(value, str) or value not in allowed:
        raise InvalidGameInput(f"{name} must be one of {', '.join(allowed)}")
    return value


def subset(value: Any, name: str, options: Iterable[Any], kind: type) -> list[Any]:
    """A non-empty list of distinct options, returned in the order of `options` (canonical)."""
    allowed = list(options)
    if not isinstance(value, list) or not value:
        raise InvalidGameInput(f"{name} must be a non-empty list")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, kind) or item not in allowed:
            raise InvalidGameInput(f"{name}: {item!r} is not one of {', '.join(map(str, allowed))}")
    if len(set(value)) != len(value):
        raise InvalidGameInput(f"{name} must not repeat an entry")
    return [option for option in allowed if option in value]


def fraction(value: Any, name: str, low: Fraction, high: Fraction) -> Fraction:
    """An exact number written as a decimal string ("0.01") or a ratio ("3/2"); never a JSON float."""
    if not isinstance(value, str):
        raise InvalidGameInput(f'{name} must be a string such as "0.01" or "3/2" (exact, not a JSON number)')
    try:
        if "/" in value:
            numerator, denominator = value.split("/")
            result = Fraction(int(numerator), int(denominator))
        else:
            decimal = Decimal(value)
            if not decimal.is_finite():
                raise ValueError(value)
            result = Fraction(decimal)
    except (ValueError, ZeroDivisionError, InvalidOperation):
        raise InvalidGameInput(f"{name}: {value!r} is not an exact number") from None
    if not low <= result <= high:
        raise InvalidGameInput(f"{name} must be {exact_text(low)} … {exact_text(high)}, not {value}")
    return result


def stake_amount(stake: Any) -> int:
    if isinstance(stake, bool) or not isinstance(stake, int) or stake < 1:
        raise InvalidGameInput("the stake must be a positive integer of minor units")
    return stake


def exact_text(value: Fraction) -> str:
    """A multiplier or rate as exact text: a plain decimal when it terminates ("1.98", "36"), else "p/q"."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    return format(Decimal(int(value * 10**places)).scaleb(-places), "f")


def rate_text(value: Fraction, places: int = 10) -> str:
    """A rate such as an RTP rounded half-even to `places` decimals, for display ("0.9900000000")."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return str(exact.quantize(Decimal(1).scaleb(-places)))
