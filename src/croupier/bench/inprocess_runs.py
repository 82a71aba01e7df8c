"""The wallet in-process: the platform bootstrapped in the bench's own process, as `croupier up` would, and many
concurrent tasks calling `InProcessWalletClient.transfer` (no HTTP, no JSON: the ledger writer's own ceiling).

Runs: inprocess-uniform and inprocess-hot, closed loop, C' tasks each (default 512), in alternating slices
(load_loops.alternate).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from croupier.bench.ledger_observations import ledger_batches
from croupier.bench.load_loops import LoadSample, Operation, alternate, closed_loop
from croupier.bench.machine import load_average
from croupier.bench.reference import PgbenchReference, pgbench_beside, taking_turns
from croupier.bench.report import PGBENCH, RunResult
from croupier.bench.run_probe import ProbeReading, RunProbe, merge_slices
from croupier.bench.scenarios import Scenario, TransferTraffic, set_up_accounts
from croupier.bootstrap import Platform, bootstrap, shutdown
from croupier.kit.config import Settings
from croupier.kit.runtime import tune_garbage_collector
from croupier.wallet.client import CreateBatchRequest, CreateTransferRequest, OpenAccountRequest, WalletClient


@dataclass(frozen=True)
class InProcessPlan:
    duration: float
    warmup: float
    drain: float
    concurrency: int
    runs: tuple[str, ...]
    slices: int = 1  # each run in this many slices, the runs taking turns


class InProcessWalletSetup:
    """Opens and funds the bench accounts through the in-process client."""

    def __init__(self, client: WalletClient) -> None:
        self._client = client

    async def open_account(self, payload: dict[str, Any]) -> UUID:
        account = await self._client.open_account(OpenAccountRequest.model_validate(payload))
        return account.id

    async def transfer_batch(self, payload: dict[str, Any]) -> None:
        await self._client.transfer_batch(CreateBatchRequest.model_validate(payload))


def transfer_operation(client: WalletClient, traffic: TransferTraffic) -> Operation:
    """Start one transfer: its request model, as an in-process caller builds it (validated), then the client's call.

    The call's coroutine is the operation's awaitable itself (no wrapper of the bench's own around it), and a refusal
    is counted by its code (load_loops): the bench's share of the process's CPU stays small next to the ledger's.
    """
    validate = CreateTransferRequest.__pydantic_validator__.validate_python
    transfer = client.transfer
    next_payload = traffic.next_payload

    def start() -> Awaitable[object]:
        return transfer(validate(next_payload()))

    return start


def _writer_stats(platform: Platform) -> dict[str, Any]:
    assert platform.wallet is not None
    return platform.wallet.writer.stats()


async def inprocess_runs(
    plan: InProcessPlan,
    database_url: str,
    nonce: str,
    postgres_pid: int | None,
    progress: Callable[[str], None],
    reference: PgbenchReference | None = None,
) -> dict[str, RunResult]:
    """The in-process runs of `plan`; with a `reference`, pgbench takes turns with them as `pgbench-inprocess`."""
    results: dict[str, RunResult] = {}
    progress("bootstrapping the platform in this process")
    platform = await bootstrap(Settings(), database_url, ("wallet",))  # the wallet alone is measured
    tune_garbage_collector()  # as `croupier up` and `croupier serve` do before serving
    try:
        client = platform.wallet_client
        progress("opening and funding accounts in-process")
        accounts = await set_up_accounts(InProcessWalletSetup(client), "bench-inprocess", f"{nonce}-inprocess")
        wanted: list[Scenario] = [scenario for scenario in ("uniform", "hot") if f"inprocess-{scenario}" in plan.runs]
        traffic: dict[str, TransferTraffic] = {
            scenario: TransferTraffic(accounts, scenario, f"bench-{nonce}-inprocess-{scenario}-", seed=100 + index)
            for index, scenario in enumerate(wanted)
        }
        operations: dict[str, list[Operation]] = {
            scenario: [transfer_operation(client, traffic[scenario]) for _ in range(plan.concurrency)]
            for scenario in wanted
        }
        writer: dict[str, dict[str, int]] = {scenario: {"batches": 0, "commands": 0} for scenario in wanted}

        async def run_slice(load: str, warmup: float, duration: float) -> tuple[LoadSample, ProbeReading]:
            if load == PGBENCH:
                assert reference is not None
                return await reference.run_slice(duration)
            before = _writer_stats(platform)
            async with RunProbe(database_url, None, postgres_pid, schema="wallet") as probe:
                sample = await closed_loop(operations[load], warmup=warmup, duration=duration, drain=plan.drain)
                reading = await probe.stop()
            after = _writer_stats(platform)
            for counter in ("batches", "commands"):
                writer[load][counter] += after[counter] - before[counter]
            return sample, reading

        loads = taking_turns(reference, wanted)
        progress(
            f"{', '.join(f'inprocess-{scenario}' for scenario in wanted)}: {plan.concurrency} tasks each, closed loop, "
            f"{plan.warmup:g}s warm-up + {plan.duration:g}s, in {plan.slices} alternating slices"
            + (" with pgbench's" if reference is not None else "")
        )
        measured = await alternate(loads, run_slice, slices=plan.slices, warmup=plan.warmup, duration=plan.duration)
        for load, parts in measured.items():
            pgbench_run = pgbench_beside("inprocess", reference, load, parts, plan.duration / plan.slices)
            if pgbench_run is not None:
                results[pgbench_run.name] = pgbench_run
                continue
            name = f"inprocess-{load}"
            sample, reading, slices = merge_slices(parts)
            stats: dict[str, Any] = dict(writer[load])
            stats["mean_batch"] = round(stats["commands"] / stats["batches"], 2) if stats["batches"] else 0.0
            batches = await ledger_batches(database_url, traffic[load].key_prefix)
            results[name] = RunResult.from_sample(
                name,
                sample,
                scenario=load,
                tasks=plan.concurrency,
                **slices,
                ledger_batches=batches,
                writer_stats=stats,
                **reading.details(batches["transfers"]),
                load_average_after=load_average(),
            )
    finally:
        progress("shutting the in-process platform down")
        await shutdown(platform)
    return results
