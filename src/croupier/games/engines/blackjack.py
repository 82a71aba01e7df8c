"""Blackjack engine: one player hand against the dealer on an infinite deck (rules: math/blackjack_rules.py).

Cards are dealt from the round's card stream (`RngVersion.cards`) in order of play: the player's two cards, the
dealer's up card and hole card, then every card drawn in play (the player's hands left to right, a split hand
receiving its second card when play reaches it, then the dealer), exactly as `BlackjackDeal` orders them.

Params (player):   {} (no options).
Settings (brand):  {"dealer_hits_soft_17": bool, default false;
                    "double_after_split": bool, default true;
                    "blackjack_pays": ratio string 1/1 … 2/1, default "3/2" (e.g. "6/5"); normalised as "p/q"}
                   Fixed: double on any two cards, split once (two hands; split aces take one card each), insurance
                   offered when the dealer shows an ace (costs stake // 2, pays 2:1), the dealer peeks under an ace
                   or a ten, no surrender.
Actions:           {"action": "insurance", "take": bool}   only when offered (dealer shows an ace), before anything
                   {"action": "hit" | "stand" | "double" | "split"}   on the active hand, when allowed
                   Doubling and splitting each stake the initial stake again; insurance stakes stake // 2.
                   An abandoned round declines a pending insurance, then stands every open hand (`finish`).
View (in play):    {"phase": "insurance" | "player", "active": hand index,
                    "hands": [{"cards": [card], "total", "soft", "doubled", "split", "finished", "stake"}],
                    "dealer": {"cards": [up card], "total": of the up card alone, "soft"},   # never the hole card
                    "insurance": {"offered": bool, "taken": bool, "stake": int}, "staked": int}
                   card = {"index": 0 … 51, "rank", "suit", "label"} (rng/outcomes.py `Card.as_dict`).
View (settled):    the outcome.
Outcome:           {"rng": {"player": [...], "dealer": [...], "next": [...]},   # exactly `croupier fair verify
                                                   # --game blackjack --cards N`'s "outcome", N = cards_used (≥ 4)
                    "cards_used": int,
                    "hands": [{... as in the view, "result": "blackjack" | "win" | "push" | "loss",
                               "return": exact text (multiple of the initial stake), "payout": int}],
                    "dealer": {"cards": [...], "total", "soft", "blackjack": bool, "bust": bool},
                    "insurance": {"offered": bool, "taken": bool, "stake": int, "payout": int},
                    "staked": int, "payout": int}
Money (math/blackjack.py `amounts`): each hand pays floor(stake * its return); insurance pays 3 * its stake.
"""

import copy
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any

from croupier.games.engine import JSON, InvalidGameInput, Progress
from croupier.games.engines.inputs import boolean, exact_text, fraction, json_object, rate_text, stake_amount
from croupier.games.math import blackjack as bj
from croupier.games.math.blackjack_ev import INSURANCE_RTP, Action, rtp
from croupier.games.math.blackjack_rules import BlackjackRules, card_value, hand_total
from croupier.games.math.payout import payout_amount
from croupier.games.rng.outcomes import BlackjackDeal, Card, outcome_json
from croupier.games.rng.versions import RngVersion

INSURANCE = "insurance"
MAX_CARDS = 416  # the most any RNG version deals in one round; a round uses far fewer (< 70)
_FIRST_BATCH = 16


class CardStream(Iterator[int]):
    """The round's cards, drawn lazily in batches (a version's card stream has a stable prefix)."""

    def __init__(self, rng: RngVersion[Any], seeds: Any) -> None:
        self._rng = rng
        self._seeds = seeds
        self._cards: tuple[Card, ...] = ()
        self.used = 0

    def __next__(self) -> int:
        if self.used == len(self._cards):
            if self.used >= MAX_CARDS:
                raise StopIteration
            self._cards = self._rng.cards(self._seeds, min(max(_FIRST_BATCH, 2 * self.used), MAX_CARDS))
        card = self._cards[self.used]
        self.used += 1
        return card.index

    def dealt(self) -> tuple[Card, ...]:
        return self._cards[: self.used]


