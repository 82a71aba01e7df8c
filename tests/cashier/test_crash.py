"""kill -9 of `croupier up` while players deposit and withdraw through the simulated providers: after the restart on
the same data directory, every charge the provider made is credited exactly once, nothing it did not charge is
credited, every withdrawal ends paid (hold posted, paid out once) or not paid (hold released), every balance is what
the providers took from the player minus what they paid out, and the ledger and the day's reconciliation are clean.
"""

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.cashier.conftest import SimulatorControl
from tests.cashier.crash_load import (
    BRAND,
    CrashPlayer,
    Told,
    back_office,
    customers,
    pay_pix,
    play,
    send,
    setup_brand_and_players,
    work_queue,
)
from tests.conftest import free_port
from tests.wallet.test_faults import _cleanup, _connect_to_data_dir, _env, _start_croupier, _stop_croupier, _wait_ready

pytestmark = pytest.mark.slow

PROVIDERS = ("stripe", "adyen", "pix")
PLAYERS_PER_PROFILE = 4
SETTLE_TIMEOUT = 45.0
UNFINISHED_DEPOSIT = ("created", "pending", "awaiting_transfer", "processing")
UNFINISHED_WITHDRAWAL = ("requested", "pending_approval", "approved", "processing")


def _cashier_env(psp_url: str, port: int, *, poll_after: float) -> dict[str, str]:
    return {
        "CROUPIER_CASHIER_SIMULATOR_URL": psp_url,
        "CROUPIER_CASHIER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CROUPIER_CASHIER_WORKER_SECONDS": "0.1",
        "CROUPIER_CASHIER_RECOVERY_SECONDS": "0.5",
        "CROUPIER_CASHIER_POLL_AFTER_SECONDS": str(poll_after),
        "CROUPIER_CASHIER_EXPLORATION": "0",
    }


