"""Bet limits per game and currency: minimum and maximum stake, maximum win per round (all in minor units)."""

from collections.abc import Mapping
from dataclasses import dataclass, field


class BetLimitError(ValueError):
    """A stake outside the configured limits."""


class StakeBelowMinimum(BetLimitError):
    pass


class StakeAboveMaximum(BetLimitError):
    pass


class NoLimitsConfigured(BetLimitError):
    pass


@dataclass(frozen=True)
class BetLimits:
    """Limits of one game in one currency, in minor units.

    `max_win` caps the total amount paid back for one round (stake included): a round whose exact payout is
    larger pays `max_win`. It must be at least `max_stake` so that a push can always return the stake.
    """

    min_stake: int
    max_stake: int
    max_win: int

    def __post_init__(self) -> None:
        if self.min_stake < 1:
            raise ValueError("min_stake must be at least 1 minor unit")
        if self.max_stake < self.min_stake:
            raise ValueError("max_stake must be at least min_stake")
        if self.max_win < self.max_stake:
            raise ValueError("max_win must be at least max_stake")

    def check_stake(self, stake: int) -> int:
        """Return `stake` if it is within limits; raise `StakeBelowMinimum` / `StakeAboveMaximum` otherwise."""
        if stake < self.min_stake:
            raise StakeBelowMinimum(f"stake {stake} is below the minimum {self.min_stake}")
        if stake > self.max_stake:
            raise StakeAboveMaximum(f"stake {stake} is above the maximum {self.max_stake}")
        return stake

    def cap_payout(self, payout: int) -> int:
        """The amount actually paid: the round's payout, at most `max_win`."""
        return min(payout, self.max_win)


@dataclass(frozen=True)
class BetLimitTable:
    """Limits per (game, currency); a brand holds one table."""

    limits: Mapping[tuple[str, str], BetLimits] = field(default_factory=dict)

    def limits_for(self, game: str, currency: str) -> BetLimits:
        try:
            return self.limits[(game, currency)]
        except KeyError:
            raise NoLimitsConfigured(f"no bet limits for game {game!r} in {currency}") from None
