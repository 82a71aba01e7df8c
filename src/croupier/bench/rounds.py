"""`croupier bench rounds`: full game rounds (bet -> outcome -> settle) per second, and their latency.

The platform (wallet, identity, compliance, games with its recovery and sealer workers) is bootstrapped in the bench's
own process on a temporary embedded PostgreSQL (or `--database-url`), as `croupier up` does. One brand, `--players`
registered players, each funded with 10^9 cents from a house funding account, then one dice round per player (the
first bet of a player creates its seed pair: setup, not steady state).

Scenarios (each round is a unique request key and a random player):

- `inprocess-rate`: open loop at `--rate` rounds/s of dice rounds through `platform.games.rounds.play` (one call:
  gate, stake debit, outcome, win credit, close, audit entries). Latency runs from each round's *scheduled* arrival,
  so a stall that queues rounds counts against them (no coordinated omission).
- `inprocess-max`: closed loop, `--concurrency` tasks playing dice rounds back to back: the ceiling in-process.
- `http-rate`: the open loop of `inprocess-rate` over HTTP: `POST /v1/games/rounds` with the player's bearer token,
  against `croupier serve --service wallet --service identity --service compliance --service games` in a child
  process (the deployed shape: the server has its own interpreter, the generator is the bench's lean HTTP client).
- `mixed`: open loop at `--rate` in-process, a mix of dice, limbo, roulette, plinko, keno, slots and mines (mines:
  play, two reveals, cash out: up to four calls, timed as one round).

After the scenarios: the audit chain is sealed and verified (`croupier.games.audit.seal`, `verify`), the ledger is
checked with `croupier wallet verify --json`, and the games' house account is compared with the rounds it settled
(staked - paid). A benchmark that corrupted money says so.
"""

import asyncio
import random
import secrets
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from croupier.bench.cpu_usage import CpuMeter
from croupier.bench.http_load import HttpConnection, close_connections, open_connections
from croupier.bench.ledger_observations import verify as verify_ledger
from croupier.bench.load_loops import Failure, LoadSample, Operation, closed_loop, open_loop
from croupier.bench.machine import describe_machine, load_average
from croupier.bench.postgres_server import BenchPostgres, bench_postgres
from croupier.bench.report import Latency
from croupier.bench.wallet_server import WalletServer
from croupier.bootstrap import Platform, bootstrap, shutdown
from croupier.games import audit
from croupier.games.rounds import HOUSE_KIND, HOUSE_OWNER, PlayerRef
from croupier.identity.schemas import CreateBrandRequest, LoginRequest, RegisterPlayerRequest
from croupier.kit.config import Settings
from croupier.kit.errors import DomainError
from croupier.kit.runtime import tune_garbage_collector
from croupier.wallet.client import CreateTransferRequest, OpenAccountRequest

SCENARIOS = ("inprocess-rate", "inprocess-max", "http-rate", "mixed")
RATE_SCENARIOS = ("inprocess-rate", "http-rate", "mixed")
TARGET_RATE = 500.0
TARGET_P95_MS = 20.0
BRAND = "bench-rounds"
PASSWORD = "bench password 1234"  # noqa: S105 (players of a throwaway database)
FUNDING = 10**9  # cents per player: no round can fail for lack of money
STAKE = 100
DICE = {"target": 5000, "direction": "over"}
PLAYER_IP = "81.2.69.160"  # a GB address in the shipped country database
HOST = "127.0.0.1"
DRAIN_SECONDS = 10.0
#: Workers of the in-process open loops: far more than 500/s x a few ms needs, so the pool never limits the rate.
INPROCESS_RATE_WORKERS = 256
HTTP_CONNECTIONS = 64
SERVED = ("wallet", "identity", "compliance", "games")  # what the http-rate server runs
ROUNDS_PATH = "/v1/games/rounds"

