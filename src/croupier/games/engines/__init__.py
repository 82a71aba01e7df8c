"""The game engines: one per game, each satisfying `croupier.games.engine.GameEngine` (pure and deterministic).

Each module's docstring documents its game's params, settings, actions, view and outcome JSON.
"""

from croupier.games.engine import GameEngine, InvalidGameInput
from croupier.games.engines import blackjack, dice, keno, limbo, mines, plinko, roulette, slots

ENGINES: dict[str, GameEngine] = {
    engine.name: engine
    for engine in (
        dice.ENGINE,
        limbo.ENGINE,
        roulette.ENGINE,
        plinko.ENGINE,
        keno.ENGINE,
        mines.ENGINE,
        blackjack.ENGINE,
        slots.ENGINE,
    )
}


def engine(name: str) -> GameEngine:
    """The engine of a game by name; an unknown name is refused (InvalidGameInput)."""
    try:
        return ENGINES[name]
    except KeyError:
        raise InvalidGameInput(f"unknown game {name!r}; known: {', '.join(ENGINES)}") from None
