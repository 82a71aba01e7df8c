"""kill -9 of `croupier up`, and a PostgreSQL crash, while players play rounds: every round ends finished or
refunded, once.

What a player was told survives; a round the player never heard back about is either finished (its win paid once)
or voided (its stake returned, or never taken); the ledger verifies clean, the audit chain verifies, every round
replays, and every balance equals deposits plus what the finished rounds paid minus what they staked.
"""

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from croupier.bootstrap import Platform, bootstrap, shutdown
from croupier.compliance.errors import ActionRefused
from croupier.games import audit
from croupier.games.errors import RoundNotActive, StepConflict
from croupier.games.replay import replay_round
from croupier.games.rounds import PlayerRef
from croupier.identity.schemas import CreateBrandRequest, RegisterPlayerRequest
from croupier.kit.auth import Principal
from croupier.kit.config import Settings
from croupier.kit.embedded_pg import EmbeddedPostgres
from croupier.kit.errors import ServiceUnavailable
from croupier.wallet.client import CreateTransferRequest, OpenAccountRequest
from croupier.wallet.verify import verify_ledger
from tests.conftest import service_headers, token_signer_for_tests
from tests.wallet.test_faults import (
    _cleanup,
    _connect_to_data_dir,
    _env,
    _postgres_pids,
    _start_croupier,
    _wait_ready,
)

pytestmark = pytest.mark.slow

BRAND = "round-crash"
PLAYERS = 8
WORKERS = 16
DEPOSIT = 1_000_000
FINAL = ("closed", "cancelled", "refunded", "rejected")
GAMES: list[tuple[str, dict[str, Any]]] = [
    ("dice", {"target": 5000, "direction": "over"}),
    ("limbo", {"target": 200}),
    ("mines", {"mines": 3}),
    ("blackjack", {}),
]


RECOVER_FAST = {
    "CROUPIER_GAMES_STALE_AFTER_SECONDS": "1",
    "CROUPIER_GAMES_RECOVERY_SECONDS": "0.3",
    "CROUPIER_GAMES_ABANDON_AFTER_SECONDS": "3",
}


@dataclass
class Player:
    player_id: str
    token: str
    account_id: str


@dataclass
class Seen:
    """What the players were told."""

    answered: dict[str, dict[str, Any]] = field(default_factory=dict)  # round id -> last answer
    unknown: int = 0
    unexpected: list[str] = field(default_factory=list)


async def _setup(http: httpx.AsyncClient) -> list[Player]:
    admin, _ = token_signer_for_tests().issue(Principal("admin", "tests", roles=frozenset({"admin"})))
    brand = await http.post(
        "/v1/identity/admin/brands",
        json={"id": BRAND, "name": "Crash", "allowed_countries": ["GB"], "allowed_currencies": ["EUR"]},
        headers={"authorization": f"Bearer {admin}"},
    )
    assert brand.status_code == 201, brand.text
    wallet = service_headers()
    funding = await http.post(
        "/v1/wallet/accounts",
        json={
            "brand_id": BRAND,
            "owner_type": "house",
            "owner_id": "house",
            "kind": "psp_clearing",
            "label": "tests",
            "currency": "EUR",
            "allow_negative": True,
        },
        headers=wallet,
    )
    assert funding.status_code in (200, 201), funding.text
    players = []
    for index in range(PLAYERS):
        email = f"crash-{index}-{uuid.uuid4().hex[:6]}@example.com"
        registered = await http.post(
            f"/v1/identity/brands/{BRAND}/players",
            json={
                "email": email,
                "password": "a long enough password",
                "date_of_birth": "1980-01-01",
                "country": "GB",
                "currency": "EUR",
            },
        )
        assert registered.status_code == 201, registered.text
        profile = registered.json()
        login = await http.post(
            "/v1/identity/login",
            json={"brand_id": BRAND, "email": email, "password": "a long enough password"},
        )
        assert login.status_code == 200, login.text
        deposit = await http.post(
            "/v1/wallet/transfers",
            json={
                "idempotency_key": f"deposit-{uuid.uuid4().hex}",
                "debit_account_id": funding.json()["id"],
                "credit_account_id": profile["wallet_account_id"],
                "amount": DEPOSIT,
                "currency": "EUR",
                "type": "deposit",
            },
            headers=wallet,
        )
        assert deposit.status_code == 201, deposit.text
        players.append(Player(profile["id"], login.json()["access_token"], profile["wallet_account_id"]))
    return players


async def _play(http: httpx.AsyncClient, players: list[Player], seen: Seen, seed: int, stop: asyncio.Event) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        player = rng.choice(players)
        game, params = rng.choice(GAMES)
        headers = {"authorization": f"Bearer {player.token}"}
        try:
            response = await http.post(
                "/v1/games/rounds",
                json={"game": game, "stake": rng.randint(10, 500), "params": params, "request_key": uuid.uuid4().hex},
                headers=headers,
            )
            while response.status_code == 200 and response.json()["status"] == "active":
                round_ = response.json()
                seen.answered[str(round_["round_id"])] = round_
                if rng.random() < 0.2:
                    break  # the player walks away: the recovery worker finishes the round later
                action = _next_action(game, round_, rng)
                response = await http.post(
                    f"/v1/games/rounds/{round_['round_id']}/steps",
                    json={"step": round_["next_step"], "action": action},
                    headers=headers,
                )
        except httpx.TransportError:
            seen.unknown += 1
            return
        if response.status_code == 200:
            round_ = response.json()
            seen.answered[str(round_["round_id"])] = round_
        elif response.status_code in (503, 409):
            seen.unknown += 1
        else:
            seen.unexpected.append(f"{response.status_code} {response.text[:300]}")


