"""Withdrawals: hold, checks, automatic approval under the brand's threshold, the approval queue above it, payout,
cancellation; and the compliance gate refusing deposits server-side."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from croupier.bootstrap import Platform
from croupier.kit.auth import Principal
from tests.cashier.conftest import BRAND, CashierPlayer, SimulatorControl, wait_for
from tests.cashier.test_deposits import balance, deposit
from tests.conftest import token_signer_for_tests

Player = Callable[..., Awaitable[CashierPlayer]]


def admin_headers(*roles: str) -> dict[str, str]:
    token, _ = token_signer_for_tests().issue(Principal("admin", "ops-1", roles=frozenset(roles)))
    return {"authorization": f"Bearer {token}"}


async def funded(api: httpx.AsyncClient, make: Player, amount: int) -> CashierPlayer:
    player = await make()
    response = await deposit(api, player, "card", amount, card_token="pm_card_visa")
    assert response.json()["status"] == "succeeded", response.text
    return player


async def withdraw(api: httpx.AsyncClient, player: CashierPlayer, amount: int, **details: Any) -> httpx.Response:
    body = {"method": "card", "amount": amount, "request_key": uuid.uuid4().hex, "details": details}
    return await api.post("/v1/cashier/withdrawals", json=body, headers=player.headers)


async def available(platform: Platform, player: CashierPlayer) -> int:
    return (await platform.wallet_client.get_balance(player.account_id)).available


async def set_threshold(api: httpx.AsyncClient, amount: int) -> None:
    response = await api.put(
        f"/v1/cashier/admin/brands/{BRAND}/auto-approval",
        json={"limits": {"EUR": amount}},
        headers=admin_headers("admin"),
    )
    assert response.status_code == 200, response.text


async def play_through(platform: Platform, player: CashierPlayer, amount: int) -> None:
    """Wager `amount` (so the AML turnover rule is satisfied): a bet and an equal win through the wallet."""
    from croupier.wallet.client import CreateTransferRequest, OpenAccountRequest

    wallet = platform.wallet_client
    house = await wallet.open_account(
        OpenAccountRequest(
            brand_id=BRAND,
            owner_type="house",
            owner_id="house",
            kind="bankroll",
            label="t",
            currency="EUR",
            allow_negative=True,
        )
    )
    for kind, debit, credit in (("bet", player.account_id, house.id), ("win", house.id, player.account_id)):
        await wallet.transfer(
            CreateTransferRequest(
                idempotency_key=f"t:{uuid.uuid4()}",
                debit_account_id=debit,
                credit_account_id=credit,
                amount=amount,
                currency="EUR",
                type=kind,
            )
        )


async def test_withdrawal_under_the_threshold_is_paid_and_the_hold_posted(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await funded(cashier_api, cashier_player, 100_00)
    await play_through(platform, player, 100_00)
    await set_threshold(cashier_api, 50_00)
    response = await withdraw(cashier_api, player, 30_00)
    assert response.status_code == 200, response.text
    payment = response.json()
    assert payment["status"] in ("processing", "paid")
    await psp.drain()

    async def paid() -> bool:
        mine = await cashier_api.get(f"/v1/cashier/payments/{payment['id']}", headers=player.headers)
        return bool(mine.json()["status"] == "paid" and mine.json()["credited"])

    await wait_for(paid)
    assert await balance(platform, player) == 70_00
    assert await available(platform, player) == 70_00


async def test_withdrawal_over_the_available_balance_is_refused_and_holds_nothing(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await funded(cashier_api, cashier_player, 20_00)
    response = await withdraw(cashier_api, player, 20_01)
    assert response.status_code == 422
    assert response.json()["code"] == "insufficient_funds"
    assert await available(platform, player) == 20_00
    assert (await psp.stats("stripe"))["api_calls"] == 1  # the deposit only: no payout was attempted


async def test_withdrawal_over_the_threshold_waits_for_approval_with_the_amount_held(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await funded(cashier_api, cashier_player, 100_00)
    await play_through(platform, player, 100_00)
    await set_threshold(cashier_api, 10_00)
    response = await withdraw(cashier_api, player, 60_00)
    payment = response.json()
    assert payment["status"] == "pending_approval"
    assert payment["review"]["reasons"] == ["over_auto_approval_limit"]
    assert await available(platform, player) == 40_00
    queue = await cashier_api.get("/v1/cashier/admin/withdrawals", headers=admin_headers("finance"))
    assert [item["id"] for item in queue.json()] == [payment["id"]]
    approved = await cashier_api.post(
        f"/v1/cashier/admin/withdrawals/{payment['id']}/approve", json={}, headers=admin_headers("finance")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] in ("processing", "paid")
    again = await cashier_api.post(
        f"/v1/cashier/admin/withdrawals/{payment['id']}/approve", json={}, headers=admin_headers("finance")
    )
    assert again.status_code == 409
    await psp.drain()
    await wait_for(lambda: _balance_is(platform, player, 40_00))
    assert sum((await psp.stats("stripe"))["charges"].values()) == 2  # the deposit and one payout


async def test_withdrawal_rejected_by_an_admin_releases_the_hold(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await funded(cashier_api, cashier_player, 50_00)
    payment = (await withdraw(cashier_api, player, 50_00)).json()
    assert payment["status"] == "pending_approval"
    assert "low_turnover" in payment["review"]["aml_flags"]  # deposited, never played
    assert await available(platform, player) == 0
    rejected = await cashier_api.post(
        f"/v1/cashier/admin/withdrawals/{payment['id']}/reject",
        json={"reason": "source of funds unclear"},
        headers=admin_headers("finance"),
    )
    assert rejected.json()["status"] == "rejected"
    assert await available(platform, player) == 50_00


async def test_withdrawal_cancelled_by_the_player_before_payout_releases_the_hold(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await funded(cashier_api, cashier_player, 50_00)
    payment = (await withdraw(cashier_api, player, 25_00)).json()
    cancelled = await cashier_api.post(
        f"/v1/cashier/withdrawals/{payment['id']}/cancel", json={}, headers=player.headers
    )
    assert cancelled.json()["status"] == "canceled"
    assert await available(platform, player) == 50_00
    late = await cashier_api.post(
        f"/v1/cashier/admin/withdrawals/{payment['id']}/approve", json={}, headers=admin_headers("finance")
    )
    assert late.status_code == 409
    assert await balance(platform, player) == 50_00


async def test_withdrawal_approval_needs_a_finance_role(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await funded(cashier_api, cashier_player, 50_00)
    payment = (await withdraw(cashier_api, player, 25_00)).json()
    refused = await cashier_api.post(
        f"/v1/cashier/admin/withdrawals/{payment['id']}/approve", json={}, headers=admin_headers("support")
    )
    assert refused.status_code == 403
    by_player = await cashier_api.post(
        f"/v1/cashier/admin/withdrawals/{payment['id']}/approve", json={}, headers=player.headers
    )
    assert by_player.status_code == 403


async def test_deposit_over_the_players_deposit_limit_is_refused_before_any_provider_is_called(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    limit = await cashier_api.put(
        "/v1/compliance/me/limits/deposit/day", json={"amount": 50_00}, headers=player.headers
    )
    assert limit.status_code == 200, limit.text
    assert (await deposit(cashier_api, player, "card", 40_00, card_token="pm_card_visa")).status_code == 200
    refused = await deposit(cashier_api, player, "card", 20_00, card_token="pm_card_visa")
    assert refused.status_code == 403
    assert refused.json()["reason"] == "deposit_limit_exceeded"
    assert (await psp.stats("stripe"))["api_calls"] == 1
    assert await balance(platform, player) == 40_00


async def test_deposit_by_a_self_excluded_player_is_refused_server_side(
    platform: Platform, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    player = await cashier_player()
    excluded = await cashier_api.post("/v1/compliance/me/self-exclusions", json={"months": 6}, headers=player.headers)
    assert excluded.status_code == 201, excluded.text
    refused = await deposit(cashier_api, player, "card", 10_00, card_token="pm_card_visa")
    assert refused.status_code in (401, 403)
    assert (await psp.stats("stripe"))["api_calls"] == 0
    async with platform.db.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM cashier.payments") == 0


async def _balance_is(platform: Platform, player: CashierPlayer, amount: int) -> bool:
    return await balance(platform, player) == amount
