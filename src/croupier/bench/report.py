"""What a bench run found: one row per run, the targets judged against them, the ledger check, and the machine.

A bench measures in rounds: in every round pgbench takes turns with each transport's closed-loop runs, slice by slice
(bench/reference.py), so each wallet run has a pgbench measured within seconds of it, on the same machine. A ratio is
taken within each round and the bench reports the median of the rounds' ratios. On a shared virtual machine the
speed of the whole machine drifts by a third or more from one minute to the next (docs/benchmarks.md); a ratio of two
runs a minute apart measures that drift as much as the wallet, and one round that the drift hit is outvoted by the
others.

Rendered as rich tables for people or as one JSON object (`--json`) for scripts and for keeping results.
"""

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from croupier.bench.load_loops import LoadSample

RUN_LABELS = {
    "pgbench": "pgbench TPC-B",
    "pgbench-http": "pgbench TPC-B, with HTTP",
    "http-uniform": "HTTP uniform",
    "http-hot": "HTTP hot account",
    "http-fixed-rate": "HTTP fixed rate, hot",
    "pgbench-inprocess": "pgbench TPC-B, with in-process",
    "inprocess-uniform": "in-process uniform",
    "inprocess-hot": "in-process hot account",
}
#: The runs one can ask for (--only). With a transport's closed loops, pgbench runs in slices among them, as
#: `pgbench-http` or `pgbench-inprocess` (bench/reference.py); on its own it is the one run `pgbench`.
RUNS = ("pgbench", "http-uniform", "http-hot", "http-fixed-rate", "inprocess-uniform", "inprocess-hot")
PGBENCH = "pgbench"


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[rank - 1]


@dataclass
class Latency:
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None

    @classmethod
    def of(cls, seconds: list[float]) -> "Latency":
        if not seconds:
            return cls()
        ordered = sorted(seconds)

        def ms(value: float | None) -> float | None:
            return round(value * 1000, 3) if value is not None else None

        return cls(
            p50_ms=ms(percentile(ordered, 0.50)),
            p95_ms=ms(percentile(ordered, 0.95)),
            p99_ms=ms(percentile(ordered, 0.99)),
            max_ms=ms(ordered[-1]),
            mean_ms=ms(sum(ordered) / len(ordered)),
        )


@dataclass
class RunResult:
    name: str
    per_second: float
    operations: int
    latency: Latency
    errors: dict[str, int] = field(default_factory=dict)
    error_examples: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return RUN_LABELS.get(self.name, self.name)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @classmethod
    def from_sample(cls, name: str, sample: LoadSample, **details: Any) -> "RunResult":
        if sample.offered:
            details["offered"] = sample.offered
        return cls(
            name=name,
            per_second=round(sample.throughput, 1),
            operations=sample.ok,
            latency=Latency.of(sample.latencies),
            errors=dict(sample.errors),
            error_examples=dict(sample.error_examples),
            details={"window_seconds": sample.window_seconds, **details},
        )

    def as_dict(self, ratio_to_pgbench: float | None) -> dict[str, Any]:
        return {
            "label": self.label,
            "per_second": self.per_second,
            "operations": self.operations,
            "ratio_to_pgbench": ratio_to_pgbench,
            "latency_ms": self.latency.__dict__,
            "errors": self.error_count,
            "errors_by_kind": self.errors,
            "error_examples": self.error_examples,
            **self.details,
        }


@dataclass
class Target:
    description: str
    measured: float | None
    required: str
    passed: bool | None  # None: a run it needs was not part of this bench

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else ("PASS" if self.passed else "MISS")


def _ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return round(value / reference, 3)


Round = dict[str, RunResult]


def pgbench_of(round_: Round, name: str) -> str:
    """The pgbench run that `name` is compared with: the one that took turns with its transport's runs, if any."""
    for transport in ("http", "inprocess"):
        alongside = f"pgbench-{transport}"
        if name.startswith(f"{transport}-") and alongside in round_:
            return alongside
    return PGBENCH


def round_ratio(round_: Round, name: str, reference: str) -> float | None:
    """`name`'s throughput over `reference`'s, both measured in the same round (None for a run and itself).

    `reference` "pgbench" is the pgbench run `name` was measured with (pgbench_of); pgbench runs have no ratio to it.
    """
    if reference == PGBENCH:
        if name.startswith(PGBENCH):
            return None
        reference = pgbench_of(round_, name)
    run, base = round_.get(name), round_.get(reference)
    if run is None or base is None or name == reference:
        return None
    return _ratio(run.per_second, base.per_second)


