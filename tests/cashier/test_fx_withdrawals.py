"""Withdrawals paid out in another currency than the wallet's: held and debited in the wallet's currency, paid out the
amount converted at the rate fixed when the request was made, every step traceable from the ledger to that rate."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from croupier.bootstrap import Platform
from tests.cashier.conftest import CashierPlayer, SimulatorControl, wait_for
from tests.cashier.test_crypto_fx_webhooks import add_rate
from tests.cashier.test_deposits import balance
from tests.cashier.test_withdrawals import admin_headers, available, funded, play_through, set_threshold

Player = Callable[..., Awaitable[CashierPlayer]]
USDT_PAYOUT = 42_768_000  # EUR 40.00 x 1.08, less 1% spread: 42.768 USDT
ADDRESS = "TXq8v3cWjz1bKJ5fYdS2m7NcP4rLhQe9Ua"


async def _ready(platform: Platform, api: httpx.AsyncClient, make: Player, country: str = "GB") -> CashierPlayer:
    """A EUR player with EUR 100.00 who played it through, and withdrawals up to EUR 50.00 approved at once."""
    player = await funded(api, lambda: make(country, "EUR"), 100_00)
    await play_through(platform, player, 100_00)
    await set_threshold(api, 50_00)
    return player


async def _withdraw(
    api: httpx.AsyncClient, player: CashierPlayer, method: str, currency: str, key: str | None = None, **details: Any
) -> httpx.Response:
    body = {"method": method, "amount": 40_00, "currency": currency, "request_key": key or uuid.uuid4().hex}
    return await api.post("/v1/cashier/withdrawals", json={**body, "details": details}, headers=player.headers)


async def _mine(psp: SimulatorControl) -> None:
    await psp.http.post(f"{psp.provider_url('crypto')}/_sim/chain/mine", json={"blocks": 30})
    await psp.drain()


async def _payment(api: httpx.AsyncClient, payment_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/cashier/admin/payments/{payment_id}", headers=admin_headers("finance"))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _ledger(platform: Platform, payment_id: str) -> list[dict[str, Any]]:
    async with platform.db.connection() as connection:
        rows = await connection.fetch(
            """SELECT kind, type, amount, currency, metadata ->> 'conversion_id' AS conversion_id
               FROM wallet.transfers WHERE metadata ->> 'payment_id' = $1 ORDER BY created_at, position""",
            payment_id,
        )
    return [dict(row) for row in rows]


async def _payouts(psp: SimulatorControl, provider: str) -> list[dict[str, Any]]:
    return [t for t in await psp.transactions(provider) if t["kind"] == "payout"]


async def test_withdrawal_from_a_euro_wallet_paid_in_usdt_holds_euros_and_pays_usdt_at_the_rate_of_the_request(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await _ready(platform, cashier_api, cashier_player)
    await add_rate(cashier_api, "EUR", "USDT", "1.08", 100)
    response = await _withdraw(cashier_api, player, "crypto", "USDT", "w-usdt", network="tron", address=ADDRESS)
    assert response.status_code == 200, response.text
    payment = response.json()
    assert (payment["currency"], payment["amount"]) == ("USDT", USDT_PAYOUT)
    assert (payment["wallet_currency"], payment["wallet_amount"]) == ("EUR", 40_00)
    assert await available(platform, player) == 60_00  # held in euros at once
    await add_rate(cashier_api, "EUR", "USDT", "2.00", 0)  # the market moves: this withdrawal keeps its rate
    again = await _withdraw(cashier_api, player, "crypto", "USDT", "w-usdt", network="tron", address=ADDRESS)
    assert (again.json()["id"], again.json()["amount"]) == (payment["id"], USDT_PAYOUT)
    await _mine(psp)

    async def paid() -> bool:
        return bool((await _payment(cashier_api, payment["id"]))["credited"])

    await wait_for(paid)
    assert [(p["amount"], p["currency"], p["status"]) for p in await _payouts(psp, "crypto")] == [
        (USDT_PAYOUT, "USDT", "succeeded")
    ]
    assert (await balance(platform, player), await available(platform, player)) == (60_00, 60_00)
    detail = await _payment(cashier_api, payment["id"])
    conversion = detail["conversion"]
    assert (conversion["from_currency"], conversion["from_amount"]) == ("EUR", 40_00)
    assert (conversion["to_currency"], conversion["to_amount"]) == ("USDT", USDT_PAYOUT)
    assert (float(conversion["rate"]), conversion["spread_bps"]) == (1.08, 100)
    ledger = await _ledger(platform, payment["id"])
    assert [(t["kind"], t["type"], t["amount"], t["currency"]) for t in ledger] == [
        ("hold", "withdrawal", 40_00, "EUR"),
        ("hold_post", "withdrawal", 40_00, "EUR"),
        ("transfer", "fx_conversion", 40_00, "EUR"),
        ("transfer", "payout", USDT_PAYOUT, "USDT"),
    ]
    assert {t["conversion_id"] for t in ledger} == {str(conversion["id"])}
    run = await cashier_api.post(
        "/v1/cashier/admin/reconciliations",
        json={"provider": "crypto", "day": datetime.now(UTC).date().isoformat()},
        headers=admin_headers("finance"),
    )
    assert (run.json()["matched"], run.json()["discrepancies"]) == (1, 0)  # the gateway paid what the ledger says


async def test_withdrawal_paid_in_usdt_when_the_payout_fails_on_chain_releases_the_whole_euro_hold(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await _ready(platform, cashier_api, cashier_player)
    await add_rate(cashier_api, "EUR", "USDT", "1.08", 100)
    payment = (await _withdraw(cashier_api, player, "crypto", "USDT", network="tron", address=ADDRESS)).json()
    assert payment["status"] == "processing"
    [sent] = await _payouts(psp, "crypto")
    await psp.complete("crypto", sent["id"], status="failed")
    await psp.drain()

    async def failed() -> bool:
        return (await _payment(cashier_api, payment["id"]))["status"] == "failed"

    await wait_for(failed)
    await wait_for(lambda: _available_is(platform, player, 100_00))
    ledger = await _ledger(platform, payment["id"])
    assert [(t["kind"], t["amount"], t["currency"]) for t in ledger] == [
        ("hold", 40_00, "EUR"),
        ("hold_void", 40_00, "EUR"),
    ]
    assert await balance(platform, player) == 100_00


async def test_withdrawal_from_a_euro_wallet_paid_in_brl_by_pix_pays_the_converted_amount(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await _ready(platform, cashier_api, cashier_player, country="BR")
    await add_rate(cashier_api, "BRL", "EUR", "0.16", 50)  # only the inverse pair is quoted: EUR 1 = BRL 6.25
    response = await _withdraw(cashier_api, player, "pix", "BRL", pix_key="jogador@example.com")
    assert response.status_code == 200, response.text
    payment = response.json()
    assert (payment["currency"], payment["amount"], payment["wallet_amount"]) == ("BRL", 248_75, 40_00)
    await psp.drain()

    async def paid() -> bool:
        return bool((await _payment(cashier_api, payment["id"]))["credited"])

    await wait_for(paid)
    assert [(p["amount"], p["currency"]) for p in await _payouts(psp, "pix")] == [(248_75, "BRL")]
    assert await balance(platform, player) == 60_00


async def test_withdrawal_in_another_currency_without_a_fresh_rate_is_refused_and_holds_nothing(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await _ready(platform, cashier_api, cashier_player)
    none = await _withdraw(cashier_api, player, "crypto", "USDT", network="tron", address=ADDRESS)
    assert (none.status_code, none.json()["code"]) == (422, "fx_rate_unavailable")
    stale = await cashier_api.post(
        "/v1/cashier/admin/fx-rates",
        json={
            "base": "EUR",
            "quote": "USDT",
            "rate": "1.08",
            "source": "tests",
            "effective_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
        },
        headers=admin_headers("finance"),
    )
    assert stale.status_code == 200, stale.text
    old = await _withdraw(cashier_api, player, "crypto", "USDT", network="tron", address=ADDRESS)
    assert (old.status_code, old.json()["code"]) == (422, "fx_rate_unavailable")
    assert old.headers["content-type"].startswith("application/problem+json")
    unknown = await _withdraw(cashier_api, player, "crypto", "XXX", network="tron", address=ADDRESS)
    assert unknown.status_code == 422
    assert await available(platform, player) == 100_00
    assert await _payouts(psp, "crypto") == []
    async with platform.db.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM cashier.payments WHERE kind = 'withdrawal'") == 0


async def _available_is(platform: Platform, player: CashierPlayer, amount: int) -> bool:
    return await available(platform, player) == amount


async def test_methods_name_the_currencies_a_withdrawal_is_paid_out_in(
    cashier_api: httpx.AsyncClient, cashier_player: Player
) -> None:
    player = await cashier_player("BR", "EUR")  # a euro wallet in Brazil: Pix pays only reais

    response = await cashier_api.get("/v1/cashier/methods", headers=player.headers)

    assert response.status_code == 200, response.text
    methods = {item["method"]: item for item in response.json()}
    assert (methods["pix"]["withdrawals"], methods["pix"]["withdrawal_currencies"]) == (True, ["BRL"])
    assert {"BTC", "USDT"} <= set(methods["crypto"]["withdrawal_currencies"])
    assert methods["card"]["withdrawal_currencies"] == ["EUR"]  # the wallet's own currency when the method pays it