def _next_action(game: str, round_: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    allowed = round_["allowed_actions"]
    if game == "mines":
        if "cashout" in allowed and rng.random() < 0.3:
            return {"action": "cashout"}
        revealed = {tile["tile"] for tile in round_["view"].get("revealed", [])}
        return {"action": "reveal", "tile": rng.choice([t for t in range(25) if t not in revealed])}
    if "insurance" in allowed:
        return {"action": "insurance", "take": rng.random() < 0.5}
    return {"action": rng.choice(allowed)}


async def _wait_until_every_round_is_final(data_dir: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    connection = await _connect_to_data_dir(data_dir)
    try:
        while True:
            left = await connection.fetchval("SELECT count(*) FROM games.rounds WHERE status <> ALL($1::text[])", FINAL)
            if left == 0:
                return
            if time.monotonic() > deadline:
                rows = await connection.fetch(
                    "SELECT id, status FROM games.rounds WHERE status <> ALL($1::text[])", FINAL
                )
                pytest.fail(f"{left} rounds not finished {timeout}s after the restart: {[dict(r) for r in rows[:5]]}")
            await asyncio.sleep(0.3)
    finally:
        await connection.close()


async def test_kill_9_while_rounds_are_played_finishes_or_refunds_every_round_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    pgdata = data_dir.resolve() / "pgdata"
    with _cleanup(pgdata) as started:
        first = _start_croupier(data_dir, tmp_path / "first.log", started, RECOVER_FAST)
        await _wait_ready(first)
        seen = Seen()
        limits = httpx.Limits(max_connections=WORKERS * 2, max_keepalive_connections=WORKERS * 2)
        async with httpx.AsyncClient(base_url=first.base_url, timeout=10.0, limits=limits) as http:
            players = await _setup(http)
            stop = asyncio.Event()
            workers = [asyncio.create_task(_play(http, players, seen, seed, stop)) for seed in range(WORKERS)]
            await asyncio.sleep(2.5)
            os.kill(first.process.pid, signal.SIGKILL)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*workers), 30)
        assert await asyncio.to_thread(first.process.wait, 10) == -signal.SIGKILL
        assert not seen.unexpected, seen.unexpected[:5]
        assert len(seen.answered) > 20, f"only {len(seen.answered)} rounds answered before the kill"

        second = _start_croupier(data_dir, tmp_path / "second.log", started, RECOVER_FAST)
        await _wait_ready(second)
        await _wait_until_every_round_is_final(data_dir)

        connection = await _connect_to_data_dir(data_dir)
        try:
            await _check_rounds_and_money(connection, players, seen)
        finally:
            await connection.close()
        verified = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "croupier", "wallet", "verify", "--data-dir", str(data_dir), "--json"],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
        with contextlib.suppress(ProcessLookupError):
            second.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.process.wait, 60)
        assert not _postgres_pids(pgdata)


async def _check_rounds_and_money(connection: asyncpg.Connection, players: list[Player], seen: Seen) -> None:
    rounds = {str(r["id"]): r for r in await connection.fetch("SELECT * FROM games.rounds")}
    statuses: dict[str, int] = {}
    for round_id, record in rounds.items():
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
        money = await connection.fetch(
            """SELECT type, count(*) AS n,
                      sum(CASE WHEN credit_account_id = $2 THEN amount ELSE -amount END) AS net
               FROM wallet.transfers WHERE metadata ->> 'round_id' = $1 GROUP BY type""",
            round_id,
            record["player_account_id"],
        )
        by_type = {row["type"]: (row["n"], int(row["net"])) for row in money}
        net = sum(value for _, value in by_type.values())
        if record["status"] == "closed":
            assert net == record["payout"] - record["staked"], (round_id, by_type, record["payout"], record["staked"])
            assert by_type.get("win", (0, 0))[0] == (1 if record["payout"] else 0), (round_id, by_type)
        else:
            assert net == 0, (round_id, record["status"], by_type)
            assert "win" not in by_type, (round_id, by_type)
        told = seen.answered.get(round_id)
        if told is not None and told["status"] == "closed":
            assert (record["status"], record["payout"]) == ("closed", told["payout"]), round_id
        replay = await replay_round(connection, record["id"])
        assert replay["matches"], replay
    print(f"after the fault: {len(rounds)} rounds after recovery {statuses}; {seen.unknown} answers lost")
    assert statuses.get("closed", 0) > 20

    for player in players:
        posted = await connection.fetchval(
            "SELECT credits_posted - debits_posted FROM wallet.accounts WHERE id = $1", uuid.UUID(player.account_id)
        )
        played = sum(
            r["payout"] - r["staked"]
            for r in rounds.values()
            if r["player_id"] == player.player_id and r["status"] == "closed"
        )
        assert posted == DEPOSIT + played, player.player_id

    await audit.seal(connection, datetime.now(UTC))
    report = await audit.verify(connection)
    assert report.ok, report.problems
    assert report.unsealed == 0


