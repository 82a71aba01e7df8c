"""The M-Pesa (Daraja) adapter against the simulated M-Pesa, over real HTTP."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from croupier.cashier.providers.base import Outcome, PaymentOrder, WebhookRejected
from croupier.cashier.providers.config import ProviderConfig, simulator_providers
from croupier.cashier.providers.mpesa import Adapter

NOW = datetime.now(UTC)


def mpesa_config(psp_url: str, **update: Any) -> ProviderConfig:
    config = next(c for c in simulator_providers(psp_url) if c.name == "mpesa")
    return config.model_copy(update=update)


@pytest.fixture(autouse=True)
async def no_stale_webhook_target(psp: Any) -> None:
    """A reset keeps the webhook target: without this, callbacks would go to an earlier test's closed sink."""
    await psp.webhooks_to(None)


@pytest.fixture
async def adapter(psp_url: str) -> AsyncIterator[Adapter]:
    mpesa = Adapter(mpesa_config(psp_url))
    yield mpesa
    await mpesa.aclose()


def order(
    kind: str = "deposit", amount: int = 50_000, phone: str = "254712345678", webhook_url: str = ""
) -> PaymentOrder:
    payment_id = uuid.uuid4()
    return PaymentOrder(
        attempt_id=f"{payment_id}-1",
        payment_id=payment_id,
        kind=kind,  # type: ignore[arg-type]
        method="mobile_money",
        amount=amount,
        currency="KES",
        exponent=2,
        country="KE",
        player_id="player-7",
        brand_id="brand-1",
        details={"phone": phone},
        webhook_url=webhook_url,
    )


async def events_of(adapter: Adapter, deliveries: list[tuple[dict[str, str], bytes]]) -> list[Any]:
    events = []
    for headers, body in deliveries:
        adapter.verify_webhook(headers, body, {}, NOW)
        events.extend(await adapter.parse_webhook(body))
    return events


async def test_start_when_phone_and_amount_valid_pushes_a_pin_prompt(psp: Any, adapter: Adapter) -> None:
    result = await adapter.start(order())

    assert result.outcome is Outcome.PENDING
    assert result.next_action is not None
    assert result.next_action.type == "approve_on_phone"
    assert result.provider_ref is not None
    assert result.provider_ref.startswith("ws_CO_")


