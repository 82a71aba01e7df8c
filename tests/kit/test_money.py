"""The currency registry and exact conversions: integer minor units, no floats."""

from decimal import Decimal

import pytest

from croupier.kit.errors import AmountOutOfRange, UnknownCurrency, ValidationFailed
from croupier.kit.money import MAX_MINOR_UNITS, CurrencyRegistry, check_amount, format_minor_units, to_minor_units


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("EUR", 2), ("USD", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4), ("BTC", 8), ("USDT", 6), ("ETH", 9)],
)
def test_registry_knows_exponents(code: str, exponent: int) -> None:
    assert CurrencyRegistry.default().get(code).exponent == exponent


def test_registry_when_crypto_precision_configured_uses_it() -> None:
    assert CurrencyRegistry.default({"ETH": 6}).get("ETH").exponent == 6


def test_registry_refuses_to_change_iso_exponents() -> None:
    with pytest.raises(ValueError, match="fixed by the standard"):
        CurrencyRegistry.default({"EUR": 3})


def test_registry_when_code_unknown_raises_unknown_currency() -> None:
    with pytest.raises(UnknownCurrency):
        CurrencyRegistry.default().get("XXX")


def test_to_minor_units_is_exact() -> None:
    registry = CurrencyRegistry.default()
    assert to_minor_units("12.34", registry.get("EUR")) == 1234
    assert to_minor_units(Decimal("0.00000001"), registry.get("BTC")) == 1
    assert to_minor_units("500", registry.get("JPY")) == 500


def test_to_minor_units_when_finer_than_currency_refuses() -> None:
    with pytest.raises(ValidationFailed, match="cannot be represented exactly"):
        to_minor_units("0.001", CurrencyRegistry.default().get("EUR"))


def test_format_minor_units_renders_decimals() -> None:
    registry = CurrencyRegistry.default()
    assert format_minor_units(1234, registry.get("EUR")) == "12.34"
    assert format_minor_units(-5, registry.get("EUR")) == "-0.05"
    assert format_minor_units(7, registry.get("JPY")) == "7"


@pytest.mark.parametrize("amount", [0, -1, MAX_MINOR_UNITS + 1])
def test_check_amount_refuses_out_of_range(amount: int) -> None:
    with pytest.raises(AmountOutOfRange):
        check_amount(amount)


@pytest.mark.parametrize("amount", [1.5, True, "100"])
def test_check_amount_refuses_non_integers(amount: object) -> None:
    with pytest.raises(ValidationFailed):
        check_amount(amount)  # type: ignore[arg-type]


def test_registry_accepts_lower_case_codes_from_the_environment() -> None:
    assert CurrencyRegistry.default({"eth": 12}).get("ETH").exponent == 12


def test_registry_refuses_precision_whose_running_totals_would_be_too_small() -> None:
    with pytest.raises(ValueError, match="between 0 and 12"):
        CurrencyRegistry.default({"ETH": 18})
