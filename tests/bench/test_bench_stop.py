"""A benchmark stopped with SIGTERM leaves nothing behind: no PostgreSQL server, no temporary directory."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the server runs as another user when the tests run as root
        pass
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def _ready_postmaster(tmp_path: Path) -> tuple[Path, int] | None:
    """The bench's work directory and its postmaster's pid, once that server accepts connections.

    initdb's standalone backend writes a postmaster.pid of its own (a negative pid) and removes it again, so a pid
    file that is found may be gone, or not yet the server's, when it is read.
    """
    for pid_file in tmp_path.glob("croupier-bench-*/postgres/pgdata/postmaster.pid"):
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            continue
        if len(lines) >= 8 and lines[0].strip().isdigit() and lines[7].strip() == "ready":
            return pid_file.parents[2], int(lines[0])
    return None


def test_bench_stopped_with_sigterm_stops_its_postgres_and_removes_its_directory(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    bench = subprocess.Popen(
        [sys.executable, "-m", "croupier", "bench", "wallet", "--only", "pgbench", "--duration", "60", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        started = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and started is None:
            started = _ready_postmaster(tmp_path)
            time.sleep(0.2)
        assert started is not None, "the bench never started its PostgreSQL"
        work_dir, postmaster = started
        time.sleep(3)  # into the run
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=90) != 0
    finally:
        if bench.poll() is None:
            bench.kill()
    assert not _alive(postmaster)
    assert not work_dir.exists()
