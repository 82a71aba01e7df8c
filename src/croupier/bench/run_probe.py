"""Measures taken around each run besides the load itself: CPU per process group (cpu_usage) and PostgreSQL's work:
- WAL written (exact, from the WAL position);
- checkpoints started during the run (after one, the next change of every page writes a full page image, so a run
  that includes a checkpoint writes more WAL and costs more CPU);
- sequential scans of the tables of one schema (`pg_stat_user_tables`, which lags up to a second): a table read
  from end to end on every batch makes each transfer cost more as the ledger grows;
- vacuums running during the run, in any database of the server (`pg_stat_progress_vacuum`, sampled every
  VACUUM_SAMPLE_SECONDS): the first autovacuum of a freshly filled table reads and dirties all of it, and on a VM the
  writes that follow slow every process, not only PostgreSQL (docs/benchmarks.md, "What limits").
"""

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from croupier.bench.cpu_usage import CpuMeter, CpuUsage
from croupier.bench.load_loops import LoadSample, merge_samples, slice_rates

_CHECKPOINTS = (
    "SELECT num_timed + num_requested FROM pg_stat_checkpointer",  # PostgreSQL 17 and later
    "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter",  # earlier versions
)


_SCANS = """
SELECT relname, coalesce(seq_scan, 0) AS scans, coalesce(seq_tup_read, 0) AS rows_read
FROM pg_stat_user_tables WHERE schemaname = $1
"""

TableScans = dict[str, tuple[int, int]]  # table: (sequential scans, rows they read)

VACUUM_SAMPLE_SECONDS = 0.25
_VACUUMS = "SELECT DISTINCT datname FROM pg_stat_progress_vacuum"


@dataclass(frozen=True)
class _Position:
    wal: int | None
    checkpoints: int | None
    scans: TableScans


