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


def test_bench_stopped_with_sigterm_stops_its_postgres_and_removes_its_directory(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    bench = subprocess.Popen(
        [sys.executable, "-m", "croupier", "bench", "wallet", "--only", "pgbench", "--duration", "60", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pid_file = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and pid_file is None:
            found = list(tmp_path.glob("croupier-bench-*/postgres/pgdata/postmaster.pid"))
            pid_file = found[0] if found else None
            time.sleep(0.2)
        assert pid_file is not None, "the bench never started its PostgreSQL"
        work_dir = pid_file.parents[2]
        postmaster = int(pid_file.read_text().split()[0])
        time.sleep(3)  # into the run
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=90) != 0
    finally:
        if bench.poll() is None:
            bench.kill()
    assert not _alive(postmaster)
    assert not work_dir.exists()
