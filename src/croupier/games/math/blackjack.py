"""Blackjack as a pure multi-step state machine over card indices (see `BlackjackRules` for the rules).

Cards come from an iterator in order of play, as the RNG deals them: the player's two cards, the dealer's up card
and hole card, then every card drawn in play (the player's hands left to right, then the dealer). Every step takes
a round and returns a new one; the round records every card it used. Returns are multiples of the initial stake:
a hand pays 2 (win), 1 (push), 0 (loss), 1 + 3/2 (blackjack), doubled hands twice that; insurance costs half the
stake and returns 3 times its stake when the dealer has blackjack.
"""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction

from croupier.games.math.blackjack_ev import Action, best_action
from croupier.games.math.blackjack_rules import ACE, TEN, BlackjackRules, card_value, check_card, dealer_stands
from croupier.games.math.blackjack_rules import hand_total as values_total

MAX_HANDS = 2  # split once
INSURANCE_STAKE = Fraction(1, 2)


class Phase(StrEnum):
    INSURANCE = "insurance"  # dealer shows an ace: take or decline insurance
    PLAYER = "player"  # the active hand acts
    SETTLED = "settled"


class BlackjackError(ValueError):
    pass


@dataclass(frozen=True)
class Hand:
    cards: tuple[int, ...]
    doubled: bool = False
    from_split: bool = False
    stood: bool = False

    @property
    def total(self) -> int:
        return values_total(card_value(c) for c in self.cards)[0]

    @property
    def soft(self) -> bool:
        return values_total(card_value(c) for c in self.cards)[1]

    @property
    def is_blackjack(self) -> bool:
        return not self.from_split and len(self.cards) == 2 and self.total == 21

    @property
    def finished(self) -> bool:
        split_aces = self.from_split and card_value(self.cards[0]) == ACE and len(self.cards) == 2
        return self.stood or self.doubled or self.total >= 21 or split_aces

    @property
    def stake(self) -> int:
        return 2 if self.doubled else 1


@dataclass(frozen=True)
class BlackjackRound:
    rules: BlackjackRules
    hands: tuple[Hand, ...]
    dealer: tuple[int, ...]
    phase: Phase
    active: int = 0
    insured: bool = False
    hand_returns: tuple[Fraction, ...] = ()  # per hand, multiples of the initial stake, once settled
    insurance_return: Fraction = Fraction(0)

    @property
    def up_card(self) -> int:
        return self.dealer[0]

    @property
    def dealer_total(self) -> int:
        return values_total(card_value(c) for c in self.dealer)[0]

    @property
    def dealer_blackjack(self) -> bool:
        return len(self.dealer) == 2 and self.dealer_total == 21

    @property
    def staked(self) -> Fraction:
        """Total staked in initial stakes: hands (doubled count twice) plus insurance."""
        return sum((Fraction(h.stake) for h in self.hands), Fraction(0)) + (INSURANCE_STAKE if self.insured else 0)

    @property
    def returned(self) -> Fraction:
        """Total returned in initial stakes (settled rounds only)."""
        if self.phase is not Phase.SETTLED:
            raise BlackjackError("the round is not settled")
        return sum(self.hand_returns, Fraction(0)) + self.insurance_return

    def allowed_actions(self) -> tuple[Action, ...]:
        if self.phase is not Phase.PLAYER:
            return ()
        hand = self.hands[self.active]
        actions = [Action.HIT, Action.STAND]
        if len(hand.cards) == 2 and (not hand.from_split or self.rules.double_after_split):
            actions.append(Action.DOUBLE)
        if self.can_split:
            actions.append(Action.SPLIT)
        return tuple(actions)

    @property
    def can_split(self) -> bool:
        hand = self.hands[self.active]
        return (
            self.phase is Phase.PLAYER
            and len(self.hands) < MAX_HANDS
            and len(hand.cards) == 2
            and card_value(hand.cards[0]) == card_value(hand.cards[1])
        )


def _draw(cards: Iterator[int]) -> int:
    try:
        card = next(cards)
    except StopIteration:
        raise BlackjackError("the card source ran out") from None
    check_card(card)
    return card


def deal(cards: Iterator[int], rules: BlackjackRules = BlackjackRules()) -> BlackjackRound:
    """Start a round: two cards to the player, then the dealer's up card and hole card."""
    player = (_draw(cards), _draw(cards))
    dealer = (_draw(cards), _draw(cards))
    state = BlackjackRound(rules=rules, hands=(Hand(player),), dealer=dealer, phase=Phase.PLAYER)
    if card_value(dealer[0]) == ACE:
        return replace(state, phase=Phase.INSURANCE)
    return _peek(state, cards)


