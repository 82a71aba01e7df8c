"""The slots engine: spins from the RNG's reel stops, free spins inside the round with their cap, RTP, money."""

import itertools
import json
from fractions import Fraction
from typing import Any

import pytest

from croupier.games.engine import InvalidGameInput
from croupier.games.engines import engine
from croupier.games.engines.slots import MAX_FREE_SPINS, play_spins, shipped_definitions
from croupier.games.math.confidence import ReturnSample
from croupier.games.math.payout import payout_amount
from croupier.games.rng.versions import RngVersion
from croupier.games.slots.definition import parse_definition
from croupier.games.slots.evaluate import evaluate_spin
from croupier.games.slots.rtp import slot_rtp
from tests.games.test_engines import CERTIFIED_SEED, CERTIFIED_V1, GOLDEN_SEEDS, STAKE_V1, round_seeds

TINY = {"slots": ["tiny"]}
BOTH = {"slots": ["fruit_five", "tiny"]}


def strips(name: str) -> list[int]:
    return [len(strip) for strip in shipped_definitions()[name].reels]


def first_free_spin_round(name: str) -> tuple[RngVersion[Any], Any]:
    for index in range(20_000):
        rng, seeds = round_seeds(f"free-{name}", index)
        stops = rng.slots(seeds, strips(name), 1)[0]
        if evaluate_spin(shipped_definitions()[name], stops).free_spins_awarded:
            return rng, seeds
    raise AssertionError("no free spins in 20,000 rounds")  # pragma: no cover


@pytest.mark.parametrize(("rng", "seeds"), [(STAKE_V1, GOLDEN_SEEDS), (CERTIFIED_V1, CERTIFIED_SEED)])
def test_spin_when_seeded_shows_the_versions_stops_and_the_evaluators_window(rng: RngVersion[Any], seeds: Any) -> None:
    progress = engine("slots").play(rng, seeds, {"slot": "fruit_five", "lines": 10}, {}, 1000, [])
    assert progress.outcome is not None
    spin = progress.outcome["spins"][0]
    stops = rng.slots(seeds, strips("fruit_five"), 1)[0]
    expected = evaluate_spin(shipped_definitions()["fruit_five"], stops)
    assert spin["stops"] == list(stops)
    assert spin["window"] == [list(column) for column in expected.window]
    assert [(w["line"], w["symbol"], w["count"]) for w in spin["line_wins"]] == [
        (w.line, w.symbol, w.count) for w in expected.line_wins
    ]
    assert spin["scatter_count"] == expected.scatter_count
    assert progress.payout == payout_amount(1000, expected.return_multiplier(10)) + 0 * len(
        progress.outcome["spins"][1:]
    )


def test_stake_v1_spin_when_seeded_matches_the_golden_stops() -> None:
    progress = engine("slots").play(STAKE_V1, GOLDEN_SEEDS, {"slot": "fruit_five"}, {}, 1000, [])
    assert progress.outcome is not None
    assert progress.outcome["rng"] == {"stops": [[10, 10, 21, 1, 16]]}
    assert progress.outcome["line_bet"] == 100


@pytest.mark.parametrize("name", ["tiny", "fruit_five"])
def test_free_spins_when_awarded_are_played_in_the_same_round_from_the_continued_stream(name: str) -> None:
    rng, seeds = first_free_spin_round(name)
    progress = engine("slots").play(rng, seeds, {"slot": name}, BOTH, 1000, [])
    assert progress.outcome is not None
    spins = progress.outcome["spins"]
    definition = shipped_definitions()[name]
    assert definition.free_spins is not None
    assert len(spins) - 1 == progress.outcome["free_spins_played"] == sum(s["free_spins_awarded"] for s in spins)
    assert progress.outcome["free_spins_forfeited"] == 0
    assert [s["free"] for s in spins] == [False] + [True] * (len(spins) - 1)
    assert [s["stops"] for s in spins] == [list(s) for s in rng.slots(seeds, strips(name), len(spins))]
    free_multiplier = definition.free_spins.multiplier
    assert all(Fraction(s["multiplier"]) == free_multiplier for s in spins[1:])
    total = sum(
        (
            evaluate_spin(definition, tuple(s["stops"])).return_multiplier(len(definition.paylines))
            * (free_multiplier if s["free"] else 1)
            for s in spins
        ),
        Fraction(0),
    )
    assert progress.payout == payout_amount(1000, total)
    assert Fraction(progress.outcome["multiplier"]) == total


