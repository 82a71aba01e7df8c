"""The game engines: outcomes as the RNG and the math give them, replay, RTP, secrecy, refusals, money, finish."""

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import pytest

from croupier.games.engine import JSON, InvalidGameInput, Progress
from croupier.games.engines import ENGINES, engine
from croupier.games.engines.inputs import rate_text
from croupier.games.math import dice, keno, limbo, mines, plinko
from croupier.games.math.blackjack_ev import best_action, rtp
from croupier.games.math.blackjack_rules import BlackjackRules, card_value
from croupier.games.math.confidence import ReturnSample
from croupier.games.math.payout import payout_amount
from croupier.games.rng.cli import verification
from croupier.games.rng.outcomes import Card, outcome_json
from croupier.games.rng.seeds import BetSeeds, ServerSeed
from croupier.games.rng.versions import CertifiedSeed, GameParams, RngVersion, StakeV1, rng_version

STAKE_V1 = rng_version("stake-v1")
CERTIFIED_V1 = rng_version("certified-v1")
GOLDEN_SEEDS = BetSeeds(
    ServerSeed("3f2c9a1b7d4e8f60a5b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1"), "golden-client", 42
)
CERTIFIED_SEED = CertifiedSeed.from_hex("9e3779b97f4a7c15f39cc0605cedc8341082276bf3a27251f86c6a11d0c18e95")


