"""`croupier bench ...`: benchmark commands (they print numbers, and JSON with --json; they never fail a build)."""

import json
import signal
import sys
from typing import Annotated

import typer
from rich.console import Console

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (commands that print numbers, never tests).")
console = Console()
err = Console(stderr=True)


@bench_app.callback()
def _stop_on_sigterm_as_on_ctrl_c() -> None:
    """A benchmark stopped with SIGTERM (a CI timeout, `kill`) cleans up as on Ctrl-C: its embedded PostgreSQL and the
    servers it started are stopped and its temporary directory (gigabytes after a run) is removed. Python's default
    for SIGTERM would end the process on the spot and leave them behind."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


@bench_app.command("wallet")
def bench_wallet(
    duration: Annotated[float, typer.Option(min=1, help="Seconds measured per run (after a short warm-up).")] = 10.0,
    concurrency: Annotated[
        int, typer.Option(min=1, help="pgbench clients and HTTP connections of the closed-loop wallet runs.")
    ] = 16,
    inprocess_concurrency: Annotated[
        int, typer.Option("--inprocess-concurrency", min=1, help="Concurrent tasks of the in-process runs.")
    ] = 512,
    rate: Annotated[float, typer.Option(min=1, help="Transfers per second of the open-loop latency run.")] = 1000.0,
    rounds: Annotated[
        int,
        typer.Option(
            min=1,
            help="Rounds of pgbench and the closed-loop wallet runs; every ratio is the median of the rounds' "
            "ratios, each taken within its round, against the pgbench beside its transport (the latency run runs "
            "once).",
        ),
    ] = 3,
    slices: Annotated[
        int,
        typer.Option(
            min=1,
            help="Slices of each closed-loop wallet run and of the pgbench beside it: pgbench, uniform and hot take "
            "turns slice by slice (1: each whole, one after the other), so that the runs a ratio compares meet the "
            "same machine.",
        ),
    ] = 5,
    bench_database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Run everything on this PostgreSQL database instead of a temporary embedded server "
            "(pgbench -i recreates its pgbench_* tables there; the bench's wallet accounts stay).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with every number.")] = False,
    only: Annotated[
        str | None,
        typer.Option(
            help="Comma list of runs: pgbench, http-uniform, http-hot, http-fixed-rate, inprocess-uniform, "
            "inprocess-hot."
        ),
    ] = None,
) -> None:
    """Wallet throughput and latency (HTTP and in-process) next to pgbench TPC-B on the same PostgreSQL."""
    from croupier.bench.wallet import BenchFailed, BenchOptions, parse_runs, run_wallet_bench

    try:
        runs = parse_runs(only)
    except ValueError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    options = BenchOptions(
        duration=duration,
        concurrency=concurrency,
        inprocess_concurrency=inprocess_concurrency,
        rate=rate,
        database_url=bench_database_url,
        runs=runs,
        rounds=rounds,
        slices=slices,
    )
    try:
        report = run_wallet_bench(options, progress=lambda message: err.print(f"[dim]{message}[/dim]"))
    except BenchFailed as error:
        err.print(f"[red]bench failed: {error}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        report.render(console)


@bench_app.command("gate")
def bench_gate(
    players: Annotated[int, typer.Option(min=2, help="Registered players (half of them with money limits).")] = 200,
    checks: Annotated[int, typer.Option(min=10, help="Checks per scenario, sequential and again concurrent.")] = 2000,
    concurrency: Annotated[int, typer.Option(min=1, help="Tasks of the concurrent part.")] = 16,
    bench_database_url: Annotated[
        str | None, typer.Option("--database-url", help="Run on this database instead of a temporary embedded one.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with every number.")] = False,
) -> None:
    """Latency of the compliance gate in-process (bets, deposits, logins), with and without money limits."""
    from rich.table import Table

    from croupier.bench.gate import GateBenchOptions, run_gate_bench

    options = GateBenchOptions(players=players, checks=checks, concurrency=concurrency, database_url=bench_database_url)
    report = run_gate_bench(options, progress=lambda message: err.print(f"[dim]{message}[/dim]"))
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    table = Table(title="croupier bench gate (in-process)")
    for column in ("scenario", "p50 ms", "p95 ms", "p99 ms", "max ms", f"checks/s ({concurrency} tasks)", "denied"):
        table.add_column(column)
    for name, result in report["scenarios"].items():
        sequential = result["sequential"]
        table.add_row(
            name,
            str(sequential["p50_ms"]),
            str(sequential["p95_ms"]),
            str(sequential["p99_ms"]),
            str(sequential["max_ms"]),
            f"{result['concurrent']['checks_per_second']:,}",
            str(sum(result["denied"].values())),
        )
    console.print(table)
    target = report["target"]
    console.print(
        f"{target['target']}: {target['measured_ms']} ms (required <= {target['required_ms']} ms): {target['verdict']}"
    )


@bench_app.command("rounds")
def bench_rounds(
    players: Annotated[int, typer.Option(min=1, help="Registered players, each funded with 10^9 cents.")] = 200,
    rate: Annotated[float, typer.Option(min=1, help="Rounds per second of the open-loop scenarios.")] = 500.0,
    duration: Annotated[
        float, typer.Option(min=0.5, help="Seconds measured per scenario (after a warm-up of min(2 s, duration/5)).")
    ] = 10.0,
    concurrency: Annotated[int, typer.Option(min=1, help="Tasks of the closed-loop inprocess-max scenario.")] = 64,
    bench_database_url: Annotated[
        str | None, typer.Option("--database-url", help="Run on this database instead of a temporary embedded one.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with every number.")] = False,
    only: Annotated[
        str | None, typer.Option(help="Comma list of scenarios: inprocess-rate, inprocess-max, http-rate, mixed.")
    ] = None,
) -> None:
    """Full game rounds (bet -> outcome -> settle) per second and their latency, in-process and over HTTP."""
    from croupier.bench.rounds import RoundsBenchOptions, parse_scenarios, render_rounds, run_rounds_bench

    try:
        scenarios = parse_scenarios(only)
    except ValueError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    options = RoundsBenchOptions(
        players=players,
        rate=rate,
        duration=duration,
        concurrency=concurrency,
        database_url=bench_database_url,
        scenarios=scenarios,
    )
    report = run_rounds_bench(options, progress=lambda message: err.print(f"[dim]{message}[/dim]"))
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        render_rounds(report, console)
