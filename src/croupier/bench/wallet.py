"""`croupier bench wallet`: the wallet's throughput and latency, next to pgbench on the same PostgreSQL.

One bench, on one server (an embedded one in a temporary directory, or --database-url), in rounds (--rounds, 3 by
default), each round in this order:
  1. pgbench      TPC-B-like, C clients: what this machine's PostgreSQL does with small write transactions;
  2. http-*       the wallet as its own server process, C keep-alive connections (uniform, hot, in alternating
                  slices), then, in the first round only, an open-loop run at a fixed rate for latency;
  3. inprocess-*  the platform bootstrapped in this process, C' concurrent tasks (uniform, hot, in alternating
                  slices);
  4. verify       `croupier wallet verify` on every wallet database the round wrote to (fresh ones each round,
                  dropped once verified on the embedded server; the HTTP runs' database before step 3, so that its
                  autovacuum does not run during the in-process runs).
Every ratio is taken within a round and reported as the median over the rounds (report.py says why).

Everything is bounded in time, and the server process, pgbench, PostgreSQL and the temporary directory are cleaned up
however the bench ends (including Ctrl-C).
"""

import asyncio
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg

from croupier.bench import pgbench
from croupier.bench.http_runs import HttpPlan, SetupFailed, http_runs
from croupier.bench.inprocess_runs import InProcessPlan, inprocess_runs
from croupier.bench.ledger_observations import verify
from croupier.bench.machine import describe_machine, load_average
from croupier.bench.postgres_server import BenchPostgres, bench_postgres
from croupier.bench.report import RUNS, BenchReport, Latency, RunResult, judge
from croupier.bench.run_probe import RunProbe
from croupier.bench.wallet_server import WalletServerError
from croupier.kit.embedded_pg import EmbeddedPostgresError
from croupier.kit.errors import DomainError

P99_LIMIT_MS = 25.0
FIXED_RATE_CONNECTIONS = 64
DRAIN_SECONDS = 10.0

Progress = Callable[[str], None]
Result = TypeVar("Result")

#: What stops a bench short: a server that does not start, a refused setup, pgbench failing, PostgreSQL unreachable.
_FAILURES = (
    DomainError,
    pgbench.PgbenchError,
    WalletServerError,
    SetupFailed,
    EmbeddedPostgresError,
    asyncpg.PostgresError,
    OSError,
    TimeoutError,
)


class BenchFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class BenchOptions:
    duration: float = 10.0
    concurrency: int = 16
    inprocess_concurrency: int = 256
    rate: float = 1000.0
    database_url: str | None = None
    runs: tuple[str, ...] = RUNS
    rounds: int = 3
    slices: int = 5

    @property
    def warmup(self) -> float:
        """Discarded before each wallet run: connections, pools, caches and the writer's batches settle."""
        return min(2.0, self.duration / 5)

    def as_dict(self) -> dict[str, Any]:
        return {
            "duration_seconds": self.duration,
            "warmup_seconds": self.warmup,
            "concurrency": self.concurrency,
            "inprocess_concurrency": self.inprocess_concurrency,
            "rate": self.rate,
            "fixed_rate_connections": FIXED_RATE_CONNECTIONS,
            "pgbench": {"scale": pgbench.SCALE, "clients": self.concurrency, "threads": pgbench.THREADS},
            "p99_limit_ms": P99_LIMIT_MS,
            "database": "given URL" if self.database_url else "embedded, temporary",
            "runs": list(self.runs),
            "rounds": self.rounds,
            "slices": self.slices,
        }


def parse_runs(text: str | None) -> tuple[str, ...]:
    """The runs named in a comma list (--only), in the bench's order; all of them for None."""
    if not text:
        return RUNS
    wanted = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(wanted - set(RUNS))
    if unknown:
        raise ValueError(f"unknown run(s): {', '.join(unknown)}; known: {', '.join(RUNS)}")
    return tuple(run for run in RUNS if run in wanted)


def run_wallet_bench(options: BenchOptions, progress: Progress) -> BenchReport:
    """Run the bench; raises BenchFailed (with the reason) when it cannot finish. Cleans up however it ends."""
    if options.database_url is None:
        progress("starting an embedded PostgreSQL in a temporary directory")
    try:
        with bench_postgres(options.database_url) as postgres:
            return _run_event_loop(_bench(options, postgres, progress))
    except _FAILURES as error:
        raise BenchFailed(f"{type(error).__name__}: {error}") from error


def _run_event_loop(main: Coroutine[Any, Any, Result]) -> Result:
    """Run on uvloop when it is installed (uvicorn uses it too), so the generator spends less CPU per request."""
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


