"""The wallet over HTTP: a `croupier serve --service wallet` process driven by the lean HTTP client.

Runs (each request is one transfer, POST /v1/wallet/transfers with a unique idempotency key; only 201 counts):
  http-uniform     closed loop, C keep-alive connections, transfers between random players;
  http-hot         closed loop, C connections of its own, every transfer touches the house bankroll; the two
                   closed loops run in alternating slices (load_loops.alternate);
  http-fixed-rate  open loop at a fixed rate through enough connections, hot scenario, latency from the schedule.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson

from croupier.bench.http_load import HttpConnection, close_connections, open_connections
from croupier.bench.ledger_observations import ledger_batches
from croupier.bench.load_loops import (
    Failure,
    LoadSample,
    Operation,
    alternate,
    closed_loop,
    open_loop,
)
from croupier.bench.machine import load_average
from croupier.bench.reference import PgbenchReference, pgbench_beside, taking_turns
from croupier.bench.report import PGBENCH, RunResult
from croupier.bench.run_probe import ProbeReading, RunProbe, merge_slices
from croupier.bench.scenarios import (
    SETUP_CONCURRENCY,
    BenchAccounts,
    Scenario,
    TransferTraffic,
    set_up_accounts,
)
from croupier.bench.wallet_server import WalletServer

TRANSFERS_PATH = "/v1/wallet/transfers"


class SetupFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class HttpPlan:
    duration: float
    warmup: float
    drain: float
    concurrency: int
    rate: float
    fixed_rate_connections: int
    runs: tuple[str, ...]
    slices: int = 1  # each closed-loop run in this many slices, the runs taking turns


class HttpWalletSetup:
    """Opens and funds the bench accounts over the wallet's HTTP API, a few requests at a time."""

    def __init__(self, connections: list[HttpConnection]) -> None:
        self._idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
        for connection in connections:
            self._idle.put_nowait(connection)

    async def _post(self, path: str, payload: dict[str, Any]) -> Any:
        connection = await self._idle.get()
        try:
            response = await connection.post_json(path, orjson.dumps(payload))
        finally:
            self._idle.put_nowait(connection)
        if response.status not in (200, 201):
            raise SetupFailed(f"POST {path} answered {response.status}: {response.body[:500]!r}")
        return orjson.loads(response.body)

    async def open_account(self, payload: dict[str, Any]) -> UUID:
        account = await self._post("/v1/wallet/accounts", payload)
        return UUID(account["id"])

    async def transfer_batch(self, payload: dict[str, Any]) -> None:
        await self._post("/v1/wallet/transfers/batch", payload)


def transfer_operation(connection: HttpConnection, traffic: TransferTraffic) -> Operation:
    head = connection.request_head("POST", TRANSFERS_PATH)
    dumps = orjson.dumps

    async def transfer() -> Failure | None:
        response = await connection.send(head, dumps(traffic.next_payload()))
        if response.status == 201:
            return None
        return Failure(f"http_{response.status}", response.body.decode(errors="replace"))

    return transfer


async def _measure(
    name: str,
    server: WalletServer,
    database_url: str,
    postgres_pid: int | None,
    traffic: TransferTraffic,
    connection_count: int,
    drive: Callable[[list[Operation]], Awaitable[LoadSample]],
    **details: Any,
) -> RunResult:
    connections = await open_connections(server.host, server.port, connection_count, server.authorization)
    try:
        async with RunProbe(database_url, server.pid, postgres_pid, schema="wallet") as probe:
            sample: LoadSample = await drive([transfer_operation(connection, traffic) for connection in connections])
            reading = await probe.stop()
    finally:
        await close_connections(connections)
    return await _result(name, database_url, traffic, connection_count, sample, reading, **details)


async def _result(
    name: str,
    database_url: str,
    traffic: TransferTraffic,
    connection_count: int,
    sample: LoadSample,
    reading: ProbeReading,
    **details: Any,
) -> RunResult:
    batches = await ledger_batches(database_url, traffic.key_prefix)
    return RunResult.from_sample(
        name,
        sample,
        connections=connection_count,
        ledger_batches=batches,
        **reading.details(batches["transfers"]),
        load_average_after=load_average(),
        **details,
    )