#: (game, weight, stake, params) of the mixed scenario; mines is followed by two reveals and a cash-out.
MIX: tuple[tuple[str, int, int, dict[str, Any]], ...] = (
    ("dice", 3, STAKE, DICE),
    ("limbo", 2, STAKE, {"target": 200}),
    (
        "roulette",
        2,
        STAKE,
        {"bets": [{"kind": "red", "amount": 60}, {"kind": "straight", "numbers": [7], "amount": 40}]},
    ),
    ("plinko", 2, STAKE, {"rows": 12, "risk": "medium"}),
    ("keno", 1, STAKE, {"picks": [3, 11, 19, 27, 35]}),
    ("slots", 2, STAKE, {"slot": "fruit_five", "lines": 1}),
    ("mines", 1, STAKE, {"mines": 1}),
)

Result = TypeVar("Result")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class RoundsBenchOptions:
    players: int = 200
    rate: float = TARGET_RATE
    duration: float = 10.0
    concurrency: int = 64
    database_url: str | None = None
    scenarios: tuple[str, ...] = SCENARIOS

    @property
    def warmup(self) -> float:
        return min(2.0, self.duration / 5)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "database_url": "given" if self.database_url else "embedded", "warmup": self.warmup}


def parse_scenarios(only: str | None) -> tuple[str, ...]:
    if not only:
        return SCENARIOS
    wanted = tuple(dict.fromkeys(name.strip() for name in only.split(",") if name.strip()))
    unknown = [name for name in wanted if name not in SCENARIOS]
    if unknown or not wanted:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown) or '(none)'}; known: {', '.join(SCENARIOS)}")
    return tuple(name for name in SCENARIOS if name in wanted)


@dataclass
class BenchPlayer:
    player_id: str
    token: str | None
    ref: PlayerRef


@dataclass
class Setup:
    players: list[BenchPlayer]
    house_account: Any = None
    setup_seconds: float = 0.0


@dataclass
class ScenarioResult:
    name: str
    transport: str
    loop: str
    sample: LoadSample
    cpu: dict[str, float]
    cpu_us_per_round: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)
    offered_rate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        latency = Latency.of(self.sample.latencies)
        result: dict[str, Any] = {
            "transport": self.transport,
            "loop": self.loop,
            "offered_rate": self.offered_rate,
            "offered": self.sample.offered if self.loop == "open" else None,
            "rounds": self.sample.ok,
            "rounds_per_second": round(self.sample.throughput, 1),
            "p50_ms": latency.p50_ms,
            "p95_ms": latency.p95_ms,
            "p99_ms": latency.p99_ms,
            "max_ms": latency.max_ms,
            "mean_ms": latency.mean_ms,
            "errors": dict(self.sample.errors),
            "error_examples": dict(self.sample.error_examples),
            "cpu_cores": self.cpu,
            "cpu_us_per_round": self.cpu_us_per_round,
            **self.extra,
        }
        if self.name in RATE_SCENARIOS and self.offered_rate is not None:
            p95 = latency.p95_ms
            met = (
                self.sample.error_count == 0
                and self.sample.throughput >= 0.98 * self.offered_rate
                and self.offered_rate >= TARGET_RATE
                and p95 is not None
                and p95 <= TARGET_P95_MS
            )
            result["target"] = {"rate": TARGET_RATE, "p95_ms": TARGET_P95_MS}
            result["met"] = met
        return result


def run_rounds_bench(options: RoundsBenchOptions, progress: Progress = print) -> dict[str, Any]:
    if options.database_url is None:
        progress("starting an embedded PostgreSQL in a temporary directory")
    with bench_postgres(options.database_url) as postgres:
        return _run_event_loop(_bench(options, postgres, progress))


def _run_event_loop(main: Coroutine[Any, Any, Result]) -> Result:
    """Run on uvloop when it is installed (uvicorn serves on it too)."""
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


