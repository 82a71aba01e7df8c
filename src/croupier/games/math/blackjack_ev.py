"""Exact expected value of optimal (basic) strategy on an infinite deck, by recursion in exact fractions.

With an infinite deck every card is 1/13 of each rank independently of the cards seen, so the optimal strategy is
the basic strategy and the player's and dealer's draws are independent. The dealer's final total is computed per
up card, conditioned on the peek (no dealer blackjack); the player's options are evaluated bottom-up:
stand, hit (then the best of stand/hit), double (one card, twice the stake), split (two hands, each worth the EV of
a hand that starts with the pair card; by linearity the shared dealer hand does not matter).
"""

from enum import StrEnum
from fractions import Fraction
from functools import cache

from croupier.games.math.blackjack_rules import (
    ACE,
    TEN,
    VALUE_PROBABILITY,
    BlackjackRules,
    add_value,
    dealer_stands,
    hand_total,
)

BUST = 22


class Action(StrEnum):
    HIT = "hit"
    STAND = "stand"
    DOUBLE = "double"
    SPLIT = "split"


def dealer_blackjack_probability(up: int) -> Fraction:
    if up == ACE:
        return VALUE_PROBABILITY[TEN]
    if up == TEN:
        return VALUE_PROBABILITY[ACE]
    return Fraction(0)


@cache
def _dealer_from(total: int, soft: bool, rules: BlackjackRules) -> dict[int, Fraction]:
    if total > 21:
        return {BUST: Fraction(1)}
    if dealer_stands(total, soft, rules):
        return {total: Fraction(1)}
    result: dict[int, Fraction] = {}
    for value, p in VALUE_PROBABILITY.items():
        for final, q in _dealer_from(*add_value(total, soft, value), rules).items():
            result[final] = result.get(final, Fraction(0)) + p * q
    return result


@cache
def dealer_final_distribution(up: int, rules: BlackjackRules) -> dict[int, Fraction]:
    """P(dealer final total | up card, no dealer blackjack); 22 stands for bust."""
    total, soft = add_value(0, False, up)
    excluded = {ACE: TEN, TEN: ACE}.get(up)
    norm = 1 - (VALUE_PROBABILITY[excluded] if excluded else Fraction(0))
    result: dict[int, Fraction] = {}
    for hole, p in VALUE_PROBABILITY.items():
        if hole == excluded:
            continue
        for final, q in _dealer_from(*add_value(total, soft, hole), rules).items():
            result[final] = result.get(final, Fraction(0)) + p / norm * q
    return result


@cache
def stand_ev(total: int, up: int, rules: BlackjackRules) -> Fraction:
    if total > 21:
        return Fraction(-1)
    ev = Fraction(0)
    for final, p in dealer_final_distribution(up, rules).items():
        if final == BUST or total > final:
            ev += p
        elif total < final:
            ev -= p
    return ev


@cache
def hit_ev(total: int, soft: bool, up: int, rules: BlackjackRules) -> Fraction:
    """EV of taking one card and then playing on optimally (stand or hit)."""
    ev = Fraction(0)
    for value, p in VALUE_PROBABILITY.items():
        new_total, new_soft = add_value(total, soft, value)
        if new_total > 21:
            ev -= p
        else:
            ev += p * max(stand_ev(new_total, up, rules), hit_ev(new_total, new_soft, up, rules))
    return ev


@cache
def double_ev(total: int, soft: bool, up: int, rules: BlackjackRules) -> Fraction:
    """EV (in initial stakes) of doubling: one card, then stand, twice the stake."""
    ev = Fraction(0)
    for value, p in VALUE_PROBABILITY.items():
        ev += p * stand_ev(add_value(total, soft, value)[0], up, rules)
    return 2 * ev


def action_evs(
    values: tuple[int, ...], up: int, rules: BlackjackRules, *, can_double: bool, can_split: bool
) -> dict[Action, Fraction]:
    """EV of every allowed action for a hand of card values (dealer has no blackjack)."""
    total, soft = hand_total(values)
    evs = {Action.STAND: stand_ev(total, up, rules)}
    if total < 21:
        evs[Action.HIT] = hit_ev(total, soft, up, rules)
        if can_double:
            evs[Action.DOUBLE] = double_ev(total, soft, up, rules)
    if can_split:
        evs[Action.SPLIT] = split_ev(values[0], up, rules)
    return evs


def best_action(
    values: tuple[int, ...], up: int, rules: BlackjackRules, *, can_double: bool, can_split: bool
) -> Action:
    """The basic-strategy action: the allowed action with the highest exact EV (never insurance)."""
    evs = action_evs(values, up, rules, can_double=can_double, can_split=can_split)
    return max(evs, key=lambda action: evs[action])


@cache
def _split_hand_ev(pair: int, up: int, rules: BlackjackRules) -> Fraction:
    ev = Fraction(0)
    for value, p in VALUE_PROBABILITY.items():
        if pair == ACE:  # split aces take one card each
            ev += p * stand_ev(hand_total((ACE, value))[0], up, rules)
        else:
            options = action_evs((pair, value), up, rules, can_double=rules.double_after_split, can_split=False)
            ev += p * max(options.values())
    return ev


def split_ev(pair: int, up: int, rules: BlackjackRules) -> Fraction:
    return 2 * _split_hand_ev(pair, up, rules)


@cache
def expected_value(rules: BlackjackRules = BlackjackRules()) -> Fraction:
    """Exact EV per initial stake of basic strategy (no insurance) under `rules`."""
    ev = Fraction(0)
    for up, p_up in VALUE_PROBABILITY.items():
        p_dealer_bj = dealer_blackjack_probability(up)
        for first, p1 in VALUE_PROBABILITY.items():
            for second, p2 in VALUE_PROBABILITY.items():
                p = p_up * p1 * p2
                if {first, second} == {ACE, TEN}:
                    ev += p * (1 - p_dealer_bj) * rules.blackjack_pays
                    continue
                best = max(action_evs((first, second), up, rules, can_double=True, can_split=first == second).values())
                ev += p * (p_dealer_bj * -1 + (1 - p_dealer_bj) * best)
    return ev


def rtp(rules: BlackjackRules = BlackjackRules()) -> Fraction:
    """Exact return to player of basic strategy: 1 + EV."""
    return 1 + expected_value(rules)


INSURANCE_RTP = 3 * VALUE_PROBABILITY[TEN]  # an insurance bet returns 3x its stake when the hole card is a ten: 12/13