async def test_deposit_when_pin_entered_calls_back_to_the_callback_url_with_success(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    result = await adapter.start(order(webhook_url=f"{webhook_sink.url}/mpesa-callback"))
    await psp.complete("mpesa", result.provider_ref)

    [event] = await events_of(adapter, await webhook_sink.wait_for("mpesa-callback", 1))

    assert (event.status, event.kind, event.provider_ref) == ("succeeded", "deposit", result.provider_ref)
    assert (event.amount, event.currency, event.error_code) == (50_000, "KES", None)


async def test_deposit_when_customer_dismisses_prompt_is_canceled(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    result = await adapter.start(order())
    await psp.complete("mpesa", result.provider_ref, status="failed")

    [event] = await events_of(adapter, await webhook_sink.wait_for("mpesa", 1))

    assert (event.status, event.error_code, event.amount) == ("canceled", "1032", None)


async def test_deposit_when_wrong_pin_entered_fails(psp: Any, webhook_sink: Any, adapter: Adapter) -> None:
    await psp.webhooks_to(webhook_sink.url)
    result = await adapter.start(order())
    control = f"{psp.url}/mpesa/_sim/stk/{result.provider_ref}/result"
    (await psp.http.post(control, json={"ResultCode": 2001})).raise_for_status()

    [event] = await events_of(adapter, await webhook_sink.wait_for("mpesa", 1))

    assert (event.status, event.error_code) == ("failed", "2001")


async def test_start_when_amount_has_cents_is_hard_declined_without_calling(psp: Any, adapter: Adapter) -> None:
    result = await adapter.start(order(amount=50_050))

    assert (result.outcome, result.error_code) == (Outcome.HARD_DECLINE, "invalid_amount")
    assert (await psp.stats("mpesa"))["api_calls"] == 0


async def test_start_when_phone_is_not_mpesa_is_hard_declined(psp: Any, adapter: Adapter) -> None:
    result = await adapter.start(order(phone="4915112345678"))

    assert (result.outcome, result.error_code) == (Outcome.HARD_DECLINE, "invalid_phone")


async def test_start_when_phone_dialled_locally_is_sent_in_international_form(psp: Any, adapter: Adapter) -> None:
    result = await adapter.start(order(phone="0712 345 678"))

    [txn] = await psp.transactions("mpesa")
    assert result.outcome is Outcome.PENDING
    assert txn["data"]["phone"] == "254712345678"


async def test_start_when_repeated_with_same_attempt_prompts_and_charges_once(psp: Any, adapter: Adapter) -> None:
    deposit = order()
    first = await adapter.start(deposit)
    again = await adapter.start(deposit)
    await psp.complete("mpesa", first.provider_ref)

    assert first.provider_ref == again.provider_ref
    assert (await psp.stats("mpesa"))["charges"] == {deposit.attempt_id: 1}


async def test_access_token_when_calls_repeat_is_fetched_once(psp: Any, adapter: Adapter) -> None:
    await adapter.start(order())
    await adapter.start(order())

    assert (await psp.stats("mpesa"))["api_calls"] == 3  # one token, two pushes


@pytest.mark.parametrize(
    ("faults", "outcome", "code"),
    [
        ({"decline": "soft"}, Outcome.SOFT_DECLINE, "500.001.1001"),
        ({"decline": "hard"}, Outcome.HARD_DECLINE, "400.002.02"),
        ({"error_status": 502}, Outcome.PROVIDER_ERROR, "502"),
    ],
)
async def test_start_when_daraja_fails_maps_to_outcome(
    psp: Any, adapter: Adapter, faults: dict[str, Any], outcome: Outcome, code: str
) -> None:
    await psp.faults("mpesa", **faults)

    result = await adapter.start(order())

    assert (result.outcome, result.error_code) == (outcome, code)


async def test_start_when_daraja_hangs_times_out(psp: Any, psp_url: str) -> None:
    adapter = Adapter(mpesa_config(psp_url, timeout_seconds=0.5))
    await psp.faults("mpesa", timeout=True, count=1)

    result = await adapter.start(order())
    await adapter.aclose()

    assert result.outcome is Outcome.TIMEOUT


async def test_callback_when_token_genuine_verifies_and_when_wrong_or_missing_is_refused(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.complete("mpesa", (await adapter.start(order())).provider_ref)
    [(headers, body)] = await webhook_sink.wait_for("mpesa", 1)

    adapter.verify_webhook(headers, body, {}, NOW)
    with pytest.raises(WebhookRejected) as wrong:
        adapter.verify_webhook({**headers, "x-callback-token": "whsec_guess"}, body, {}, NOW)
    with pytest.raises(WebhookRejected) as missing:
        adapter.verify_webhook({"content-type": "application/json"}, body, {}, NOW)

    assert wrong.value.reason == "bad_signature"
    assert missing.value.reason == "missing_signature"


async def test_callback_when_duplicated_carries_the_same_event_id(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults("mpesa", webhook_duplicates=2)
    await psp.complete("mpesa", (await adapter.start(order())).provider_ref)

    events = await events_of(adapter, await webhook_sink.wait_for("mpesa", 3))

    assert len({e.event_id for e in events}) == 1
    assert {e.status for e in events} == {"succeeded"}


async def test_payout_when_accepted_reports_the_b2c_result_with_our_reference(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    withdrawal = order("withdrawal", amount=120_000, webhook_url=f"{webhook_sink.url}/mpesa-result")

    result = await adapter.payout(withdrawal)
    [event] = await events_of(adapter, await webhook_sink.wait_for("mpesa-result", 1))

    assert result.outcome is Outcome.PENDING
    assert (event.kind, event.status, event.attempt_id) == ("withdrawal", "succeeded", withdrawal.attempt_id)
    assert (event.amount, event.provider_ref) == (120_000, result.provider_ref)


async def test_payout_when_retried_after_error_after_charge_pays_once(psp: Any, adapter: Adapter) -> None:
    withdrawal = order("withdrawal", amount=120_000)
    await adapter.start(order())  # the token is fetched before the fault strikes
    await psp.faults("mpesa", error_after_charge=True, count=1)

    first = await adapter.payout(withdrawal)
    retry = await adapter.payout(withdrawal)

    assert first.outcome is Outcome.PROVIDER_ERROR
    assert retry.outcome is Outcome.PENDING
    assert (await psp.stats("mpesa"))["charges"] == {withdrawal.attempt_id: 1}


async def test_status_when_asked_follows_the_stk_push_and_the_b2c_payment(psp: Any, adapter: Adapter) -> None:
    deposit, withdrawal = order(), order("withdrawal")
    ref = (await adapter.start(deposit)).provider_ref
    await adapter.payout(withdrawal)

    waiting = await adapter.status(deposit.attempt_id, ref, "deposit")
    await psp.complete("mpesa", ref)
    paid = await adapter.status(deposit.attempt_id, ref, "deposit")
    paid_out = await adapter.status(withdrawal.attempt_id, None, "withdrawal")
    unknown = await adapter.status("nobody-1", "ws_CO_unknown", "deposit")

    assert waiting is not None
    assert waiting.status == "pending"
    assert paid is not None
    assert (paid.status, paid.attempt_id) == ("succeeded", deposit.attempt_id)
    assert paid_out is not None
    assert (paid_out.status, paid_out.amount) == ("succeeded", 50_000)
    assert unknown is None


async def test_settlement_report_when_line_missing_at_provider_lists_only_the_rest(psp: Any, adapter: Adapter) -> None:
    kept, dropped, withdrawal = order(amount=100_000), order(amount=20_000), order("withdrawal", amount=30_000)
    for deposit in (kept, dropped):
        await psp.complete("mpesa", (await adapter.start(deposit)).provider_ref)
    await adapter.payout(withdrawal)
    await psp.discrepancies("mpesa", [{"kind": "missing_at_provider", "reference": dropped.attempt_id}])

    lines = await adapter.settlement_report(datetime.now(UTC).date())

    by_reference = {line.reference: line for line in lines}
    assert set(by_reference) == {kept.attempt_id, withdrawal.attempt_id}
    assert (by_reference[kept.attempt_id].kind, by_reference[kept.attempt_id].amount) == ("deposit", 100_000)
    assert by_reference[kept.attempt_id].fee == 1_500
    assert (by_reference[withdrawal.attempt_id].kind, by_reference[withdrawal.attempt_id].amount) == (
        "withdrawal",
        30_000,
    )