async def _bench(options: RoundsBenchOptions, postgres: BenchPostgres, progress: Progress) -> dict[str, Any]:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine = {**describe_machine()}
    url = await postgres.database("bench_rounds")
    postgres_pid = postgres.embedded.pid if postgres.embedded else None
    secret = secrets.token_urlsafe(32)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="croupier-bench-rounds-") as data_dir:
        settings = Settings(auth_secret=secret, data_dir=Path(data_dir))
        platform = await bootstrap(settings, url)
        tune_garbage_collector()  # as `croupier up` and `croupier serve` do before serving
        try:
            began = time.perf_counter()
            progress(f"registering and funding {options.players} players")
            setup = await _set_up(platform, options.players, with_tokens="http-rate" in options.scenarios)
            setup.setup_seconds = round(time.perf_counter() - began, 1)
            for name in options.scenarios:
                progress(_describe(name, options))
                if name == "http-rate":
                    result = await _http_rate(options, setup, url, secret, Path(data_dir), postgres_pid)
                else:
                    result = await _inprocess(name, options, platform, setup, postgres_pid)
                results[name] = result.as_dict()
                results[name]["load_average_after"] = load_average()
            progress("sealing and verifying the round audit chain, checking the ledger and the house account")
            checks = await _checks(platform, setup, url)
        finally:
            await shutdown(platform)
    database = await postgres.describe()
    rate_results = {name: results[name] for name in RATE_SCENARIOS if name in results}
    return {
        "benchmark": "croupier bench rounds",
        "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**machine, "postgres_version": database.get("server_version")},
        "postgres": database,
        "parameters": {**options.as_dict(), "stake": STAKE, "dice": DICE, "setup_seconds": setup.setup_seconds},
        "target": {"rate": TARGET_RATE, "p95_ms": TARGET_P95_MS},
        "met": {name: result["met"] for name, result in rate_results.items()},
        "scenarios": results,
        "checks": checks,
        "clean": checks["clean"],
    }


def _describe(name: str, options: RoundsBenchOptions) -> str:
    window = f"{options.warmup:g} s warm-up + {options.duration:g} s"
    if name == "inprocess-max":
        return f"{name}: {options.concurrency} tasks in a closed loop, {window}"
    return f"{name}: open loop at {options.rate:g} rounds/s, {window}"


# -- setup ----------------------------------------------------------------------------------------------------------


async def _set_up(platform: Platform, count: int, *, with_tokens: bool) -> Setup:
    assert platform.identity is not None
    assert platform.games is not None
    await platform.identity.brands.create(
        CreateBrandRequest.model_validate(
            {
                "id": BRAND,
                "name": "Bench rounds",
                "allowed_countries": ["GB"],
                "allowed_currencies": ["EUR"],
                "kyc_required_for_withdrawal": False,
            }
        )
    )
    wallet = platform.wallet_client
    funding = await wallet.open_account(
        OpenAccountRequest(
            brand_id=BRAND,
            owner_type="house",
            owner_id="bench",
            kind="psp_clearing",
            label="bench-funding",
            currency="EUR",
            allow_negative=True,
        )
    )
    players: list[BenchPlayer] = []
    for index in range(count):
        email = f"rounds-{index}-{uuid.uuid4().hex[:8]}@example.com"
        ip = f"10.{index // 250}.{index % 250}.1"  # registrations and logins are rate-limited per address
        profile = await platform.identity.register(
            BRAND,
            RegisterPlayerRequest.model_validate(
                {
                    "email": email,
                    "password": PASSWORD,
                    "date_of_birth": date(1985, 3, 14),
                    "country": "GB",
                    "currency": "EUR",
                }
            ),
            ip=ip,
        )
        assert profile.wallet_account_id is not None
        await wallet.transfer(
            CreateTransferRequest(
                idempotency_key=f"bench:rounds:fund:{profile.id}",
                debit_account_id=funding.id,
                credit_account_id=profile.wallet_account_id,
                amount=FUNDING,
                currency="EUR",
                type="deposit",
            )
        )
        token = None
        if with_tokens:
            pair = await platform.identity.login(
                LoginRequest(brand_id=BRAND, email=email, password=PASSWORD), ip=ip, user_agent="croupier-bench"
            )
            token = pair.access_token
        players.append(BenchPlayer(str(profile.id), token, PlayerRef(str(profile.id), BRAND, PLAYER_IP)))
    # The first round of a player creates its seed pair and caches its account: do it once for all, off the clock.
    rounds = platform.games.rounds
    for player in players:
        await rounds.play(player.ref, "dice", STAKE, DICE, f"bench:first:{player.player_id}")
    houses = await wallet.list_accounts(brand_id=BRAND, owner_type="house", owner_id=HOUSE_OWNER)
    house = next(account.id for account in houses.items if account.kind == HOUSE_KIND)
    return Setup(players, house)