def round_seeds(label: str, index: int) -> tuple[RngVersion[Any], Any]:
    """Round `index` of a seeded run: even rounds play stake-v1, odd rounds certified-v1."""
    if index % 2 == 0:
        return STAKE_V1, BetSeeds(ServerSeed(f"server-{label}"), "client", index // 2)
    return CERTIFIED_V1, CertifiedSeed(hashlib.sha256(f"{label}:{index}".encode()).digest())


def play(name: str, rng: RngVersion[Any], seeds: Any, params: Mapping[str, Any], stake: int = 1000,
         actions: Sequence[Mapping[str, Any]] = (), settings: Mapping[str, Any] | None = None) -> Progress:  # fmt: skip
    return engine(name).play(rng, seeds, params, settings or {}, stake, actions)


class RiggedDeck(StakeV1):
    """A stake-v1 RNG whose cards are chosen by the test (ranks by value; the rest of the deck is 7s)."""

    def __init__(self, cards: Sequence[int]) -> None:
        self.fixed = tuple(cards)

    def cards(self, seeds: BetSeeds, count: int) -> tuple[Card, ...]:
        deck = (*self.fixed, *[20] * max(0, count - len(self.fixed)))  # 20 = ♦7
        return tuple(Card(index) for index in deck[:count])


class RiggedMines(StakeV1):
    def __init__(self, positions: Sequence[int]) -> None:
        self.positions = tuple(positions)

    def mines(self, seeds: BetSeeds, mines: int) -> tuple[int, ...]:
        return self.positions[:mines]


def card(rank: str, suit: int = 0) -> int:
    """The card index of a rank ("2" … "10", "J", "Q", "K", "A"), suit 0 … 3 (♦ ♥ ♠ ♣)."""
    return ("2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K", "A").index(rank) * 4 + suit


# Registry


def test_registry_when_listed_holds_one_engine_per_game() -> None:
    assert set(ENGINES) == {"dice", "limbo", "roulette", "plinko", "keno", "mines", "blackjack", "slots"}
    assert {name for name, e in ENGINES.items() if e.multi_step} == {"mines", "blackjack"}
    assert all(e.name == name for name, e in ENGINES.items())


def test_engine_when_unknown_is_refused() -> None:
    with pytest.raises(InvalidGameInput, match="unknown game"):
        engine("craps")


# Outcomes as `croupier fair verify` and the math give them


def test_dice_when_seeded_rolls_what_fair_verify_prints_and_pays_the_math() -> None:
    progress = play("dice", STAKE_V1, GOLDEN_SEEDS, {"target": 3000, "direction": "over"}, stake=1000)
    verified = verification("dice", GOLDEN_SEEDS, GameParams(), None)["outcome"]
    assert progress.outcome is not None
    assert progress.outcome["rng"] == verified == {"roll": "33.39"}
    assert progress.payout == payout_amount(1000, dice.multiplier(3000, dice.Direction.OVER)) == 1414
    assert progress.settled
    assert progress.staked == 1000
    assert progress.allowed_actions == ()


@pytest.mark.parametrize(
    ("game", "params", "game_params"),
    [
        ("limbo", {"target": 296}, GameParams()),
        ("roulette", {"bets": [{"kind": "straight", "numbers": [12], "amount": 1000}]}, GameParams()),
        ("plinko", {"rows": 12, "risk": "high"}, GameParams(rows=12)),
        ("keno", {"picks": [14, 3, 40]}, GameParams()),
    ],
)
def test_single_step_outcome_when_seeded_is_what_fair_verify_prints(
    game: str, params: JSON, game_params: GameParams
) -> None:
    progress = play(game, STAKE_V1, GOLDEN_SEEDS, params)
    assert progress.outcome is not None
    assert progress.outcome["rng"] == verification(game, GOLDEN_SEEDS, game_params, None)["outcome"]


def test_single_step_payouts_when_seeded_follow_the_math() -> None:
    limbo_round = play("limbo", STAKE_V1, GOLDEN_SEEDS, {"target": 296})  # drawn 2.96: wins exactly at the target
    assert limbo_round.payout == payout_amount(1000, limbo.multiplier(296)) == 2960
    assert play("limbo", STAKE_V1, GOLDEN_SEEDS, {"target": 297}).payout == 0
    straight = {"bets": [{"kind": "straight", "numbers": [12], "amount": 600}, {"kind": "black", "amount": 400}]}
    assert play("roulette", STAKE_V1, GOLDEN_SEEDS, straight).payout == 600 * 36  # pocket 12 is red
    drop = STAKE_V1.plinko(GOLDEN_SEEDS, 12)
    expected = payout_amount(1000, plinko.settle(drop.path, plinko.Risk.HIGH))
    assert play("plinko", STAKE_V1, GOLDEN_SEEDS, {"rows": 12, "risk": "high"}).payout == expected
    keno_round = play("keno", STAKE_V1, GOLDEN_SEEDS, {"picks": [14, 3, 40]})  # 14 and 3 are drawn
    assert keno_round.outcome is not None
    assert keno_round.outcome["hits"] == [3, 14]
    assert keno_round.payout == payout_amount(1000, keno.pay_table(3)[2])


@pytest.mark.parametrize("game", ["dice", "limbo", "roulette", "plinko", "keno", "mines", "blackjack"])
def test_certified_outcome_when_seeded_is_the_versions_draw(game: str) -> None:
    params: dict[str, JSON] = {
        "dice": {"target": 5000, "direction": "under"},
        "limbo": {"target": 200},
        "roulette": {"bets": [{"kind": "red", "amount": 1000}]},
        "plinko": {"rows": 16, "risk": "low"},
        "keno": {"picks": [1, 2, 3]},
        "mines": {"mines": 5},
        "blackjack": {},
    }
    _, progress = engine(game).finish(CERTIFIED_V1, CERTIFIED_SEED, params[game], {}, 1000, [])
    assert progress.outcome is not None
    cards = progress.outcome.get("cards_used", 52)
    draw = CERTIFIED_V1.play(game, CERTIFIED_SEED, GameParams(rows=16, mines=5, cards=cards))
    assert progress.outcome["rng"] == outcome_json(game, draw)


def test_mines_when_settled_shows_the_positions_fair_verify_prints() -> None:
    _, progress = engine("mines").finish(STAKE_V1, GOLDEN_SEEDS, {"mines": 5}, {}, 1000, [])
    assert progress.outcome is not None
    assert progress.outcome["rng"] == verification("mines", GOLDEN_SEEDS, GameParams(mines=5), None)["outcome"]
    assert progress.outcome["rng"]["mines"] == [8, 9, 18, 1, 14]


def test_blackjack_when_settled_shows_the_cards_fair_verify_prints() -> None:
    progress = play("blackjack", STAKE_V1, GOLDEN_SEEDS, {}, actions=[{"action": "stand"}])  # 6 6 against a 10
    assert progress.settled
    assert progress.outcome is not None
    used = progress.outcome["cards_used"]
    assert progress.outcome["rng"] == verification("blackjack", GOLDEN_SEEDS, GameParams(cards=used), None)["outcome"]
    assert [c["index"] for c in progress.outcome["hands"][0]["cards"]] == [17, 17]
    assert [c["index"] for c in progress.outcome["dealer"]["cards"]][:2] == [36, 3]


# Replay


def test_single_step_rounds_when_replayed_are_identical() -> None:
    for index in range(20):
        rng, seeds = round_seeds("replay", index)
        params = {"picks": [5, 9, 33]}
        assert play("keno", rng, seeds, params) == play("keno", rng, seeds, params)


def test_multi_step_rounds_when_replayed_action_by_action_are_identical() -> None:
    for index in range(40):
        rng, seeds = round_seeds("replay-multi", index)
        actions, _ = basic_strategy(rng, seeds, {})
        for count in range(len(actions) + 1):
            first = play("blackjack", rng, seeds, {}, actions=actions[:count])
            assert first == play("blackjack", rng, seeds, {}, actions=actions[:count])
            assert first.settled == (count == len(actions))


# RTP over seeded simulations


def basic_strategy(rng: RngVersion[Any], seeds: Any, settings: JSON, stake: int = 1000) -> tuple[list[JSON], Progress]:
    """Play a blackjack round by basic strategy (insurance declined), deciding from what the view shows."""
    rules = rules_of(settings)
    actions: list[JSON] = []
    progress = play("blackjack", rng, seeds, {}, stake, actions, settings)
    while not progress.settled:
        if progress.allowed_actions == ("insurance",):
            actions.append({"action": "insurance", "take": False})
        else:
            view = progress.view
            hand = view["hands"][view["active"]]
            values = tuple(card_value(c["index"]) for c in hand["cards"])
            up = card_value(view["dealer"]["cards"][0]["index"])
            allowed = progress.allowed_actions
            choice = best_action(values, up, rules, can_double="double" in allowed, can_split="split" in allowed)
            actions.append({"action": choice.value})
        progress = play("blackjack", rng, seeds, {}, stake, actions, settings)
    return actions, progress


def rules_of(settings: JSON) -> BlackjackRules:
    normalised = engine("blackjack").check_settings(settings)
    return BlackjackRules(
        dealer_hits_soft_17=normalised["dealer_hits_soft_17"],
        blackjack_pays=Fraction(normalised["blackjack_pays"]),
        double_after_split=normalised["double_after_split"],
    )


def single_step(
    game: str, params: JSON, settings: JSON | None = None
) -> Callable[[RngVersion[Any], Any, int], Progress]:
    return lambda rng, seeds, stake: play(game, rng, seeds, params, stake, settings=settings)


def mines_reveal_three(rng: RngVersion[Any], seeds: Any, stake: int) -> Progress:
    actions: list[JSON] = []
    progress = play("mines", rng, seeds, {"mines": 3}, stake)
    for tile in (0, 6, 12):
        if progress.settled:
            break
        actions.append({"action": "reveal", "tile": tile})
        progress = play("mines", rng, seeds, {"mines": 3}, stake, actions)
    if not progress.settled:
        progress = play("mines", rng, seeds, {"mines": 3}, stake, [*actions, {"action": "cashout"}])
    return progress


def blackjack_basic(rng: RngVersion[Any], seeds: Any, stake: int) -> Progress:
    return basic_strategy(rng, seeds, {}, stake)[1]


SIMULATIONS: dict[str, tuple[Callable[[RngVersion[Any], Any, int], Progress], Fraction, int]] = {
    # game: (one round, exact RTP, rounds)
    "dice": (single_step("dice", {"target": 4950, "direction": "under"}), dice.rtp(4950, dice.Direction.UNDER), 30000),
    "limbo": (single_step("limbo", {"target": 200}), limbo.rtp(200), 30000),
    "roulette": (
        single_step(
            "roulette",
            {
                "bets": [
                    {"kind": "red", "amount": 500_000},
                    {"kind": "corner", "numbers": [17, 18, 20, 21], "amount": 300_000},
                    {"kind": "straight", "numbers": [0], "amount": 200_000},
                ]
            },
        ),
        Fraction(36, 37),
        30000,
    ),
    "plinko": (single_step("plinko", {"rows": 10, "risk": "medium"}), plinko.rtp(10, plinko.Risk.MEDIUM), 30000),
    "keno": (single_step("keno", {"picks": [3, 11, 19, 27, 35]}), keno.rtp(5), 30000),
    "mines": (mines_reveal_three, mines.rtp(3, 3), 20000),
    "blackjack": (blackjack_basic, rtp(BlackjackRules()), 20000),
}


@pytest.mark.parametrize("game", sorted(SIMULATIONS))
def test_seeded_simulation_when_settled_returns_the_exact_rtp(game: str) -> None:
    one_round, exact, rounds = SIMULATIONS[game]
    stake = 1_000_000
    sample = ReturnSample()
    for index in range(rounds):
        rng, seeds = round_seeds(f"rtp-{game}", index)
        progress = one_round(rng, seeds, stake)
        assert progress.settled
        assert progress.payout is not None
        sample.add(1 + (progress.payout - progress.staked) / stake)  # per initial stake: doubles and splits count
    assert sample.contains(float(exact)), (sample.mean, float(exact), sample.half_width())


# Secrecy: a view before settlement depends only on what the player may know


def test_mines_view_when_active_is_the_same_whatever_the_hidden_mines() -> None:
    actions = [{"action": "reveal", "tile": 12}, {"action": "reveal", "tile": 7}]
    views = [
        play("mines", RiggedMines(positions), GOLDEN_SEEDS, {"mines": 3}, actions=actions).view
        for positions in ((0, 1, 2), (22, 23, 24), (3, 18, 9))
    ]
    assert views[0]["status"] == "active"
    assert views[0]["safe_reveals"] == 2
    assert json.dumps(views[0]) == json.dumps(views[1]) == json.dumps(views[2])


def test_mines_view_when_active_never_names_a_mine() -> None:
    for index in range(30):
        rng, seeds = round_seeds("secret-mines", index)
        positions = set(rng.mines(seeds, 5))
        safe = [tile for tile in range(25) if tile not in positions][:3]
        progress = play("mines", rng, seeds, {"mines": 5}, actions=[{"action": "reveal", "tile": t} for t in safe])
        text = json.dumps(progress.view)
        assert not progress.settled
        assert "grid" not in text
        assert "rng" not in text
        assert {tile["tile"] for tile in progress.view["revealed"]} == set(safe)


def test_blackjack_view_when_in_play_is_the_same_whatever_the_hole_card() -> None:
    views = []
    for hole in (card("K"), card("5", 2), card("A", 3)):  # under a 9 the dealer does not peek
        progress = play("blackjack", RiggedDeck([card("10"), card("6"), card("9"), hole]), GOLDEN_SEEDS, {})
        assert not progress.settled
        views.append(json.dumps({"view": progress.view, "allowed": progress.allowed_actions}))
    assert views[0] == views[1] == views[2]
    assert '"rank": "9"' in views[0]
    assert '"K"' not in views[0]
    assert '"A"' not in views[0]


def test_blackjack_view_when_insurance_is_offered_hides_the_hole_card() -> None:
    for hole in (card("K"), card("4")):
        progress = play("blackjack", RiggedDeck([card("10"), card("7"), card("A"), hole]), GOLDEN_SEEDS, {})
        assert progress.allowed_actions == ("insurance",)
        assert [c["rank"] for c in progress.view["dealer"]["cards"]] == ["A"]
        assert progress.view["dealer"]["total"] == 11
        assert progress.outcome is None


def test_blackjack_view_when_settled_shows_the_hole_card() -> None:
    deck = RiggedDeck([card("10"), card("8"), card("9"), card("K")])
    progress = play("blackjack", deck, GOLDEN_SEEDS, {}, actions=[{"action": "stand"}])
    assert progress.settled
    assert [c["rank"] for c in progress.view["dealer"]["cards"]] == ["9", "K"]
    assert progress.view["hands"][0]["result"] == "loss"
    assert progress.payout == 0


# Refusals


@pytest.mark.parametrize(
    ("game", "params", "stake"),
    [
        ("dice", {"target": 5000.0, "direction": "over"}, 100),
        ("dice", {"target": True, "direction": "over"}, 100),
        ("dice", {"target": "5000", "direction": "over"}, 100),
        ("dice", {"target": 5000, "direction": "sideways"}, 100),
        ("dice", {"target": 9900, "direction": "over"}, 100),
        ("dice", {"target": 5000, "direction": "over", "extra": 1}, 100),
        ("dice", {"target": 5000}, 100),
        ("dice", [5000, "over"], 100),
        ("limbo", {"target": 100}, 100),
        ("limbo", {"target": 1.5}, 100),
        ("roulette", {"bets": [{"kind": "red", "amount": 60}]}, 100),
        ("roulette", {"bets": [{"kind": "split", "numbers": [1, 5], "amount": 100}]}, 100),
        ("roulette", {"bets": [{"kind": "straight", "amount": 100}]}, 100),
        ("roulette", {"bets": [{"kind": "straight", "numbers": [37], "amount": 100}]}, 100),
        ("roulette", {"bets": [{"kind": "straight", "numbers": [1, 1], "amount": 100}]}, 100),
        ("roulette", {"bets": [{"kind": "red", "amount": 0}, {"kind": "black", "amount": 100}]}, 100),
        ("roulette", {"bets": [{"kind": "red", "amount": 100, "color": "red"}]}, 100),
        ("roulette", {"bets": []}, 100),
        ("plinko", {"rows": 7, "risk": "low"}, 100),
        ("plinko", {"rows": 8, "risk": "extreme"}, 100),
        ("keno", {"picks": []}, 100),
        ("keno", {"picks": [1, 1]}, 100),
        ("keno", {"picks": list(range(1, 12))}, 100),
        ("keno", {"picks": [0]}, 100),
        ("keno", {"picks": [41]}, 100),
        ("mines", {"mines": 0}, 100),
        ("mines", {"mines": 25}, 100),
        ("mines", {"mines": False}, 100),
        ("blackjack", {"side_bet": 5}, 100),
        ("slots", {"slot": "fruit_five", "lines": 3}, 100),
        ("slots", {"slot": "fruit_five", "lines": 11}, 110),
        ("slots", {"slot": "tiny", "lines": 1}, 100),  # not offered by default
        ("slots", {"slot": "../etc/passwd"}, 100),
        ("dice", {"target": 5000, "direction": "over"}, 0),
        ("dice", {"target": 5000, "direction": "over"}, True),
    ],
)
def test_params_when_invalid_are_refused(game: str, params: Any, stake: Any) -> None:
    with pytest.raises(InvalidGameInput):
        play(game, STAKE_V1, GOLDEN_SEEDS, params, stake=stake)


@pytest.mark.parametrize(
    ("game", "settings"),
    [
        ("dice", {"house_edge": 0.01}),
        ("dice", {"house_edge": "1/2"}),
        ("dice", {"house_edge": "-0.01"}),
        ("dice", {"house_edge": "abc"}),
        ("dice", {"edge": "0.01"}),
        ("mines", {"house_edge": "NaN"}),
        ("limbo", {"max_target": 100}),
        ("roulette", {"wheel": "american"}),
        ("plinko", {"risks": []}),
        ("plinko", {"risks": ["low", "low"]}),
        ("plinko", {"rows": [8, 17]}),
        ("blackjack", {"blackjack_pays": "3"}),
        ("blackjack", {"blackjack_pays": 1.5}),
        ("blackjack", {"dealer_hits_soft_17": "yes"}),
        ("slots", {"slots": ["unknown"]}),
        ("slots", {"slots": "fruit_five"}),
    ],
)
def test_settings_when_invalid_are_refused(game: str, settings: Any) -> None:
    with pytest.raises(InvalidGameInput):
        engine(game).check_settings(settings)


@pytest.mark.parametrize("game", ["dice", "limbo", "roulette", "plinko", "keno", "slots"])
def test_single_step_game_when_sent_an_action_refuses_it(game: str) -> None:
    params: dict[str, JSON] = {
        "dice": {"target": 5000, "direction": "over"},
        "limbo": {"target": 200},
        "roulette": {"bets": [{"kind": "odd", "amount": 100}]},
        "plinko": {"rows": 8, "risk": "low"},
        "keno": {"picks": [1]},
        "slots": {"slot": "fruit_five"},
    }
    with pytest.raises(InvalidGameInput, match="no actions"):
        play(game, STAKE_V1, GOLDEN_SEEDS, params[game], stake=100, actions=[{"action": "stand"}])


@pytest.mark.parametrize(
    "actions",
    [
        [{"action": "reveal", "tile": 12}, {"action": "reveal", "tile": 12}],
        [{"action": "reveal", "tile": 25}],
        [{"action": "reveal", "tile": True}],
        [{"action": "reveal"}],
        [{"action": "cashout", "tile": 3}],
        [{"action": "flag", "tile": 3}],
        [{"action": "cashout"}, {"action": "cashout"}],
        [{"action": "reveal", "tile": 0}, {"action": "reveal", "tile": 12}],  # tile 0 is a mine: the round is over
        ["cashout"],
    ],
)
def test_mines_action_when_not_allowed_is_refused(actions: list[Any]) -> None:
    with pytest.raises(InvalidGameInput):
        play("mines", RiggedMines([0, 1, 2]), GOLDEN_SEEDS, {"mines": 3}, actions=actions)


@pytest.mark.parametrize(
    ("cards", "actions"),
    [
        ([card("10"), card("6"), card("9"), card("7")], [{"action": "insurance", "take": True}]),
        ([card("10"), card("6"), card("9"), card("7")], [{"action": "split"}]),
        ([card("2"), card("3"), card("9"), card("7"), card("2")], [{"action": "hit"}, {"action": "double"}]),
        ([card("10"), card("6"), card("A"), card("7")], [{"action": "hit"}]),  # insurance first
        ([card("10"), card("6"), card("A"), card("7")], [{"action": "insurance"}]),
        ([card("10"), card("6"), card("A"), card("7")], [{"action": "insurance", "take": "no"}]),
        ([card("10"), card("6"), card("9"), card("7")], [{"action": "hit", "take": False}]),
        ([card("10"), card("6"), card("9"), card("7")], [{"action": "surrender"}]),
        ([card("10"), card("6"), card("9"), card("7")], [{"action": "stand"}, {"action": "stand"}]),
        ([card("8"), card("8"), card("9"), card("7")], [{"action": "split"}, {"action": "split"}]),
    ],
)
def test_blackjack_action_when_not_allowed_is_refused(cards: list[int], actions: list[Any]) -> None:
    with pytest.raises(InvalidGameInput):
        play("blackjack", RiggedDeck(cards), GOLDEN_SEEDS, {}, actions=actions)


# Money: what is staked and what is paid


def test_blackjack_double_when_won_stakes_twice_and_pays_four_times() -> None:
    deck = RiggedDeck([card("6"), card("5"), card("9"), card("8"), card("10")])  # 11 doubles to 21, dealer 17
    before = play("blackjack", deck, GOLDEN_SEEDS, {}, stake=1000)
    assert before.staked == 1000
    assert "double" in before.allowed_actions
    after = play("blackjack", deck, GOLDEN_SEEDS, {}, stake=1000, actions=[{"action": "double"}])
    assert after.settled
    assert after.staked == 2000
    assert after.payout == 4000


def test_blackjack_split_when_both_hands_win_stakes_twice_and_pays_each_hand() -> None:
    # 8 8 against a 6 (hole 10): hands 8+3 (doubled after split to 21) and 8+10 stand; dealer 16 draws a 7s deck
    deck = RiggedDeck([card("8"), card("8", 1), card("6"), card("10"), card("3"), card("10", 1), card("10", 2)])
    split = play("blackjack", deck, GOLDEN_SEEDS, {}, stake=1000, actions=[{"action": "split"}])
    assert split.staked == 2000
    assert not split.settled
    assert len(split.view["hands"]) == 2
    actions = [{"action": "split"}, {"action": "double"}, {"action": "stand"}]
    done = play("blackjack", deck, GOLDEN_SEEDS, {}, stake=1000, actions=actions)
    assert done.settled
    assert done.staked == 3000
    assert done.outcome is not None
    assert done.outcome["dealer"]["total"] == 23
    assert done.payout == 4000 + 2000
    assert [h["payout"] for h in done.outcome["hands"]] == [4000, 2000]


def test_blackjack_double_after_split_when_the_brand_forbids_it_is_refused() -> None:
    deck = RiggedDeck([card("8"), card("8", 1), card("6"), card("10"), card("3")])
    settings = {"double_after_split": False}
    split = play("blackjack", deck, GOLDEN_SEEDS, {}, actions=[{"action": "split"}], settings=settings)
    assert "double" not in split.allowed_actions
    with pytest.raises(InvalidGameInput):
        play(
            "blackjack", deck, GOLDEN_SEEDS, {}, actions=[{"action": "split"}, {"action": "double"}], settings=settings
        )


def test_blackjack_insurance_when_taken_stakes_half_and_pays_two_to_one_on_dealer_blackjack() -> None:
    deck = RiggedDeck([card("10"), card("9"), card("A"), card("K")])
    progress = play("blackjack", deck, GOLDEN_SEEDS, {}, stake=1001, actions=[{"action": "insurance", "take": True}])
    assert progress.settled
    assert progress.staked == 1001 + 500
    assert progress.payout == 3 * 500  # the hand loses to the dealer's blackjack; insurance returns 3x its stake
    assert progress.outcome is not None
    assert progress.outcome["insurance"] == {
        "offered": True,
        "taken": True,
        "stake": 500,
        "payout": 1500,
    }


def test_blackjack_insurance_when_taken_and_dealer_has_none_loses_it_and_play_goes_on() -> None:
    deck = RiggedDeck([card("10"), card("9"), card("A"), card("5")])
    progress = play("blackjack", deck, GOLDEN_SEEDS, {}, stake=1000, actions=[{"action": "insurance", "take": True}])
    assert not progress.settled
    assert progress.staked == 1500
    assert progress.allowed_actions[:2] == ("hit", "stand")
    assert progress.view["insurance"] == {"offered": True, "taken": True, "stake": 500}


def test_blackjack_natural_when_dealt_pays_the_brands_ratio() -> None:
    deck = RiggedDeck([card("A"), card("K"), card("9"), card("7")])
    assert play("blackjack", deck, GOLDEN_SEEDS, {}, stake=1000).payout == 2500
    six_five = play("blackjack", deck, GOLDEN_SEEDS, {}, stake=1000, settings={"blackjack_pays": "6/5"})
    assert six_five.settled
    assert six_five.payout == 2200
    assert six_five.outcome is not None
    assert six_five.outcome["hands"][0]["result"] == "blackjack"


def test_mines_cashout_when_before_any_reveal_refunds_the_stake() -> None:
    progress = play("mines", STAKE_V1, GOLDEN_SEEDS, {"mines": 24}, stake=777, actions=[{"action": "cashout"}])
    assert progress.settled
    assert progress.payout == 777
    assert progress.outcome is not None
    assert progress.outcome["status"] == "cashed_out"
    assert progress.outcome["multiplier"] == "1"


def test_mines_reveal_when_safe_then_cashout_pays_the_multiplier() -> None:
    rigged = RiggedMines([0, 1, 2])
    actions: list[JSON] = [{"action": "reveal", "tile": 10}, {"action": "reveal", "tile": 11}]
    active = play("mines", rigged, GOLDEN_SEEDS, {"mines": 3}, stake=10_000, actions=actions)
    expected = payout_amount(10_000, mines.multiplier(3, 2))
    assert active.view["cashout_payout"] == expected
    assert active.allowed_actions == ("reveal", "cashout")
    done = play("mines", rigged, GOLDEN_SEEDS, {"mines": 3}, stake=10_000, actions=[*actions, {"action": "cashout"}])
    assert done.payout == expected


def test_mines_reveal_when_a_mine_loses_everything() -> None:
    actions = [{"action": "reveal", "tile": 10}, {"action": "reveal", "tile": 2}]
    progress = play("mines", RiggedMines([0, 1, 2]), GOLDEN_SEEDS, {"mines": 3}, actions=actions)
    assert progress.settled
    assert progress.payout == 0
    assert progress.outcome is not None
    assert progress.outcome["status"] == "lost"
    assert progress.outcome["revealed"][-1] == {"tile": 2, "safe": False}


def test_mines_reveal_when_the_last_safe_tile_cashes_out_by_itself() -> None:
    positions = set(STAKE_V1.mines(GOLDEN_SEEDS, 24))
    safe = next(tile for tile in range(25) if tile not in positions)
    done = play("mines", STAKE_V1, GOLDEN_SEEDS, {"mines": 24}, stake=100, actions=[{"action": "reveal", "tile": safe}])
    assert done.settled
    assert done.outcome is not None
    assert done.outcome["status"] == "cashed_out"
    assert done.payout == payout_amount(100, mines.multiplier(24, 1)) == 2475


# Finish: the abandoned round settles as the rules say, and the auto actions replay


def test_mines_finish_when_active_cashes_out_and_replays() -> None:
    for index in range(30):
        rng, seeds = round_seeds("finish-mines", index)
        positions = set(rng.mines(seeds, 4))
        actions = [{"action": "reveal", "tile": t} for t in range(25) if t not in positions][: index % 4]
        auto, progress = engine("mines").finish(rng, seeds, {"mines": 4}, {}, 1000, actions)
        assert auto == ({"action": "cashout"},)
        assert progress.settled
        assert progress.payout == payout_amount(1000, mines.multiplier(4, index % 4))
        assert play("mines", rng, seeds, {"mines": 4}, actions=[*actions, *auto]) == progress


def test_mines_finish_when_settled_takes_no_action() -> None:
    actions = [{"action": "reveal", "tile": 1}]
    auto, progress = engine("mines").finish(RiggedMines([1, 2]), GOLDEN_SEEDS, {"mines": 2}, {}, 1000, actions)
    assert auto == ()
    assert progress.payout == 0


def test_blackjack_finish_when_abandoned_stands_every_hand_and_replays() -> None:
    seen_insurance = seen_split = 0
    for index in range(300):
        rng, seeds = round_seeds("finish-blackjack", index)
        actions, _ = basic_strategy(rng, seeds, {})
        partial = actions[: index % 3]
        auto, progress = engine("blackjack").finish(rng, seeds, {}, {}, 1000, partial)
        assert progress.settled
        assert progress.payout is not None
        assert play("blackjack", rng, seeds, {}, actions=[*partial, *auto]) == progress
        assert all(a in ({"action": "stand"}, {"action": "insurance", "take": False}) for a in auto)
        seen_insurance += {"action": "insurance", "take": False} in auto
        seen_split += len(progress.view["hands"]) == 2
    assert seen_insurance
    assert seen_split


def test_blackjack_finish_when_insurance_pending_declines_it_then_stands() -> None:
    deck = RiggedDeck([card("10"), card("6"), card("A"), card("7")])
    auto, progress = engine("blackjack").finish(deck, GOLDEN_SEEDS, {}, {}, 1000, [])
    assert auto == ({"action": "insurance", "take": False}, {"action": "stand"})
    assert progress.staked == 1000
    assert progress.payout == 0


@pytest.mark.parametrize("game", ["dice", "keno"])
def test_single_step_finish_when_called_is_play_without_actions(game: str) -> None:
    params: dict[str, JSON] = {"dice": {"target": 5000, "direction": "over"}, "keno": {"picks": [4, 8]}}
    auto, progress = engine(game).finish(CERTIFIED_V1, CERTIFIED_SEED, params[game], {}, 100, [])
    assert auto == ()
    assert progress == play(game, CERTIFIED_V1, CERTIFIED_SEED, params[game], stake=100)


# Normalised params and settings, public configuration


def test_params_when_valid_are_normalised() -> None:
    assert engine("keno").check_params({"picks": [30, 2, 17]}, 100, {}) == {"picks": [2, 17, 30]}
    roulette_params = {"bets": [{"amount": 100, "numbers": [5, 4, 2, 1], "kind": "corner"}]}
    assert engine("roulette").check_params(roulette_params, 100, {}) == {
        "bets": [{"kind": "corner", "numbers": [1, 2, 4, 5], "amount": 100}]
    }
    assert engine("roulette").check_params(
        {"bets": [{"kind": "dozen", "numbers": list(range(13, 25)), "amount": 5}]}, 5, {}
    )
    assert engine("slots").check_params({"slot": "fruit_five"}, 100, {}) == {"slot": "fruit_five", "lines": 10}
    assert engine("blackjack").check_params({}, 100, {}) == {}


def test_settings_when_empty_are_filled_with_defaults() -> None:
    assert engine("dice").check_settings({}) == {"house_edge": "0.01"}
    assert engine("mines").check_settings({"house_edge": "0.020"}) == {"house_edge": "0.02"}
    assert engine("blackjack").check_settings({"blackjack_pays": "12/10"}) == {
        "dealer_hits_soft_17": False, "double_after_split": True, "blackjack_pays": "6/5",
    }  # fmt: skip
    assert engine("plinko").check_settings({"risks": ["high", "low"]}) == {
        "rows": list(range(8, 17)),
        "risks": ["low", "high"],
    }
    assert engine("slots").check_settings({}) == {"slots": ["fruit_five"]}


def test_dice_house_edge_when_set_by_the_brand_changes_the_multiplier() -> None:
    params = {"target": 5000, "direction": "under"}
    progress = play("dice", STAKE_V1, GOLDEN_SEEDS, params, stake=10_000, settings={"house_edge": "0.02"})
    assert progress.payout == payout_amount(10_000, dice.multiplier(5000, dice.Direction.UNDER, Fraction(2, 100)))
    assert progress.outcome is not None
    assert progress.outcome["win_multiplier"] == "1.9601"


def test_plinko_risk_when_not_offered_by_the_brand_is_refused() -> None:
    with pytest.raises(InvalidGameInput, match="risk"):
        play("plinko", STAKE_V1, GOLDEN_SEEDS, {"rows": 8, "risk": "high"}, settings={"risks": ["low"]})


def test_describe_when_asked_gives_the_exact_rtp_of_the_math() -> None:
    rules = BlackjackRules(dealer_hits_soft_17=True, blackjack_pays=Fraction(6, 5))
    described = engine("blackjack").describe({"dealer_hits_soft_17": True, "blackjack_pays": "6/5"})
    assert described["rtp"] == rate_text(rtp(rules))
    assert engine("keno").describe({})["rtp"]["5"] == rate_text(keno.rtp(5))
    assert engine("plinko").describe({"rows": [16]})["rtp"] == {
        "16": {risk.value: rate_text(plinko.rtp(16, risk)) for risk in plinko.Risk}
    }
    assert engine("mines").describe({"house_edge": "0.03"})["rtp"] == "0.9700000000"
    assert engine("roulette").describe({})["rtp"] == rate_text(Fraction(36, 37))
    dice_rtp = engine("dice").describe({})["rtp"]
    assert Fraction(dice_rtp["max"]) <= Fraction(99, 100)


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_describe_when_serialised_is_plain_json(name: str) -> None:
    described = engine(name).describe({})
    assert json.loads(json.dumps(described)) == described
    assert described["game"] == name
