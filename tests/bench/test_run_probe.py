"""The run probe against a real PostgreSQL: a vacuum that runs during a run is seen, with its database."""

import asyncio

import asyncpg
import pytest

from croupier.bench.run_probe import VACUUM_SAMPLE_SECONDS, RunProbe


async def test_a_vacuum_running_during_the_run_is_reported_with_its_database(database_url: str) -> None:
    setup = await asyncpg.connect(database_url)
    vacuuming = await asyncpg.connect(database_url)
    try:
        database = await setup.fetchval("SELECT current_database()")
        await setup.execute(
            "CREATE TABLE slow_to_vacuum WITH (autovacuum_enabled = false) AS "
            "SELECT g AS n, repeat('x', 200) AS filler FROM generate_series(1, 20000) g"
        )
        # A vacuum held back to a crawl by its cost settings: it sleeps after every page it reads.
        await vacuuming.execute("SET vacuum_cost_delay = '50ms'")
        await vacuuming.execute("SET vacuum_cost_limit = 1")
        await vacuuming.execute("SET vacuum_cost_page_miss = 1")
        await vacuuming.execute("SET vacuum_cost_page_hit = 1")

        quiet = await RunProbe(database_url, None, None).start()
        await asyncio.sleep(4 * VACUUM_SAMPLE_SECONDS)
        # (Other tests' databases on this server may be autovacuumed meanwhile: only this one's figure is checked.)
        assert database not in ((await quiet.stop()).vacuum_seconds or {"unknown": 0.0})

        started = asyncio.get_running_loop().time()
        probe = await RunProbe(database_url, None, None).start()
        vacuum = asyncio.create_task(vacuuming.execute("VACUUM slow_to_vacuum"))
        await asyncio.sleep(8 * VACUUM_SAMPLE_SECONDS)
        reading = await probe.stop()
        elapsed = asyncio.get_running_loop().time() - started
        vacuum.cancel()
        await setup.execute("SELECT pg_cancel_backend($1)", vacuuming.get_server_pid())
    finally:
        await setup.close()
        vacuuming.terminate()

    assert reading.vacuum_seconds is not None
    # The vacuum ran for the whole run: the time credited to it is most of the run, and never more than all of it.
    assert 3 * VACUUM_SAMPLE_SECONDS <= reading.vacuum_seconds[database] <= elapsed
    assert reading.details(1)["vacuum_seconds"] == reading.vacuum_seconds
    assert reading.brief(1)["vacuum_seconds"] == reading.vacuum_seconds


async def test_a_run_that_fails_leaves_no_poller_behind(database_url: str) -> None:
    async def failing_run() -> None:
        async with RunProbe(database_url, None, None):
            assert _pollers(), "the probe polls while the run goes on"
            raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError, match="the run failed"):
        await failing_run()

    assert _pollers() == []


def _pollers() -> list["asyncio.Task[object]"]:
    return [task for task in asyncio.all_tasks() if "_sample_vacuums" in repr(task.get_coro())]