async def _closed_loops(
    plan: HttpPlan,
    server: WalletServer,
    database_url: str,
    postgres_pid: int | None,
    accounts: BenchAccounts,
    nonce: str,
    progress: Callable[[str], None],
    reference: PgbenchReference | None,
) -> dict[str, RunResult]:
    """http-uniform and http-hot (those wanted), each on connections of its own, in alternating slices; pgbench's
    slices among them with a `reference` (bench/reference.py)."""
    wanted: list[Scenario] = [scenario for scenario in ("uniform", "hot") if f"http-{scenario}" in plan.runs]
    if not wanted:
        return {}
    traffic: dict[str, TransferTraffic] = {
        scenario: TransferTraffic(accounts, scenario, f"bench-{nonce}-http-{scenario}-", seed=index)
        for index, scenario in enumerate(wanted)
    }
    connections: dict[Scenario, list[HttpConnection]] = {}
    try:
        for scenario in wanted:
            connections[scenario] = await open_connections(
                server.host, server.port, plan.concurrency, server.authorization
            )
        operations: dict[str, list[Operation]] = {
            scenario: [transfer_operation(connection, traffic[scenario]) for connection in connections[scenario]]
            for scenario in wanted
        }

        async def run_slice(load: str, warmup: float, duration: float) -> tuple[LoadSample, ProbeReading]:
            if load == PGBENCH:
                assert reference is not None
                return await reference.run_slice(duration)
            async with RunProbe(database_url, server.pid, postgres_pid, schema="wallet") as probe:
                sample = await closed_loop(operations[load], warmup=warmup, duration=duration, drain=plan.drain)
                return sample, await probe.stop()

        loads = taking_turns(reference, wanted)
        progress(
            f"{', '.join(f'http-{scenario}' for scenario in wanted)}: {plan.concurrency} connections each, closed "
            f"loop, {plan.warmup:g}s warm-up + {plan.duration:g}s, in {plan.slices} alternating slices"
            + (" with pgbench's" if reference is not None else "")
        )
        measured = await alternate(loads, run_slice, slices=plan.slices, warmup=plan.warmup, duration=plan.duration)
    finally:
        for opened in connections.values():
            await close_connections(opened)
    results: dict[str, RunResult] = {}
    for load, parts in measured.items():
        pgbench_run = pgbench_beside("http", reference, load, parts, plan.duration / plan.slices)
        if pgbench_run is not None:
            results[pgbench_run.name] = pgbench_run
            continue
        name = f"http-{load}"
        sample, reading, slices = merge_slices(parts)
        results[name] = await _result(
            name, database_url, traffic[load], plan.concurrency, sample, reading, scenario=load, **slices
        )
    return results


async def http_runs(
    plan: HttpPlan,
    database_url: str,
    work_dir: Path,
    nonce: str,
    postgres_pid: int | None,
    progress: Callable[[str], None],
    reference: PgbenchReference | None = None,
) -> dict[str, RunResult]:
    """The HTTP runs of `plan`; with a `reference`, pgbench takes turns with the closed loops as `pgbench-http`."""
    results: dict[str, RunResult] = {}
    progress("starting the wallet server (croupier serve --service wallet)")
    async with WalletServer(database_url, work_dir / "wallet-server.log") as server:
        progress(f"wallet server ready on {server.host}:{server.port}; opening and funding accounts over HTTP")
        setup_connections = await open_connections(server.host, server.port, SETUP_CONCURRENCY, server.authorization)
        try:
            accounts: BenchAccounts = await set_up_accounts(
                HttpWalletSetup(setup_connections), "bench-http", f"{nonce}-http"
            )
        finally:
            await close_connections(setup_connections)

        results.update(
            await _closed_loops(plan, server, database_url, postgres_pid, accounts, nonce, progress, reference)
        )

        if "http-fixed-rate" in plan.runs:
            name = "http-fixed-rate"
            progress(
                f"{name}: {plan.rate:g} transfers/s on a fixed schedule through {plan.fixed_rate_connections} "
                f"connections, {plan.warmup:g}s warm-up + {plan.duration:g}s"
            )
            traffic = TransferTraffic(accounts, "hot", f"bench-{nonce}-{name}-", seed=7)

            async def scheduled(operations: list[Operation]) -> LoadSample:
                return await open_loop(
                    operations, rate=plan.rate, warmup=plan.warmup, duration=plan.duration, drain=plan.drain
                )

            result = await _measure(
                name,
                server,
                database_url,
                postgres_pid,
                traffic,
                plan.fixed_rate_connections,
                scheduled,
                scenario="hot",
                rate=plan.rate,
            )
            results[name] = result
        progress("stopping the wallet server")
    return results