# -- in-process scenarios -------------------------------------------------------------------------------------------


def _round_operation(platform: Platform, setup: Setup, games: Counter[str] | None = None) -> Operation:
    assert platform.games is not None
    rounds = platform.games.rounds
    players = setup.players
    choose = random.choice

    if games is None:

        async def dice() -> Failure | None:
            player = choose(players)
            try:
                out = await rounds.play(player.ref, "dice", STAKE, DICE, uuid.uuid4().hex)
            except DomainError as error:
                return Failure(error.code, error.detail)
            return None if out["status"] == "closed" else Failure(f"status_{out['status']}", str(out["round_id"]))

        return dice

    names = [game for game, weight, _, _ in MIX for _ in range(weight)]
    mines_steps: tuple[dict[str, Any], ...] = (
        {"action": "reveal", "tile": 0},
        {"action": "reveal", "tile": 1},
        {"action": "cashout"},
    )
    by_name = {game: (stake, params) for game, _, stake, params in MIX}

    async def mixed() -> Failure | None:
        player = choose(players)
        game = choose(names)
        stake, params = by_name[game]
        try:
            out = await rounds.play(player.ref, game, stake, params, uuid.uuid4().hex)
            if game == "mines":
                for step, action in enumerate(mines_steps):
                    if out["status"] != "active":
                        break
                    out = await rounds.step(player.ref, out["round_id"], step, action)
        except DomainError as error:
            return Failure(f"{game}:{error.code}", error.detail)
        games[game] += 1
        return None if out["status"] == "closed" else Failure(f"{game}:status_{out['status']}", str(out["round_id"]))

    return mixed


async def _inprocess(
    name: str, options: RoundsBenchOptions, platform: Platform, setup: Setup, postgres_pid: int | None
) -> ScenarioResult:
    games: Counter[str] | None = Counter() if name == "mixed" else None
    operation = _round_operation(platform, setup, games)
    meter = CpuMeter(None, postgres_pid).start()
    if name == "inprocess-max":
        sample = await closed_loop(
            [operation] * options.concurrency, warmup=options.warmup, duration=options.duration, drain=DRAIN_SECONDS
        )
        rate = None
    else:
        sample = await open_loop(
            [operation] * INPROCESS_RATE_WORKERS,
            rate=options.rate,
            warmup=options.warmup,
            duration=options.duration,
            drain=DRAIN_SECONDS,
        )
        rate = options.rate
    usage = meter.stop()
    extra: dict[str, Any] = {"workers": options.concurrency if rate is None else INPROCESS_RATE_WORKERS}
    if games is not None:
        extra["rounds_by_game"] = dict(sorted(games.items()))  # warm-up and window together
    return ScenarioResult(
        name,
        "in-process",
        "closed" if rate is None else "open",
        sample,
        _cores(usage.cores()),
        _per_round(usage.cores(), sample),
        extra,
        rate,
    )


def _cores(cores: dict[str, float]) -> dict[str, float]:
    return _renamed(cores)


def _per_round(cores: dict[str, float], sample: LoadSample) -> dict[str, float]:
    """CPU µs per round of each process: average cores busy (warm-up included) / rounds per second of the window."""
    if sample.throughput <= 0:
        return {}
    return {
        name: round(value * 1_000_000 / sample.throughput, 1)
        for name, value in _renamed(cores).items()
        if name not in ("other", "machine")
    }


