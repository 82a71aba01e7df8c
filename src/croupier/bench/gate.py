"""`croupier bench gate`: how long the compliance gate takes to decide, in-process, as the bet path calls it.

The platform (wallet, identity, compliance) is bootstrapped in the bench's own process on a temporary embedded
PostgreSQL (or `--database-url`). One brand, N registered players with wallet accounts and some history (deposits,
bets, wins moved through the wallet, so the gate's activity comes from the wallet's event feed), then per scenario:

- `bet-no-limits`: a bet check for players without money limits (rules from the cache, the decision logged);
- `bet-with-limits`: players with deposit, wager and loss limits (plus: a catch-up read of the wallet feed and the
  activity sums);
- `deposit-with-limits`: the same for deposits;
- `login`: a login check.

Each scenario runs `--checks` sequential checks (latency, one at a time: what one bet waits for), then the same
number from `--concurrency` concurrent tasks (throughput). The target of issue 3: in-process p99 <= 2 ms.
"""

import asyncio
import secrets
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from croupier.bench.machine import describe_machine
from croupier.bench.postgres_server import bench_postgres
from croupier.bench.report import percentile
from croupier.bootstrap import Platform, bootstrap, shutdown
from croupier.identity.schemas import CreateBrandRequest, RegisterPlayerRequest
from croupier.kit.config import Settings
from croupier.wallet.client import CreateTransferRequest, OpenAccountRequest

SCENARIOS = ("bet-no-limits", "bet-with-limits", "deposit-with-limits", "login")
P99_LIMIT_MS = 2.0
BRAND = "bench-brand"


@dataclass(frozen=True)
class GateBenchOptions:
    players: int = 200
    checks: int = 2000
    concurrency: int = 16
    database_url: str | None = None


def run_gate_bench(options: GateBenchOptions, progress: Any = print) -> dict[str, Any]:
    with bench_postgres(options.database_url) as postgres:
        return asyncio.run(_bench(options, postgres, progress))


async def _bench(options: GateBenchOptions, postgres: Any, progress: Any) -> dict[str, Any]:
    url = await postgres.database("bench_gate")
    with tempfile.TemporaryDirectory(prefix="croupier-bench-gate-") as data_dir:
        settings = Settings(auth_secret=secrets.token_urlsafe(32), data_dir=Path(data_dir))
        platform = await bootstrap(settings, url)
        try:
            progress(f"registering {options.players} players and giving them a history")
            plain, limited = await _set_up(platform, options.players)
            results = {}
            for scenario in SCENARIOS:
                progress(
                    f"{scenario}: {options.checks} sequential checks, then {options.checks} from "
                    f"{options.concurrency} tasks"
                )
                players = plain if scenario == "bet-no-limits" else limited
                results[scenario] = await _measure(platform, scenario, players, options)
        finally:
            await shutdown(platform)
        database = await postgres.describe()
    worst = max(result["sequential"]["p99_ms"] for result in results.values())
    return {
        "benchmark": "croupier bench gate",
        "machine": describe_machine(),
        "postgres": database,
        "parameters": {
            "players": options.players,
            "checks": options.checks,
            "concurrency": options.concurrency,
        },
        "scenarios": results,
        "target": {
            "target": "compliance gate in-process p99 (sequential checks)",
            "measured_ms": worst,
            "required_ms": P99_LIMIT_MS,
            "verdict": "PASS" if worst <= P99_LIMIT_MS else "MISS",
        },
    }


async def _set_up(platform: Platform, count: int) -> tuple[list[str], list[str]]:
    assert platform.identity is not None
    assert platform.compliance is not None
    await platform.identity.brands.create(
        CreateBrandRequest.model_validate(
            {
                "id": BRAND,
                "name": "Bench brand",
                "allowed_countries": ["GB", "MT"],
                "allowed_currencies": ["EUR"],
                "kyc_required_for_withdrawal": False,
            }
        )
    )
    wallet = platform.wallet_client
    house = await wallet.open_account(
        OpenAccountRequest(
            brand_id=BRAND, owner_type="house", owner_id="bench", kind="bankroll", currency="EUR", allow_negative=True
        )
    )
    players: list[str] = []
    for index in range(count):
        profile = await platform.identity.register(
            BRAND,
            RegisterPlayerRequest.model_validate(
                {
                    "email": f"bench-{index}-{uuid.uuid4().hex[:8]}@example.com",
                    "password": "bench password 1234",
                    "date_of_birth": date(1985, 3, 14),
                    "country": "GB",
                    "currency": "EUR",
                }
            ),
            ip=f"10.{index // 250}.{index % 250}.1",
        )
        players.append(str(profile.id))
        assert profile.wallet_account_id is not None
        account = profile.wallet_account_id
        for type_code, debit, credit, amount in (
            ("deposit", house.id, account, 100_000),
            ("bet", account, house.id, 500),
            ("win", house.id, account, 300),
        ):
            await wallet.transfer(
                CreateTransferRequest(
                    idempotency_key=uuid.uuid4().hex,
                    debit_account_id=debit,
                    credit_account_id=credit,
                    amount=amount,
                    currency="EUR",
                    type=type_code,
                )
            )
    half = count // 2
    for player in players[half:]:
        for kind, amount in (("deposit", 10**9), ("wager", 10**9), ("loss", 10**9)):
            for period in ("day", "week", "month"):
                await platform.compliance.set_limit(player, kind, period, amount)
    await platform.compliance.activity.catch_up()
    return players[:half], players[half:]


async def _measure(platform: Platform, scenario: str, players: list[str], options: GateBenchOptions) -> dict[str, Any]:
    assert platform.compliance is not None
    gate = platform.gate
    action = {"bet-no-limits": "bet", "bet-with-limits": "bet", "deposit-with-limits": "deposit", "login": "login"}[
        scenario
    ]
    amount = None if action == "login" else 100
    denied: dict[str, int] = {}

    async def one(index: int) -> float:
        player = players[index % len(players)]
        started = time.perf_counter()
        verdict = await gate.check(player, action, amount, {"ip": "81.2.69.160"})  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
        if not verdict.allowed:
            denied[verdict.reason] = denied.get(verdict.reason, 0) + 1
        return elapsed

    for index in range(min(200, options.checks)):  # warm-up: caches, plans, connections
        await one(index)
    sequential = [await one(index) for index in range(options.checks)]
    started = time.perf_counter()
    queue = iter(range(options.checks))
    concurrent: list[float] = []

    async def worker() -> None:
        for index in queue:
            concurrent.append(await one(index))

    await asyncio.gather(*(worker() for _ in range(options.concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "action": action,
        "sequential": _latency(sequential),
        "concurrent": {**_latency(concurrent), "checks_per_second": round(options.checks / elapsed, 1)},
        "denied": denied,
    }


def _latency(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round((percentile(ordered, 0.50) or 0) * 1000, 3),
        "p95_ms": round((percentile(ordered, 0.95) or 0) * 1000, 3),
        "p99_ms": round((percentile(ordered, 0.99) or 0) * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }
