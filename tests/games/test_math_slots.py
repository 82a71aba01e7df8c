import itertools
import json
import random
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

import croupier.games
from croupier.cli import app
from croupier.games.math.confidence import ReturnSample
from croupier.games.slots.definition import InvalidSlotDefinition, SlotDefinition, load_definition, parse_definition
from croupier.games.slots.evaluate import evaluate_spin, line_win
from croupier.games.slots.rtp import scatter_count_distribution, slot_rtp

DATA = Path(next(iter(croupier.games.__path__))) / "data" / "slots"


def small_game(**changes: object) -> SlotDefinition:
    data: dict[str, object] = {
        "name": "small",
        "rows": 3,
        "reels": [
            ["A", "B", "W", "A", "C", "S", "B", "A", "C", "B"],
            ["B", "A", "C", "W", "A", "B", "S", "C", "A", "A"],
            ["C", "A", "B", "A", "S", "W", "B", "C", "A", "B"],
        ],
        "paylines": [[1, 1, 1], [0, 0, 0], [2, 2, 2], [0, 1, 2], [2, 1, 0]],
        "wild": "W",
        "scatter": "S",
        "line_pays": {"A": {"2": "0.5", "3": "3"}, "B": {"3": "6"}, "C": {"3": "9"}, "W": {"3": "40"}},
        "scatter_pays": {"2": "1", "3": "12"},
    }
    data.update(changes)
    return parse_definition(data)


def test_slot_rtp_when_tiny_worked_example_matches_the_hand_computation() -> None:
    result = slot_rtp(load_definition(DATA / "tiny.json"))
    assert result.line == Fraction(428, 512)
    assert result.scatter == Fraction(20, 512)
    assert result.free_spins_per_spin == Fraction(10, 512)
    assert result.free_spins == Fraction(35, 2008)
    assert result.total == Fraction(224, 251)


def test_slot_rtp_when_shipped_game_is_exact() -> None:
    result = slot_rtp(load_definition(DATA / "fruit_five.json"))
    assert result.line == Fraction(9840109, 12150000)
    assert result.scatter == Fraction(53, 2500)
    assert result.free_spins == Fraction(15867797, 126056250)
    assert result.total == Fraction(321683521, 336150000)


def test_slot_rtp_when_enumerating_every_stop_combination_agrees() -> None:
    game = small_game()
    lines = len(game.paylines)
    line_total = scatter_total = Fraction(0)
    for stops in itertools.product(*(range(len(strip)) for strip in game.reels)):
        outcome = evaluate_spin(game, stops)
        line_total += sum((w.multiplier for w in outcome.line_wins), Fraction(0)) / lines
        scatter_total += outcome.scatter_multiplier
    combinations = 10**3
    result = slot_rtp(game)
    assert result.line == line_total / combinations
    assert result.scatter == scatter_total / combinations


def test_scatter_distribution_when_summed_is_one() -> None:
    assert sum(scatter_count_distribution(small_game()).values()) == 1


def test_line_win_when_wild_leads_substitutes_for_the_first_symbol() -> None:
    assert line_win(small_game(), ["W", "A", "A"]) == ("A", 3, Fraction(3))


def test_line_win_when_wilds_pay_more_alone_pays_the_wild_run() -> None:
    game = small_game(line_pays={"A": {"3": "3"}, "W": {"2": "5", "3": "40"}})
    assert line_win(game, ["W", "W", "A"]) == ("W", 2, Fraction(5))


def test_line_win_when_scatter_breaks_the_line_pays_nothing() -> None:
    assert line_win(small_game(), ["S", "A", "A"])[2] == 0
    assert line_win(small_game(), ["A", "S", "A"])[2] == 0


def test_evaluate_spin_when_scatters_anywhere_counts_the_window() -> None:
    game = small_game()
    outcome = evaluate_spin(game, [3, 4, 2])  # reel 1 rows: A C S; reel 2: A B S; reel 3: B A S
    assert outcome.scatter_count == 3
    assert outcome.scatter_multiplier == 12


def test_parse_definition_when_payline_row_out_of_range_refuses() -> None:
    with pytest.raises(InvalidSlotDefinition, match="payline 0"):
        small_game(paylines=[[0, 1, 3]])


def test_parse_definition_when_multiplier_is_a_float_refuses() -> None:
    with pytest.raises(InvalidSlotDefinition, match="multiplier"):
        small_game(line_pays={"A": {"3": 0.1}})


def test_parse_definition_when_free_spins_never_end_refuses() -> None:
    game = small_game(free_spins={"awards": {"1": 20}})
    with pytest.raises(InvalidSlotDefinition, match="never ends"):
        slot_rtp(game)


def test_cli_slots_rtp_when_json_prints_every_part(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["slots", "rtp", str(DATA / "tiny.json"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["total"] == {"fraction": "224/251", "decimal": "0.8924302789"}
    assert report["line"]["fraction"] == "107/128"


def test_cli_slots_rtp_when_text_prints_line_scatter_and_total() -> None:
    result = CliRunner().invoke(app, ["slots", "rtp", str(DATA / "fruit_five.json")])
    assert result.exit_code == 0, result.output
    assert "line" in result.output
    assert "scatter" in result.output
    assert "total         0.9569642154  = 321683521/336150000" in result.output


def test_cli_slots_rtp_when_file_is_invalid_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": 0}')
    assert CliRunner().invoke(app, ["slots", "rtp", str(bad)]).exit_code == 2


def test_slot_simulation_when_seeded_with_free_spins_lies_in_confidence_interval() -> None:
    game = load_definition(DATA / "fruit_five.json")
    assert game.free_spins is not None
    lines = len(game.paylines)
    free_multiplier = game.free_spins.multiplier
    rng = random.Random(4008)
    sample = ReturnSample()
    for _ in range(150_000):
        pending, total = 1, Fraction(0)
        first = True
        while pending:
            pending -= 1
            outcome = evaluate_spin(game, [rng.randrange(len(strip)) for strip in game.reels])
            total += outcome.return_multiplier(lines, Fraction(1) if first else free_multiplier)
            pending += outcome.free_spins_awarded
            first = False
        sample.add(float(total))
    assert sample.contains(float(slot_rtp(game).total))