def _renamed(values: dict[str, float]) -> dict[str, float]:
    names = {"wallet_server": "server", "pgbench": "children"}
    return {names.get(name, name): value for name, value in values.items()}


# -- over HTTP ------------------------------------------------------------------------------------------------------


def _http_operation(connection: HttpConnection, heads: list[bytes]) -> Operation:
    choose = random.choice
    dumps, loads = orjson.dumps, orjson.loads

    async def play() -> Failure | None:
        body = dumps({"game": "dice", "stake": STAKE, "params": DICE, "request_key": uuid.uuid4().hex})
        response = await connection.send(choose(heads), body)
        if response.status != 200:
            try:
                code = loads(response.body).get("code", "")
            except orjson.JSONDecodeError:
                code = ""
            return Failure(f"http_{response.status}" + (f"_{code}" if code else ""), response.body[:300].decode())
        status = loads(response.body)["status"]
        return None if status == "closed" else Failure(f"status_{status}", response.body[:300].decode())

    return play


async def _http_rate(
    options: RoundsBenchOptions, setup: Setup, url: str, secret: str, work_dir: Path, postgres_pid: int | None
) -> ScenarioResult:
    server = WalletServer(url, work_dir / "server.log", services=SERVED, secret=secret)
    connections: list[HttpConnection] = []
    try:
        await server.start()
        connections = await open_connections(HOST, server.port, HTTP_CONNECTIONS)
        heads = [
            (
                f"POST {ROUNDS_PATH} HTTP/1.1\r\nHost: {HOST}:{server.port}\r\nAuthorization: Bearer {player.token}\r\n"
                "Content-Type: application/json\r\n"
            ).encode("latin-1")
            for player in setup.players
        ]
        meter = CpuMeter(server.pid, postgres_pid).start()
        sample = await open_loop(
            [_http_operation(connection, heads) for connection in connections],
            rate=options.rate,
            warmup=options.warmup,
            duration=options.duration,
            drain=DRAIN_SECONDS,
        )
        usage = meter.stop()
    finally:
        await close_connections(connections)
        await server.stop()
    return ScenarioResult(
        "http-rate",
        "http (croupier serve in a child process)",
        "open",
        sample,
        _cores(usage.cores()),
        _per_round(usage.cores(), sample),
        {"connections": HTTP_CONNECTIONS},
        options.rate,
    )


# -- after the run --------------------------------------------------------------------------------------------------


async def _checks(platform: Platform, setup: Setup, url: str) -> dict[str, Any]:
    """Audit chain sealed and verified, ledger verified, house account == what the closed rounds staked and paid."""
    assert platform.games is not None
    await _quiet(platform)
    async with platform.db.connection() as connection:
        sealed = 0
        for _ in range(100):  # entries of transactions still running are sealed on a later pass
            sealed += await audit.seal(connection, datetime.now(UTC))
            unsealed = await connection.fetchval(
                "SELECT count(*) FROM games.audit_log l WHERE NOT EXISTS "
                "(SELECT 1 FROM games.audit_chain c WHERE c.entry_id = l.id)"
            )
            if not unsealed:
                break
            await asyncio.sleep(0.1)
        chain = (await audit.verify(connection)).as_json()
        statuses = {
            row["status"]: {"rounds": row["rounds"], "staked": int(row["staked"]), "paid": int(row["paid"])}
            for row in await connection.fetch(
                "SELECT status, count(*) AS rounds, coalesce(sum(staked), 0) AS staked, "
                "coalesce(sum(payout), 0) AS paid FROM games.rounds GROUP BY status ORDER BY status"
            )
        }
    ledger = await verify_ledger(url)
    house = await platform.wallet_client.get_balance(setup.house_account)
    closed = statuses.get("closed", {"staked": 0, "paid": 0})
    unfinished = {status: value["rounds"] for status, value in statuses.items() if status not in ("closed", "refunded")}
    expected = closed["staked"] - closed["paid"]
    house_ok = house.posted == expected and house.pending_debits == 0 and house.pending_credits == 0
    audit_ok = bool(chain["ok"]) and chain["unsealed"] == 0
    return {
        "audit": {
            "ok": audit_ok,
            "entries": chain["entries"],
            "sealed": chain["sealed"],
            "unsealed": chain["unsealed"],
            "sealed_now": sealed,
            "head": chain["head"],
            "problems": chain["problems"][:5],
            "problem_count": len(chain["problems"]),
        },
        "ledger": ledger,
        "rounds": {"by_status": statuses, "unfinished": unfinished},
        "house": {
            "ok": house_ok,
            "posted": house.posted,
            "pending_debits": house.pending_debits,
            "pending_credits": house.pending_credits,
            "closed_rounds_staked_minus_paid": expected,
        },
        "clean": audit_ok and bool(ledger.get("clean")) and house_ok and not unfinished,
    }


