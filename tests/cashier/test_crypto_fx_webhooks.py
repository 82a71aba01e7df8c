"""Crypto deposits with FX into a fiat wallet; the webhook endpoint's refusals; dead letters and their replay."""

import json
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
import stripe

from croupier.bootstrap import Platform
from croupier.cashier.providers.config import simulator_providers
from tests.cashier.conftest import CashierPlayer, SimulatorControl, wait_for
from tests.cashier.test_deposits import balance, deposit
from tests.cashier.test_withdrawals import admin_headers

Player = Callable[..., Awaitable[CashierPlayer]]


async def add_rate(api: httpx.AsyncClient, base: str, quote: str, rate: str, spread_bps: int) -> None:
    response = await api.post(
        "/v1/cashier/admin/fx-rates",
        json={"base": base, "quote": quote, "rate": rate, "spread_bps": spread_bps, "source": "tests"},
        headers=admin_headers("finance"),
    )
    assert response.status_code == 200, response.text


async def test_usdt_deposit_underpaid_into_a_euro_wallet_is_credited_what_arrived_at_the_recorded_rate(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    await add_rate(cashier_api, "USDT", "EUR", "0.9", 100)
    response = await deposit(cashier_api, player, "crypto", 12_000_000, currency="USDT", network="tron")
    assert response.status_code == 200, response.text
    payment = response.json()
    assert payment["status"] == "awaiting_transfer"
    address = payment["next_action"]["address"]
    assert payment["next_action"]["network"] == "tron"

    chain = f"{psp.provider_url('crypto')}/_sim/chain"
    sent = await psp.http.post(f"{chain}/send", json={"address": address, "amount": 10_000_000})
    assert sent.status_code == 201, sent.text
    await psp.http.post(f"{chain}/mine", json={"blocks": 5})
    await psp.drain()
    await wait_for(lambda: _status(platform, payment["id"], "processing"))
    assert await balance(platform, player) == 0  # not enough confirmations yet
    await psp.http.post(f"{chain}/mine", json={"blocks": 30})
    await psp.drain()
    await wait_for(lambda: _credited(platform, player, 8_91))  # 10 USDT x 0.9, less 1% spread = EUR 8.91
    mine = (await cashier_api.get(f"/v1/cashier/payments/{payment['id']}", headers=player.headers)).json()
    assert mine["received_amount"] == 10_000_000
    assert mine["credited_amount"] == 8_91
    assert mine["review"]["payment"] == "underpaid"
    detail = (
        await cashier_api.get(f"/v1/cashier/admin/payments/{payment['id']}", headers=admin_headers("risk"))
    ).json()
    assert detail["conversion"]["from_amount"] == 10_000_000
    assert detail["conversion"]["to_amount"] == 8_91
    page = await platform.wallet_client.list_transfers(account_id=player.account_id)
    [credit] = page.items
    assert credit.metadata["conversion_id"] == str(detail["conversion"]["id"])


async def test_crypto_deposit_without_a_rate_to_the_wallet_currency_is_refused(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    response = await deposit(cashier_api, player, "crypto", 1_000, currency="BTC", network="bitcoin")
    assert response.status_code == 422
    assert response.json()["code"] == "fx_rate_unavailable"


async def test_webhook_with_a_tampered_body_is_refused_and_not_stored(
    platform: Platform, cashier_api: httpx.AsyncClient, psp: SimulatorControl
) -> None:
    secret = simulator_providers(psp.url)[0].webhook_secret.get_secret_value()
    body = json.dumps({"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {}}})
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=int(time.time()))
    tampered = body.replace("evt_1", "evt_2")
    response = await cashier_api.post(
        "/v1/cashier/webhooks/stripe",
        content=tampered,
        headers={"stripe-signature": header, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "webhook_rejected"
    unknown = await cashier_api.post("/v1/cashier/webhooks/nobody", json={})
    assert unknown.status_code == 404
    async with platform.db.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM cashier.webhook_events") == 0


async def test_webhook_naming_an_unknown_payment_is_dead_lettered_and_can_be_replayed(
    platform: Platform, cashier_api: httpx.AsyncClient, psp: SimulatorControl
) -> None:
    assert platform.cashier is not None
    platform.cashier.webhooks.max_attempts = 2
    secret = simulator_providers(psp.url)[0].webhook_secret.get_secret_value()
    body = json.dumps(
        {
            "id": "evt_orphan",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": "pi_orphan",
                    "object": "payment_intent",
                    "amount": 1000,
                    "amount_received": 1000,
                    "currency": "eur",
                    "status": "succeeded",
                    "metadata": {"attempt_id": f"{uuid.uuid4()}-1"},
                }
            },
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=int(time.time()))
    response = await cashier_api.post(
        "/v1/cashier/webhooks/stripe",
        content=body,
        headers={"stripe-signature": header, "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text

    async def dead() -> bool:
        async with platform.db.connection() as connection:
            await connection.execute(
                "UPDATE cashier.webhook_events SET next_attempt_at = now() WHERE status = 'pending'"
            )
        listed = await cashier_api.get("/v1/cashier/admin/webhooks", headers=admin_headers("support"))
        return len(listed.json()) == 1

    await wait_for(dead)
    [event] = (await cashier_api.get("/v1/cashier/admin/webhooks", headers=admin_headers("support"))).json()
    assert event["attempts"] == 2
    assert "no attempt" in event["last_error"]
    replayed = await cashier_api.post(
        f"/v1/cashier/admin/webhooks/{event['id']}/replay", json={}, headers=admin_headers("admin")
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["attempts"] == 0


async def test_methods_for_a_dutch_player_list_card_and_ideal(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player("NL", "EUR")
    response = await cashier_api.get("/v1/cashier/methods", headers=player.headers)
    methods = {item["method"]: item for item in response.json()}
    assert {"card", "ideal", "crypto"} <= set(methods)
    assert "pix" not in methods
    assert methods["ideal"]["currencies"] == ["EUR"]


async def test_deposit_with_an_unknown_method_or_a_float_amount_is_refused_and_changes_nothing(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    unknown = await deposit(cashier_api, player, "cheque", 10_00)
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "method_unavailable"
    floating = await cashier_api.post(
        "/v1/cashier/deposits",
        json={"method": "card", "amount": 10.5, "request_key": "k"},
        headers=player.headers,
    )
    assert floating.status_code == 422
    async with platform.db.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM cashier.payments") == 0


async def _status(platform: Platform, payment_id: str, status: str) -> bool:
    async with platform.db.connection() as connection:
        return (
            await connection.fetchval("SELECT status FROM cashier.payments WHERE id = $1", uuid.UUID(payment_id))
            == status
        )


async def _credited(platform: Platform, player: CashierPlayer, amount: int) -> bool:
    return await balance(platform, player) == amount
