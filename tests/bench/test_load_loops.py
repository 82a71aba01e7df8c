"""The bench's alternating slices (load_loops.alternate) and how the slices' samples and readings add up."""

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable

import pytest

from croupier.bench.cpu_usage import CpuUsage
from croupier.bench.load_loops import (
    Failure,
    LoadSample,
    alternate,
    closed_loop,
    merge_samples,
    open_loop,
    slice_rates,
)
from croupier.bench.run_probe import ProbeReading, merge_readings, merge_slices


async def test_runs_take_turns_slice_by_slice_each_pair_in_the_other_order() -> None:
    calls: list[tuple[str, float, float]] = []

    async def run_slice(name: str, warmup: float, duration: float) -> str:
        calls.append((name, warmup, duration))
        return f"{name}{len(calls)}"

    results = await alternate(["uniform", "hot"], run_slice, slices=4, warmup=2.0, duration=10.0)

    assert [name for name, _, _ in calls] == ["uniform", "hot", "hot", "uniform", "uniform", "hot", "hot", "uniform"]
    assert {(warmup, duration) for _, warmup, duration in calls} == {(0.5, 2.5)}  # a quarter of each, every time
    assert results == {
        "uniform": ["uniform1", "uniform4", "uniform5", "uniform8"],
        "hot": ["hot2", "hot3", "hot6", "hot7"],
    }


async def test_one_slice_is_one_whole_run_after_the_other() -> None:
    calls: list[tuple[str, float, float]] = []

    async def run_slice(name: str, warmup: float, duration: float) -> None:
        calls.append((name, warmup, duration))

    await alternate(["uniform", "hot"], run_slice, slices=1, warmup=2.0, duration=10.0)

    assert calls == [("uniform", 2.0, 10.0), ("hot", 2.0, 10.0)]


def test_slices_samples_add_up_to_one_window() -> None:
    first = LoadSample(window_seconds=2.0, latencies=[0.001, 0.002], errors=Counter({"http_503": 1}), offered=3)
    first.error_examples["http_503"] = "first"
    first.completed_in_window = 2
    first.completed = 4
    second = LoadSample(window_seconds=3.0, latencies=[0.004], errors=Counter({"http_503": 2, "timeout": 1}))
    second.error_examples.update({"http_503": "second", "timeout": "slow"})
    second.completed_in_window = 1
    second.completed = 1

    merged = merge_samples([first, second])

    assert merged.window_seconds == 5.0
    assert merged.latencies == [0.001, 0.002, 0.004]
    assert merged.errors == Counter({"http_503": 3, "timeout": 1})
    assert merged.error_examples == {"http_503": "first", "timeout": "slow"}
    assert merged.offered == 3
    assert merged.completed == 5
    assert merged.throughput == pytest.approx(3 / 5.0)


async def test_a_closed_loop_counts_every_completion_and_rates_only_those_in_its_window() -> None:
    async def operation() -> None:
        await asyncio.sleep(0.01)

    sample = await closed_loop([operation, operation], warmup=0.2, duration=0.3, drain=1.0)

    # Warm-up completions are work the probe's CPU figures include, but they are not part of the rate.
    assert sample.completed_in_window == sample.ok
    assert sample.completed >= sample.ok + 2 * 10  # two workers, about 20 answers each in the 0.2 s warm-up
    assert sample.throughput == pytest.approx(sample.ok / 0.3)


def test_each_slice_keeps_its_own_rate_in_the_order_the_slices_ran() -> None:
    fast = LoadSample(window_seconds=2.0, latencies=[0.001] * 10)
    fast.completed_in_window = 10
    slow = LoadSample(window_seconds=2.0, latencies=[0.001] * 3)
    slow.completed_in_window = 3

    assert slice_rates([fast, slow, fast]) == [5.0, 1.5, 5.0]
    assert merge_samples([fast, slow, fast]).throughput == pytest.approx(23 / 6.0)


def _reading(
    wall: float,
    postgres: float,
    wal: int | None,
    checkpoints: int | None,
    scans: int,
    vacuums: dict[str, float] | None = None,
) -> ProbeReading:
    return ProbeReading(
        cpu=CpuUsage(wall, {"postgres": postgres, "machine": postgres * 2}),
        wal_bytes=wal,
        checkpoints=checkpoints,
        sequential_scans={"accounts": {"scans": scans, "rows_read": scans * 10}} if scans else {},
        vacuum_seconds={} if vacuums is None else vacuums,
    )


