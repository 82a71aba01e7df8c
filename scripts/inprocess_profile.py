"""Instructions and CPU time per in-process transfer, to compare two versions of the wallet's code (maintainer script).

`croupier bench wallet` measures throughput against pgbench. On a shared VM, though, the CPU time a transfer takes
moves by up to half within minutes with the same code (docs/benchmarks.md, "The machine"). To tell whether a change
makes the wallet's Python cheaper, compare the instructions each version executes per transfer: they barely move
with the machine. This script runs the in-process closed loop of the bench (the same traffic, client and tasks) on
an embedded PostgreSQL, and prints per transfer:
- the instructions and the CPU time of this process (the callers, the wallet service and its ledger writer);
- the instructions and the CPU time of PostgreSQL (all its processes).

Instructions come from Linux `perf stat` (Debian package `linux-perf`; on a VM the hypervisor must expose the
counters). Without it only CPU times are printed. Run the two versions in turn, several times each, and compare the
ranges. The numbers are not a test: nothing here fails on them.

    python scripts/inprocess_profile.py [--seconds 6] [--tasks 512] [--scenario uniform|hot] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from typing import Any

import psutil  # type: ignore[import-untyped]
import uvloop

from croupier.bench.inprocess_runs import InProcessWalletSetup, transfer_operation
from croupier.bench.load_loops import closed_loop
from croupier.bench.postgres_server import bench_postgres
from croupier.bench.scenarios import TransferTraffic, set_up_accounts
from croupier.bootstrap import bootstrap, shutdown
from croupier.kit.config import Settings
from croupier.kit.runtime import tune_garbage_collector


def _processes(root_pid: int) -> list[psutil.Process]:
    root = psutil.Process(root_pid)
    return [root, *root.children(recursive=True)]


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


class _InstructionCounter:
    """`perf stat -e instructions` on a set of processes, from start() to stop(); None if perf is not there."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        self._perf: subprocess.Popen[str] | None = None

    def start(self) -> None:
        if shutil.which("perf") is None:
            return
        pids = ",".join(str(pid) for pid in self._pids)
        command = ["perf", "stat", "-e", "instructions", "-x", ",", "-p", pids]
        self._perf = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)

    def stop(self) -> int | None:
        if self._perf is None:
            return None
        self._perf.send_signal(signal.SIGINT)
        _, report = self._perf.communicate(timeout=30)
        for line in report.splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2].startswith("instructions") and fields[0].isdigit():
                return int(fields[0])
        return None  # perf ran but could not count (no counters on this VM)


async def _profile(arguments: argparse.Namespace) -> dict[str, Any]:
    with bench_postgres(arguments.database_url) as postgres:
        url = await postgres.database("inprocess_profile")
        postgres_pid = postgres.embedded.pid if postgres.embedded else None
        platform = await bootstrap(Settings(), url, ("wallet",))
        try:
            tune_garbage_collector()  # as the bench and `croupier up` do
            assert platform.wallet_client is not None
            client = platform.wallet_client
            nonce = str(time.time_ns())
            accounts = await set_up_accounts(InProcessWalletSetup(client), "profile", nonce)
            traffic = TransferTraffic(accounts, arguments.scenario, f"profile-{nonce}-", seed=1)
            operations = [transfer_operation(client, traffic) for _ in range(arguments.tasks)]
            await closed_loop(operations, warmup=1.0, duration=1.0, drain=5)  # the accounts' totals cached

            ours = [psutil.Process(os.getpid())]
            theirs = _processes(postgres_pid) if postgres_pid is not None else []
            our_counter = _InstructionCounter([os.getpid()])
            their_counter = _InstructionCounter([process.pid for process in theirs]) if theirs else None
            our_counter.start()
            if their_counter is not None:
                their_counter.start()
            await asyncio.sleep(0.2)  # perf attached
            our_cpu, their_cpu, started = _cpu_seconds(ours), _cpu_seconds(theirs), time.perf_counter()
            sample = await closed_loop(operations, warmup=0.0, duration=arguments.seconds, drain=5)
            elapsed = time.perf_counter() - started
            our_cpu, their_cpu = _cpu_seconds(ours) - our_cpu, _cpu_seconds(theirs) - their_cpu
            our_instructions = our_counter.stop()
            their_instructions = their_counter.stop() if their_counter is not None else None
            stats = platform.wallet.writer.stats() if platform.wallet is not None else {}
        finally:
            await shutdown(platform)
    transfers = max(1, sample.completed)
    return {
        "scenario": arguments.scenario,
        "tasks": arguments.tasks,
        "seconds": arguments.seconds,
        "transfers": sample.completed,
        "transfers_per_second": round(sample.completed / elapsed),
        "errors": dict(sample.errors),
        "process": {
            "cpu_us_per_transfer": round(our_cpu / transfers * 1e6, 1),
            "cores_busy": round(our_cpu / elapsed, 2),
            "instructions_per_transfer": round(our_instructions / transfers) if our_instructions else None,
        },
        "postgres": {
            "cpu_us_per_transfer": round(their_cpu / transfers * 1e6, 1) if theirs else None,
            "cores_busy": round(their_cpu / elapsed, 2) if theirs else None,
            "instructions_per_transfer": round(their_instructions / transfers) if their_instructions else None,
        },
        "writer": stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="measured window (after a 2 s warm-up)")
    parser.add_argument("--tasks", type=int, default=512, help="concurrent callers, as the bench's default")
    parser.add_argument("--scenario", choices=("uniform", "hot"), default="uniform")
    parser.add_argument("--database-url", default=None, help="use this PostgreSQL instead of an embedded one")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    arguments = parser.parse_args()
    result = uvloop.run(_profile(arguments))
    if arguments.json:
        print(json.dumps(result, indent=2))
        return
    process, postgres = result["process"], result["postgres"]
    print(f"in-process {result['scenario']}, {result['tasks']} tasks, {result['seconds']} s")
    print(f"  transfers/s                  {result['transfers_per_second']:,}  (errors: {result['errors'] or 'none'})")
    for name, part in (("this process", process), ("PostgreSQL", postgres)):
        instructions = part["instructions_per_transfer"]
        counted = "instructions not counted (no perf counters)"
        if instructions:
            counted = f"{instructions / 1000:.1f}k instructions"
        cpu, busy = part["cpu_us_per_transfer"], part["cores_busy"]
        print(f"  {name:<13} per transfer: {counted}, {cpu} µs of CPU ({busy} cores busy)")


if __name__ == "__main__":
    main()
