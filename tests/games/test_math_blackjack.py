import random
from collections.abc import Iterator
from fractions import Fraction

import pytest

from croupier.games.math import blackjack, blackjack_ev
from croupier.games.math.blackjack import BlackjackError, Phase
from croupier.games.math.blackjack_ev import Action
from croupier.games.math.blackjack_rules import BlackjackRules, card_name, card_value
from croupier.games.math.confidence import ReturnSample

S17 = BlackjackRules()
H17 = BlackjackRules(dealer_hits_soft_17=True)
EXACT_S17_RTP = Fraction(7016161098045143337706614398, 7056410014866816666030739693)
EXACT_H17_RTP = Fraction(91009361114781483510240679590, 91733330193268616658399616009)


def card(rank: str, suit: int = 0) -> int:
    return blackjack_ranks.index(rank) * 4 + suit


blackjack_ranks = ["2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K", "A"]


def shoe(*ranks: str) -> Iterator[int]:
    return iter([card(r) for r in ranks])


def test_card_order_when_indexed_is_rank_major_diamonds_first() -> None:
    assert card_name(0) == "2♦"
    assert card_name(3) == "2♣"
    assert card_name(51) == "A♣"
    assert [card_value(c) for c in (32, 36, 47, 48)] == [10, 10, 10, 1]


def test_blackjack_rtp_when_dealer_stands_soft_17_is_exact() -> None:
    assert blackjack_ev.rtp(S17) == EXACT_S17_RTP
    assert Fraction(9942, 10000) < EXACT_S17_RTP < Fraction(9943, 10000)


def test_blackjack_rtp_when_dealer_hits_soft_17_is_exact_and_lower() -> None:
    assert blackjack_ev.rtp(H17) == EXACT_H17_RTP
    assert EXACT_H17_RTP < EXACT_S17_RTP


def test_dealer_distribution_when_summed_is_one_for_every_up_card() -> None:
    for up in range(1, 11):
        assert sum(blackjack_ev.dealer_final_distribution(up, S17).values()) == 1


def test_insurance_rtp_when_infinite_deck_is_twelve_thirteenths() -> None:
    assert Fraction(12, 13) == blackjack_ev.INSURANCE_RTP


@pytest.mark.parametrize(
    ("hand", "up", "action"),
    [
        ((10, 6), 10, Action.HIT),
        ((10, 6), 6, Action.STAND),
        ((6, 5), 10, Action.DOUBLE),
        ((8, 8), 10, Action.SPLIT),
        ((10, 10), 6, Action.STAND),
        ((1, 7), 9, Action.HIT),
        ((1, 1), 1, Action.SPLIT),
        ((10, 2), 4, Action.STAND),
    ],
)
def test_basic_strategy_when_textbook_hands_agrees(hand: tuple[int, int], up: int, action: Action) -> None:
    assert blackjack_ev.best_action(hand, up, S17, can_double=True, can_split=hand[0] == hand[1]) is action


def test_round_when_player_has_blackjack_pays_three_to_two() -> None:
    state = blackjack.deal(shoe("A", "K", "9", "7"))
    assert state.phase is Phase.SETTLED
    assert state.returned == Fraction(5, 2)
    assert blackjack.amounts(state, 101) == (101, 252)


def test_round_when_dealer_peeks_blackjack_under_ten_loses_only_the_stake() -> None:
    state = blackjack.deal(shoe("9", "9", "K", "A"))
    assert state.phase is Phase.SETTLED
    assert state.returned == 0


def test_round_when_insured_and_dealer_has_blackjack_insurance_pays_two_to_one() -> None:
    state = blackjack.deal(shoe("9", "9", "A", "Q"))
    assert state.phase is Phase.INSURANCE
    state = blackjack.insurance(state, True, shoe())
    assert state.phase is Phase.SETTLED
    assert state.staked == Fraction(3, 2)
    assert state.returned == Fraction(3, 2)
    assert blackjack.amounts(state, 100) == (150, 150)


def test_round_when_player_hits_and_stands_dealer_draws_to_17() -> None:
    state = blackjack.deal(shoe("10", "3", "6", "10"))
    state = blackjack.act(state, Action.HIT, shoe("5"))
    state = blackjack.act(state, Action.STAND, shoe("2"))  # 18 against the dealer 16 + 2: a push
    assert state.dealer_total == 18
    assert state.returned == 1


def test_round_when_doubled_wins_pays_twice_the_doubled_stake() -> None:
    state = blackjack.deal(shoe("6", "5", "6", "10"))
    state = blackjack.act(state, Action.DOUBLE, shoe("10", "9"))
    assert state.phase is Phase.SETTLED
    assert state.staked == 2
    assert state.returned == 4  # 21 against the dealer's bust 25


def test_round_when_split_plays_both_hands_in_order() -> None:
    state = blackjack.deal(shoe("8", "8", "7", "10"))
    state = blackjack.act(state, Action.SPLIT, shoe("3"))  # first hand 8 3
    assert Action.SPLIT not in state.allowed_actions()
    state = blackjack.act(state, Action.DOUBLE, shoe("10", "10"))  # 21 doubled; second hand 8 10
    state = blackjack.act(state, Action.STAND, shoe())  # dealer 17 stands
    assert [h.total for h in state.hands] == [21, 18]
    assert state.hand_returns == (4, 2)


def test_round_when_split_aces_takes_one_card_each_and_21_is_not_blackjack() -> None:
    state = blackjack.deal(shoe("A", "A", "9", "9"))
    state = blackjack.act(state, Action.SPLIT, shoe("K", "5"))
    assert state.phase is Phase.SETTLED
    assert state.hand_returns == (2, 0)  # 21 (paid 1:1) and 16 against 18


def test_round_when_action_not_allowed_refuses() -> None:
    state = blackjack.act(blackjack.deal(shoe("10", "3", "6", "10")), Action.HIT, shoe("2"))
    with pytest.raises(BlackjackError):
        blackjack.act(state, Action.DOUBLE, shoe("2"))


def test_basic_strategy_simulation_when_seeded_lies_in_confidence_interval() -> None:
    rng = random.Random(4007)

    def cards() -> Iterator[int]:
        while True:
            yield rng.randrange(52)

    sample = ReturnSample()
    for _ in range(150_000):
        source = cards()
        state = blackjack.deal(source, S17)
        if state.phase is Phase.INSURANCE:
            state = blackjack.insurance(state, False, source)
        while state.phase is Phase.PLAYER:
            state = blackjack.act(state, blackjack.basic_strategy_action(state), source)
        sample.add(float(state.returned - state.staked))
    assert sample.contains(float(EXACT_S17_RTP - 1))