def insurance(state: BlackjackRound, take: bool, cards: Iterator[int]) -> BlackjackRound:
    """Take or decline insurance (offered when the dealer shows an ace); then the dealer peeks."""
    if state.phase is not Phase.INSURANCE:
        raise BlackjackError("insurance is not offered now")
    return _peek(replace(state, insured=take, phase=Phase.PLAYER), cards)


def _peek(state: BlackjackRound, cards: Iterator[int]) -> BlackjackRound:
    # Under an ace or a ten the dealer checks the hole card: a dealer blackjack ends the round at once, so the
    # player loses only the original stake. A player blackjack is paid at once.
    up = card_value(state.up_card)
    if (up in (ACE, TEN) and state.dealer_blackjack) or state.hands[0].is_blackjack:
        return _settle(state)
    return _advance(state, cards)


def act(state: BlackjackRound, action: Action, cards: Iterator[int]) -> BlackjackRound:
    """Play `action` on the active hand; drawing cards (and the dealer's play) as the rules require."""
    if action not in state.allowed_actions():
        raise BlackjackError(f"{action} is not allowed now")
    hand = state.hands[state.active]
    hands = list(state.hands)
    if action is Action.HIT:
        hands[state.active] = replace(hand, cards=(*hand.cards, _draw(cards)))
    elif action is Action.STAND:
        hands[state.active] = replace(hand, stood=True)
    elif action is Action.DOUBLE:
        hands[state.active] = replace(hand, cards=(*hand.cards, _draw(cards)), doubled=True)
    else:
        first, second = hand.cards
        hands[state.active : state.active + 1] = [
            Hand((first, _draw(cards)), from_split=True),
            Hand((second,), from_split=True),
        ]
    return _advance(replace(state, hands=tuple(hands)), cards)


def _advance(state: BlackjackRound, cards: Iterator[int]) -> BlackjackRound:
    hands = list(state.hands)
    active = state.active
    while active < len(hands):
        if len(hands[active].cards) == 1:  # the second hand of a split receives its card when play reaches it
            hands[active] = replace(hands[active], cards=(*hands[active].cards, _draw(cards)))
        if not hands[active].finished:
            return replace(state, hands=tuple(hands), active=active)
        active += 1
    state = replace(state, hands=tuple(hands), active=len(hands) - 1)
    dealer = state.dealer
    if any(h.total <= 21 for h in hands):  # the dealer draws only if a hand is still alive
        while not dealer_stands(*values_total(card_value(c) for c in dealer), state.rules):
            dealer = (*dealer, _draw(cards))
    return _settle(replace(state, dealer=dealer))


def _settle(state: BlackjackRound) -> BlackjackRound:
    dealer_total = state.dealer_total
    dealer_bj = state.dealer_blackjack
    returns = []
    for hand in state.hands:
        if hand.is_blackjack:
            returns.append(Fraction(1) if dealer_bj else 1 + state.rules.blackjack_pays)
        elif dealer_bj or hand.total > 21:
            returns.append(Fraction(0))
        elif dealer_total > 21 or hand.total > dealer_total:
            returns.append(Fraction(2 * hand.stake))
        elif hand.total == dealer_total:
            returns.append(Fraction(hand.stake))
        else:
            returns.append(Fraction(0))
    insurance_return = 3 * INSURANCE_STAKE if state.insured and dealer_bj else Fraction(0)
    return replace(state, phase=Phase.SETTLED, hand_returns=tuple(returns), insurance_return=insurance_return)


def amounts(state: BlackjackRound, stake: int) -> tuple[int, int]:
    """(staked, paid) in minor units for an initial `stake`: insurance costs stake // 2 and pays 3 times that;
    each hand pays floor(stake * its return) — rounding down, as everywhere."""
    insurance_stake = stake // 2 if state.insured else 0
    staked = sum(stake * h.stake for h in state.hands) + insurance_stake
    paid = sum((stake * r.numerator) // r.denominator for r in state.hand_returns)
    if state.insurance_return:
        paid += 3 * insurance_stake
    return staked, paid


def basic_strategy_action(state: BlackjackRound) -> Action:
    """The exact-EV-optimal action for the active hand (what the RTP of `blackjack_ev.rtp` assumes)."""
    allowed = state.allowed_actions()
    if not allowed:
        raise BlackjackError("no action is expected now")
    hand = state.hands[state.active]
    return best_action(
        tuple(card_value(c) for c in hand.cards),
        card_value(state.up_card),
        state.rules,
        can_double=Action.DOUBLE in allowed,
        can_split=Action.SPLIT in allowed,
    )
