"""Rounds interrupted at each point of the lifecycle: the recovery worker finishes or voids them, never both.

Faults are injected between the round and the wallet: a call that never reaches the wallet, and a call whose answer
is lost after the wallet committed it. The money each round moved is read back from the ledger itself.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from croupier.bootstrap import Platform
from croupier.games.errors import RoundInterrupted
from croupier.games.rounds import PlayerRef, RoundLifecycle
from croupier.kit.errors import ServiceUnavailable
from croupier.wallet.client import CreateTransferRequest, TransferTombstoned, WalletClient
from croupier.wallet.verify import verify_ledger
from tests.games.conftest import BRAND, GamesPlayer, balance

NewPlayer = Callable[..., Awaitable[GamesPlayer]]
DICE_LIKELY_WIN = {"target": 9800, "direction": "under"}  # wins 98 % of rolls


class FaultyWallet:
    """The real wallet client, except for calls whose key ends with a chosen suffix: those fail once, either before
    reaching the wallet ("lost") or after the wallet committed them ("unanswered")."""

    def __init__(self, inner: WalletClient) -> None:
        self.inner = inner
        self.faults: dict[str, str] = {}

    def fail(self, key_suffix: str, how: str) -> None:
        self.faults[key_suffix] = how

    def _fault(self, key: str) -> str | None:
        for suffix, how in list(self.faults.items()):
            if key.endswith(suffix):
                del self.faults[suffix]
                return how
        return None

    async def transfer(self, request: CreateTransferRequest) -> Any:
        how = self._fault(request.idempotency_key)
        if how == "lost":
            raise ServiceUnavailable("injected: the request never reached the wallet")
        result = await self.inner.transfer(request)
        if how == "unanswered":
            raise ServiceUnavailable("injected: the wallet committed but the answer was lost")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def rounds(platform: Platform) -> tuple[RoundLifecycle, FaultyWallet]:
    assert platform.games is not None
    lifecycle = platform.games.rounds
    faulty = FaultyWallet(lifecycle.wallet)
    lifecycle.wallet = faulty  # type: ignore[assignment]
    lifecycle.stale_after = timedelta(0)  # the recovery worker takes interrupted rounds at once
    return lifecycle, faulty


async def round_money(db: asyncpg.Connection, round_id: str, account_id: uuid.UUID) -> dict[str, int]:
    """What the ledger moved for a round, by type, seen from the player's account (+ in, - out)."""
    rows = await db.fetch(
        """SELECT type, sum(CASE WHEN credit_account_id = $2 THEN amount ELSE -amount END) AS net, count(*) AS n
           FROM wallet.transfers WHERE metadata ->> 'round_id' = $1 GROUP BY type""",
        round_id,
        account_id,
    )
    return {row["type"]: int(row["net"]) for row in rows} | {f"{row['type']}_count": row["n"] for row in rows}


async def status(db: asyncpg.Connection, round_id: str) -> str:
    value: str = await db.fetchval("SELECT status FROM games.rounds WHERE id = $1", uuid.UUID(round_id))
    return value


async def only_round(db: asyncpg.Connection, player: GamesPlayer) -> str:
    return str(await db.fetchval("SELECT id FROM games.rounds WHERE player_id = $1", player.player_id))


def ref(player: GamesPlayer) -> PlayerRef:
    return PlayerRef(player.player_id, BRAND, "192.0.2.1")


async def assert_ledger_clean(platform: Platform) -> None:
    assert platform.wallet is not None
    report = await verify_ledger(platform.wallet.db)
    assert report.clean, report.discrepancies


