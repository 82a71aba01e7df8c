"""`croupier bench rounds` runs end to end with tiny parameters: the JSON has its shape and the money is intact.

Never asserts timings: a benchmark reports numbers, it does not fail on them.
"""

import json

from typer.testing import CliRunner

from croupier.cli import app

RATE_SCENARIOS = ("inprocess-rate", "http-rate", "mixed")
NUMBERS = ("rounds", "rounds_per_second", "p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")


def test_bench_rounds_json_has_every_scenario_and_clean_money_and_audit(database_url: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "rounds",
            "--database-url",
            database_url,
            "--duration",
            "1",
            "--rate",
            "50",
            "--players",
            "5",
            "--concurrency",
            "4",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    assert report["benchmark"] == "croupier bench rounds"
    machine = report["machine"]
    assert {"cpu_count", "cpu_model", "python", "postgres_version"} <= machine.keys()
    assert report["parameters"]["players"] == 5
    assert report["parameters"]["rate"] == 50
    assert report["target"] == {"rate": 500, "p95_ms": 20}
    assert set(report["scenarios"]) == {"inprocess-rate", "inprocess-max", "http-rate", "mixed"}
    for name, scenario in report["scenarios"].items():
        assert {*NUMBERS, "errors", "cpu_cores", "transport", "loop"} <= scenario.keys(), name
        assert scenario["errors"] == {}, (name, scenario["error_examples"])
        assert scenario["rounds"] > 0, name
    for name in RATE_SCENARIOS:
        assert isinstance(report["scenarios"][name]["met"], bool)
        assert report["met"][name] is report["scenarios"][name]["met"]
    assert "met" not in report["scenarios"]["inprocess-max"]
    assert report["scenarios"]["mixed"]["rounds_by_game"].keys() <= {
        "dice",
        "limbo",
        "roulette",
        "plinko",
        "keno",
        "slots",
        "mines",
    }

    checks = report["checks"]
    assert checks["ledger"]["clean"] is True, checks["ledger"]
    assert checks["ledger"]["discrepancies"] == 0
    assert checks["audit"]["ok"] is True, checks["audit"]
    assert checks["audit"]["sealed"] == checks["audit"]["entries"] > 0
    assert checks["house"]["ok"] is True, checks["house"]
    assert checks["rounds"]["unfinished"] == {}
    assert report["clean"] is True


def test_bench_rounds_refuses_an_unknown_scenario() -> None:
    result = CliRunner().invoke(app, ["bench", "rounds", "--only", "inprocess-rate,nonsense"])
    assert result.exit_code == 2
    assert "nonsense" in result.output
