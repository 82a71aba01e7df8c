"""The e-wallet (Xendit-shaped) adapter against the simulated gateway, over real HTTP."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from croupier.cashier.providers.base import Outcome, PaymentOrder, WebhookRejected
from croupier.cashier.providers.config import ProviderConfig, simulator_providers
from croupier.cashier.providers.ewallet import Adapter

NOW = datetime.now(UTC)


def ewallet_config(psp_url: str, **update: Any) -> ProviderConfig:
    config = next(c for c in simulator_providers(psp_url) if c.name == "ewallet")
    return config.model_copy(update=update)


@pytest.fixture(autouse=True)
async def no_stale_webhook_target(psp: Any) -> None:
    """A reset keeps the webhook target: without this, callbacks would go to an earlier test's closed sink."""
    await psp.webhooks_to(None)


@pytest.fixture
async def adapter(psp_url: str) -> AsyncIterator[Adapter]:
    ewallet = Adapter(ewallet_config(psp_url))
    yield ewallet
    await ewallet.aclose()


def order(
    kind: str = "deposit", amount: int = 150_050, currency: str = "PHP", channel: str = "PH_GCASH", **details: Any
) -> PaymentOrder:
    payment_id = uuid.uuid4()
    return PaymentOrder(
        attempt_id=f"{payment_id}-1",
        payment_id=payment_id,
        kind=kind,  # type: ignore[arg-type]
        method="ewallet",
        amount=amount,
        currency=currency,
        exponent=2,
        country="PH",
        player_id="player-7",
        brand_id="brand-1",
        details={"channel": channel, **details},
        return_url="https://casino.example/cashier/return",
    )


async def events_of(adapter: Adapter, deliveries: list[tuple[dict[str, str], bytes]]) -> list[Any]:
    events = []
    for headers, body in deliveries:
        adapter.verify_webhook(headers, body, {}, NOW)
        events.extend(await adapter.parse_webhook(body))
    return events


async def test_start_when_gcash_returns_a_redirect_to_the_wallet_checkout(psp: Any, adapter: Adapter) -> None:
    result = await adapter.start(order())

    [charge] = await psp.transactions("ewallet")
    assert result.outcome is Outcome.PENDING
    assert result.provider_ref == charge["id"]
    assert result.next_action is not None
    assert result.next_action.type == "redirect"
    assert result.next_action.url == f"https://ewallet.sim/ph_gcash/{charge['id']}/checkout"
    assert charge["amount"] == 150_050


async def test_start_when_channel_is_qr_based_returns_a_qr_code(psp: Any, adapter: Adapter) -> None:
    result = await adapter.start(order(currency="CNY", channel="CN_ALIPAY"))

    assert result.next_action is not None
    assert result.next_action.type == "qr"
    assert result.next_action.qr_data == f"https://qr.alipay.sim/{result.provider_ref}"


async def test_start_when_channel_does_not_take_the_currency_is_hard_declined(psp: Any, adapter: Adapter) -> None:
    result = await adapter.start(order(currency="SGD", channel="PH_GCASH"))

    assert (result.outcome, result.error_code) == (Outcome.HARD_DECLINE, "invalid_channel")
    assert (await psp.stats("ewallet"))["api_calls"] == 0