def rules_from(settings: Mapping[str, Any]) -> BlackjackRules:
    return BlackjackRules(
        dealer_hits_soft_17=settings["dealer_hits_soft_17"],
        blackjack_pays=Fraction(settings["blackjack_pays"]),
        double_after_split=settings["double_after_split"],
    )


def _apply(state: bj.BlackjackRound, action: Any, index: int, cards: CardStream) -> bj.BlackjackRound:
    where = f"actions[{index}]"
    raw = json_object(action, where, required=("action",), optional=("take",))
    name = raw["action"]
    if not isinstance(name, str):
        raise InvalidGameInput(f"{where}: action must be one of hit, stand, double, split, insurance")
    if state.phase is bj.Phase.SETTLED:
        raise InvalidGameInput(f"{where}: the round is over")
    if name == INSURANCE:
        if state.phase is not bj.Phase.INSURANCE:
            raise InvalidGameInput(f"{where}: insurance is not offered now")
        if "take" not in raw:
            raise InvalidGameInput(f"{where}: insurance needs take: true or false")
        return bj.insurance(state, boolean(raw["take"], f"{where}.take"), cards)
    if "take" in raw:
        raise InvalidGameInput(f"{where}: only insurance takes 'take'")
    if name not in {a.value for a in Action}:
        raise InvalidGameInput(f"{where}: action must be one of hit, stand, double, split, insurance")
    if state.phase is bj.Phase.INSURANCE:
        raise InvalidGameInput(f"{where}: take or decline insurance first")
    try:
        return bj.act(state, Action(name), cards)
    except bj.BlackjackError as error:
        raise InvalidGameInput(f"{where}: {error}") from None


def _cards_json(cards: Sequence[int]) -> list[JSON]:
    return [Card(card).as_dict() for card in cards]


def _hand_json(hand: bj.Hand, stake: int) -> JSON:
    return {
        "cards": _cards_json(hand.cards),
        "total": hand.total,
        "soft": hand.soft,
        "doubled": hand.doubled,
        "split": hand.from_split,
        "finished": hand.finished,
        "stake": stake * hand.stake,
    }


def _result(hand: bj.Hand, hand_return: Fraction) -> str:
    if hand_return == 0:
        return "loss"
    if hand.is_blackjack and hand_return > 1:
        return "blackjack"
    return "push" if hand_return == hand.stake else "win"


def _insurance_json(state: bj.BlackjackRound, stake: int, offered: bool) -> JSON:
    insurance_stake = stake // 2 if state.insured else 0
    return {"offered": offered, "taken": state.insured, "stake": insurance_stake}