async def _postgres_position(url: str, schema: str | None) -> _Position:
    """WAL position in bytes, checkpoints so far, scans of the schema's tables; None where the server does not tell."""
    connection = await asyncpg.connect(url)
    try:
        scans: TableScans = {}
        if schema is not None:
            for row in await connection.fetch(_SCANS, schema):
                scans[row["relname"]] = (int(row["scans"]), int(row["rows_read"]))
        try:
            wal: int | None = int(await connection.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
        except asyncpg.PostgresError:
            wal = None
        checkpoints: int | None = None
        for query in _CHECKPOINTS:
            try:
                checkpoints = int(await connection.fetchval(query))
                break
            except asyncpg.PostgresError:
                continue
    finally:
        await connection.close()
    return _Position(wal, checkpoints, scans)


@dataclass(frozen=True)
class ProbeReading:
    cpu: CpuUsage
    wal_bytes: int | None
    checkpoints: int | None
    sequential_scans: dict[str, dict[str, int]]
    # Seconds (sampled) during which a vacuum ran, by database; None if the server would not tell.
    vacuum_seconds: dict[str, float] | None = None

    def details(self, operations: int) -> dict[str, Any]:
        """Run details, with per-operation figures for `operations` (transfers or pgbench transactions)."""
        per = max(operations, 1)
        return {
            "cpu_cores": self.cpu.cores(),
            "cpu_us_per_op": self.cpu.microseconds_per(operations),
            "wal_bytes_per_op": None if self.wal_bytes is None else round(self.wal_bytes / per),
            "checkpoints_during_run": self.checkpoints,
            "sequential_scans": self.sequential_scans,
            "vacuum_seconds": self.vacuum_seconds,
            "operations_measured": operations,
        }

    def brief(self, operations: int) -> dict[str, Any]:
        """What tells one slice of a run from the others: its CPU per operation, checkpoints and vacuums.

        `operations`: all those completed while the probe measured (warm-up and drain included, as for its CPU)."""
        return {
            "cpu_us_per_op": self.cpu.microseconds_per(operations),
            "checkpoints": self.checkpoints,
            "vacuum_seconds": self.vacuum_seconds,
        }


class RunProbe:
    """`async with RunProbe(url, server_pid, postgres_pid) as probe:` run, then `reading = await probe.stop()` (or
    `probe = await RunProbe(...).start()` ... `await probe.stop()`, where nothing can fail in between).

    With `schema`, sequential scans of that schema's tables during the run are reported too.
    """

    def __init__(
        self, url: str, server_pid: int | None, postgres_pid: int | None, *, schema: str | None = None
    ) -> None:
        self._url = url
        self._schema = schema
        self._meter = CpuMeter(server_pid, postgres_pid)
        self._start = _Position(None, None, {})
        self._vacuums: dict[str, float] = defaultdict(float)  # database: seconds a vacuum was seen running in it
        self._vacuums_known = True
        self._sampler: asyncio.Task[None] | None = None

    async def start(self) -> "RunProbe":
        self._start = await _postgres_position(self._url, self._schema)
        self._sampler = asyncio.create_task(self._sample_vacuums(await asyncpg.connect(self._url)))
        self._meter.start()
        return self

    async def _sample_vacuums(self, connection: Any) -> None:
        """Credit the time since the previous sample to each database a vacuum is running in now (the sampling
        period stretches when the event loop is busy, so the time is measured, not assumed)."""
        clock = asyncio.get_running_loop().time
        last = clock()
        try:
            while True:
                try:
                    rows = await connection.fetch(_VACUUMS)
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    self._vacuums_known = False  # the server would not tell, or the connection was lost
                    return
                now = clock()
                for row in rows:
                    self._vacuums[row["datname"]] += now - last
                last = now
                await asyncio.sleep(VACUUM_SAMPLE_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                await connection.close()

    async def __aenter__(self) -> "RunProbe":
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self._stop_sampling()  # the run failed before stop(): no reading, and no poller left behind

    async def _stop_sampling(self) -> None:
        if self._sampler is None:
            return
        sampler, self._sampler = self._sampler, None
        sampler.cancel()
        await asyncio.wait([sampler])  # a cancellation of this caller still reaches it here
        if not sampler.cancelled() and sampler.exception() is not None:
            self._vacuums_known = False

    async def stop(self) -> ProbeReading:
        cpu = self._meter.stop()
        await self._stop_sampling()
        end, start = await _postgres_position(self._url, self._schema), self._start
        scans: dict[str, dict[str, int]] = {}
        for table, (count, rows) in end.scans.items():
            before = start.scans.get(table, (0, 0))
            if count > before[0]:
                scans[table] = {"scans": count - before[0], "rows_read": rows - before[1]}
        return ProbeReading(
            cpu=cpu,
            wal_bytes=None if end.wal is None or start.wal is None else end.wal - start.wal,
            checkpoints=None
            if end.checkpoints is None or start.checkpoints is None
            else end.checkpoints - start.checkpoints,
            sequential_scans=scans,
            vacuum_seconds={database: round(seconds, 2) for database, seconds in self._vacuums.items()}
            if self._vacuums_known
            else None,
        )


def merge_slices(parts: Sequence[tuple[LoadSample, ProbeReading]]) -> tuple[LoadSample, ProbeReading, dict[str, Any]]:
    """One run of its slices (load_loops.alternate): the samples and the readings added up, and the run details that
    keep each slice's own figures, in the order the slices ran."""
    samples = [sample for sample, _ in parts]
    details = {
        "slices": len(parts),
        "slice_per_second": slice_rates(samples),
        "slice_readings": [reading.brief(sample.completed) for sample, reading in parts],
    }
    return merge_samples(samples), merge_readings([reading for _, reading in parts]), details


def merge_readings(readings: Sequence[ProbeReading]) -> ProbeReading:
    """One reading of several measured stretches (the slices of an alternated run): CPU, WAL, checkpoints and scans
    added up; WAL or checkpoints unknown if any stretch did not know them."""
    cpu_seconds: dict[str, float] = {}
    scans: dict[str, dict[str, int]] = {}
    for reading in readings:
        for group, seconds in reading.cpu.cpu_seconds.items():
            cpu_seconds[group] = cpu_seconds.get(group, 0.0) + seconds
        for table, counts in reading.sequential_scans.items():
            total = scans.setdefault(table, {"scans": 0, "rows_read": 0})
            total["scans"] += counts["scans"]
            total["rows_read"] += counts["rows_read"]
    wal = [reading.wal_bytes for reading in readings]
    checkpoints = [reading.checkpoints for reading in readings]
    vacuums: dict[str, float] | None = {}
    for reading in readings:
        if reading.vacuum_seconds is None or vacuums is None:
            vacuums = None
            continue
        for database, seconds in reading.vacuum_seconds.items():
            vacuums[database] = vacuums.get(database, 0.0) + seconds
    return ProbeReading(
        cpu=CpuUsage(sum(reading.cpu.wall_seconds for reading in readings), cpu_seconds),
        wal_bytes=None if any(value is None for value in wal) else sum(value for value in wal if value is not None),
        checkpoints=None
        if any(value is None for value in checkpoints)
        else sum(value for value in checkpoints if value is not None),
        sequential_scans=scans,
        vacuum_seconds=vacuums,
    )
