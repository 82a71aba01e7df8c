"""Money is an integer number of minor units plus a currency code, end to end. No float ever touches it.

The registry knows each currency's exponent (EUR 2, JPY 0, BTC 8, USDT 6, ETH configurable). An exponent must never
change once amounts exist in it (it would silently rescale every balance), so the wallet pins the exponents it has
used in its own table and refuses to start when the configuration disagrees.
"""

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from croupier.kit.currency_data import CRYPTO_DEFAULTS, ISO_4217
from croupier.kit.errors import AmountOutOfRange, UnknownCurrency, ValidationFailed

#: Largest amount or balance the ledger stores (PostgreSQL bigint).
MAX_MINOR_UNITS = 2**63 - 1
#: Crypto precision may be configured, within what a bigint can still carry usefully: each account's running totals
#: (lifetime debits and credits) are bigints too, so at exponent 12 an account can turn over 9.2 million units in its
#: life. ETH defaults to 9 (gwei): 9.2 billion ETH.
MAX_EXPONENT = 12

_CODE = re.compile(r"^[A-Z][A-Z0-9]{2,9}$")


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    exponent: int
    name: str
    kind: str  # "fiat" or "crypto"


class CurrencyRegistry:
    """The currencies the platform accepts, with their exponents."""

    def __init__(self, currencies: Iterable[Currency]) -> None:
        self._by_code: dict[str, Currency] = {}
        for currency in currencies:
            if not _CODE.match(currency.code):
                raise ValueError(f"invalid currency code {currency.code!r}")
            if not 0 <= currency.exponent <= MAX_EXPONENT:
                raise ValueError(f"exponent of {currency.code} must be between 0 and {MAX_EXPONENT}")
            self._by_code[currency.code] = currency

    @classmethod
    def default(cls, exponent_overrides: Mapping[str, int] | None = None) -> "CurrencyRegistry":
        """ISO 4217 fiat plus BTC, ETH and USDT; `exponent_overrides` sets crypto precision (e.g. {"ETH": 12}).

        An exponent above MAX_EXPONENT is refused."""
        overrides = {code.upper(): exponent for code, exponent in (exponent_overrides or {}).items()}
        currencies = [Currency(c.code, c.exponent, c.name, c.kind) for c in ISO_4217]
        for c in CRYPTO_DEFAULTS:
            currencies.append(Currency(c.code, overrides.pop(c.code, c.exponent), c.name, c.kind))
        fiat_overridden = sorted(set(overrides) & {c.code for c in ISO_4217})
        if fiat_overridden:
            raise ValueError(f"the exponent of ISO 4217 currencies is fixed by the standard: {fiat_overridden}")
        if overrides:
            raise ValueError(f"exponent configured for unknown currencies: {sorted(overrides)}")
        return cls(currencies)

    def get(self, code: str) -> Currency:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownCurrency(f"currency {code!r} is not supported", currency=code) from None

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Currency]:
        return iter(sorted(self._by_code.values(), key=lambda c: c.code))

    def __len__(self) -> int:
        return len(self._by_code)


def check_amount(amount: int) -> int:
    """A transfer amount: a positive integer of minor units that fits the ledger."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationFailed("amount must be an integer number of minor units")
    if amount <= 0:
        raise AmountOutOfRange("amount must be positive", amount=amount)
    if amount > MAX_MINOR_UNITS:
        raise AmountOutOfRange(f"amount must not exceed {MAX_MINOR_UNITS}", amount=amount)
    return amount


def to_minor_units(value: str | Decimal, currency: Currency) -> int:
    """Convert a decimal amount ("12.34") to minor units exactly; refuse anything finer than the currency allows."""
    try:
        decimal = Decimal(value)
    except InvalidOperation:
        raise ValidationFailed(f"{value!r} is not a decimal amount") from None
    if not decimal.is_finite():
        raise ValidationFailed(f"{value!r} is not a finite amount")
    scaled = decimal.scaleb(currency.exponent)
    if scaled != scaled.to_integral_value():
        raise ValidationFailed(
            f"{value} {currency.code} cannot be represented exactly: {currency.code} has {currency.exponent} decimals"
        )
    return int(scaled)


def format_minor_units(amount: int, currency: Currency) -> str:
    """Render minor units as a decimal string for people (never for arithmetic)."""
    if currency.exponent == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    digits = str(abs(amount)).rjust(currency.exponent + 1, "0")
    return f"{sign}{digits[: -currency.exponent]}.{digits[-currency.exponent :]}"
