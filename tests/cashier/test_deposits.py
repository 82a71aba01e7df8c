"""Deposits end to end: the player's API, the simulator's providers over real HTTP, the webhook queue, the wallet."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from croupier.bootstrap import Platform
from tests.cashier.conftest import CashierPlayer, SimulatorControl, wait_for


async def deposit(
    api: httpx.AsyncClient, player: CashierPlayer, method: str, amount: int, key: str | None = None, **details: Any
) -> httpx.Response:
    body: dict[str, Any] = {"method": method, "amount": amount, "request_key": key or uuid.uuid4().hex}
    currency = details.pop("currency", None)
    if currency:
        body["currency"] = currency
    body["details"] = details
    return await api.post("/v1/cashier/deposits", json=body, headers=player.headers)


async def balance(platform: Platform, player: CashierPlayer) -> int:
    return (await platform.wallet_client.get_balance(player.account_id)).posted


async def test_card_deposit_when_the_provider_charges_credits_the_wallet_once(
    platform: Platform,
    cashier_api: httpx.AsyncClient,
    cashier_player: Callable[..., Awaitable[CashierPlayer]],
    psp: SimulatorControl,
) -> None:
    player = await cashier_player()
    response = await deposit(cashier_api, player, "card", 25_00, card_token="pm_card_visa")
    assert response.status_code == 200, response.text
    payment = response.json()
    assert payment["status"] == "succeeded"
    assert payment["credited"] is True
    assert await balance(platform, player) == 25_00
    await psp.drain()  # the provider's webhooks (processing, succeeded) arrive after the synchronous answer
    await wait_for(lambda: _queue_settled(platform))
    assert await balance(platform, player) == 25_00


async def _queue_settled(platform: Platform) -> bool:
    async with platform.db.connection() as connection:
        pending = await connection.fetchval("SELECT count(*) FROM cashier.webhook_events WHERE status = 'pending'")
        applied = await connection.fetchval("SELECT count(*) FROM cashier.webhook_events WHERE status = 'applied'")
    return pending == 0 and applied > 0


async def test_card_deposit_when_credited_announces_succeeded_once_with_the_credited_amount(
    platform: Platform,
    cashier_api: httpx.AsyncClient,
    cashier_player: Callable[..., Awaitable[CashierPlayer]],
    psp: SimulatorControl,
) -> None:
    player = await cashier_player()
    response = await deposit(cashier_api, player, "card", 12_00, card_token="pm_card_visa")
    await psp.drain()
    await wait_for(lambda: _queue_settled(platform))
    async with platform.db.connection() as connection:
        rows = await connection.fetch("SELECT payload FROM cashier.outbox WHERE type = 'cashier.deposit.succeeded'")
    assert [(row["payload"]["payment_id"], row["payload"]["credited_amount"]) for row in rows] == [
        (response.json()["id"], 12_00)
    ]
