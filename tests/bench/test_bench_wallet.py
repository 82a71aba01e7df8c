"""`croupier bench wallet` end to end, briefly: in two rounds, every run measures transfers without errors on its own
temporary PostgreSQL, pgbench takes turns with each transport's runs, the ledgers it wrote verify clean, and every
target gets a verdict from the rounds' ratios.
The numbers themselves are the benchmark's business (docs/benchmarks.md), not a test's: one-second runs on a shared
machine say nothing."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

RUNS = [
    "pgbench-http",
    "http-uniform",
    "http-hot",
    "http-fixed-rate",
    "pgbench-inprocess",
    "inprocess-uniform",
    "inprocess-hot",
]
TRANSPORT_PGBENCH = {
    "http-uniform": "pgbench-http",
    "http-hot": "pgbench-http",
    "inprocess-uniform": "pgbench-inprocess",
    "inprocess-hot": "pgbench-inprocess",
}


def test_bench_wallet_measures_every_run_and_leaves_clean_ledgers(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "croupier",
            "bench",
            "wallet",
            "--duration",
            "1",
            "--rounds",
            "2",
            "--slices",
            "3",
            "--json",
        ],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")[-3000:]
    report = orjson.loads(completed.stdout)

    assert sorted(report["runs"]) == sorted(RUNS)
    # The closed-loop wallet runs took turns in three slices, which add up to the measured second.
    assert report["parameters"]["slices"] == 3
    for name in ("http-uniform", "http-hot", "inprocess-uniform", "inprocess-hot"):
        assert report["runs"][name]["slices"] == 3, name
        assert report["runs"][name]["window_seconds"] == pytest.approx(1.0), name
        # Each slice's own rate is reported, in every round; equal slices average to the run's rate.
        for round_ in report["rounds"]:
            rates = round_[name]["slice_per_second"]
            assert len(rates) == 3, (name, rates)
            assert min(rates) > 0, (name, rates)
            readings = round_[name]["slice_readings"]
            assert len(readings) == 3, (name, readings)
            for reading in readings:
                assert reading["cpu_us_per_op"].get("postgres", 0) > 0, (name, reading)
                assert reading["checkpoints"] >= 0, (name, reading)
                assert isinstance(reading["vacuum_seconds"], dict), (name, reading)
        rates = report["runs"][name]["slice_per_second"]
        assert sum(rates) / 3 == pytest.approx(report["runs"][name]["per_second"], abs=0.2), (name, rates)
    # pgbench ran in slices among each transport's runs: three one-second `pgbench -T 1`, each timed by pgbench.
    for name in ("pgbench-http", "pgbench-inprocess"):
        run = report["runs"][name]
        assert run["slices"] == 3, name
        assert run["command"].startswith("pgbench -c 16 -j 2 -T 1 -l"), run["command"]
        assert run["window_seconds"] == pytest.approx(3.0, rel=0.25), name
        assert run["ratio_to_pgbench"] is None, name
        for round_ in report["rounds"]:
            assert len(round_[name]["slice_per_second"]) == 3, name
            assert min(round_[name]["slice_per_second"]) > 0, name
        assert run["operations"] == pytest.approx(run["per_second"] * run["window_seconds"], abs=1), name
    for name, run in report["runs"].items():
        assert run["per_second"] > 0, name
        assert run["operations"] > 0, name
        assert run["errors"] == 0, (name, run["error_examples"])
        if not name.startswith("pgbench"):
            assert run["ratio_to_pgbench"] > 0, name
            assert run["ledger_batches"]["transfers"] >= run["operations"], name  # every transfer reached the ledger
    # Each round wrote to wallet databases of its own, and each of them was verified.
    assert sorted(report["ledger"]) == [
        f"wallet {transport}, round {number}" for transport in ("in-process", "over HTTP") for number in (1, 2)
    ]
    for ledger, verified in report["ledger"].items():
        assert verified["clean"], (ledger, verified["first_discrepancies"])
        assert verified["transfers"] > 0, ledger
    # Two rounds of every run but the latency run, which runs once; each ratio within its round, the median reported.
    rounds = report["rounds"]
    assert [sorted(round_) for round_ in rounds] == [sorted(RUNS), sorted(set(RUNS) - {"http-fixed-rate"})]
    for name in ("http-uniform", "inprocess-uniform"):
        ratios = []
        for round_ in rounds:
            # Each wallet run is compared with the pgbench that took turns with it, in its own round.
            ratio = round_[name]["per_second"] / round_[TRANSPORT_PGBENCH[name]]["per_second"]
            assert round_[name]["ratio_to_pgbench"] == pytest.approx(ratio, abs=0.001), name
            assert round_[name]["cpu_us_per_op"]["postgres"] > 0, name
            ratios.append(round_[name]["ratio_to_pgbench"])
        assert report["runs"][name]["ratio_to_pgbench"] == pytest.approx(sum(ratios) / 2, abs=0.001), name
    assert {target["verdict"] for target in report["targets"]} <= {"PASS", "MISS"}
    assert len(report["targets"]) == 5
    assert not list(tmp_path.glob("croupier-bench-*")), "the bench left its temporary directory behind"


def test_bench_wallet_runs_pgbench_alone_when_no_wallet_run_is_asked_for(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "croupier", "bench", "wallet", "--only", "pgbench", "--duration", "2", "--json"],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")[-3000:]
    report = orjson.loads(completed.stdout)
    assert list(report["runs"]) == ["pgbench"]
    run = report["runs"]["pgbench"]
    assert run["command"].startswith("pgbench -c 16 -j 2 -T 2 -l"), run["command"]
    assert "slices" not in run  # one whole run
    assert run["per_second"] > 0
    assert run["errors"] == 0
    assert run["latency_ms"]["p50_ms"] > 0
    # Its percentiles come from its own per-transaction log: every transaction it counted, and only those.
    assert run["operations"] == run["operations_measured"]
    assert [sorted(round_) for round_ in report["rounds"]] == [["pgbench"]] * 3
    assert {target["verdict"] for target in report["targets"]} == {"n/a"}
