"""Outcome types shared by the RNG versions, and their stable JSON form."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

SUITS = ("♦", "♥", "♠", "♣")
SUIT_NAMES = ("diamonds", "hearts", "spades", "clubs")
RANKS = ("2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K", "A")
RED_POCKETS = frozenset({1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36})

KENO_SQUARES = 40
KENO_DRAWN = 10
MINES_TILES = 25
PLINKO_ROWS = range(8, 17)
DECK_SIZE = 52

# The limbo formula divides by the float; a float of exactly 0 (probability 2^-32) has no finite multiplier.
LIMBO_INFINITE = Decimal("Infinity")


@dataclass(frozen=True, slots=True)
class Card:
    """A card of the infinite deck: index 0..51 in the order ♦2 ♥2 ♠2 ♣2 ♦3 … ♣A (rank-major)."""

    index: int

    @property
    def rank(self) -> str:
        return RANKS[self.index // 4]

    @property
    def suit(self) -> str:
        return SUIT_NAMES[self.index % 4]

    @property
    def label(self) -> str:
        return SUITS[self.index % 4] + self.rank

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "rank": self.rank, "suit": self.suit, "label": self.label}


@dataclass(frozen=True, slots=True)
class PlinkoDrop:
    """One ball: 0 (left) or 1 (right) per row; the slot is the number of rights (0..rows)."""

    path: tuple[int, ...]

    @property
    def slot(self) -> int:
        return sum(self.path)


@dataclass(frozen=True, slots=True)
class BlackjackDeal:
    """Cards in order of use: the player's two, the dealer's two, then the rest in order of play."""

    player: tuple[Card, Card]
    dealer: tuple[Card, Card]
    next: tuple[Card, ...]


def check_plinko_rows(rows: int) -> None:
    if rows not in PLINKO_ROWS:
        raise ValueError(f"plinko has 8 to 16 rows, not {rows}")


def check_mines(mines: int) -> None:
    if not 1 <= mines <= MINES_TILES - 1:
        raise ValueError(f"mines needs 1 to 24 mines, not {mines}")


def check_card_count(count: int) -> None:
    if not 1 <= count <= 416:
        raise ValueError(f"deal 1 to 416 cards, not {count}")


def decimal_text(value: Decimal) -> str:
    return "Infinity" if value.is_infinite() else f"{value:.2f}"


def outcome_json(game: str, outcome: object) -> dict[str, Any]:
    """The stable JSON form of an outcome (documented per game in docs/provably-fair.md)."""
    if game == "dice" and isinstance(outcome, Decimal):
        return {"roll": decimal_text(outcome)}
    if game == "limbo" and isinstance(outcome, Decimal):
        return {"multiplier": decimal_text(outcome)}
    if game == "roulette" and isinstance(outcome, int):
        color = "green" if outcome == 0 else "red" if outcome in RED_POCKETS else "black"
        return {"pocket": outcome, "color": color}
    if game == "plinko" and isinstance(outcome, PlinkoDrop):
        return {"path": list(outcome.path), "slot": outcome.slot}
    if game == "keno" and isinstance(outcome, tuple):
        return {"draw": list(outcome)}
    if game == "mines" and isinstance(outcome, tuple):
        return {"mines": list(outcome), "grid": _grid(outcome)}
    if game in ("cards", "hilo") and isinstance(outcome, tuple):
        return {"cards": [card.as_dict() for card in outcome]}
    if game == "blackjack" and isinstance(outcome, BlackjackDeal):
        return {
            "player": [card.as_dict() for card in outcome.player],
            "dealer": [card.as_dict() for card in outcome.dealer],
            "next": [card.as_dict() for card in outcome.next],
        }
    raise ValueError(f"no JSON form for a {game} outcome {outcome!r}")


def outcome_text(game: str, outcome: object) -> str:
    """One line per outcome for the test-lab export: numbers separated by spaces."""
    data = outcome_json(game, outcome)
    if game == "dice":
        return str(data["roll"])
    if game == "limbo":
        return str(data["multiplier"])
    if game == "roulette":
        return str(data["pocket"])
    if game == "plinko":
        return " ".join(str(step) for step in data["path"])
    if game == "keno":
        return " ".join(str(square) for square in data["draw"])
    if game == "mines":
        return " ".join(str(tile) for tile in data["mines"])
    if game in ("cards", "hilo"):
        return " ".join(str(card["index"]) for card in data["cards"])
    cards = [*data["player"], *data["dealer"], *data["next"]]
    return " ".join(str(card["index"]) for card in cards)


def _grid(mines: tuple[int, ...]) -> list[str]:
    """The 5x5 board row by row, '*' a mine and '.' a gem, for players comparing with the screen."""
    tiles = set(mines)
    return ["".join("*" if row * 5 + column in tiles else "." for column in range(5)) for row in range(5)]
