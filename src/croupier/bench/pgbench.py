"""The reference point: pgbench's TPC-B-like script on the same server, with the same number of clients.

    pgbench -i -s 10 -q                      1,000,000 pgbench_accounts rows (10 branches)
    pgbench -c C -j 2 -T D -l                C clients on 2 threads for D seconds, over TCP to 127.0.0.1

Each TPC-B transaction is five statements in one transaction (UPDATE an account, SELECT it, UPDATE a teller, UPDATE
a branch, INSERT into history) with a commit that waits for the WAL flush, like a wallet transfer does. The per-
transaction log (-l) gives latency percentiles comparable to the wallet's.
"""

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from croupier.bench.postgres_server import connection_parameters
from croupier.kit.embedded_pg import binaries_dir

SCALE = 10
THREADS = 2
INIT_TIMEOUT_SECONDS = 600.0
RUN_GRACE_SECONDS = 60.0

_TPS = re.compile(rb"tps = ([0-9.]+) \(without initial connection time\)")
_TPS_ANY = re.compile(rb"tps = ([0-9.]+)")
_FAILED = re.compile(rb"number of failed transactions: (\d+)")
_PROCESSED = re.compile(rb"number of transactions actually processed: (\d+)")


class PgbenchError(RuntimeError):
    pass


@dataclass
class PgbenchResult:
    tps: float
    transactions: int
    failed: int
    latencies: list[float]  # seconds, from the per-transaction log
    command: list[str]


def _base_command(tool: str, url: str) -> tuple[list[str], dict[str, str]]:
    parameters = connection_parameters(url)
    command = [
        str(binaries_dir() / tool),
        "-h",
        parameters.host,
        "-p",
        str(parameters.port),
        "-U",
        parameters.user,
    ]
    environment = {**os.environ, "PGPASSWORD": parameters.password, "PGDATABASE": parameters.database}
    return command, environment


async def _run(command: list[str], environment: dict[str, str], limit_seconds: float, cwd: Path) -> bytes:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=environment,
        cwd=cwd,
        start_new_session=True,  # Ctrl-C reaches the bench, which ends pgbench here
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), limit_seconds)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if process.returncode != 0:
        text = output.decode(errors="replace")
        raise PgbenchError(f"{Path(command[0]).name} exited with {process.returncode}:\n{text}")
    return output


async def initialise(url: str, work_dir: Path) -> None:
    command, environment = _base_command("pgbench", url)
    command += ["-i", "-s", str(SCALE), "-q", connection_parameters(url).database]
    await _run(command, environment, INIT_TIMEOUT_SECONDS, work_dir)


async def run(url: str, clients: int, duration: float, work_dir: Path) -> PgbenchResult:
    # A directory of its own for each run's per-transaction logs: a run reads back its own transactions only.
    log_dir = Path(tempfile.mkdtemp(prefix="pgbench-log-", dir=work_dir))
    try:
        return await _run_logged(url, clients, duration, work_dir, log_dir)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


async def _run_logged(url: str, clients: int, duration: float, work_dir: Path, log_dir: Path) -> PgbenchResult:
    command, environment = _base_command("pgbench", url)
    command += [
        "-c",
        str(clients),
        "-j",
        str(THREADS),
        "-T",
        str(max(round(duration), 1)),
        "-l",
        "--log-prefix",
        str(log_dir / "tx"),
        connection_parameters(url).database,
    ]
    output = await _run(command, environment, duration + RUN_GRACE_SECONDS, work_dir)
    match = _TPS.search(output) or _TPS_ANY.search(output)
    if match is None:
        raise PgbenchError(f"no tps in pgbench's output:\n{output.decode(errors='replace')}")
    failed = _FAILED.search(output)
    processed = _PROCESSED.search(output)
    return PgbenchResult(
        tps=float(match.group(1)),
        transactions=int(processed.group(1)) if processed else 0,
        failed=int(failed.group(1)) if failed else 0,
        latencies=_logged_latencies(log_dir),
        command=[Path(command[0]).name, *command[1:]],
    )


def _logged_latencies(log_dir: Path) -> list[float]:
    """Per-transaction latencies from pgbench's logs: `client tx time_us script epoch_s epoch_us` per line."""
    latencies: list[float] = []
    for log in log_dir.glob("tx.*"):
        with log.open("rb") as lines:
            for line in lines:
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    latencies.append(int(fields[2]) / 1_000_000)
    return latencies