async def _quiet(platform: Platform) -> None:
    """Let the recovery worker finish anything a run left behind (there should be nothing), then stop the workers."""
    assert platform.games is not None
    await platform.games.rounds.recover()
    await platform.games.stop()


# -- output ---------------------------------------------------------------------------------------------------------


def render_rounds(report: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title="croupier bench rounds")
    for column in ("scenario", "offered/s", "rounds/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "cores"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    table.add_column("target")
    for name, result in report["scenarios"].items():
        cores = result["cpu_cores"]
        busy = ", ".join(f"{k} {v:.2f}" for k, v in cores.items() if k != "machine" and v >= 0.01)
        errors = sum(result["errors"].values())
        verdict = {True: "[green]met[/green]", False: "[red]MISSED[/red]", None: "-"}[result.get("met")]
        if result.get("met") is False and (result["offered_rate"] or 0) < TARGET_RATE:
            verdict = f"[dim]not at {TARGET_RATE:g}/s[/dim]"
        table.add_row(
            f"{name}\n[dim]{result['transport']}, {result['loop']} loop[/dim]",
            "-" if result["offered_rate"] is None else f"{result['offered_rate']:g}",
            f"{result['rounds_per_second']:,}",
            _ms(result["p50_ms"]),
            _ms(result["p95_ms"]),
            _ms(result["p99_ms"]),
            _ms(result["max_ms"]),
            str(errors) if not errors else f"[red]{errors}[/red]",
            f"{cores.get('machine', 0):.2f}\n[dim]{busy}[/dim]",
            verdict,
        )
    console.print(table)
    for name, result in report["scenarios"].items():
        for kind, count in result["errors"].items():
            example = result["error_examples"].get(kind, "")
            console.print(f"[red]{name}: {count} x {kind}[/red] {example[:160]}")
    target = report["target"]
    console.print(f"target: p95 <= {target['p95_ms']:g} ms at {target['rate']:g} rounds/s, no errors")
    checks = report["checks"]
    ledger, audit_check, house = checks["ledger"], checks["audit"], checks["house"]
    console.print(
        f"ledger ({ledger.get('accounts')} accounts, {ledger.get('transfers')} transfers): "
        + ("[green]clean[/green]" if ledger.get("clean") else f"[red]NOT CLEAN[/red] {ledger}")
    )
    console.print(
        f"audit chain ({audit_check['sealed']} entries sealed, {audit_check['unsealed']} unsealed): "
        + ("[green]verified[/green]" if audit_check["ok"] else f"[red]PROBLEMS[/red] {audit_check['problems']}")
    )
    console.print(
        f"house account {house['posted']} = closed rounds staked - paid {house['closed_rounds_staked_minus_paid']}: "
        + ("[green]yes[/green]" if house["ok"] else "[red]NO[/red]")
    )
    if checks["rounds"]["unfinished"]:
        console.print(f"[red]rounds left unfinished: {checks['rounds']['unfinished']}[/red]")
    machine = report["machine"]
    console.print(
        f"[dim]{machine['cpu_count']} x {machine['cpu_model']}, Python {machine['python']}, "
        f"{machine['event_loop']}, PostgreSQL {machine['postgres_version']}[/dim]"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
