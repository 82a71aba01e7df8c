"""How load is offered: closed loop (a fixed number of workers, each sending as soon as its last answer came back)
and open loop (requests leave on a fixed schedule, whatever the answers do).

Both drive `Operation`s: a callable that starts one request and returns its awaitable. The request failed if the
awaitable returns a `Failure` or raises, and succeeded otherwise. HTTP workers wrap one keep-alive connection each;
in-process workers call the wallet client directly.

Timing: a warm-up precedes the measured window and is discarded. In the closed loop a request counts when it
completes inside the window. In the open loop a request counts when it was *scheduled* inside the window, and its
latency runs from the scheduled send time, not from the moment a free connection actually sent it: when the server
stalls, requests queue on the generator's side, and measuring from the actual send would hide exactly that wait
(coordinated omission).
"""

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar


class Failure(NamedTuple):
    kind: str  # e.g. "http_409", "insufficient_funds", "ConnectionResetError"
    detail: str


Operation = Callable[[], Awaitable[object]]

#: After an exception (connection refused, reset) a worker pauses this long, so a dead server does not spin the CPU.
ERROR_PAUSE_SECONDS = 0.01
MAX_ERROR_EXAMPLES = 5


@dataclass
class LoadSample:
    """What one run measured inside its window."""

    window_seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: dict[str, str] = field(default_factory=dict)
    offered: int = 0  # open loop: requests scheduled inside the window
    completed_in_window: int = 0  # successful completions that happened inside the window
    completed: int = 0  # closed loop: every successful completion, warm-up and drain included

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def throughput(self) -> float:
        """Successful requests completed per second inside the window."""
        return self.completed_in_window / self.window_seconds if self.window_seconds > 0 else 0.0

    def record_failure(self, failure: Failure) -> None:
        self.errors[failure.kind] += 1
        if failure.kind not in self.error_examples and len(self.error_examples) < MAX_ERROR_EXAMPLES:
            self.error_examples[failure.kind] = failure.detail[:300]


async def _perform(operation: Operation) -> Failure | None:
    try:
        outcome = await operation()
    except Exception as error:  # a benchmark reports failures, it does not stop at the first one
        return await _failed(error)
    return outcome if type(outcome) is Failure else None


async def _failed(error: Exception) -> Failure:
    """The failure an exception stands for.

    An error with a stable `code` (the wallet's refusals: insufficient_funds, ...) is an answer, counted by that code
    at once, as an HTTP refusal is. Any other error comes after a short pause: a dead server must not spin the CPU."""
    code = getattr(error, "code", None)
    if isinstance(code, str):
        return Failure(code, str(getattr(error, "detail", error)))
    await asyncio.sleep(ERROR_PAUSE_SECONDS)
    if isinstance(error, (OSError, asyncio.IncompleteReadError, ValueError, EOFError)):
        return Failure(type(error).__name__, str(error))
    return Failure(type(error).__name__, repr(error))


async def _finish(tasks: Sequence["asyncio.Task[None]"], wait_seconds: float) -> int:
    """Wait for the workers up to `wait_seconds`, cancel the rest; return how many had to be cancelled."""
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=max(wait_seconds, 0.0))
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return len(pending)


async def closed_loop(operations: Sequence[Operation], *, warmup: float, duration: float, drain: float) -> LoadSample:
    """Each operation is one worker that sends, waits for the answer, and sends again, until the window ends."""
    sample = LoadSample(window_seconds=duration)
    start = time.perf_counter()
    window_start = start + warmup
    window_end = window_start + duration
    latencies = sample.latencies
    clock = time.perf_counter

    async def worker(operation: Operation) -> None:
        # _perform, inlined: one coroutine less per request, in the process whose CPU is measured.
        while True:
            sent = clock()
            if sent >= window_end:
                return
            try:
                outcome = await operation()
            except Exception as error:
                failure: Failure | None = await _failed(error)
            else:
                failure = outcome if type(outcome) is Failure else None
            done = clock()
            if failure is None:
                sample.completed += 1
            if window_start <= done <= window_end:
                if failure is None:
                    latencies.append(done - sent)
                else:
                    sample.record_failure(failure)

    tasks = [asyncio.create_task(worker(operation)) for operation in operations]
    try:
        stuck = await _finish(tasks, window_end + drain - time.perf_counter())
    finally:
        for task in tasks:
            task.cancel()
    if stuck:
        sample.errors["unfinished"] += stuck
    sample.completed_in_window = len(latencies)
    return sample


