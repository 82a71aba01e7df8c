"""How a bench's rounds become its numbers: ratios are taken within a round and the median over the rounds is
reported and judged, so a round that the machine's drift hit is outvoted (report.py)."""

from croupier.bench.report import (
    BenchReport,
    Latency,
    RunResult,
    judge,
    median_ratio,
    median_runs,
    pgbench_of,
    round_ratio,
)


def _run(name: str, per_second: float, p99_ms: float = 5.0) -> RunResult:
    return RunResult(name=name, per_second=per_second, operations=int(per_second), latency=Latency(p99_ms=p99_ms))


def _round(pgbench: float, http: float, inprocess: float, hot: float) -> dict[str, RunResult]:
    runs = [
        _run("pgbench", pgbench),
        _run("http-uniform", http),
        _run("http-hot", http),
        _run("inprocess-uniform", inprocess),
        _run("inprocess-hot", hot),
    ]
    return {run.name: run for run in runs}


# The machine slowed down during round 2's pgbench only: its ratio is an outlier, high. Round 3 ran slow throughout.
ROUNDS = [
    _round(pgbench=10_000, http=11_000, inprocess=52_000, hot=60_000),
    _round(pgbench=6_000, http=10_500, inprocess=50_000, hot=58_000),
    _round(pgbench=8_000, http=8_400, inprocess=36_000, hot=44_000),
]


def test_ratios_are_taken_within_each_round_and_their_median_reported() -> None:
    # Per round: 5.2, 8.333, 4.5; the median is round 1's, not the ratio of the medians (50,000 / 8,000 = 6.25).
    assert median_ratio(ROUNDS, "inprocess-uniform", "pgbench") == 5.2
    assert median_ratio(ROUNDS, "http-uniform", "pgbench") == 1.1  # 1.1, 1.75, 1.05
    assert median_ratio(ROUNDS, "inprocess-hot", "inprocess-uniform") == 1.16  # 1.154, 1.16, 1.222
    assert median_ratio(ROUNDS, "http-fixed-rate", "pgbench") is None  # a run no round measured


def test_each_run_is_shown_as_measured_in_its_median_round() -> None:
    runs = median_runs(ROUNDS)
    assert runs["pgbench"].per_second == 8_000
    assert runs["inprocess-uniform"].per_second == 50_000
    # With an even number of rounds, the lower middle one: a number that was measured, not an average.
    assert median_runs(ROUNDS[:2])["inprocess-uniform"].per_second == 50_000


def test_targets_are_judged_on_the_median_ratios() -> None:
    fixed = _run("http-fixed-rate", 1_000, p99_ms=3.5)
    rounds = [{**ROUNDS[0], "http-fixed-rate": fixed}, *ROUNDS[1:]]
    verdicts = {target.description: (target.measured, target.verdict) for target in judge(rounds, 1000, 25.0)}
    assert verdicts["wallet in-process (uniform) vs pgbench TPC-B"] == (5.2, "PASS")
    assert verdicts["wallet over HTTP (uniform) vs pgbench TPC-B"] == (1.1, "PASS")
    assert verdicts["p99 latency at 1000 transfers/s (HTTP, open loop, no errors)"] == (3.5, "PASS")

    # One round alone decides nothing: round 3 (4.5x) would miss, and is outvoted by the two rounds around 5.
    slow_twice = [ROUNDS[0], ROUNDS[2], ROUNDS[2]]
    missed = {target.description: target.verdict for target in judge(slow_twice, 1000, 25.0)}
    assert missed["wallet in-process (uniform) vs pgbench TPC-B"] == "MISS"


def test_the_json_report_carries_every_round_with_its_own_ratios() -> None:
    report = BenchReport(
        started_at="s",
        finished_at="f",
        machine={},
        postgres={},
        parameters={},
        rounds=ROUNDS,
        targets=judge(ROUNDS, 1000, 25.0),
        ledger={},
    )
    document = report.as_dict()
    assert [round_["inprocess-uniform"]["ratio_to_pgbench"] for round_ in document["rounds"]] == [5.2, 8.333, 4.5]
    assert document["rounds"][1]["pgbench"] == {"per_second": 6_000, "ratio_to_pgbench": None, "cpu_us_per_op": None}
    assert document["runs"]["inprocess-uniform"]["ratio_to_pgbench"] == 5.2
    assert document["runs"]["inprocess-uniform"]["per_second"] == 50_000
    assert document["runs"]["pgbench"]["ratio_to_pgbench"] is None


def test_each_transport_is_compared_with_the_pgbench_that_took_turns_with_it() -> None:
    # The machine was slow while the in-process runs and their pgbench slices ran: both show it, the ratio does not.
    round_ = {
        run.name: run
        for run in (
            _run("pgbench-http", 10_000),
            _run("http-uniform", 11_000),
            _run("http-hot", 12_000),
            _run("pgbench-inprocess", 6_000),
            _run("inprocess-uniform", 33_000),
            _run("inprocess-hot", 36_000),
        )
    }
    assert pgbench_of(round_, "http-uniform") == "pgbench-http"
    assert pgbench_of(round_, "inprocess-hot") == "pgbench-inprocess"
    assert round_ratio(round_, "http-uniform", "pgbench") == 1.1
    assert round_ratio(round_, "inprocess-uniform", "pgbench") == 5.5  # against pgbench-http it would be 3.3
    assert round_ratio(round_, "pgbench-inprocess", "pgbench") is None
    assert round_ratio(round_, "inprocess-hot", "inprocess-uniform") == 1.091
    verdicts = {target.description: target.measured for target in judge([round_], 1000, 25.0)}
    assert verdicts["wallet in-process (uniform) vs pgbench TPC-B"] == 5.5
    assert verdicts["wallet over HTTP (uniform) vs pgbench TPC-B"] == 1.1
    # Both pgbench runs are shown, each in its transport's place.
    assert list(median_runs([round_])) == [
        "pgbench-http",
        "http-uniform",
        "http-hot",
        "pgbench-inprocess",
        "inprocess-uniform",
        "inprocess-hot",
    ]
    # A round without them (pgbench on its own, or an older report's shape) falls back to its one pgbench run.
    assert pgbench_of(ROUNDS[0], "inprocess-uniform") == "pgbench"
