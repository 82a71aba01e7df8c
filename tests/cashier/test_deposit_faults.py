"""What providers do wrong, and what the cashier makes of it: duplicate and out-of-order webhooks, a provider down,
a hard decline, a crash between the provider's success and the wallet credit."""

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx

from croupier.bootstrap import Platform, bootstrap, shutdown
from croupier.kit.config import Settings
from tests.cashier.conftest import CashierPlayer, SimulatorControl, wait_for
from tests.cashier.test_deposits import balance, deposit

Player = Callable[..., Awaitable[CashierPlayer]]


async def _credited(platform: Platform, player: CashierPlayer, amount: int) -> bool:
    return await balance(platform, player) == amount


async def _pix_deposit(api: httpx.AsyncClient, player: CashierPlayer, psp: SimulatorControl, amount: int) -> dict:
    response = await deposit(api, player, "pix", amount)
    assert response.status_code == 200, response.text
    payment = response.json()
    assert payment["status"] == "pending"
    assert payment["next_action"]["type"] == "qr"
    return payment


async def _pay_pix(psp: SimulatorControl, amount: int | None = None) -> None:
    [charge] = await psp.transactions("pix")
    await psp.complete("pix", charge["id"], amount=amount)
    await psp.drain()


async def test_pix_deposit_when_the_webhook_arrives_three_times_credits_once(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player("BR", "BRL")
    payment = await _pix_deposit(cashier_api, player, psp, 150_00)
    await psp.faults("pix", webhook_duplicates=2)
    await _pay_pix(psp)
    await wait_for(lambda: _credited(platform, player, 150_00))
    async with platform.db.connection() as connection:
        deliveries = await connection.fetchval("SELECT sum(deliveries) FROM cashier.webhook_events")
    assert deliveries == 3
    mine = await cashier_api.get(f"/v1/cashier/payments/{payment['id']}", headers=player.headers)
    assert mine.json()["status"] == "succeeded"
    assert mine.json()["credited_amount"] == 150_00
    assert await balance(platform, player) == 150_00


async def test_card_deposit_when_webhooks_arrive_newest_first_stays_succeeded_and_credited_once(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    await psp.faults("stripe", webhook_out_of_order=True, webhook_duplicates=1)
    response = await deposit(cashier_api, player, "card", 40_00, card_token="pm_card_visa")
    assert response.json()["status"] == "succeeded"
    await psp.drain()
    await wait_for(lambda: _queue_idle(platform))
    mine = await cashier_api.get(f"/v1/cashier/payments/{response.json()['id']}", headers=player.headers)
    assert mine.json()["status"] == "succeeded"  # the late "processing" did not move it back
    assert await balance(platform, player) == 40_00


async def test_card_deposit_when_the_first_provider_is_down_succeeds_at_the_second_and_the_first_never_charges(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    await psp.faults("stripe", error_status=503)
    response = await deposit(cashier_api, player, "card", 30_00, card_token="pm_card_visa")
    assert response.status_code == 200, response.text
    payment = response.json()
    assert payment["status"] == "succeeded"
    assert await balance(platform, player) == 30_00
    assert (await psp.stats("stripe"))["charges"] == {}
    assert sum((await psp.stats("adyen"))["charges"].values()) == 1
    detail = await platform.cashier.admin_payment(payment["id"])  # type: ignore[union-attr]
    assert [(a["provider"], a["outcome"]) for a in detail["attempts"]] == [
        ("stripe", "provider_error"),
        ("adyen", "succeeded"),
    ]
    assert [a["id"] for a in detail["attempts"]] == [f"{payment['id']}-1", f"{payment['id']}-2"]


async def test_card_deposit_when_the_card_is_hard_declined_fails_without_trying_another_provider(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    await psp.faults("stripe", decline="hard")
    response = await deposit(cashier_api, player, "card", 30_00, card_token="pm_card_visa")
    assert response.status_code == 402
    assert response.json()["code"] == "payment_declined"
    assert (await psp.stats("adyen"))["api_calls"] == 0
    assert await balance(platform, player) == 0


async def test_deposit_when_retried_with_the_same_request_key_returns_the_same_payment_and_charges_once(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    first = await deposit(cashier_api, player, "card", 20_00, key="checkout-1", card_token="pm_card_visa")
    again = await deposit(cashier_api, player, "card", 20_00, key="checkout-1", card_token="pm_card_visa")
    assert again.json()["id"] == first.json()["id"]
    assert sum((await psp.stats("stripe"))["charges"].values()) == 1
    other = await deposit(cashier_api, player, "card", 99_00, key="checkout-1", card_token="pm_card_visa")
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_conflict"
    assert await balance(platform, player) == 20_00


async def test_pix_deposit_when_the_platform_stops_before_applying_the_webhook_is_credited_after_restart(
    platform: Platform,
    cashier_api: httpx.AsyncClient,
    cashier_player: Player,
    psp: SimulatorControl,
    settings: Settings,
    database_url: str,
) -> None:
    assert platform.cashier is not None
    player = await cashier_player("BR", "BRL")
    await _pix_deposit(cashier_api, player, psp, 80_00)
    await platform.cashier.webhooks.stop()  # the process dies after storing the webhook, before crediting
    await _pay_pix(psp)
    async with platform.db.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM cashier.webhook_events WHERE status = 'pending'") == 1
    assert await balance(platform, player) == 0
    restarted = await bootstrap(settings, database_url)
    try:
        await wait_for(lambda: _credited(restarted, player, 80_00))
    finally:
        await shutdown(restarted)
    assert await balance(platform, player) == 80_00


async def test_pix_deposit_when_the_webhook_is_lost_is_credited_by_the_recovery_poll(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    assert platform.cashier is not None
    player = await cashier_player("BR", "BRL")
    await _pix_deposit(cashier_api, player, psp, 60_00)
    await psp.faults("pix", webhook_drop=True)
    await _pay_pix(psp)
    assert await balance(platform, player) == 0
    platform.cashier.poll_after = timedelta(0)
    repaired = await platform.cashier.recover()
    assert repaired["polled"] == 1
    assert await balance(platform, player) == 60_00
    await platform.cashier.recover()  # a second pass changes nothing
    assert await balance(platform, player) == 60_00


async def _queue_idle(platform: Platform) -> bool:
    async with platform.db.connection() as connection:
        return await connection.fetchval("SELECT count(*) FROM cashier.webhook_events WHERE status = 'pending'") == 0