def median_ratio(rounds: list[Round], name: str, reference: str) -> float | None:
    """The median over the rounds of `name`'s throughput over `reference`'s, each taken within its round."""
    ratios = [ratio for ratio in (round_ratio(round_, name, reference) for round_ in rounds) if ratio is not None]
    return round(statistics.median(ratios), 3) if ratios else None


def median_runs(rounds: list[Round]) -> dict[str, RunResult]:
    """Each run as measured in its median round (by throughput; the lower middle one of an even number)."""
    names = [name for name in RUN_LABELS if any(name in round_ for round_ in rounds)]
    summary = {}
    for name in names:
        measured = sorted((round_[name] for round_ in rounds if name in round_), key=lambda run: run.per_second)
        summary[name] = measured[(len(measured) - 1) // 2]
    return summary


def judge(rounds: list[Round], rate: float, p99_limit_ms: float) -> list[Target]:
    def at_least(description: str, name: str, reference: str, factor: float) -> Target:
        ratio = median_ratio(rounds, name, reference)
        return Target(description, ratio, f">= {factor:g}x", None if ratio is None else ratio >= factor)

    targets = [
        at_least("wallet over HTTP (uniform) vs pgbench TPC-B", "http-uniform", PGBENCH, 1.0),
        at_least("wallet in-process (uniform) vs pgbench TPC-B", "inprocess-uniform", PGBENCH, 5.0),
        at_least("hot account vs uniform, HTTP", "http-hot", "http-uniform", 0.9),
        at_least("hot account vs uniform, in-process", "inprocess-hot", "inprocess-uniform", 0.9),
    ]
    fixed = median_runs(rounds).get("http-fixed-rate")
    p99 = fixed.latency.p99_ms if fixed is not None else None
    targets.append(
        Target(
            f"p99 latency at {rate:g} transfers/s (HTTP, open loop, no errors)",
            p99,
            f"<= {p99_limit_ms:g} ms",
            None if fixed is None else (p99 is not None and p99 <= p99_limit_ms and fixed.error_count == 0),
        )
    )
    return targets


def _round_entry(round_: Round, name: str, run: RunResult) -> dict[str, Any]:
    entry = {
        "per_second": run.per_second,
        "ratio_to_pgbench": round_ratio(round_, name, PGBENCH),
        # CPU per operation tells a round that met a slow machine from one in which the code was slow.
        "cpu_us_per_op": run.details.get("cpu_us_per_op"),
    }
    # The runs measured in slices: a slice far below the others met a stall, and its reading may say which (a
    # checkpoint, a vacuum, a slow machine: more CPU per operation).
    for key in ("slice_per_second", "slice_readings"):
        if key in run.details:
            entry[key] = run.details[key]
    return entry


@dataclass
class BenchReport:
    started_at: str
    finished_at: str
    machine: dict[str, Any]
    postgres: dict[str, Any]
    parameters: dict[str, Any]
    rounds: list[Round]
    targets: list[Target]
    ledger: dict[str, Any]

    @property
    def runs(self) -> dict[str, RunResult]:
        """Each run as measured in its median round."""
        return median_runs(self.rounds)

    def ratio_to_pgbench(self, name: str) -> float | None:
        return median_ratio(self.rounds, name, PGBENCH)

    def as_dict(self) -> dict[str, Any]:
        return {
            "benchmark": "croupier bench wallet",
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "machine": self.machine,
            "postgres": self.postgres,
            "parameters": self.parameters,
            "runs": {name: run.as_dict(self.ratio_to_pgbench(name)) for name, run in self.runs.items()},
            "rounds": [
                {name: _round_entry(round_, name, run) for name, run in round_.items()} for round_ in self.rounds
            ],
            "targets": [
                {"target": t.description, "measured": t.measured, "required": t.required, "verdict": t.verdict}
                for t in self.targets
            ],
            "ledger": self.ledger,
        }

    def render(self, console: Console) -> None:
        console.print(_runs_table(self))
        if len(self.rounds) > 1:
            console.print(_rounds_table(self.rounds))
        for note in _scan_notes(self.runs):
            console.print(note)
        console.print(_targets_table(self.targets))
        console.print(_ledger_line(self.ledger))
        machine = self.machine
        console.print(
            f"[dim]{machine.get('cpu_count')} x {machine.get('cpu_model')}, "
            f"{machine.get('memory_gib')} GiB, Python {machine.get('python')}, "
            f"PostgreSQL {self.postgres.get('server_version')}, load average at start {machine.get('load_average')}; "
            f"{self.started_at}[/dim]"
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _runs_table(report: BenchReport) -> Table:
    rounds = len(report.rounds)
    title = "croupier bench wallet" + (f" (each run: its median of {rounds} rounds)" if rounds > 1 else "")
    table = Table(title=title)
    table.add_column("run")
    for column in ("transfers/s", "p50 ms", "p95 ms", "p99 ms", "x pgbench", "errors", "transfers/commit"):
        table.add_column(column, justify="right")
    for run in report.runs.values():
        ratio = report.ratio_to_pgbench(run.name)
        batching = run.details.get("ledger_batches")
        per_commit = f"{batching['mean']:.1f} (max {batching['max']})" if batching else "-"
        errors = str(run.error_count) if run.error_count == 0 else f"[red]{run.error_count}[/red]"
        rate = f"{run.per_second:,.0f}"
        if run.name == "http-fixed-rate":
            rate += f" of {run.details.get('rate', 0):,.0f}"
        table.add_row(
            run.label,
            rate,
            _ms(run.latency.p50_ms),
            _ms(run.latency.p95_ms),
            _ms(run.latency.p99_ms),
            "-" if ratio is None else f"{ratio:.2f}",
            errors,
            per_commit,
        )
    return table


def _rounds_table(rounds: list[Round]) -> Table:
    """Every round's throughput, with its ratio to the same round's pgbench."""
    table = Table(title="rounds: transfers/s (x pgbench of the same round)")
    table.add_column("run")
    for number in range(1, len(rounds) + 1):
        table.add_column(f"round {number}", justify="right")
    for name, label in RUN_LABELS.items():
        cells = []
        for round_ in rounds:
            run = round_.get(name)
            ratio = round_ratio(round_, name, PGBENCH)
            cells.append(
                "-" if run is None else f"{run.per_second:,.0f}" + ("" if ratio is None else f" ({ratio:.2f})")
            )
        if any(cell != "-" for cell in cells):
            table.add_row(label, *cells)
    return table


def _scan_notes(runs: dict[str, RunResult]) -> list[str]:
    """Runs in which some table was read end to end more than once per transfer made (see run_probe)."""
    notes = []
    for run in runs.values():
        operations = run.details.get("operations_measured", 0)
        for table, scans in (run.details.get("sequential_scans") or {}).items():
            if operations and scans["rows_read"] > operations:
                notes.append(
                    f"[yellow]note[/yellow] {run.label}: {scans['scans']:,} sequential scans of {table} read "
                    f"{scans['rows_read']:,} rows for {operations:,} transfers"
                )
    return notes


def _targets_table(targets: list[Target]) -> Table:
    table = Table(title="targets")
    table.add_column("target")
    table.add_column("measured", justify="right")
    table.add_column("required", justify="right")
    table.add_column("verdict")
    colours = {"PASS": "green", "MISS": "red", "n/a": "dim"}
    for target in targets:
        measured = "-" if target.measured is None else f"{target.measured:g}"
        if target.measured is not None and target.required.startswith(">="):
            measured += "x"
        elif target.measured is not None:
            measured += " ms"
        colour = colours[target.verdict]
        table.add_row(target.description, measured, target.required, f"[{colour}]{target.verdict}[/{colour}]")
    return table


def _ledger_line(ledger: dict[str, Any]) -> str:
    if not ledger:
        return "ledger: not verified (no wallet run)"
    parts = []
    for name, result in ledger.items():
        if result.get("clean"):
            parts.append(
                f"{name}: [green]clean[/green] ({result['accounts']} accounts, {result['transfers']} transfers)"
            )
        else:
            found = result.get("discrepancies", result.get("error", "?"))
            parts.append(f"{name}: [red]NOT clean[/red] ({found})")
    return "ledger verify  " + "; ".join(parts)
