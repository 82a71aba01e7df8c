"""pgbench as the bench's reference, against a real PostgreSQL: initialised and checkpointed, then run in slices that
each count only their own transactions and add up to one run."""

from pathlib import Path

import asyncpg
import pytest

from croupier.bench import reference


async def _wal_position(url: str) -> tuple[int, int]:
    """(current WAL position, redo position of the last checkpoint), in bytes."""
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(
            "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn AS now, "
            "(SELECT redo_lsn FROM pg_control_checkpoint()) - '0/0'::pg_lsn AS redo"
        )
        assert row is not None
        return int(row["now"]), int(row["redo"])
    finally:
        await connection.close()


async def test_pgbench_runs_in_slices_that_add_up_to_one_run(database_url: str, tmp_path: Path) -> None:
    before, _ = await _wal_position(database_url)
    await reference.initialise(database_url, tmp_path)
    after, redo = await _wal_position(database_url)
    # The initialisation's pages were written out before anything is measured: the last checkpoint began after
    # (nearly) all of the WAL pgbench -i wrote.
    assert after - before > 10_000_000
    assert redo - before >= 0.95 * (after - before)

    pgbench = reference.PgbenchReference(database_url, 4, tmp_path, None)
    parts = [await pgbench.run_slice(1.0), await pgbench.run_slice(0.4)]  # 0.4 s: still one whole second
    for sample, reading in parts:
        assert sample.completed_in_window == sample.completed > 0
        # Every transaction of this slice's log, and none of an earlier slice's.
        assert len(sample.latencies) == sample.completed
        assert 0.5 < sample.window_seconds <= 1.2
        assert reading.wal_bytes is not None
        assert reading.wal_bytes > 0
    assert not list(tmp_path.glob("pgbench-log-*")), "a slice left its transaction log behind"

    run = pgbench.result("pgbench-test", parts, 1.0)
    transactions = sum(sample.completed for sample, _ in parts)
    seconds = sum(sample.window_seconds for sample, _ in parts)
    assert run.operations == transactions
    assert run.details["window_seconds"] == pytest.approx(seconds)
    # The run's rate is its slices' transactions over their measured time: between its slowest and fastest slice.
    assert run.details["slices"] == 2
    rates = run.details["slice_per_second"]
    assert len(rates) == 2
    assert min(rates) - 0.1 <= run.per_second <= max(rates) + 0.1
    assert run.details["command"] == "pgbench -c 4 -j 2 -T 1 -l"
    assert run.details["operations_measured"] == transactions
    assert run.error_count == 0

    alone = pgbench.result("pgbench", parts[:1], 1.0)
    assert "slices" not in alone.details