async def test_stake_lost_on_the_way_when_recovered_is_cancelled_and_a_late_stake_is_refused(
    platform: Platform, rounds: tuple[RoundLifecycle, FaultyWallet], new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    lifecycle, faulty = rounds
    player = await new_player(10_000)
    faulty.fail(":stake", "lost")
    with pytest.raises(RoundInterrupted):
        await lifecycle.play(ref(player), "dice", 100, DICE_LIKELY_WIN, "k1")
    round_id = await only_round(db, player)
    assert await status(db, round_id) == "open"
    assert (await lifecycle.recover())["voided"] == 1
    assert await status(db, round_id) == "cancelled"
    with pytest.raises(TransferTombstoned):  # the stake request, arriving late, can never be taken any more
        await faulty.inner.transfer(
            CreateTransferRequest(
                idempotency_key=f"games:round:{round_id}:stake",
                debit_account_id=player.account_id,
                credit_account_id=(await db.fetchval("SELECT house_account_id FROM games.rounds")),
                amount=100,
                currency="EUR",
                type="bet",
                metadata={"round_id": round_id, "game": "dice"},
            )
        )
    assert await balance(platform, player) == 10_000
    assert await round_money(db, round_id, player.account_id) == {}
    await assert_ledger_clean(platform)


async def test_stake_taken_but_unanswered_when_recovered_is_refunded_exactly(
    platform: Platform, rounds: tuple[RoundLifecycle, FaultyWallet], new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    lifecycle, faulty = rounds
    player = await new_player(10_000)
    faulty.fail(":stake", "unanswered")
    with pytest.raises(RoundInterrupted):
        await lifecycle.play(ref(player), "dice", 100, DICE_LIKELY_WIN, "k1")
    round_id = await only_round(db, player)
    assert await balance(platform, player) == 9_900
    await lifecycle.recover()
    assert await status(db, round_id) == "refunded"
    assert await balance(platform, player) == 10_000
    money = await round_money(db, round_id, player.account_id)
    assert money == {"bet": -100, "bet_count": 1, "rollback": 100, "rollback_count": 1}
    await assert_ledger_clean(platform)


async def test_interrupted_round_when_the_client_retries_its_request_is_finished_and_charged_once(
    platform: Platform, rounds: tuple[RoundLifecycle, FaultyWallet], new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    lifecycle, faulty = rounds
    lifecycle.stale_after = timedelta(hours=1)  # the retry comes before the recovery worker would
    player = await new_player(10_000)
    faulty.fail(":stake", "unanswered")
    with pytest.raises(RoundInterrupted):
        await lifecycle.play(ref(player), "dice", 100, DICE_LIKELY_WIN, "k1")
    finished = await lifecycle.play(ref(player), "dice", 100, DICE_LIKELY_WIN, "k1")
    assert finished["status"] == "closed"
    assert await balance(platform, player) == 10_000 - 100 + finished["payout"]
    money = await round_money(db, str(finished["round_id"]), player.account_id)
    assert money["bet_count"] == 1
    assert money.get("win_count", 0) == (1 if finished["payout"] else 0)


async def test_win_committed_but_unanswered_when_recovered_is_paid_once(
    platform: Platform, rounds: tuple[RoundLifecycle, FaultyWallet], new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    lifecycle, faulty = rounds
    player = await new_player(100_000)
    for attempt in range(20):  # a 98 % win: find one (a loss has no win to interrupt)
        faulty.fail(":win", "unanswered")
        result = await lifecycle.play(ref(player), "dice", 100, DICE_LIKELY_WIN, f"k{attempt}")
        if result["payout"]:
            break
    faulty.faults.clear()
    assert result["status"] == "settling"  # the outcome is fixed and shown; the payment is being confirmed
    round_id = str(result["round_id"])
    assert (await lifecycle.recover())["paid"] == 1
    assert await status(db, round_id) == "closed"
    money = await round_money(db, round_id, player.account_id)
    assert money["win_count"] == 1
    assert money["win"] == result["payout"]
    assert await lifecycle.recover() == {"voided": 0, "paid": 0, "finished": 0, "failed": 0}
    await assert_ledger_clean(platform)


async def test_win_lost_on_the_way_when_recovered_is_paid_once(
    platform: Platform, rounds: tuple[RoundLifecycle, FaultyWallet], new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    lifecycle, faulty = rounds
    player = await new_player(100_000)
    for attempt in range(20):
        faulty.fail(":win", "lost")
        result = await lifecycle.play(ref(player), "dice", 100, DICE_LIKELY_WIN, f"k{attempt}")
        if result["payout"]:
            break
    faulty.faults.clear()
    assert result["status"] == "settling"
    before = await balance(platform, player)
    await lifecycle.recover()
    assert await balance(platform, player) == before + result["payout"]
    money = await round_money(db, str(result["round_id"]), player.account_id)
    assert money["win_count"] == 1
    await assert_ledger_clean(platform)


async def test_abandoned_mines_round_when_recovered_is_cashed_out_by_the_rules(
    platform: Platform, rounds: tuple[RoundLifecycle, FaultyWallet], new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    lifecycle, _ = rounds
    lifecycle.abandon_after = timedelta(0)
    player = await new_player(10_000)
    started = await lifecycle.play(ref(player), "mines", 100, {"mines": 1}, "k1")
    state = await lifecycle.step(ref(player), started["round_id"], 0, {"action": "reveal", "tile": 0})
    if state["status"] != "active":
        pytest.skip("the first tile held the one mine (1 in 25): nothing left to abandon")
    assert (await lifecycle.recover())["finished"] == 1
    finished = await lifecycle.get(ref(player), started["round_id"])
    assert finished["status"] == "closed"
    assert finished["actions"][-1] == {"action": "cashout"}
    assert finished["payout"] > 100  # one safe reveal pays more than the stake back
    assert await balance(platform, player) == 10_000 - 100 + finished["payout"]


async def test_extra_stake_taken_for_a_step_that_was_never_recorded_is_returned_when_the_round_settles(
    platform: Platform, rounds: tuple[RoundLifecycle, FaultyWallet], new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    lifecycle, faulty = rounds
    player = await new_player(100_000)
    for attempt in range(40):  # a deal where the player may double (and the round is not over at once)
        started = await lifecycle.play(ref(player), "blackjack", 100, {}, f"k{attempt}")
        if "double" in started["allowed_actions"]:
            break
    else:
        pytest.fail("no deal in 40 allowed a double")
    round_id = started["round_id"]
    faulty.fail(":stake:1", "unanswered")  # the double's stake is taken, the step is never recorded
    with pytest.raises(RoundInterrupted):
        await lifecycle.step(ref(player), round_id, 0, {"action": "double"})
    settled = await lifecycle.step(ref(player), round_id, 0, {"action": "stand"})  # the player does something else
    assert settled["staked"] == 100
    money = await round_money(db, str(round_id), player.account_id)
    assert money["bet_count"] == 2  # the initial stake and the orphaned double
    assert money["bet"] + money["rollback"] == -100  # ... which was given back
    assert money.get("win", 0) == settled["payout"]
    await assert_ledger_clean(platform)
