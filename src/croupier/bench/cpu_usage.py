"""Where the CPU went during a run: the bench process, its finished children (pgbench), the wallet server, PostgreSQL,
and everything else on the machine (other people's work: the noise in the numbers).

Reported in cores: 1.0 is one core busy for the whole run. A process tree's time is its own, plus that of its live
children, plus that of the children it has already reaped (PostgreSQL backends that ended during the run).
"""

import time
from dataclasses import dataclass

import psutil  # type: ignore[import-untyped]


def _tree_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        total: float = times.user + times.system + times.children_user + times.children_system
        for child in root.children(recursive=True):
            try:
                child_times = child.cpu_times()
            except psutil.Error:
                continue
            total += child_times.user + child_times.system
    except psutil.Error:
        return 0.0
    return total


def _machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    busy: float = times.user + times.nice + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)
    return busy


def _own_seconds() -> tuple[float, float]:
    times = psutil.Process().cpu_times()
    own: float = times.user + times.system
    children: float = times.children_user + times.children_system
    return own, children


@dataclass
class _Snapshot:
    wall: float
    bench: float
    bench_children: float
    server: float
    postgres: float
    machine: float


class CpuMeter:
    """`meter = CpuMeter(server_pid, postgres_pid).start()`, run, then `usage = meter.stop()`."""

    def __init__(self, server_pid: int | None = None, postgres_pid: int | None = None) -> None:
        self._server_pid = server_pid
        self._postgres_pid = postgres_pid
        self._start: _Snapshot | None = None

    def _snapshot(self) -> _Snapshot:
        bench, children = _own_seconds()
        return _Snapshot(
            wall=time.perf_counter(),
            bench=bench,
            bench_children=children,
            server=_tree_seconds(self._server_pid),
            postgres=_tree_seconds(self._postgres_pid),
            machine=_machine_busy_seconds(),
        )

    def start(self) -> "CpuMeter":
        self._start = self._snapshot()
        return self

    def stop(self) -> "CpuUsage":
        assert self._start is not None
        end, start = self._snapshot(), self._start
        used = {
            "bench": end.bench - start.bench,
            "pgbench": end.bench_children - start.bench_children,
            "wallet_server": end.server - start.server,
            "postgres": end.postgres - start.postgres,
        }
        used = {name: seconds for name, seconds in used.items() if seconds > 0.005}
        machine = end.machine - start.machine
        used["other"] = max(machine - sum(used.values()), 0.0)
        used["machine"] = machine
        return CpuUsage(wall_seconds=max(end.wall - start.wall, 1e-9), cpu_seconds=used)


@dataclass(frozen=True)
class CpuUsage:
    wall_seconds: float
    cpu_seconds: dict[str, float]  # per process group, plus "other" and the whole "machine"

    def cores(self) -> dict[str, float]:
        """Average cores busy over the measured time, per process group."""
        return {name: round(seconds / self.wall_seconds, 2) for name, seconds in self.cpu_seconds.items()}

    def microseconds_per(self, operations: int) -> dict[str, float]:
        """CPU time per operation of each process group of ours: less sensitive to a busy machine than rates."""
        if operations <= 0:
            return {}
        return {
            name: round(seconds * 1_000_000 / operations, 1)
            for name, seconds in self.cpu_seconds.items()
            if name not in ("other", "machine")
        }
