"""Blackjack rules, card values and hand totals shared by the state machine and the exact EV."""

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

RANKS = ("2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K", "A")
SUITS = ("♦", "♥", "♠", "♣")
ACE = 1
TEN = 10
# Infinite deck: each rank has probability 1/13; the four ten-valued ranks give value 10 with 4/13.
VALUE_PROBABILITY: dict[int, Fraction] = {v: Fraction(4 if v == TEN else 1, 13) for v in range(1, 11)}


@dataclass(frozen=True)
class BlackjackRules:
    """The table rules. Defaults: infinite deck, dealer stands on soft 17, blackjack pays 3:2, double on any two
    cards (also after a split), split once (two hands; split aces get one card each), insurance pays 2:1,
    the dealer peeks for blackjack under an ace or a ten, no surrender."""

    dealer_hits_soft_17: bool = False
    blackjack_pays: Fraction = Fraction(3, 2)
    double_after_split: bool = True


def card_name(card: int) -> str:
    check_card(card)
    return RANKS[card // 4] + SUITS[card % 4]


def check_card(card: int) -> None:
    if not 0 <= card < 52:
        raise ValueError("a card is an index 0 … 51")


def card_value(card: int) -> int:
    """1 for an ace, 10 for tens and faces, the pip value otherwise (cards ordered ♦2 ♥2 ♠2 ♣2 ♦3 … ♣A)."""
    check_card(card)
    rank = card // 4
    if rank == 12:
        return ACE
    return min(rank + 2, TEN)


def add_value(total: int, soft: bool, value: int) -> tuple[int, bool]:
    """Add a card value to a hand (total, soft); `soft` means an ace is counted as 11."""
    if value == ACE and total + 11 <= 21:
        return total + 11, True
    total += value
    if total > 21 and soft:
        return total - 10, False
    return total, soft


def hand_total(values: Iterable[int]) -> tuple[int, bool]:
    total, soft = 0, False
    for value in values:
        total, soft = add_value(total, soft, value)
    return total, soft


def dealer_stands(total: int, soft: bool, rules: BlackjackRules) -> bool:
    if total > 17:
        return True
    if total == 17:
        return not (soft and rules.dealer_hits_soft_17)
    return False
