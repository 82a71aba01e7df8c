"""Crypto deposits the compliance gate refuses when the coins arrive: held (not playable), visible in the back office,
then released to the player (credited once) or marked for a refund (never credited)."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from croupier.bootstrap import Platform
from tests.cashier.conftest import CashierPlayer, SimulatorControl, wait_for
from tests.cashier.test_crypto_fx_webhooks import add_rate
from tests.cashier.test_deposits import balance, deposit
from tests.cashier.test_withdrawals import admin_headers

Player = Callable[..., Awaitable[CashierPlayer]]
SENT = 20_000_000  # 20 USDT
CREDIT = 18_00  # at 0.9 EUR per USDT, no spread
ADMIN = "/v1/cashier/admin"


async def _address(api: httpx.AsyncClient, player: CashierPlayer) -> dict[str, Any]:
    """The player asks for a deposit address: the gate allows it now."""
    await add_rate(api, "USDT", "EUR", "0.9", 0)
    response = await deposit(api, player, "crypto", SENT, currency="USDT", network="tron")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "awaiting_transfer"
    return dict(response.json())


async def _self_exclude(api: httpx.AsyncClient, player: CashierPlayer) -> None:
    excluded = await api.post("/v1/compliance/me/self-exclusions", json={"months": 6}, headers=player.headers)
    assert excluded.status_code == 201, excluded.text


async def _coins_arrive(psp: SimulatorControl, address: str) -> None:
    chain = f"{psp.provider_url('crypto')}/_sim/chain"
    sent = await psp.http.post(f"{chain}/send", json={"address": address, "amount": SENT})
    assert sent.status_code == 201, sent.text
    await psp.http.post(f"{chain}/mine", json={"blocks": 30})
    await psp.drain()


async def _admin_payment(api: httpx.AsyncClient, payment_id: str) -> dict[str, Any]:
    response = await api.get(f"{ADMIN}/payments/{payment_id}", headers=admin_headers("risk"))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _held(api: httpx.AsyncClient, psp: SimulatorControl, payment: dict[str, Any]) -> dict[str, Any]:
    await _coins_arrive(psp, payment["next_action"]["address"])

    async def held() -> bool:
        return (await _admin_payment(api, payment["id"]))["status"] == "held"

    await wait_for(held)
    return await _admin_payment(api, payment["id"])


async def _excluded_and_held(
    api: httpx.AsyncClient, make: Player, psp: SimulatorControl
) -> tuple[CashierPlayer, dict[str, Any]]:
    player = await make()
    payment = await _address(api, player)
    await _self_exclude(api, player)
    return player, await _held(api, psp, payment)


async def _decide(api: httpx.AsyncClient, payment_id: str, decision: str, role: str = "finance") -> httpx.Response:
    return await api.post(
        f"{ADMIN}/deposits/{payment_id}/{decision}",
        json={"reason": "checked with the player"},
        headers=admin_headers(role),
    )


async def _events(platform: Platform, event_type: str) -> list[dict[str, Any]]:
    async with platform.db.connection() as connection:
        rows = await connection.fetch("SELECT payload FROM cashier.outbox WHERE type = $1", event_type)
    return [dict(row["payload"]) for row in rows]


async def _queue_idle(platform: Platform) -> bool:
    async with platform.db.connection() as connection:
        return await connection.fetchval("SELECT count(*) FROM cashier.webhook_events WHERE status = 'pending'") == 0


async def test_crypto_deposit_when_the_player_self_excluded_since_the_address_is_held_and_not_credited(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player, held = await _excluded_and_held(cashier_api, cashier_player, psp)
    assert held["credited"] is False
    assert held["received_amount"] == SENT
    compliance = held["review"]["compliance"]
    assert (compliance["verdict"], compliance["reason"], compliance["stage"]) == ("refused", "self_excluded", "arrival")
    assert compliance["decision_id"] != str(held["decision_id"])  # a second verdict, not the address-time one
    assert await balance(platform, player) == 0
    listed = await cashier_api.get(f"{ADMIN}/deposits", headers=admin_headers("support"))
    assert [(item["id"], item["player_id"]) for item in listed.json()] == [(held["id"], player.player_id)]
    [alert] = await _events(platform, "cashier.alert.deposit_held")
    assert (alert["payment_id"], alert["reason"], alert["amount"]) == (held["id"], "self_excluded", SENT)
    assert [e["payment_id"] for e in await _events(platform, "cashier.deposit.held")] == [held["id"]]
    assert await _events(platform, "cashier.deposit.succeeded") == []
    async with platform.db.connection() as connection:
        suspense = await connection.fetch(
            """SELECT amount, currency FROM wallet.transfers
               WHERE type = 'deposit_held' AND metadata ->> 'payment_id' = $1""",
            held["id"],
        )
    assert [(row["amount"], row["currency"]) for row in suspense] == [(SENT, "USDT")]


async def test_crypto_deposit_over_a_deposit_limit_set_since_the_address_is_held_with_the_limits_reason(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    payment = await _address(cashier_api, player)
    limit = await cashier_api.put(
        "/v1/compliance/me/limits/deposit/day", json={"amount": 10_00}, headers=player.headers
    )
    assert limit.status_code == 200, limit.text
    held = await _held(cashier_api, psp, payment)
    assert held["review"]["compliance"]["reason"] == "deposit_limit_exceeded"
    assert held["review"]["compliance"]["amount_in_wallet_currency"] == CREDIT
    assert await balance(platform, player) == 0


async def test_held_crypto_deposit_released_by_finance_is_credited_once_however_often_the_webhooks_come(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    assert platform.cashier is not None
    await psp.faults("crypto", webhook_duplicates=2)
    player, held = await _excluded_and_held(cashier_api, cashier_player, psp)
    released = await _decide(cashier_api, held["id"], "release")
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["credited_amount"]) == ("succeeded", CREDIT)
    assert await balance(platform, player) == CREDIT
    again = await _decide(cashier_api, held["id"], "release")
    assert again.status_code == 409
    assert again.json()["code"] == "deposit_not_held"
    assert again.headers["content-type"].startswith("application/problem+json")
    applied = await cashier_api.get(f"{ADMIN}/webhooks?status=applied", headers=admin_headers("support"))
    for event in applied.json():  # every stored webhook applied once more
        replayed = await cashier_api.post(
            f"{ADMIN}/webhooks/{event['id']}/replay", json={}, headers=admin_headers("admin")
        )
        assert replayed.status_code == 200, replayed.text
    await wait_for(lambda: _queue_idle(platform))
    await platform.cashier.recover()
    assert await balance(platform, player) == CREDIT
    [credited] = await _events(platform, "cashier.deposit.succeeded")
    assert credited["credited_amount"] == CREDIT
    detail = await _admin_payment(cashier_api, held["id"])
    assert detail["review"]["released_by"] == "ops-1"
    assert detail["conversion"]["to_amount"] == CREDIT


async def test_held_crypto_deposit_marked_for_refund_is_never_credited(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    assert platform.cashier is not None
    player, held = await _excluded_and_held(cashier_api, cashier_player, psp)
    refunded = await _decide(cashier_api, held["id"], "refund")
    assert refunded.status_code == 200, refunded.text
    assert (refunded.json()["status"], refunded.json()["failure_code"]) == ("refund_requested", "self_excluded")
    late = await _decide(cashier_api, held["id"], "release")
    assert late.status_code == 409
    listed = await cashier_api.get(f"{ADMIN}/deposits?status=refund_requested", headers=admin_headers("finance"))
    assert [item["id"] for item in listed.json()] == [held["id"]]
    await platform.cashier.recover()
    assert await balance(platform, player) == 0
    assert [e["payment_id"] for e in await _events(platform, "cashier.deposit.refund_requested")] == [held["id"]]
    run = await cashier_api.post(
        f"{ADMIN}/reconciliations",
        json={"provider": "crypto", "day": datetime.now(UTC).date().isoformat()},
        headers=admin_headers("finance"),
    )
    assert (run.json()["matched"], run.json()["discrepancies"]) == (1, 0)  # the coins are booked, in suspense


async def test_crypto_deposit_allowed_on_arrival_is_credited_with_the_arrival_verdict_recorded(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    payment = await _address(cashier_api, player)
    await _coins_arrive(psp, payment["next_action"]["address"])
    await wait_for(lambda: _balance_is(platform, player, CREDIT))
    detail = await _admin_payment(cashier_api, payment["id"])
    assert (detail["status"], detail["review"]["compliance"]["verdict"]) == ("succeeded", "allowed")
    assert await _events(platform, "cashier.alert.deposit_held") == []


async def test_deposit_release_when_not_allowed_or_not_held_is_refused_and_changes_nothing(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player, held = await _excluded_and_held(cashier_api, cashier_player, psp)
    assert (await _decide(cashier_api, held["id"], "release", role="support")).status_code == 403
    unknown = await _decide(cashier_api, str(uuid.uuid4()), "release")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "payment_not_found")
    empty = await cashier_api.post(
        f"{ADMIN}/deposits/{held['id']}/release", json={"reason": ""}, headers=admin_headers("finance")
    )
    assert empty.status_code == 422
    card = await cashier_player()
    paid = await deposit(cashier_api, card, "card", 10_00, card_token="pm_card_visa")
    not_held = await _decide(cashier_api, paid.json()["id"], "refund")
    assert (not_held.status_code, not_held.json()["code"]) == (409, "deposit_not_held")
    assert (await _admin_payment(cashier_api, held["id"]))["status"] == "held"
    assert await balance(platform, player) == 0


async def _balance_is(platform: Platform, player: CashierPlayer, amount: int) -> bool:
    return await balance(platform, player) == amount


async def test_crypto_address_for_any_amount_is_handed_out_and_what_arrives_is_credited(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    await add_rate(cashier_api, "USDT", "EUR", "0.9", 0)
    response = await deposit(cashier_api, player, "crypto", 0, currency="USDT", network="tron")
    assert response.status_code == 200, response.text
    assert response.json()["next_action"]["type"] == "crypto_address"
    await _coins_arrive(psp, response.json()["next_action"]["address"])
    await wait_for(lambda: _balance_is(platform, player, CREDIT))