def test_free_spins_when_retriggered_forever_stop_at_the_cap() -> None:
    always = parse_definition(
        {
            "rows": 1,
            "reels": [["S"], ["S"], ["S"]],
            "paylines": [[0, 0, 0]],
            "line_pays": {},
            "scatter": "S",
            "scatter_pays": {"3": 1},
            "free_spins": {"awards": {"3": 2}, "multiplier": 1},
        }
    )
    spins, total, forfeited = play_spins(always, 1, itertools.repeat((0, 0, 0)))
    assert len(spins) == 1 + MAX_FREE_SPINS
    assert total == 1 + MAX_FREE_SPINS  # each spin pays its scatter once
    assert forfeited == 2 + MAX_FREE_SPINS * (2 - 1)


def test_lines_when_fewer_than_the_paylines_pay_only_those_lines() -> None:
    for index in range(300):
        rng, seeds = round_seeds("lines", index)
        progress = engine("slots").play(rng, seeds, {"slot": "fruit_five", "lines": 3}, {}, 30, [])
        assert progress.outcome is not None
        assert progress.outcome["line_bet"] == 10
        assert all(w["line"] < 3 for s in progress.outcome["spins"] for w in s["line_wins"])


@pytest.mark.parametrize(
    ("params", "stake", "settings"),
    [
        ({"slot": "fruit_five", "lines": 0}, 100, {}),
        ({"slot": "fruit_five", "lines": 7}, 100, {}),
        ({"slot": "fruit_five", "lines": 10.0}, 100, {}),
        ({"slot": "tiny"}, 100, {}),
        ({"slot": "fruit_five"}, 100, TINY),
        ({"slot": "fruit_five", "bet": 10}, 100, {}),
        ({"slot": 5}, 100, {}),
    ],
)
def test_params_when_invalid_are_refused(params: dict[str, Any], stake: int, settings: dict[str, Any]) -> None:
    with pytest.raises(InvalidGameInput):
        engine("slots").play(STAKE_V1, GOLDEN_SEEDS, params, settings, stake, [])


def test_describe_when_asked_gives_each_offered_slots_exact_rtp() -> None:
    described = engine("slots").describe(BOTH)
    assert [s["slot"] for s in described["slots"]] == ["fruit_five", "tiny"]
    tiny = described["slots"][1]
    assert tiny["rtp"]["total"] == "0.8924302789"  # 224/251, docs/slots.md's worked example
    assert tiny["free_spins"] == {"awards": {"3": 10}, "multiplier": "1"}
    assert described["max_free_spins_per_round"] == MAX_FREE_SPINS
    assert json.loads(json.dumps(described)) == described


def test_view_when_settled_is_the_outcome() -> None:
    progress = engine("slots").play(CERTIFIED_V1, CERTIFIED_SEED, {"slot": "tiny"}, TINY, 7, [])
    assert progress.view == progress.outcome
    assert progress.settled


@pytest.mark.parametrize(("name", "rounds"), [("tiny", 30000), ("fruit_five", 20000)])
def test_seeded_simulation_when_settled_returns_the_exact_rtp(name: str, rounds: int) -> None:
    exact = slot_rtp(shipped_definitions()[name]).total
    sample = ReturnSample()
    lines = len(shipped_definitions()[name].paylines)
    stake = 1000 * lines
    for index in range(rounds):
        rng, seeds = round_seeds(f"rtp-slots-{name}", index)
        progress = engine("slots").play(rng, seeds, {"slot": name}, BOTH, stake, [])
        assert progress.payout is not None
        sample.add(progress.payout / stake)
    assert sample.contains(float(exact)), (sample.mean, float(exact), sample.half_width())
