"""`croupier bench wallet`: the wallet's throughput and latency, next to pgbench on the same PostgreSQL.

One bench, on one server (an embedded one in a temporary directory, or --database-url), in rounds (--rounds, 3 by
default), each round in this order:
  1. pgbench -i   a fresh TPC-B-like database, then a checkpoint (bench/reference.py);
  2. http-*       the wallet as its own server process, C keep-alive connections (uniform, hot), with pgbench's C
                  clients taking turns with them slice by slice (`pgbench-http`); then, in the first round only, an
                  open-loop run at a fixed rate for latency;
  3. inprocess-*  the platform bootstrapped in this process, C' concurrent tasks (uniform, hot), with pgbench taking
                  turns with them again (`pgbench-inprocess`);
  4. verify       `croupier wallet verify` on every wallet database the round wrote to (fresh ones each round,
                  dropped once verified on the embedded server; the HTTP runs' database before step 3, so that its
                  autovacuum does not run during the in-process runs).
Every ratio to pgbench is taken within a round, against the pgbench run that took turns with the same transport, and
reported as the median over the rounds (report.py says why). Asked for without any closed-loop wallet run, pgbench
runs on its own (`pgbench`).

Everything is bounded in time, and the server process, pgbench, PostgreSQL and the temporary directory are cleaned up
however the bench ends (including Ctrl-C)."""

import asyncio
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg

from croupier.bench import pgbench, reference
from croupier.bench.http_runs import HttpPlan, SetupFailed, http_runs
from croupier.bench.inprocess_runs import InProcessPlan, inprocess_runs
from croupier.bench.ledger_observations import verify
from croupier.bench.machine import describe_machine
from croupier.bench.postgres_server import BenchPostgres, bench_postgres
from croupier.bench.report import RUNS, BenchReport, RunResult, judge
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
    # Enough in-process tasks for a batch to gather while one is applied and another written: with 256 the writer
    # settles into two batches of 128 that take turns, each side idle about a tenth of the time (docs/benchmarks.md,
    # "What limits", sessions 8 and 12).
    inprocess_concurrency: int = 512
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


async def _pgbench_reference(
    options: BenchOptions, postgres: BenchPostgres, progress: Progress
) -> reference.PgbenchReference:
    """A freshly initialised pgbench database (each round has its own pgbench_* tables), ready to run."""
    url = await postgres.database("bench_pgbench")
    progress(f"pgbench -i -s {pgbench.SCALE}, then a checkpoint")
    await reference.initialise(url, postgres.work_dir)
    return reference.PgbenchReference(
        url, options.concurrency, postgres.work_dir, postgres.embedded.pid if postgres.embedded else None
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
        pgbench_reference = await _pgbench_reference(options, postgres, progress) if "pgbench" in options.runs else None
        # pgbench takes turns with each transport's closed loops (bench/reference.py); with none, it runs on its own.
        closed = [
            transport
            for transport in ("http", "inprocess")
            if f"{transport}-uniform" in options.runs or f"{transport}-hot" in options.runs
        ]
        if pgbench_reference is not None and not closed:
            progress(f"pgbench -c {options.concurrency} -j {pgbench.THREADS} -T {options.duration:g}")
            part = await pgbench_reference.run_slice(options.duration)
            runs["pgbench"] = pgbench_reference.result("pgbench", [part], options.duration)
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
            runs.update(
                await http_runs(
                    plan,
                    url,
                    postgres.work_dir,
                    round_nonce,
                    postgres_pid,
                    progress,
                    pgbench_reference if "http" in closed else None,
                )
            )
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
            runs.update(
                await inprocess_runs(
                    inprocess_plan,
                    url,
                    round_nonce,
                    postgres_pid,
                    progress,
                    pgbench_reference if "inprocess" in closed else None,
                )
            )
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