async def open_loop(
    operations: Sequence[Operation], *, rate: float, warmup: float, duration: float, drain: float
) -> LoadSample:
    """Send `rate` requests per second on a fixed schedule through the given workers (one connection each).

    A scheduled request waits in a queue for a free worker if all are busy; its latency includes that wait.
    """
    sample = LoadSample(window_seconds=duration)
    clock = time.perf_counter
    start = clock() + 0.05
    window_start = start + warmup
    window_end = window_start + duration
    total_slots = int((warmup + duration) * rate)
    interval = 1.0 / rate
    queue: asyncio.Queue[float | None] = asyncio.Queue()
    finished_in_window = 0

    async def schedule() -> None:
        slot = 0
        while slot < total_slots:
            now = clock()
            # Release every slot whose time has come (timers fire late; the schedule does not drift with them).
            while slot < total_slots and start + slot * interval <= now:
                queue.put_nowait(start + slot * interval)
                slot += 1
            if slot < total_slots:
                await asyncio.sleep(max(start + slot * interval - clock(), 0.0))
        for _ in operations:
            queue.put_nowait(None)

    async def worker(operation: Operation) -> None:
        nonlocal finished_in_window
        while True:
            scheduled = await queue.get()
            if scheduled is None:
                return
            failure = await _perform(operation)
            done = clock()
            if failure is None and window_start <= done <= window_end:
                sample.completed_in_window += 1
            if window_start <= scheduled < window_end:
                finished_in_window += 1
                if failure is None:
                    sample.latencies.append(done - scheduled)
                else:
                    sample.record_failure(failure)

    sample.offered = sum(1 for slot in range(total_slots) if window_start <= start + slot * interval < window_end)
    scheduler = asyncio.create_task(schedule())
    tasks = [asyncio.create_task(worker(operation)) for operation in operations]
    try:
        await scheduler
        await _finish(tasks, window_end + drain - clock())
    finally:
        scheduler.cancel()
        for task in tasks:
            task.cancel()
    unfinished = sample.offered - finished_in_window
    if unfinished > 0:
        sample.errors["unfinished"] += unfinished
    return sample


def merge_samples(samples: Sequence[LoadSample]) -> LoadSample:
    """One sample of several measured windows (the slices of an alternated run): their times and counts added up."""
    merged = LoadSample(window_seconds=sum(sample.window_seconds for sample in samples))
    for sample in samples:
        merged.latencies.extend(sample.latencies)
        merged.errors.update(sample.errors)
        for kind, detail in sample.error_examples.items():
            if kind not in merged.error_examples and len(merged.error_examples) < MAX_ERROR_EXAMPLES:
                merged.error_examples[kind] = detail
        merged.offered += sample.offered
        merged.completed_in_window += sample.completed_in_window
        merged.completed += sample.completed
    return merged


def slice_rates(samples: Sequence[LoadSample]) -> list[float]:
    """Each slice's own throughput, in the order they ran: a slice that met a slow machine, a checkpoint or an
    autovacuum stands out here, where the merged figure only shows a lower average."""
    return [round(sample.throughput, 1) for sample in samples]


Name = TypeVar("Name", bound=str)
Slice = TypeVar("Slice")


async def alternate(
    names: Sequence[Name],
    run_slice: Callable[[Name, float, float], Awaitable[Slice]],
    *,
    slices: int,
    warmup: float,
    duration: float,
) -> dict[Name, list[Slice]]:
    """Run each named load in `slices` slices, taking turns: A B, B A, A B, ... (each pair in the other order).

    `run_slice(name, warmup, duration)` runs one slice: a `slices`-th of the warm-up and of the measured window. Loads
    that are compared with each other (uniform and hot) then meet the same machine: on a VM whose speed drifts from one
    minute to the next, two runs one after the other can differ by more than what they measure. The alternating order
    also cancels a steady drift over the run.
    """
    results: dict[Name, list[Slice]] = {name: [] for name in names}
    for number in range(slices):
        for name in names if number % 2 == 0 else reversed(names):
            results[name].append(await run_slice(name, warmup / slices, duration / slices))
    return results
