"""The recovery pass after a crash at one precise line (the request dies there: an exception standing in for kill -9,
which tests/cashier/test_crash.py does for real at random lines): each interrupted payment is finished, once."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from croupier.bootstrap import Platform
from croupier.cashier import aml, deposits, withdrawals
from tests.cashier.conftest import CashierPlayer, SimulatorControl, wait_for
from tests.cashier.test_deposits import balance, deposit
from tests.cashier.test_withdrawals import admin_headers, available, funded, play_through, set_threshold

Player = Callable[..., Awaitable[CashierPlayer]]


class Killed(Exception):
    """The process died at this line."""


async def _dies(*args: Any, **kwargs: Any) -> Any:
    raise Killed


async def _status(api: httpx.AsyncClient, player: CashierPlayer, payment_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/cashier/payments/{payment_id}", headers=player.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _only_withdrawal(platform: Platform) -> dict[str, Any]:
    async with platform.db.connection() as connection:
        [row] = await connection.fetch("SELECT * FROM cashier.payments WHERE kind = 'withdrawal'")
    return dict(row)


async def _holds(platform: Platform, payment_id: uuid.UUID) -> int:
    async with platform.db.connection() as connection:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM wallet.transfers WHERE kind = 'hold' AND metadata ->> 'payment_id' = $1",
                str(payment_id),
            )
        )


async def _payouts(psp: SimulatorControl) -> list[dict[str, Any]]:
    return [t for t in await psp.transactions("stripe") if t["kind"] == "payout" and t["status"] == "succeeded"]


async def _recover(platform: Platform) -> dict[str, int]:
    assert platform.cashier is not None
    platform.cashier.poll_after = timedelta(0)
    return await platform.cashier.recover()


async def _withdrawal_interrupted_after_its_hold(
    platform: Platform, api: httpx.AsyncClient, make: Player, monkeypatch: pytest.MonkeyPatch, key: str
) -> CashierPlayer:
    player = await funded(api, make, 100_00)
    await play_through(platform, player, 100_00)
    await set_threshold(api, 50_00)
    monkeypatch.setattr(aml, "check_withdrawal", _dies)  # held, then the process dies before the checks
    body = {"method": "card", "amount": 30_00, "request_key": key, "details": {}}
    died = await api.post("/v1/cashier/withdrawals", json=body, headers=player.headers)
    assert died.status_code == 500
    monkeypatch.undo()
    assert (await _only_withdrawal(platform))["status"] == "requested"
    assert await available(platform, player) == 70_00
    return player


async def test_withdrawal_interrupted_after_its_hold_is_paid_by_recovery_with_one_hold_and_one_payout(
    platform: Platform,
    cashier_api: httpx.AsyncClient,
    cashier_player: Player,
    psp: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    player = await _withdrawal_interrupted_after_its_hold(platform, cashier_api, cashier_player, monkeypatch, "w-1")
    assert (await _recover(platform))["resumed"] == 1
    payment = await _only_withdrawal(platform)
    await wait_for(lambda: _paid(cashier_api, player, str(payment["id"])))
    assert await _holds(platform, payment["id"]) == 1
    assert [p["amount"] for p in await _payouts(psp)] == [30_00]
    assert (await balance(platform, player), await available(platform, player)) == (70_00, 70_00)


async def test_withdrawal_interrupted_after_its_hold_is_finished_when_the_player_retries_it(
    platform: Platform,
    cashier_api: httpx.AsyncClient,
    cashier_player: Player,
    psp: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    player = await _withdrawal_interrupted_after_its_hold(platform, cashier_api, cashier_player, monkeypatch, "w-2")
    body = {"method": "card", "amount": 30_00, "request_key": "w-2", "details": {}}
    retried = await cashier_api.post("/v1/cashier/withdrawals", json=body, headers=player.headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] in ("processing", "paid")
    await wait_for(lambda: _paid(cashier_api, player, retried.json()["id"]))
    assert await _holds(platform, uuid.UUID(retried.json()["id"])) == 1
    assert await available(platform, player) == 70_00


async def test_withdrawal_rejected_when_the_release_is_interrupted_gets_its_hold_released_by_recovery(
    platform: Platform,
    cashier_api: httpx.AsyncClient,
    cashier_player: Player,
    psp: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert platform.cashier is not None
    player = await funded(cashier_api, cashier_player, 50_00)
    payment = (
        await cashier_api.post(
            "/v1/cashier/withdrawals",
            json={"method": "card", "amount": 20_00, "request_key": "w-3", "details": {}},
            headers=player.headers,
        )
    ).json()
    assert payment["status"] == "pending_approval"
    monkeypatch.setattr(platform.cashier.context.ledger, "release_withdrawal", _dies)
    died = await cashier_api.post(
        f"/v1/cashier/admin/withdrawals/{payment['id']}/reject", json={"reason": "r"}, headers=admin_headers("finance")
    )
    assert died.status_code == 500
    monkeypatch.undo()
    assert (await _status(cashier_api, player, payment["id"]))["status"] == "rejected"
    assert await available(platform, player) == 30_00  # rejected, but still held
    assert (await _recover(platform))["released"] == 1
    assert await available(platform, player) == 50_00
    assert (await _recover(platform))["released"] == 0  # done once, not again
    assert await balance(platform, player) == 50_00


async def test_deposit_interrupted_before_its_first_attempt_fails_on_recovery_without_any_charge(
    platform: Platform,
    cashier_api: httpx.AsyncClient,
    cashier_player: Player,
    psp: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    player = await cashier_player()
    monkeypatch.setattr(deposits, "cascade", _dies)
    died = await deposit(cashier_api, player, "card", 10_00, key="d-1", card_token="pm_card_visa")
    assert died.status_code == 500
    monkeypatch.undo()
    assert (await _recover(platform))["polled"] == 1
    again = await deposit(cashier_api, player, "card", 10_00, key="d-1", card_token="pm_card_visa")
    assert again.json()["status"] == "failed"
    assert again.json()["failure_code"] == "interrupted"
    assert (await psp.stats("stripe"))["api_calls"] == 0
    assert await balance(platform, player) == 0


async def test_payout_claimed_but_never_sent_is_paid_out_once_by_recovery(
    platform: Platform,
    cashier_api: httpx.AsyncClient,
    cashier_player: Player,
    psp: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    player = await funded(cashier_api, cashier_player, 100_00)
    await play_through(platform, player, 100_00)
    await set_threshold(cashier_api, 50_00)
    monkeypatch.setattr(withdrawals, "cascade", _dies)  # approved and claimed, dies before the first attempt
    died = await cashier_api.post(
        "/v1/cashier/withdrawals",
        json={"method": "card", "amount": 40_00, "request_key": "w-4", "details": {}},
        headers=player.headers,
    )
    assert died.status_code == 500
    monkeypatch.undo()
    payment = await _only_withdrawal(platform)
    assert (payment["status"], payment["attempt_count"]) == ("processing", 0)
    assert (await _recover(platform))["resumed"] == 1
    await wait_for(lambda: _paid(cashier_api, player, str(payment["id"])))
    assert [p["amount"] for p in await _payouts(psp)] == [40_00]
    await _recover(platform)
    assert [p["amount"] for p in await _payouts(psp)] == [40_00]
    assert await balance(platform, player) == 60_00


async def _paid(api: httpx.AsyncClient, player: CashierPlayer, payment_id: str) -> bool:
    payment = await _status(api, player, payment_id)
    return bool(payment["status"] == "paid" and payment["credited"])


async def test_crypto_deposit_held_when_its_booking_to_suspense_is_interrupted_is_booked_by_recovery(
    platform: Platform,
    cashier_api: httpx.AsyncClient,
    cashier_player: Player,
    psp: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert platform.cashier is not None
    player = await cashier_player("GB", "USDT")
    payment = (await deposit(cashier_api, player, "crypto", 0, currency="USDT", network="tron")).json()
    excluded = await cashier_api.post("/v1/compliance/me/self-exclusions", json={"months": 6}, headers=player.headers)
    assert excluded.status_code == 201, excluded.text
    monkeypatch.setattr(platform.cashier.context.ledger, "hold_deposit_for_review", _dies)
    chain = f"{psp.provider_url('crypto')}/_sim/chain"
    await psp.http.post(f"{chain}/send", json={"address": payment["next_action"]["address"], "amount": 5_000_000})
    await psp.http.post(f"{chain}/mine", json={"blocks": 30})
    await psp.drain()

    async def held() -> bool:
        async with platform.db.connection() as connection:
            return await connection.fetchval("SELECT count(*) FROM cashier.payments WHERE status = 'held'") == 1

    await wait_for(held)
    await platform.cashier.webhooks.stop()  # the process dies: nothing retries the webhook
    monkeypatch.undo()
    assert (await _recover(platform))["held"] == 1
    assert (await _recover(platform))["held"] == 0
    async with platform.db.connection() as connection:
        booked = await connection.fetch("SELECT amount FROM wallet.transfers WHERE type = 'deposit_held'")
    assert [row["amount"] for row in booked] == [5_000_000]
    assert await balance(platform, player) == 0