async def test_kill_9_mid_deposits_and_withdrawals_credits_and_pays_out_everything_exactly_once(
    tmp_path: Path, psp_url: str, psp: SimulatorControl
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    await psp.webhooks_to(f"http://127.0.0.1:{port}/v1/cashier/webhooks")
    for name in ("stripe", "pix"):  # keep provider calls (and payouts) in flight when the process dies
        await psp.faults(name, latency_ms=40)
    with _cleanup(data_dir.resolve() / "pgdata") as started:
        # The first process polls nothing on its own: only the crash leaves work for the restarted one.
        first = _start_croupier(
            data_dir, tmp_path / "first.log", started, _cashier_env(psp_url, port, poll_after=600), port
        )
        await _wait_ready(first)
        told = Told()
        async with httpx.AsyncClient(base_url=first.base_url, timeout=15.0) as http:
            players = await setup_brand_and_players(http, PLAYERS_PER_PROFILE)
            stop = asyncio.Event()
            tasks = [asyncio.create_task(play(http, p, told, stop, seed)) for seed, p in enumerate(players)]
            tasks += [
                asyncio.create_task(customers(psp, told, stop)),
                asyncio.create_task(back_office(http, told, stop)),
            ]
            await _until(lambda: told.count("deposit") >= 25 and told.count("withdrawal") >= 10 and told.approvals >= 2)
            os.killpg(first.process.pid, signal.SIGKILL)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
        assert await asyncio.to_thread(first.process.wait, 10) == -signal.SIGKILL
        assert not told.unexpected, told.unexpected[:5]
        print(f"before the kill: {len(told.payments)} payments answered, {len(told.unknown)} requests unanswered")

        second = _start_croupier(
            data_dir, tmp_path / "second.log", started, _cashier_env(psp_url, port, poll_after=1.5), port
        )
        await _wait_ready(second)
        async with httpx.AsyncClient(base_url=second.base_url, timeout=15.0) as http:
            for player, path, body in told.unknown:  # the players retry what they never heard back about
                if "/cancel" not in path:
                    await send(http, told, player, path, body)
            assert not told.unexpected, told.unexpected[:5]
            await _settle(http, psp, told, data_dir)

        connection = await _connect_to_data_dir(data_dir)
        try:
            charged, paid_out = await _simulator_view(psp, connection)
            await _check_deposits(connection, charged)
            await _check_withdrawals(connection, paid_out)
            await _check_balances(connection, players, charged, paid_out)
            _check_what_players_were_told(told, await _statuses(connection))
        finally:
            await connection.close()
        await _check_ledger_and_reconciliation(data_dir, psp_url, {line["day"] for line in charged.values()})
        code, left = await _stop_croupier(second)
        assert code == 0, code
        assert not left, left


async def _until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the load did not get going"
        await asyncio.sleep(0.05)


async def _settle(http: httpx.AsyncClient, psp: SimulatorControl, told: Told, data_dir: Path) -> None:
    """The customers pay every open QR code and the back office works the queue, until nothing is in flight."""
    rng = random.Random(3)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    connection = await _connect_to_data_dir(data_dir)
    try:
        while True:
            await pay_pix(psp, told, rng, 1.0)
            await work_queue(http, told, rng, 0.3)
            left = await _in_flight(connection)
            if not left:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{len(left)} payments still in flight {SETTLE_TIMEOUT}s after the restart: {left[:5]}")
            await asyncio.sleep(0.3)
    finally:
        await connection.close()


async def _in_flight(connection: asyncpg.Connection) -> list[str]:
    rows = await connection.fetch(
        """SELECT id, kind, status, credited_at IS NOT NULL AS done, attempt_count FROM cashier.payments
           WHERE (kind = 'deposit' AND (status = ANY($1::text[]) OR (status = 'succeeded' AND credited_at IS NULL)))
              OR (kind = 'withdrawal' AND (status = ANY($2::text[]) OR (status = 'paid' AND credited_at IS NULL)))""",
        UNFINISHED_DEPOSIT,
        UNFINISHED_WITHDRAWAL,
    )
    holds = await _open_holds(connection)
    finished = {str(row["payment_id"]) for row in holds} - {str(row["id"]) for row in rows}
    return [f"{r['kind']} {r['id']} {r['status']} attempts={r['attempt_count']}" for r in rows] + [
        f"withdrawal {payment} finished with its hold still open" for payment in finished
    ]


async def _open_holds(connection: asyncpg.Connection) -> list[asyncpg.Record]:
    return await connection.fetch(
        """SELECT h.id, h.metadata ->> 'payment_id' AS payment_id FROM wallet.transfers h
           WHERE h.kind = 'hold' AND h.brand_id = $1
             AND NOT EXISTS (SELECT 1 FROM wallet.transfers r WHERE r.hold_id = h.id)""",
        BRAND,
    )


async def _simulator_view(
    psp: SimulatorControl, connection: asyncpg.Connection
) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[tuple[str, str], dict[str, Any]]]:
    """The providers' side: money they took (charges) and paid (payouts), by (provider, our attempt id)."""
    charged: dict[tuple[str, str], dict[str, Any]] = {}
    paid_out: dict[tuple[str, str], dict[str, Any]] = {}
    owners = {
        str(r["id"]): r["player_id"] for r in await connection.fetch("SELECT id, player_id FROM cashier.payments")
    }
    for provider in PROVIDERS:
        times = (await psp.stats(provider))["charges"]
        assert all(n == 1 for n in times.values()), f"{provider} moved money twice for one attempt: {times}"
        for txn in await psp.transactions(provider):
            if txn["status"] != "succeeded":
                continue
            payment_id = txn["reference"].rsplit("-", 1)[0]
            line = {
                "amount": txn["amount"],
                "payment_id": payment_id,
                "player_id": owners.get(payment_id),
                "day": datetime.fromisoformat(txn["created_at"]).astimezone(UTC).date(),
            }
            (charged if txn["kind"] == "payment" else paid_out)[(provider, txn["reference"])] = line
    for lines, what in ((charged, "charge"), (paid_out, "payout")):
        per_payment = Counter(line["payment_id"] for line in lines.values())
        assert all(n == 1 for n in per_payment.values()), f"a payment with more than one {what}: {per_payment}"
        assert all(line["player_id"] for line in lines.values()), f"a {what} of no payment of ours"
    return charged, paid_out


async def _check_deposits(connection: asyncpg.Connection, charged: dict[tuple[str, str], dict[str, Any]]) -> None:
    credits = await connection.fetch(
        """SELECT metadata ->> 'provider' AS provider, metadata ->> 'attempt_id' AS attempt_id, amount
           FROM wallet.transfers
           WHERE brand_id = $1 AND type = 'deposit' AND metadata ->> 'payment_kind' = 'deposit'""",
        BRAND,
    )
    credited = Counter((row["provider"], row["attempt_id"]) for row in credits)
    twice = {key: n for key, n in credited.items() if n > 1}
    assert not twice, f"deposits credited more than once: {twice}"
    not_charged = set(credited) - set(charged)
    assert not not_charged, f"credited without a charge at the provider: {sorted(not_charged)[:5]}"
    alerted = {
        (row["provider"], row["id"])
        for row in await connection.fetch(
            "SELECT provider, id FROM cashier.attempts WHERE status = 'charged_after_failover'"
        )
    }
    missing = set(charged) - set(credited) - alerted
    assert not missing, f"charged by the provider, never credited: {sorted(missing)[:5]}"
    amounts = {(row["provider"], row["attempt_id"]): row["amount"] for row in credits}
    wrong = {key: (amounts[key], charged[key]["amount"]) for key in amounts if amounts[key] != charged[key]["amount"]}
    assert not wrong, f"credited another amount than charged: {wrong}"
    print(f"deposits: {len(charged)} charged, {len(credited)} credited once, {len(alerted)} raised for a refund")