async def test_charge_when_player_approves_is_captured_by_callback(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    deposit = order()
    result = await adapter.start(deposit)
    await psp.complete("ewallet", result.provider_ref)

    [event] = await events_of(adapter, await webhook_sink.wait_for("ewallet", 1))

    assert (event.status, event.attempt_id, event.provider_ref) == (
        "succeeded",
        deposit.attempt_id,
        result.provider_ref,
    )
    assert (event.amount, event.currency, event.raw_type) == (150_050, "PHP", "ewallet.capture")


async def test_charge_when_player_declines_fails_with_the_reason(psp: Any, webhook_sink: Any, adapter: Adapter) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.complete("ewallet", (await adapter.start(order())).provider_ref, status="failed")

    [event] = await events_of(adapter, await webhook_sink.wait_for("ewallet", 1))

    assert (event.status, event.error_code, event.amount) == ("failed", "USER_DECLINED_PAYMENT", None)


async def test_start_when_repeated_with_same_attempt_charges_once(psp: Any, adapter: Adapter) -> None:
    deposit = order()
    first = await adapter.start(deposit)
    again = await adapter.start(deposit)
    await psp.complete("ewallet", first.provider_ref)

    assert first.provider_ref == again.provider_ref
    assert (await psp.stats("ewallet"))["charges"] == {deposit.attempt_id: 1}


@pytest.mark.parametrize(
    ("faults", "outcome", "code"),
    [
        ({"decline": "soft"}, Outcome.SOFT_DECLINE, "CHANNEL_UNAVAILABLE"),
        ({"decline": "hard"}, Outcome.HARD_DECLINE, "ACCOUNT_ACCESS_BLOCKED"),
        ({"error_status": 500}, Outcome.PROVIDER_ERROR, "500"),
    ],
)
async def test_start_when_gateway_fails_maps_to_outcome(
    psp: Any, adapter: Adapter, faults: dict[str, Any], outcome: Outcome, code: str
) -> None:
    await psp.faults("ewallet", **faults)

    result = await adapter.start(order())

    assert (result.outcome, result.error_code) == (outcome, code)


async def test_start_when_gateway_hangs_times_out(psp: Any, psp_url: str) -> None:
    adapter = Adapter(ewallet_config(psp_url, timeout_seconds=0.5))
    await psp.faults("ewallet", timeout=True, count=1)

    result = await adapter.start(order())
    await adapter.aclose()

    assert result.outcome is Outcome.TIMEOUT


async def test_start_when_api_key_wrong_is_a_provider_error(psp: Any, psp_url: str) -> None:
    adapter = Adapter(ewallet_config(psp_url, api_key=SecretStr("xnd_wrong")))

    result = await adapter.start(order())
    await adapter.aclose()

    assert (result.outcome, result.error_code) == (Outcome.PROVIDER_ERROR, "INVALID_API_KEY")


async def test_callback_when_token_genuine_verifies_and_when_wrong_or_missing_is_refused(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.complete("ewallet", (await adapter.start(order())).provider_ref)
    [(headers, body)] = await webhook_sink.wait_for("ewallet", 1)

    adapter.verify_webhook(headers, body, {}, NOW)
    with pytest.raises(WebhookRejected) as wrong:
        adapter.verify_webhook({**headers, "x-callback-token": "whsec_sim_ewallet_guess"}, body, {}, NOW)
    with pytest.raises(WebhookRejected) as missing:
        adapter.verify_webhook({"content-type": "application/json"}, body, {}, NOW)

    assert wrong.value.reason == "bad_signature"
    assert missing.value.reason == "missing_signature"


async def test_callback_when_duplicated_carries_the_same_event_id(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults("ewallet", webhook_duplicates=1)
    await psp.complete("ewallet", (await adapter.start(order())).provider_ref)

    events = await events_of(adapter, await webhook_sink.wait_for("ewallet", 2))

    assert events[0].event_id == events[1].event_id
    assert events[0] == events[1]


async def test_payout_when_sent_to_a_wallet_is_confirmed_by_callback(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    withdrawal = order("withdrawal", amount=99_900, phone="09171234567")

    result = await adapter.payout(withdrawal)
    [event] = await events_of(adapter, await webhook_sink.wait_for("ewallet", 1))

    assert result.outcome is Outcome.PENDING
    assert (event.kind, event.status, event.attempt_id, event.amount) == (
        "withdrawal",
        "succeeded",
        withdrawal.attempt_id,
        99_900,
    )
    assert event.raw_type == "payout.succeeded"


async def test_payout_when_retried_after_error_after_charge_pays_once(psp: Any, adapter: Adapter) -> None:
    await psp.faults("ewallet", error_after_charge=True, count=1)
    withdrawal = order("withdrawal", amount=99_900, phone="09171234567")

    first = await adapter.payout(withdrawal)
    retry = await adapter.payout(withdrawal)

    assert first.outcome is Outcome.PROVIDER_ERROR
    assert retry.outcome is Outcome.SUCCEEDED  # the retry learns the first call paid
    assert (await psp.stats("ewallet"))["charges"] == {withdrawal.attempt_id: 1}


async def test_status_when_asked_by_id_or_reference_follows_the_charge(psp: Any, adapter: Adapter) -> None:
    deposit = order()
    ref = (await adapter.start(deposit)).provider_ref
    waiting = await adapter.status(deposit.attempt_id, ref, "deposit")
    await psp.complete("ewallet", ref)

    by_reference = await adapter.status(deposit.attempt_id, None, "deposit")
    unknown = await adapter.status("nobody-1", None, "deposit")

    assert waiting is not None
    assert waiting.status == "pending"
    assert by_reference is not None
    assert (by_reference.status, by_reference.provider_ref, by_reference.amount) == ("succeeded", ref, 150_050)
    assert unknown is None


async def test_settlement_report_when_amount_mismatch_injected_shows_it(psp: Any, adapter: Adapter) -> None:
    deposit, withdrawal = order(amount=100_000), order("withdrawal", amount=20_000, phone="09171234567")
    await psp.complete("ewallet", (await adapter.start(deposit)).provider_ref)
    await adapter.payout(withdrawal)
    await psp.discrepancies("ewallet", [{"kind": "amount_mismatch", "reference": deposit.attempt_id}])

    lines = await adapter.settlement_report(datetime.now(UTC).date())

    by_reference = {line.reference: line for line in lines}
    assert (by_reference[deposit.attempt_id].kind, by_reference[deposit.attempt_id].amount) == ("deposit", 100_100)
    assert by_reference[deposit.attempt_id].fee == 1_500
    assert (by_reference[withdrawal.attempt_id].kind, by_reference[withdrawal.attempt_id].amount) == (
        "withdrawal",
        20_000,
    )
