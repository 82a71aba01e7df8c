"""What a brand offers: its RNG version, which games with which settings, and bet limits per game and currency.

Nothing configured means the documented defaults: every game on with the engine's default settings, `stake-v1`,
and the default limits of the currency below. Configuration is read through a short cache (`CACHE_SECONDS`): a
change made through the admin API applies at once in the process that made it and within seconds elsewhere.
"""

import time
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from croupier.games import repository
from croupier.games.math.limits import BetLimits
from croupier.games.rng.versions import RNG_VERSIONS
from croupier.kit.db import Database
from croupier.kit.money import Currency

CACHE_SECONDS = 5.0
DEFAULT_RNG_VERSION = "stake-v1"

#: Default limits in major units: (minimum stake, maximum stake, maximum win per round).
DEFAULT_LIMITS_MAJOR: dict[str, tuple[str, str, str]] = {
    "fiat": ("0.10", "1000", "100000"),
    "BTC": ("0.000001", "0.1", "10"),
    "ETH": ("0.00001", "1", "100"),
    "USDT": ("0.10", "1000", "100000"),
}


def default_limits(currency: Currency) -> BetLimits:
    """The default limits of a currency in minor units (never below one minor unit)."""
    major = DEFAULT_LIMITS_MAJOR.get(currency.code) or DEFAULT_LIMITS_MAJOR["fiat"]

    def minor(value: str) -> int:
        return max(1, int((Decimal(value).scaleb(currency.exponent)).to_integral_value(rounding=ROUND_CEILING)))

    return BetLimits(minor(major[0]), minor(major[1]), minor(major[2]))


@dataclass(frozen=True, slots=True)
class GameConfig:
    """One game as a brand offers it."""

    enabled: bool
    settings: dict[str, Any] | None  # None: the engine's defaults


@dataclass(frozen=True, slots=True)
class BrandConfig:
    rng_version: str
    games: dict[str, GameConfig]
    limits: dict[tuple[str, str], BetLimits]  # (game, currency) -> limits set by the operator
    normalised: dict[str, dict[str, Any]] = field(default_factory=dict)  # game -> settings the engine checked

    def game(self, name: str) -> GameConfig:
        return self.games.get(name) or GameConfig(True, None)

    def limits_for(self, game: str, currency: Currency) -> BetLimits:
        return self.limits.get((game, currency.code)) or default_limits(currency)


class BrandConfigs:
    """Reads brand configuration through a per-process cache."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, tuple[float, BrandConfig]] = {}

    async def get(self, brand_id: str) -> BrandConfig:
        cached = self._cache.get(brand_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._db.connection() as connection:
            config = await load(connection, brand_id)
        self._cache[brand_id] = (now + CACHE_SECONDS, config)
        return config

    def forget(self, brand_id: str) -> None:
        self._cache.pop(brand_id, None)


async def load(connection: Any, brand_id: str) -> BrandConfig:
    brand = await repository.brand_settings(connection, brand_id)
    rng = brand["rng_version"] if brand is not None else DEFAULT_RNG_VERSION
    if rng not in RNG_VERSIONS:  # a version this release does not know: refuse to play rather than fall back
        raise RuntimeError(f"brand {brand_id} is configured for unknown RNG version {rng!r}")
    games = {
        row["game"]: GameConfig(row["enabled"], dict(row["settings"]))
        for row in await repository.game_settings(connection, brand_id)
    }
    limits = {
        (row["game"], row["currency"]): BetLimits(row["min_stake"], row["max_stake"], row["max_win"])
        for row in await repository.bet_limits(connection, brand_id)
    }
    return BrandConfig(rng, games, limits)
