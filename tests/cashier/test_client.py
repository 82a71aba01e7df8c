"""The cashier client contract, once per transport: in-process, and HTTP against the platform served on a real port
with a service token (as a bonus service or the back office would call it). Payments are made through the player's
API against the simulated providers."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from croupier.bootstrap import Platform
from croupier.cashier.client import (
    CashierClient,
    HttpCashierClient,
    PaymentNotFound,
    PlayerNotFound,
    ReconciliationNotFound,
)
from croupier.kit.auth import Forbidden, Principal, ServiceTokens, Unauthenticated
from croupier.kit.errors import ServiceUnavailable, ValidationFailed
from tests.cashier.conftest import CashierPlayer, SimulatorControl
from tests.cashier.test_deposits import deposit
from tests.cashier.test_withdrawals import admin_headers, funded, withdraw
from tests.conftest import free_port, token_signer_for_tests

Player = Callable[..., Awaitable[CashierPlayer]]


@pytest.fixture(params=["in_process", "http"])
async def client(
    request: pytest.FixtureRequest, platform: Platform, cashier_api: httpx.AsyncClient, psp: SimulatorControl
) -> AsyncIterator[CashierClient]:
    if request.param == "in_process":
        yield platform.cashier_client
        return
    http = HttpCashierClient(str(cashier_api.base_url), token=ServiceTokens(token_signer_for_tests(), "bonus"))
    yield http
    await http.aclose()


async def paid_in(api: httpx.AsyncClient, player: CashierPlayer, amount: int) -> str:
    response = await deposit(api, player, "card", amount, card_token="pm_card_visa")
    assert response.json()["status"] == "succeeded", response.text
    return str(response.json()["id"])


async def test_client_list_payments_when_player_deposited_shows_the_credited_deposit(
    client: CashierClient, cashier_api: httpx.AsyncClient, cashier_player: Player
) -> None:
    player = await cashier_player()
    payment_id = await paid_in(cashier_api, player, 25_00)

    deposits = await client.list_payments(uuid.UUID(player.player_id), kind="deposit")
    withdrawals = await client.list_payments(uuid.UUID(player.player_id), kind="withdrawal")

    [item] = deposits.items
    assert (str(item.id), item.kind, item.status, item.amount, item.currency) == (
        payment_id,
        "deposit",
        "succeeded",
        25_00,
        "EUR",
    )
    assert (item.credited, item.credited_amount) == (True, 25_00)
    assert (deposits.next_before, withdrawals.items) == (None, [])


async def test_client_list_payments_when_history_is_longer_than_a_page_pages_newest_first(
    client: CashierClient, cashier_api: httpx.AsyncClient, cashier_player: Player
) -> None:
    player = await cashier_player()
    made = [await paid_in(cashier_api, player, amount) for amount in (10_00, 11_00, 12_00)]

    first = await client.list_payments(uuid.UUID(player.player_id), limit=2)
    assert first.next_before is not None
    rest = await client.list_payments(uuid.UUID(player.player_id), before=first.next_before, limit=2)

    assert [str(item.id) for item in first.items + rest.items] == made[::-1]
    assert rest.next_before is None


async def test_client_get_payment_when_it_exists_shows_status_and_attempts(
    client: CashierClient, cashier_api: httpx.AsyncClient, cashier_player: Player
) -> None:
    player = await cashier_player()
    payment_id = await paid_in(cashier_api, player, 15_00)

    payment = await client.get_payment(uuid.UUID(payment_id))

    assert (payment.status, payment.credited, payment.player_id) == ("succeeded", True, player.player_id)
    assert [(attempt.number, attempt.status) for attempt in payment.attempts] == [(1, "succeeded")]


async def test_client_get_payment_when_unknown_raises_payment_not_found(client: CashierClient) -> None:
    with pytest.raises(PaymentNotFound):
        await client.get_payment(uuid.uuid4())


async def test_client_methods_when_player_exists_are_what_the_player_is_offered(
    client: CashierClient, cashier_api: httpx.AsyncClient, cashier_player: Player
) -> None:
    player = await cashier_player("NL", "EUR")
    own_view = (await cashier_api.get("/v1/cashier/methods", headers=player.headers)).json()

    methods = await client.methods(uuid.UUID(player.player_id))

    assert [method.model_dump() for method in methods] == own_view
    assert {"card", "ideal"} <= {method.method for method in methods}


async def test_client_methods_when_player_is_unknown_raises_player_not_found(client: CashierClient) -> None:
    with pytest.raises(PlayerNotFound):
        await client.methods(uuid.uuid4())


async def test_client_list_withdrawals_when_one_waits_for_approval_lists_it_in_the_queue(
    client: CashierClient, cashier_api: httpx.AsyncClient, cashier_player: Player
) -> None:
    player = await funded(cashier_api, cashier_player, 50_00)
    waiting = (await withdraw(cashier_api, player, 20_00)).json()  # no auto-approval limit: it waits
    assert waiting["status"] == "pending_approval"

    queue = await client.list_withdrawals()
    paid = await client.list_withdrawals(status="paid")

    assert [(str(item.id), item.player_id, item.amount) for item in queue] == [(waiting["id"], player.player_id, 20_00)]
    assert paid == []


async def test_client_provider_health_lists_every_configured_provider(
    client: CashierClient, platform: Platform
) -> None:
    health = await client.provider_health(hours=1)

    assert health.window_seconds == 3600
    assert platform.cashier is not None
    assert {state.provider for state in health.providers} == set(platform.cashier.context.providers)


async def test_client_reconciliations_when_a_run_is_stored_lists_and_reads_it(
    client: CashierClient, cashier_api: httpx.AsyncClient, cashier_player: Player, psp: SimulatorControl
) -> None:
    await paid_in(cashier_api, await cashier_player(), 30_00)
    await psp.discrepancies("stripe", [{"kind": "extra_at_provider", "reference": "ghost-1", "amount": 999}])
    today = datetime.now(UTC).date()
    run = await cashier_api.post(
        "/v1/cashier/admin/reconciliations",
        json={"provider": "stripe", "day": today.isoformat()},
        headers=admin_headers("finance"),
    )
    assert run.status_code == 200, run.text

    listed = await client.list_reconciliations(provider="stripe", day=today)
    stored = await client.get_reconciliation(listed[0].id)

    assert [(str(r.id), r.discrepancies, r.by_kind) for r in listed] == [
        (run.json()["id"], 1, {"missing_in_ledger": 1})
    ]
    assert [(item.kind, item.reference) for item in stored.items] == [("missing_in_ledger", "ghost-1")]
    assert await client.list_reconciliations(provider="adyen") == []
    with pytest.raises(ReconciliationNotFound):
        await client.get_reconciliation(uuid.uuid4())


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (lambda c: c.list_payments(uuid.uuid4(), limit=0), "limit"),
        (lambda c: c.list_payments(uuid.uuid4(), kind="bonus"), "kind"),
        (lambda c: c.list_withdrawals(limit=501), "limit"),
        (lambda c: c.list_withdrawals(status="lost"), "status"),
        (lambda c: c.provider_health(hours=0), "hours"),
        (lambda c: c.list_reconciliations(provider="Not A Name"), "provider"),
    ],
)
async def test_client_when_an_argument_is_out_of_range_raises_validation_failed_naming_it(
    client: CashierClient, call: Callable[[CashierClient], Awaitable[Any]], where: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await call(client)
    assert refused.value.code == "validation_error"
    assert refused.value.detail.startswith(f"{where}: ")


# -- HTTP only: who may call, and an unreachable cashier -------------------------------------------------------------


async def test_http_client_when_token_is_a_back_office_readers_reads(
    cashier_api: httpx.AsyncClient, cashier_player: Player
) -> None:
    player = await cashier_player()
    token = admin_headers("support")["authorization"].removeprefix("Bearer ")
    async with httpx.AsyncClient(base_url=str(cashier_api.base_url)) as http:
        client = HttpCashierClient("unused", token=token, http=http)
        assert (await client.list_payments(uuid.UUID(player.player_id))).items == []


async def test_http_client_when_token_is_a_players_raises_forbidden(
    cashier_api: httpx.AsyncClient, cashier_player: Player
) -> None:
    player = await cashier_player()
    client = HttpCashierClient(str(cashier_api.base_url), token=player.token)
    with pytest.raises(Forbidden):
        await client.list_payments(uuid.UUID(player.player_id))
    await client.aclose()


async def test_http_client_without_token_raises_unauthenticated(cashier_api: httpx.AsyncClient) -> None:
    client = HttpCashierClient(str(cashier_api.base_url))
    with pytest.raises(Unauthenticated):
        await client.provider_health()
    await client.aclose()


async def test_http_client_when_cashier_is_unreachable_raises_service_unavailable() -> None:
    token, _ = token_signer_for_tests().issue(Principal("service", "bonus"))
    client = HttpCashierClient(f"http://127.0.0.1:{free_port()}", token=token, timeout=2)
    with pytest.raises(ServiceUnavailable):
        await client.list_withdrawals()
    await client.aclose()
