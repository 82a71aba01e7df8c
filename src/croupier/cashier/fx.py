"""Exchange rates and conversions.

A rate says 1 unit of `base` buys `rate` units of `quote` (major units), from `source` at `effective_at`, and the
platform keeps `spread_bps` of every conversion. A conversion rounds down to the target's minor unit (the fraction
stays with the platform) and is recorded with the rate it used; the wallet transfers of the payment carry its id,
so every converted amount can be traced from the ledger to the rate and back. A deposit is converted when it is
credited; a withdrawal paid out in another currency when it is requested (its rate is kept until the payout).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from uuid import UUID

from croupier.cashier.errors import FxRateUnavailable
from croupier.cashier.repository import Connection
from croupier.kit.ids import uuid7
from croupier.kit.money import CurrencyRegistry

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Rate:
    id: UUID
    base: str
    quote: str
    rate: Decimal  # 1 base = rate quote
    spread_bps: int
    source: str
    effective_at: datetime
    inverted: bool = False  # derived from the quote/base row


def convert(amount: int, rate: Rate, currencies: CurrencyRegistry) -> int:
    """`amount` minor units of rate.base in minor units of rate.quote, after the spread, rounded down."""
    base, quote = currencies.get(rate.base), currencies.get(rate.quote)
    major = Decimal(amount).scaleb(-base.exponent)
    converted = major * rate.rate * (BPS - rate.spread_bps) / BPS
    return int(converted.scaleb(quote.exponent).to_integral_value(rounding=ROUND_FLOOR))


async def add_rate(
    connection: Connection,
    *,
    base: str,
    quote: str,
    rate: Decimal,
    spread_bps: int,
    source: str,
    effective_at: datetime,
    now: datetime,
) -> Rate:
    rate_id = uuid7()
    await connection.execute(
        """INSERT INTO cashier.fx_rates (id, base, quote, rate, spread_bps, source, effective_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        rate_id,
        base,
        quote,
        rate,
        spread_bps,
        source,
        effective_at,
        now,
    )
    return Rate(rate_id, base, quote, rate, spread_bps, source, effective_at)


async def current_rate(connection: Connection, base: str, quote: str, *, now: datetime, max_age: timedelta) -> Rate:
    """The newest rate in force for base -> quote (or the inverse of quote -> base); refuses a stale one."""
    row = await connection.fetchrow(
        """SELECT * FROM cashier.fx_rates
           WHERE ((base = $1 AND quote = $2) OR (base = $2 AND quote = $1)) AND effective_at <= $3
           ORDER BY effective_at DESC, created_at DESC LIMIT 1""",
        base,
        quote,
        now,
    )
    if row is None or now - row["effective_at"] > max_age:
        raise FxRateUnavailable(f"no exchange rate from {base} to {quote} newer than {max_age}", base=base, quote=quote)
    if row["base"] == base:
        return _rate(row)
    inverse = _rate(row)
    return Rate(
        inverse.id,
        base,
        quote,
        Decimal(1) / inverse.rate,
        inverse.spread_bps,
        inverse.source,
        inverse.effective_at,
        inverted=True,
    )


async def list_rates(connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        """SELECT DISTINCT ON (base, quote) * FROM cashier.fx_rates
           ORDER BY base, quote, effective_at DESC, created_at DESC LIMIT $1""",
        limit,
    )
    return [dict(row) for row in rows]


async def record_conversion(
    connection: Connection,
    *,
    payment_id: UUID,
    from_amount: int,
    to_amount: int,
    rate: Rate,
    now: datetime,
) -> dict[str, Any]:
    """The payment's conversion: recorded now, or the one recorded before (a retry converts at the same rate)."""
    row = await connection.fetchrow(
        """INSERT INTO cashier.conversions (id, payment_id, from_currency, from_amount, to_currency, to_amount,
                                            rate_id, rate, spread_bps, converted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (payment_id) DO NOTHING RETURNING *""",
        uuid7(),
        payment_id,
        rate.base,
        from_amount,
        rate.quote,
        to_amount,
        rate.id,
        rate.rate,
        rate.spread_bps,
        now,
    )
    if row is None:
        row = await connection.fetchrow("SELECT * FROM cashier.conversions WHERE payment_id = $1", payment_id)
    assert row is not None
    return dict(row)


def _rate(row: Any) -> Rate:
    return Rate(
        row["id"], row["base"], row["quote"], row["rate"], row["spread_bps"], row["source"], row["effective_at"]
    )