def test_slices_readings_add_up_and_an_unknown_stays_unknown() -> None:
    merged = merge_readings(
        [
            _reading(2.0, 1.0, 1000, 0, 1, {"ledger": 0.5}),
            _reading(3.0, 2.0, 500, 1, 0, {"ledger": 1.0, "other": 0.25}),
            _reading(1.0, 0.5, 0, 0, 2),
        ]
    )

    assert merged.cpu.wall_seconds == 6.0
    assert merged.cpu.cpu_seconds == {"postgres": 3.5, "machine": 7.0}
    assert merged.cpu.cores()["postgres"] == pytest.approx(3.5 / 6.0, abs=0.01)
    assert merged.wal_bytes == 1500
    assert merged.checkpoints == 1
    assert merged.sequential_scans == {"accounts": {"scans": 3, "rows_read": 30}}
    assert merged.vacuum_seconds == {"ledger": 1.5, "other": 0.25}
    unknown = merge_readings([_reading(1.0, 1.0, None, 0, 0), _reading(1.0, 1.0, 10, None, 0)])
    assert unknown.wal_bytes is None
    assert unknown.checkpoints is None
    not_told = ProbeReading(CpuUsage(1.0, {}), 0, 0, {}, vacuum_seconds=None)
    assert merge_readings([_reading(1.0, 1.0, 0, 0, 0, {"ledger": 1.0}), not_told]).vacuum_seconds is None


def test_a_run_of_slices_adds_them_up_and_keeps_each_slices_figures() -> None:
    fast = LoadSample(window_seconds=2.0, latencies=[0.001] * 10, completed_in_window=10, completed=12)
    slow = LoadSample(window_seconds=2.0, latencies=[0.001] * 2, completed_in_window=2, completed=4)

    sample, reading, details = merge_slices(
        [(fast, _reading(2.5, 1.2, 100, 0, 0)), (slow, _reading(2.5, 2.0, 50, 1, 0, {"ledger": 1.5}))]
    )

    assert sample.throughput == pytest.approx(12 / 4.0)
    assert reading.checkpoints == 1
    assert reading.vacuum_seconds == {"ledger": 1.5}
    assert details["slices"] == 2
    assert details["slice_per_second"] == [5.0, 1.0]
    # CPU per operation of each slice: over every completion of the slice, warm-up included.
    assert [brief["cpu_us_per_op"]["postgres"] for brief in details["slice_readings"]] == [100_000.0, 500_000.0]
    assert [brief["checkpoints"] for brief in details["slice_readings"]] == [0, 1]
    assert details["slice_readings"][1]["vacuum_seconds"] == {"ledger": 1.5}


class _Refused(Exception):
    """An error with a stable code, as the wallet's refusals have."""

    code = "insufficient_funds"
    detail = "account has 0 available, 5 needed"


async def test_a_closed_loop_tells_successes_from_failures_returned_or_raised() -> None:
    answers = itertools.cycle(["a result", Failure("http_409", "conflict"), _Refused(), ConnectionResetError("reset")])

    async def answer() -> object:
        await asyncio.sleep(0.001)
        value = next(answers)
        if isinstance(value, Exception):
            raise value
        return value

    def start() -> Awaitable[object]:  # an operation may return its request's awaitable without a wrapper
        return answer()

    sample = await closed_loop([start], warmup=0.0, duration=0.4, drain=1.0)

    # Any result but a Failure is a success; a Failure counts by its kind; an exception by its code, else its type.
    assert sample.ok > 0
    assert set(sample.errors) == {"http_409", "insufficient_funds", "ConnectionResetError"}
    assert sample.error_examples["insufficient_funds"] == "account has 0 available, 5 needed"
    assert sample.error_examples["ConnectionResetError"] == "reset"
    assert abs(sample.ok - sample.errors["http_409"]) <= 1
    assert sample.completed_in_window == sample.ok


async def test_a_refusal_is_an_answer_counted_at_once_and_an_error_after_a_pause() -> None:
    async def refused() -> object:
        raise _Refused()

    async def broken() -> object:
        raise ConnectionRefusedError("refused")

    refusals = await closed_loop([refused], warmup=0.0, duration=0.2, drain=1.0)
    errors = await closed_loop([broken], warmup=0.0, duration=0.2, drain=1.0)
    # A refusal returns at once, as the wallet answered it; a broken connection waits ERROR_PAUSE_SECONDS (10 ms).
    assert refusals.errors["insufficient_funds"] > 200
    assert 5 <= errors.errors["ConnectionRefusedError"] <= 21


async def test_an_open_loop_tells_successes_from_failures_returned_or_raised() -> None:
    answers = itertools.cycle(["a result", None, Failure("http_503", "busy"), _Refused()])

    async def answer() -> object:
        value = next(answers)
        if isinstance(value, Exception):
            raise value
        return value

    sample = await open_loop([answer], rate=400, warmup=0.0, duration=0.2, drain=1.0)
    assert sample.offered == 80
    assert sample.ok == 40  # the result and None
    assert sample.errors == Counter({"http_503": 20, "insufficient_funds": 20})
