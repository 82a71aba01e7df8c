"""The Stripe-protocol adapter against the simulated Stripe provider, over real HTTP."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe
from pydantic import SecretStr

from croupier.cashier.providers.base import Outcome, PaymentOrder, WebhookRejected
from croupier.cashier.providers.config import ProviderConfig, simulator_providers
from croupier.cashier.providers.stripe import Adapter
from tests.conftest import free_port

NAME = "stripe"


@pytest.fixture
def config(psp_url: str) -> ProviderConfig:
    return next(c for c in simulator_providers(psp_url) if c.name == NAME)


@pytest.fixture
async def adapter(config: ProviderConfig) -> AsyncIterator[Adapter]:
    adapter = Adapter(config)
    yield adapter
    await adapter.aclose()


def order(
    kind: str = "deposit", amount: int = 2500, currency: str = "EUR", exponent: int = 2, **details: Any
) -> PaymentOrder:
    payment_id = uuid.uuid4()
    return PaymentOrder(
        attempt_id=f"{payment_id}-1",
        payment_id=payment_id,
        kind=kind,  # type: ignore[arg-type]
        method="card",
        amount=amount,
        currency=currency,
        exponent=exponent,
        country="DE",
        player_id="player-1",
        brand_id="brand-1",
        details=details or {"card_token": "pm_card_visa"},
        return_url="https://casino.example/cashier/return",
    )


def secret(config: ProviderConfig) -> str:
    return config.webhook_secret.get_secret_value()


def now() -> datetime:
    return datetime.now(UTC)


async def test_payment_when_card_is_good_succeeds_and_webhooks_report_processing_then_succeeded(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    payment = order(amount=1234)

    result = await adapter.start(payment)

    assert result.outcome is Outcome.SUCCEEDED
    assert str(result.provider_ref).startswith("pi_")
    assert result.latency_ms > 0
    deliveries = await webhook_sink.wait_for(NAME, 2)
    events = []
    for headers, body in deliveries:
        adapter.verify_webhook(headers, body, {}, now())
        events += await adapter.parse_webhook(body)
    assert [e.status for e in events] == ["processing", "succeeded"]
    assert {e.attempt_id for e in events} == {payment.attempt_id}
    assert {e.provider_ref for e in events} == {result.provider_ref}
    assert (events[1].amount, events[1].currency, events[1].kind) == (1234, "EUR", "deposit")
    assert events[0].event_id != events[1].event_id


async def test_payment_when_same_attempt_id_sent_twice_charges_once(adapter: Adapter, psp: Any) -> None:
    payment = order()

    first = await adapter.start(payment)
    second = await adapter.start(payment)

    assert first.outcome is second.outcome is Outcome.SUCCEEDED
    assert first.provider_ref == second.provider_ref
    assert (await psp.stats(NAME))["charges"] == {payment.attempt_id: 1}


@pytest.mark.parametrize(("decline", "expected"), [("soft", Outcome.SOFT_DECLINE), ("hard", Outcome.HARD_DECLINE)])
async def test_payment_when_decline_fault_is_set_maps_to_its_decline_class(
    adapter: Adapter, psp: Any, decline: str, expected: Outcome
) -> None:
    await psp.faults(NAME, decline=decline)

    result = await adapter.start(order())

    assert result.outcome is expected
    assert (await psp.stats(NAME))["charges"] == {}


@pytest.mark.parametrize(
    ("token", "outcome", "code"),
    [
        ("pm_card_chargeDeclinedInsufficientFunds", Outcome.HARD_DECLINE, "insufficient_funds"),
        ("pm_card_chargeDeclinedStolenCard", Outcome.HARD_DECLINE, "stolen_card"),
        ("pm_card_chargeDeclinedExpiredCard", Outcome.HARD_DECLINE, "expired_card"),
        ("pm_card_chargeDeclinedIncorrectCvc", Outcome.HARD_DECLINE, "incorrect_cvc"),
        ("pm_card_chargeDeclinedProcessingError", Outcome.SOFT_DECLINE, "processing_error"),
        ("pm_card_chargeDeclinedTryAgainLater", Outcome.SOFT_DECLINE, "try_again_later"),
    ],
)
async def test_payment_when_test_token_declines_maps_its_decline_code(
    adapter: Adapter, psp: Any, token: str, outcome: Outcome, code: str
) -> None:
    result = await adapter.start(order(card_token=token))

    assert (result.outcome, result.error_code) == (outcome, code)
    assert result.provider_ref is not None  # Stripe keeps the declined intent


async def test_payment_when_declined_sends_payment_failed_webhook_with_decline_code(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    payment = order(card_token="pm_card_chargeDeclinedInsufficientFunds")

    await adapter.start(payment)

    [(_headers, body)] = await webhook_sink.wait_for(NAME, 1)
    [event] = await adapter.parse_webhook(body)
    assert (event.status, event.error_code, event.attempt_id) == ("failed", "insufficient_funds", payment.attempt_id)
    assert event.raw_type == "payment_intent.payment_failed"


async def test_payment_when_provider_answers_5xx_is_provider_error(adapter: Adapter, psp: Any) -> None:
    await psp.faults(NAME, error_status=503)

    result = await adapter.start(order())

    assert (result.outcome, result.error_code) == (Outcome.PROVIDER_ERROR, "api_error")


async def test_payment_when_provider_does_not_answer_in_time_is_timeout(config: ProviderConfig, psp: Any) -> None:
    await psp.faults(NAME, timeout=True)
    adapter = Adapter(config.model_copy(update={"timeout_seconds": 0.5}))

    result = await adapter.start(order())
    await adapter.aclose()

    assert result.outcome is Outcome.TIMEOUT
    assert 400 < result.latency_ms < 5000


async def test_payment_when_provider_charges_then_fails_is_provider_error_but_status_finds_the_charge(
    adapter: Adapter, psp: Any
) -> None:
    await psp.faults(NAME, error_after_charge=True, count=1)
    payment = order()

    result = await adapter.start(payment)
    found = await adapter.status(payment.attempt_id, None, "deposit")

    assert result.outcome is Outcome.PROVIDER_ERROR
    assert found is not None
    assert (found.status, found.amount) == ("succeeded", payment.amount)


async def test_payment_when_provider_is_unreachable_is_provider_error(config: ProviderConfig) -> None:
    adapter = Adapter(config.model_copy(update={"base_url": f"http://127.0.0.1:{free_port()}/stripe"}))

    result = await adapter.start(order())
    await adapter.aclose()

    assert (result.outcome, result.error_code) == (Outcome.PROVIDER_ERROR, "connection_error")


async def test_payment_when_api_key_is_wrong_is_provider_error(config: ProviderConfig, psp: Any) -> None:
    adapter = Adapter(config.model_copy(update={"api_key": SecretStr("sk_test_wrong")}))

    result = await adapter.start(order())
    await adapter.aclose()

    assert result.outcome is Outcome.PROVIDER_ERROR
    assert result.detail.startswith("HTTP 401")


@pytest.mark.parametrize(
    ("amount", "currency", "exponent"), [(0, "EUR", 2), (100_000_000, "EUR", 2), (1005, "KWD", 3), (10, "BTC", 8)]
)
async def test_payment_when_amount_cannot_be_sent_is_hard_declined_without_calling(
    adapter: Adapter, psp: Any, amount: int, currency: str, exponent: int
) -> None:
    result = await adapter.start(order(amount=amount, currency=currency, exponent=exponent))

    assert (result.outcome, result.error_code) == (Outcome.HARD_DECLINE, "invalid_amount")
    assert (await psp.stats(NAME))["api_calls"] == 0


async def test_payment_when_card_needs_3ds_redirects_and_completes_by_webhook(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    payment = order(card_token="pm_card_threeDSecure2Required")

    result = await adapter.start(payment)
    assert result.outcome is Outcome.PENDING
    assert result.next_action is not None
    assert result.next_action.type == "redirect"
    assert result.next_action.url
    async with httpx.AsyncClient() as browser:
        page = await browser.get(result.next_action.url)

    assert page.status_code == 303
    assert "redirect_status=succeeded" in page.headers["location"]
    _, body = (await webhook_sink.wait_for(NAME, 2))[1]
    [event] = await adapter.parse_webhook(body)
    assert (event.status, event.attempt_id) == ("succeeded", payment.attempt_id)


async def test_verify_webhook_when_signed_by_stripe_package_accepts_it(
    adapter: Adapter, config: ProviderConfig
) -> None:
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"})
    signed_at = int(now().timestamp())
    header = stripe.WebhookSignature.generate_signature_header(payload, secret(config), timestamp=signed_at)

    adapter.verify_webhook({"stripe-signature": header}, payload.encode(), {}, now())


async def test_verify_webhook_when_one_of_several_v1_signatures_matches_accepts_it(
    adapter: Adapter, config: ProviderConfig
) -> None:
    payload = '{"id": "evt_2"}'
    header = stripe.WebhookSignature.generate_signature_header(payload, secret(config))
    rolled = header.replace("v1=", "v1=" + "0" * 64 + ",v1=")  # an old secret's signature first, as during a roll

    adapter.verify_webhook({"stripe-signature": rolled}, payload.encode(), {}, now())


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("tampered_body", "bad_signature"),
        ("wrong_secret", "bad_signature"),
        ("missing_header", "missing_signature"),
        ("stale", "stale_timestamp"),
        ("future", "stale_timestamp"),
    ],
)
async def test_verify_webhook_when_not_authentic_or_not_fresh_refuses_it(
    adapter: Adapter, config: ProviderConfig, case: str, reason: str
) -> None:
    payload = '{"id": "evt_3", "object": "event", "data": {"object": {"amount": 100}}}'
    signed_at = int(now().timestamp()) + {"stale": -301, "future": 301}.get(case, 0)
    key = "whsec_someone_else" if case == "wrong_secret" else secret(config)
    headers = {"stripe-signature": stripe.WebhookSignature.generate_signature_header(payload, key, timestamp=signed_at)}
    body = payload.replace("100", "100000") if case == "tampered_body" else payload
    if case == "missing_header":
        headers = {}

    with pytest.raises(WebhookRejected) as refused:
        adapter.verify_webhook(headers, body.encode(), {}, now())

    assert refused.value.reason == reason


async def test_simulator_webhooks_verify_with_stripe_construct_event(
    adapter: Adapter, config: ProviderConfig, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await adapter.start(order())

    for headers, body in await webhook_sink.wait_for(NAME, 2):
        event = stripe.Webhook.construct_event(body.decode(), headers["stripe-signature"], secret(config))
        assert event.type in ("payment_intent.processing", "payment_intent.succeeded")


async def test_webhooks_when_duplicated_carry_the_same_event_id(adapter: Adapter, psp: Any, webhook_sink: Any) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults(NAME, webhook_duplicates=2)

    await adapter.start(order())

    deliveries = await webhook_sink.wait_for(NAME, 6)
    events = [event for _, body in deliveries for event in await adapter.parse_webhook(body)]
    assert [e.status for e in events] == ["processing"] * 3 + ["succeeded"] * 3
    assert len({e.event_id for e in events}) == 2


async def test_webhooks_when_out_of_order_deliver_succeeded_before_processing(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults(NAME, webhook_out_of_order=True)

    await adapter.start(order())

    deliveries = await webhook_sink.wait_for(NAME, 2)
    events = [event for _, body in deliveries for event in await adapter.parse_webhook(body)]
    assert [e.status for e in events] == ["succeeded", "processing"]


async def test_parse_webhook_when_body_is_not_an_event_refuses_it(adapter: Adapter) -> None:
    with pytest.raises(WebhookRejected) as refused:
        await adapter.parse_webhook(b'{"hello": "world"}')

    assert refused.value.reason == "malformed"


async def test_payout_when_accepted_is_paid_and_webhook_reports_it(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    withdrawal = order(kind="withdrawal", amount=5000, destination="card_1")

    result = await adapter.payout(withdrawal)

    assert result.outcome is Outcome.SUCCEEDED
    assert str(result.provider_ref).startswith("po_")
    bodies = [body for _, body in await webhook_sink.wait_for(NAME, 2)]
    last = (await adapter.parse_webhook(bodies[-1]))[0]
    assert (last.kind, last.status, last.amount) == ("withdrawal", "succeeded", 5000)
    assert last.attempt_id == withdrawal.attempt_id
    assert last.raw_type == "payout.paid"


@pytest.mark.parametrize(("decline", "expected"), [("soft", Outcome.SOFT_DECLINE), ("hard", Outcome.HARD_DECLINE)])
async def test_payout_when_decline_fault_is_set_maps_to_its_decline_class(
    adapter: Adapter, psp: Any, decline: str, expected: Outcome
) -> None:
    await psp.faults(NAME, decline=decline)

    result = await adapter.payout(order(kind="withdrawal"))

    assert result.outcome is expected


async def test_status_when_only_provider_ref_is_known_reports_payout(adapter: Adapter, psp: Any) -> None:
    withdrawal = order(kind="withdrawal", amount=700)
    result = await adapter.payout(withdrawal)

    found = await adapter.status(withdrawal.attempt_id, result.provider_ref, "withdrawal")

    assert found is not None
    assert (found.status, found.amount, found.attempt_id) == ("succeeded", 700, withdrawal.attempt_id)


async def test_status_when_provider_never_saw_the_attempt_is_none(adapter: Adapter, psp: Any) -> None:
    assert await adapter.status("never-sent-1", None, "deposit") is None
    assert await adapter.status("never-sent-1", "pi_unknown", "deposit") is None


async def test_settlement_report_lists_payments_and_payouts_of_the_day(adapter: Adapter, psp: Any) -> None:
    deposit, withdrawal = order(amount=10_000), order(kind="withdrawal", amount=4000)
    paid_in = await adapter.start(deposit)
    paid_out = await adapter.payout(withdrawal)
    await adapter.start(order(card_token="pm_card_chargeDeclinedLostCard"))  # declined: never settled

    lines = await adapter.settlement_report(now().date())

    by_ref = {line.reference: line for line in lines}
    assert set(by_ref) == {deposit.attempt_id, withdrawal.attempt_id}
    line_in, line_out = by_ref[deposit.attempt_id], by_ref[withdrawal.attempt_id]
    assert (line_in.kind, line_in.amount, line_in.fee, line_in.status) == ("deposit", 10_000, 150, "succeeded")
    assert (line_out.kind, line_out.amount, line_out.currency) == ("withdrawal", 4000, "EUR")
    assert (line_in.provider_ref, line_out.provider_ref) == (paid_in.provider_ref, paid_out.provider_ref)
    assert line_in.settled_on == now().date()
    assert await adapter.settlement_report(now().date() - timedelta(days=1)) == []


async def test_settlement_report_when_discrepancies_are_injected_shows_them(adapter: Adapter, psp: Any) -> None:
    kept, altered, dropped, refunded = order(), order(amount=2000), order(), order(amount=3000)
    for payment in (kept, altered, dropped, refunded):
        await adapter.start(payment)
    await psp.discrepancies(
        NAME,
        [
            {"kind": "amount_mismatch", "reference": altered.attempt_id, "amount_delta": 5},
            {"kind": "missing_at_provider", "reference": dropped.attempt_id},
            {"kind": "status_mismatch", "reference": refunded.attempt_id},
            {"kind": "extra_at_provider", "reference": "not-ours-1", "amount": 999},
        ],
    )

    by_ref = {line.reference: line for line in await adapter.settlement_report(now().date())}

    assert set(by_ref) == {kept.attempt_id, altered.attempt_id, refunded.attempt_id, "not-ours-1"}
    assert by_ref[altered.attempt_id].amount == 2005
    assert (by_ref[refunded.attempt_id].status, by_ref[refunded.attempt_id].amount) == ("refunded", 3000)
    assert by_ref["not-ours-1"].amount == 999