async def test_database_restart_while_rounds_are_played_finishes_or_refunds_every_round_once(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    with _cleanup(server.pgdata):
        url = await asyncio.to_thread(server.start)
        try:
            settings = Settings(games_stale_after_seconds=1, games_recovery_seconds=0.3, games_abandon_after_seconds=3)
            platform = await bootstrap(settings, url)
            try:
                players = await _setup_in_process(platform)
                seen = Seen()
                stop = asyncio.Event()
                workers = [
                    asyncio.create_task(_play_in_process(platform, players, seen, seed, stop))
                    for seed in range(WORKERS)
                ]
                await asyncio.sleep(1.0)
                before = len(seen.answered)
                await asyncio.to_thread(server.kill)
                await asyncio.sleep(0.5)
                await asyncio.to_thread(server.restart)
                await asyncio.sleep(1.5)
                stop.set()
                await asyncio.wait_for(asyncio.gather(*workers), 60)
                assert not seen.unexpected, seen.unexpected[:5]
                assert before > 20, f"only {before} rounds answered before the crash"
                assert len(seen.answered) > before, "no round was answered after the restart"
                deadline = time.monotonic() + 90
                connection = await asyncpg.connect(url)
                try:
                    while await connection.fetchval(
                        "SELECT count(*) FROM games.rounds WHERE status <> ALL($1::text[])", FINAL
                    ):
                        assert time.monotonic() < deadline, "rounds left unfinished 90 s after the restart"
                        await asyncio.sleep(0.3)
                    await _check_rounds_and_money(connection, players, seen)
                finally:
                    await connection.close()
                assert platform.wallet is not None
                report = await verify_ledger(platform.wallet.db)
                assert report.clean, report.discrepancies
            finally:
                await shutdown(platform)
        finally:
            await asyncio.to_thread(server.stop)


async def _setup_in_process(platform: Platform) -> list[Player]:
    assert platform.identity is not None
    await platform.identity.brands.create(
        CreateBrandRequest.model_validate(
            {"id": BRAND, "name": "Crash", "allowed_countries": ["GB"], "allowed_currencies": ["EUR"]}
        )
    )
    wallet = platform.wallet_client
    funding = await wallet.open_account(
        OpenAccountRequest(
            brand_id=BRAND,
            owner_type="house",
            owner_id="house",
            kind="psp_clearing",
            label="tests",
            currency="EUR",
            allow_negative=True,
        )
    )
    players = []
    for index in range(PLAYERS):
        profile = await platform.identity.register(
            BRAND,
            RegisterPlayerRequest.model_validate(
                {
                    "email": f"db-crash-{index}@example.com",
                    "password": "a long enough password",
                    "date_of_birth": "1980-01-01",
                    "country": "GB",
                    "currency": "EUR",
                }
            ),
            ip=f"192.0.2.{index + 1}",
        )
        assert profile.wallet_account_id is not None
        await wallet.transfer(
            CreateTransferRequest(
                idempotency_key=f"deposit-{uuid.uuid4().hex}",
                debit_account_id=funding.id,
                credit_account_id=profile.wallet_account_id,
                amount=DEPOSIT,
                currency="EUR",
                type="deposit",
            )
        )
        players.append(Player(str(profile.id), "", str(profile.wallet_account_id)))
    return players


async def _play_in_process(
    platform: Platform, players: list[Player], seen: Seen, seed: int, stop: asyncio.Event
) -> None:
    assert platform.games is not None
    rounds = platform.games.rounds
    rng = random.Random(seed)
    while not stop.is_set():
        player = rng.choice(players)
        ref = PlayerRef(player.player_id, BRAND, "192.0.2.1")
        game, params = rng.choice(GAMES)
        try:
            round_ = await rounds.play(ref, game, rng.randint(10, 500), params, uuid.uuid4().hex)
            while round_["status"] == "active" and rng.random() < 0.8:
                seen.answered[str(round_["round_id"])] = round_
                action = _next_action(game, round_, rng)
                round_ = await rounds.step(ref, round_["round_id"], round_["next_step"], action)
            seen.answered[str(round_["round_id"])] = round_
        except (ServiceUnavailable, RoundNotActive, StepConflict):
            seen.unknown += 1  # the database was down (or a recovery took the round): retried by nobody
            await asyncio.sleep(0.05)
        except ActionRefused as refusal:
            if refusal.extensions.get("reason") != "gate_unavailable":
                seen.unexpected.append(f"refused: {refusal.extensions}")
            seen.unknown += 1
            await asyncio.sleep(0.05)
        except Exception as error:
            seen.unexpected.append("".join(traceback.format_exception(error)))
            await asyncio.sleep(0.05)