class BlackjackEngine:
    name = "blackjack"
    multi_step = True

    def check_settings(self, settings: Mapping[str, Any]) -> JSON:
        raw = json_object(
            settings, "blackjack settings", optional=("dealer_hits_soft_17", "double_after_split", "blackjack_pays")
        )
        pays = fraction(raw.get("blackjack_pays", "3/2"), "blackjack_pays", Fraction(1), Fraction(2))
        return {
            "dealer_hits_soft_17": boolean(raw.get("dealer_hits_soft_17", False), "dealer_hits_soft_17"),
            "double_after_split": boolean(raw.get("double_after_split", True), "double_after_split"),
            "blackjack_pays": f"{pays.numerator}/{pays.denominator}",
        }

    def check_params(self, params: Mapping[str, Any], stake: int, settings: Mapping[str, Any]) -> JSON:
        json_object(params, "blackjack params")
        return {}

    def describe(self, settings: Mapping[str, Any]) -> JSON:
        normalised = self.check_settings(settings)
        return {
            "game": self.name,
            "rules": {
                **normalised,
                "deck": "infinite",
                "double": "any two cards",
                "split": "once (two hands); split aces take one card each",
                "insurance": "offered when the dealer shows an ace; costs stake // 2, pays 2:1",
                "dealer_peeks": True,
                "surrender": False,
            },
            "rtp": rate_text(rtp(rules_from(normalised))),  # basic strategy, no insurance
            "insurance_rtp": rate_text(INSURANCE_RTP),
        }

    def _replay(
        self,
        rng: RngVersion[Any],
        seeds: Any,
        params: Mapping[str, Any],
        settings: Mapping[str, Any],
        stake: int,
        actions: Sequence[Mapping[str, Any]],
    ) -> tuple[bj.BlackjackRound, CardStream, bool]:
        stake_amount(stake)
        rules = rules_from(self.check_settings(settings))
        self.check_params(params, stake, settings)
        cards = CardStream(rng, seeds)
        state = bj.deal(cards, rules)
        offered = state.phase is bj.Phase.INSURANCE
        for index, action in enumerate(actions):
            state = _apply(state, action, index, cards)
        return state, cards, offered

    def play(
        self,
        rng: RngVersion[Any],
        seeds: Any,
        params: Mapping[str, Any],
        settings: Mapping[str, Any],
        stake: int,
        actions: Sequence[Mapping[str, Any]],
    ) -> Progress:
        state, cards, offered = self._replay(rng, seeds, params, settings, stake, actions)
        return _progress(state, cards, offered, stake, rng)

    def finish(
        self,
        rng: RngVersion[Any],
        seeds: Any,
        params: Mapping[str, Any],
        settings: Mapping[str, Any],
        stake: int,
        actions: Sequence[Mapping[str, Any]],
    ) -> tuple[tuple[JSON, ...], Progress]:
        state, cards, offered = self._replay(rng, seeds, params, settings, stake, actions)
        auto: list[JSON] = []
        if state.phase is bj.Phase.INSURANCE:
            auto.append({"action": INSURANCE, "take": False})
            state = bj.insurance(state, False, cards)
        while state.phase is bj.Phase.PLAYER:
            auto.append({"action": Action.STAND.value})
            state = bj.act(state, Action.STAND, cards)
        return tuple(auto), _progress(state, cards, offered, stake, rng)


def _progress(state: bj.BlackjackRound, cards: CardStream, offered: bool, stake: int, rng: RngVersion[Any]) -> Progress:
    staked, paid = bj.amounts(state, stake)
    detail = {"rng_version": rng.name, "cards_used": cards.used}
    hands = [_hand_json(hand, stake) for hand in state.hands]
    insurance = _insurance_json(state, stake, offered)
    if state.phase is not bj.Phase.SETTLED:
        up_total, up_soft = hand_total([card_value(state.up_card)])
        view = {
            "phase": state.phase.value,
            "active": state.active,
            "hands": hands,
            "dealer": {"cards": _cards_json([state.up_card]), "total": up_total, "soft": up_soft},
            "insurance": insurance,
            "staked": staked,
        }
        allowed = (INSURANCE,) if state.phase is bj.Phase.INSURANCE else tuple(a.value for a in state.allowed_actions())
        return Progress(staked=staked, settled=False, payout=None, view=view, allowed_actions=allowed, detail=detail)
    for hand, hand_json, hand_return in zip(state.hands, hands, state.hand_returns, strict=True):
        hand_json["result"] = _result(hand, hand_return)
        hand_json["return"] = exact_text(hand_return)
        hand_json["payout"] = payout_amount(stake, hand_return)
    dealt = cards.dealt()
    deal = BlackjackDeal(player=(dealt[0], dealt[1]), dealer=(dealt[2], dealt[3]), next=dealt[4:])
    dealer_total, dealer_soft = hand_total(card_value(c) for c in state.dealer)
    outcome = {
        "rng": outcome_json("blackjack", deal),
        "cards_used": cards.used,
        "hands": hands,
        "dealer": {
            "cards": _cards_json(state.dealer),
            "total": dealer_total,
            "soft": dealer_soft,
            "blackjack": state.dealer_blackjack,
            "bust": dealer_total > 21,
        },
        "insurance": {**insurance, "payout": 3 * insurance["stake"] if state.insurance_return else 0},
        "staked": staked,
        "payout": paid,
    }
    return Progress(
        staked=staked, settled=True, payout=paid, view=copy.deepcopy(outcome), outcome=outcome, detail=detail
    )


ENGINE = BlackjackEngine()