async def _check_withdrawals(connection: asyncpg.Connection, paid_out: dict[tuple[str, str], dict[str, Any]]) -> None:
    payouts_of = {line["payment_id"]: line for line in paid_out.values()}
    holds: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in await connection.fetch(
        """SELECT h.metadata ->> 'payment_id' AS payment_id, h.amount, r.kind AS resolution, r.amount AS resolved
           FROM wallet.transfers h LEFT JOIN wallet.transfers r ON r.hold_id = h.id
           WHERE h.kind = 'hold' AND h.brand_id = $1""",
        BRAND,
    ):
        holds[row["payment_id"]].append(row)
    statuses: Counter[str] = Counter()
    for payment in await connection.fetch("SELECT * FROM cashier.payments WHERE kind = 'withdrawal'"):
        payment_id, status = str(payment["id"]), payment["status"]
        statuses[status] += 1
        mine = holds.pop(payment_id, [])
        assert len(mine) <= 1, f"{payment_id}: {len(mine)} holds"
        if status == "paid":
            assert [(h["resolution"], h["resolved"]) for h in mine] == [("hold_post", payment["wallet_amount"])], (
                payment_id
            )
            assert payouts_of.get(payment_id, {}).get("amount") == payment["amount"], (payment_id, "not paid out once")
            assert payment["credited_at"] is not None, f"{payment_id}: paid, never settled in the ledger"
        else:
            assert status in ("failed", "rejected", "canceled"), f"{payment_id} left {status}"
            assert all(h["resolution"] == "hold_void" for h in mine), (payment_id, status, [dict(h) for h in mine])
            assert payment_id not in payouts_of, f"{payment_id} is {status} but the provider paid it out"
    assert not holds, f"holds of no withdrawal: {dict(holds)}"
    assert set(payouts_of) <= {str(r["id"]) for r in await connection.fetch("SELECT id FROM cashier.payments")}
    print(f"withdrawals: {dict(statuses)}")
    assert statuses["paid"] >= 3


async def _check_balances(
    connection: asyncpg.Connection,
    players: list[CrashPlayer],
    charged: dict[tuple[str, str], dict[str, Any]],
    paid_out: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for player in players:
        row = await connection.fetchrow(
            """SELECT credits_posted - debits_posted AS posted, debits_pending FROM wallet.accounts WHERE id = $1""",
            UUID(player.account_id),
        )
        assert row is not None
        took = sum(line["amount"] for line in charged.values() if line["player_id"] == player.player_id)
        gave = sum(line["amount"] for line in paid_out.values() if line["player_id"] == player.player_id)
        assert (row["posted"], row["debits_pending"]) == (took - gave, 0), (player.player_id, dict(row), took, gave)


async def _statuses(connection: asyncpg.Connection) -> dict[str, str]:
    return {str(r["id"]): r["status"] for r in await connection.fetch("SELECT id, status FROM cashier.payments")}


def _check_what_players_were_told(told: Told, statuses: dict[str, str]) -> None:
    """An answer a player got stays true: succeeded and paid stay so; a cancelled or rejected withdrawal is not paid."""
    for payment_id, answer in told.payments.items():
        now = statuses[payment_id]
        if answer["status"] in ("succeeded", "paid", "canceled", "rejected", "failed"):
            assert now == answer["status"], (payment_id, answer["status"], now)


async def _check_ledger_and_reconciliation(data_dir: Path, psp_url: str, days: set[Any]) -> None:
    env = _env() | {"CROUPIER_CASHIER_SIMULATOR_URL": psp_url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "croupier", *args, "--data-dir", str(data_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    verified = await asyncio.to_thread(run, "wallet", "verify", "--json")
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
    for provider in ("stripe", "pix"):
        for day in days:
            result = await asyncio.to_thread(run, "cashier", "reconcile", "--provider", provider, "--date", str(day))
            assert result.returncode == 0, f"{provider} {day}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
