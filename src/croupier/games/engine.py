"""The contract between the round lifecycle and the games: one engine per game, pure and deterministic.

An engine never touches the database, the wallet or the clock. Given the RNG version, the round's seed material,
the player's parameters, the brand's settings for the game, the stake and the player's actions so far, it computes
where the round stands (`Progress`). The lifecycle stores the actions; a round is therefore replayed by calling
`play` again with the stored inputs, and a multi-step round is continued by calling it with one more action.

- Single-step games (dice, limbo, roulette, plinko, keno, slots) settle with no action: `play(..., actions=())`.
- Multi-step games (mines, blackjack) settle after some actions; `finish` settles an abandoned round the way the
  game's documented rules say (mines: cash out; blackjack: stand every open hand; insurance declined).

Money is integer minor units throughout. `Progress.staked` is everything the player has staked in the round so far
(blackjack doubles, splits and insurance add to the initial stake); `Progress.payout` is what the round pays back,
stake included, rounded down to the minor unit, before the brand's max-win cap (the lifecycle applies the cap).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from croupier.games.rng.versions import RngVersion

JSON = dict[str, Any]


class InvalidGameInput(ValueError):
    """Parameters, settings or an action the game refuses (the API answers 422 with this message)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a round stands after the actions so far."""

    staked: int  # minor units staked in total so far (initial stake plus doubles, splits, insurance)
    settled: bool
    payout: int | None  # minor units paid back (stake included) once settled, before the max-win cap; else None
    view: JSON  # what the player may see now: never a hidden mine, a hole card or a future card before settlement
    outcome: JSON | None = None  # the settled outcome in its stable, documented JSON form (None until settled)
    allowed_actions: tuple[str, ...] = ()  # action names the player may send next (empty once settled)
    detail: JSON = field(default_factory=dict)  # engine-specific extras for the audit log (e.g. cards used)


class GameEngine(Protocol):
    name: str  # "dice", "limbo", "roulette", "plinko", "keno", "mines", "blackjack", "slots"
    multi_step: bool

    def describe(self, settings: Mapping[str, Any]) -> JSON:
        """The game's public configuration for the player API (options, pay tables, rules), as JSON."""
        ...

    def check_settings(self, settings: Mapping[str, Any]) -> JSON:
        """Validate a brand's settings for this game and return them normalised (defaults filled in)."""
        ...

    def check_params(self, params: Mapping[str, Any], stake: int, settings: Mapping[str, Any]) -> JSON:
        """Validate the player's parameters for a new round with this stake; return them normalised.

        Raises InvalidGameInput (e.g. a dice target out of range, roulette bets not summing to the stake).
        """
        ...

    def play(
        self,
        rng: RngVersion[Any],
        seeds: Any,
        params: Mapping[str, Any],
        settings: Mapping[str, Any],
        stake: int,
        actions: Sequence[Mapping[str, Any]],
    ) -> Progress:
        """The round after `actions`; raises InvalidGameInput if an action is not allowed at its point."""
        ...

    def finish(
        self,
        rng: RngVersion[Any],
        seeds: Any,
        params: Mapping[str, Any],
        settings: Mapping[str, Any],
        stake: int,
        actions: Sequence[Mapping[str, Any]],
    ) -> tuple[tuple[JSON, ...], Progress]:
        """Settle an abandoned round: the actions the rules take for the player, and the settled progress."""
        ...
