"""pgbench as the wallet's reference point, measured in slices that take turns with the wallet's own.

The ratio to pgbench compares two throughputs measured at different times, and on a shared virtual machine the
speed of the whole machine moves by half within a minute (docs/benchmarks.md, "Rounds"). A pgbench run at the start
of a round and the in-process runs forty seconds later can meet two different machines: in one round of session 12
the in-process runs took 28 µs of the bench's CPU per transfer against 18 µs in the next round, with the same code,
while the pgbench before them had run at full speed.

So when a round measures a transport's closed loops, pgbench runs as one more load among them: a slice of pgbench,
a slice of uniform, a slice of hot, then the other way round, and so on (load_loops.alternate). Each transport gets
its own pgbench run (`pgbench-http`, `pgbench-inprocess`), and its wallet runs are compared with that one. A slice
of pgbench is one `pgbench -T` invocation: its clients connect first and that time is not measured (pgbench's
"without initial connection time"), as a wallet slice's warm-up is not. pgbench -T takes whole seconds, so a pgbench
run is as long in total as each wallet run when duration / slices is a whole number (as with the defaults: 2 s).
"""

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from croupier.bench import pgbench
from croupier.bench.load_loops import LoadSample
from croupier.bench.machine import load_average
from croupier.bench.report import PGBENCH, RunResult
from croupier.bench.run_probe import ProbeReading, RunProbe, merge_slices

#: Each slice runs whole seconds (pgbench -T takes an integer), at least this many.
MIN_SLICE_SECONDS = 1


@dataclass(frozen=True)
class PgbenchReference:
    """Runs pgbench (already initialised in `url`'s database) with `clients` clients, whole or one slice at a time."""

    url: str
    clients: int
    work_dir: Path
    postgres_pid: int | None

    async def run_slice(self, duration: float) -> tuple[LoadSample, ProbeReading]:
        """One `pgbench -T` of `duration` seconds (rounded to whole seconds), as a load sample and its probe reading.

        The sample's window is the time pgbench measured (its transactions over its tps, connections excluded), so
        slices add up to the transactions over the time they were measured in.
        """
        seconds = slice_seconds(duration)
        async with RunProbe(self.url, None, self.postgres_pid) as probe:
            result = await pgbench.run(self.url, self.clients, seconds, self.work_dir)
            reading = await probe.stop()
        measured = result.transactions / result.tps if result.tps > 0 else float(seconds)
        sample = LoadSample(window_seconds=measured, latencies=result.latencies)
        sample.completed_in_window = sample.completed = result.transactions
        if result.failed:
            sample.errors["failed_transactions"] += result.failed
        return sample, reading

    def result(self, name: str, parts: list[tuple[LoadSample, ProbeReading]], duration: float) -> RunResult:
        """The run its slices make up (`duration`: what each slice was asked for); one slice is a run on its own."""
        sample, reading, slices = merge_slices(parts)
        return RunResult.from_sample(
            name,
            sample,
            command=f"pgbench -c {self.clients} -j {pgbench.THREADS} -T {slice_seconds(duration)} -l",
            clients=self.clients,
            **(slices if len(parts) > 1 else {}),
            **reading.details(sample.completed),
            load_average_after=load_average(),
        )


def taking_turns(reference: PgbenchReference | None, wanted: Sequence[str]) -> list[str]:
    """The loads of a transport's turns: pgbench first when it runs beside them (load_loops.alternate's order)."""
    return [PGBENCH, *wanted] if reference is not None else list(wanted)


def pgbench_beside(
    transport: str,
    reference: PgbenchReference | None,
    load: str,
    parts: list[tuple[LoadSample, ProbeReading]],
    slice_duration: float,
) -> RunResult | None:
    """`pgbench-<transport>` made of its slices when `load` is pgbench's; None for the transport's own loads."""
    if load != PGBENCH:
        return None
    assert reference is not None
    return reference.result(f"pgbench-{transport}", parts, slice_duration)


def slice_seconds(duration: float) -> int:
    return max(round(duration), MIN_SLICE_SECONDS)


async def initialise(url: str, work_dir: Path) -> None:
    """`pgbench -i` in `url`'s database (a fresh pgbench_* schema), then a checkpoint.

    The initialisation writes the whole 1,000,000-row table and its index: without the checkpoint, writing those pages
    out would fall into the first slices measured after it, whichever load they belong to.
    """
    await pgbench.initialise(url, work_dir)
    connection = await asyncpg.connect(url)
    try:
        # A role that may not checkpoint (not a superuser, nor pg_checkpoint on PostgreSQL 15 and later) leaves it
        # to the server: the bench still runs, as on any shared server.
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await connection.execute("CHECKPOINT")
    finally:
        await connection.close()