async def _pgbench_run(options: BenchOptions, postgres: BenchPostgres, progress: Progress) -> RunResult:
    url = await postgres.database("bench_pgbench")
    progress(f"pgbench -i -s {pgbench.SCALE}")
    await pgbench.initialise(url, postgres.work_dir)
    progress(f"pgbench -c {options.concurrency} -j {pgbench.THREADS} -T {options.duration:g}")
    async with RunProbe(url, None, postgres.embedded.pid if postgres.embedded else None) as probe:
        result = await pgbench.run(url, options.concurrency, options.duration, postgres.work_dir)
        reading = await probe.stop()
    return RunResult(
        name="pgbench",
        per_second=round(result.tps, 1),
        operations=result.transactions,
        latency=Latency.of(result.latencies),
        errors={"failed_transactions": result.failed} if result.failed else {},
        details={
            "command": " ".join(result.command),
            "clients": options.concurrency,
            **reading.details(result.transactions),
            "load_average_after": load_average(),
        },
    )


async def _verify_round(
    databases: dict[str, tuple[str, str]], postgres: BenchPostgres, progress: Progress
) -> dict[str, dict[str, Any]]:
    """`croupier wallet verify` on each wallet database a round wrote to; then the embedded server drops them."""
    ledger: dict[str, dict[str, Any]] = {}
    verified: dict[str, dict[str, Any]] = {}
    for label, (_, url) in databases.items():
        if url not in verified:  # with --database-url every run shares one database
            progress(f"croupier wallet verify ({label})")
            verified[url] = await verify(url)
        ledger[label] = verified[url]
    for database, _ in databases.values():
        await postgres.drop_database(database)
    return ledger


async def _bench(options: BenchOptions, postgres: BenchPostgres, progress: Progress) -> BenchReport:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine = describe_machine()
    postgres_info = await postgres.describe()
    postgres_pid = postgres.embedded.pid if postgres.embedded else None
    nonce = secrets.token_hex(4)
    http_wanted = tuple(run for run in options.runs if run.startswith("http-"))
    inprocess_wanted = tuple(run for run in options.runs if run.startswith("inprocess-"))
    rounds: list[dict[str, RunResult]] = []
    ledger: dict[str, Any] = {}
    for number in range(1, options.rounds + 1):
        if options.rounds > 1:
            progress(f"round {number} of {options.rounds}")
        round_nonce = f"{nonce}r{number}"  # each round opens accounts of its own
        # Each round writes to databases of its own, as the first did: a round never pays for the tables, indexes and
        # autovacuum work the rounds before it left behind.
        databases: dict[str, tuple[str, str]] = {}  # ledger label -> (database, URL)
        suffix = f", round {number}" if options.rounds > 1 else ""
        runs: dict[str, RunResult] = {}
        if "pgbench" in options.runs:
            runs["pgbench"] = await _pgbench_run(options, postgres, progress)
        # The latency run is an open loop at a fixed rate, not a ratio: it runs once, in the first round.
        wanted = tuple(run for run in http_wanted if number == 1 or run != "http-fixed-rate")
        if wanted:
            database = f"bench_wallet_http_{number}"
            url = await postgres.database(database)
            databases["wallet over HTTP" + suffix] = (database, url)
            plan = HttpPlan(
                duration=options.duration,
                warmup=options.warmup,
                drain=DRAIN_SECONDS,
                concurrency=options.concurrency,
                rate=options.rate,
                fixed_rate_connections=FIXED_RATE_CONNECTIONS,
                runs=wanted,
                slices=options.slices,
            )
            runs.update(await http_runs(plan, url, postgres.work_dir, round_nonce, postgres_pid, progress))
            if postgres.is_embedded:
                # Verified and dropped before the in-process runs: the autovacuum its tables are due would otherwise
                # run during them, and charge the in-process ledger for the HTTP runs' rows.
                ledger.update(await _verify_round(databases, postgres, progress))
                databases.clear()
        if inprocess_wanted:
            database = f"bench_wallet_inprocess_{number}"
            url = await postgres.database(database)
            databases["wallet in-process" + suffix] = (database, url)
            inprocess_plan = InProcessPlan(
                duration=options.duration,
                warmup=options.warmup,
                drain=DRAIN_SECONDS,
                concurrency=options.inprocess_concurrency,
                runs=inprocess_wanted,
                slices=options.slices,
            )
            runs.update(await inprocess_runs(inprocess_plan, url, round_nonce, postgres_pid, progress))
        rounds.append(runs)
        ledger.update(await _verify_round(databases, postgres, progress))

    return BenchReport(
        started_at=started_at,
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=machine,
        postgres=postgres_info,
        parameters=options.as_dict(),
        rounds=rounds,
        targets=judge(rounds, options.rate, P99_LIMIT_MS),
        ledger=ledger,
    )
