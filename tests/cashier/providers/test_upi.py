"""The UPI (PhonePe-style) adapter against the simulated gateway, over real HTTP."""

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest
from pydantic import SecretStr

from croupier.cashier.providers.base import Outcome, PaymentOrder, WebhookRejected
from croupier.cashier.providers.config import ProviderConfig, simulator_providers
from croupier.cashier.providers.upi import Adapter

NAME = "upi"


def upi_config(psp_url: str, **changes: Any) -> ProviderConfig:
    config = next(c for c in simulator_providers(psp_url) if c.name == NAME)
    return config.model_copy(update=changes)


@pytest.fixture
async def adapter(psp_url: str) -> AsyncIterator[Adapter]:
    adapter = Adapter(upi_config(psp_url))
    yield adapter
    await adapter.aclose()


def order(kind: str = "deposit", amount: int = 50000, **changes: Any) -> PaymentOrder:
    payment_id = uuid4()
    values: dict[str, Any] = {
        "attempt_id": f"{payment_id}-1",
        "payment_id": payment_id,
        "kind": kind,
        "method": "upi",
        "amount": amount,
        "currency": "INR",
        "exponent": 2,
        "country": "IN",
        "player_id": "player-1",
        "brand_id": "brand-1",
        "details": {"vpa": "player.one@okaxis"},
    }
    values.update(changes)
    return PaymentOrder(**values)


async def events_of(adapter: Adapter, delivery: tuple[dict[str, str], bytes]) -> list[Any]:
    headers, body = delivery
    adapter.verify_webhook(headers, body, {}, datetime.now(UTC))
    return await adapter.parse_webhook(body)


async def paid_callback(adapter: Adapter, psp: Any, webhook_sink: Any) -> tuple[dict[str, str], bytes]:
    await psp.webhooks_to(webhook_sink.url)
    deposit = order()
    await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    return (await webhook_sink.wait_for(NAME, 1))[0]


async def test_collect_when_created_asks_the_payer_to_approve_on_their_phone(adapter: Adapter, psp: Any) -> None:
    result = await adapter.start(order())
    assert result.outcome == Outcome.PENDING
    assert result.next_action is not None
    assert result.next_action.type == "approve_on_phone"
    assert "player.one@okaxis" in (result.next_action.message or "")
    [txn] = await psp.transactions(NAME)
    assert (txn["id"], txn["amount"], txn["data"]["vpa"]) == (result.provider_ref, 50000, "player.one@okaxis")


async def test_intent_when_asked_answers_a_upi_pay_link(adapter: Adapter, psp: Any) -> None:
    result = await adapter.start(order(amount=12345, details={"flow": "intent"}))
    assert result.outcome == Outcome.PENDING
    assert result.next_action is not None
    assert result.next_action.type == "upi_intent"
    link = urlsplit(result.next_action.url or "")
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert (link.scheme, link.netloc) == ("upi", "pay")
    assert (query["am"], query["cu"], query["tr"]) == ("123.45", "INR", result.provider_ref)
    assert "@" in query["pa"]


async def test_collect_when_approved_sends_a_callback_parsed_to_a_succeeded_event(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    deposit = order(amount=99900)
    result = await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    [event] = await events_of(adapter, (await webhook_sink.wait_for(NAME, 1))[0])
    assert (event.kind, event.status, event.attempt_id) == ("deposit", "succeeded", deposit.attempt_id)
    assert (event.provider_ref, event.amount, event.currency) == (result.provider_ref, 99900, "INR")
    assert event.event_id == f"{result.provider_ref}:COMPLETED"


async def test_collect_when_the_payer_declines_is_a_failed_event(adapter: Adapter, psp: Any, webhook_sink: Any) -> None:
    await psp.webhooks_to(webhook_sink.url)
    deposit = order()
    await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id, status="failed")
    [event] = await events_of(adapter, (await webhook_sink.wait_for(NAME, 1))[0])
    assert (event.status, event.error_code) == ("failed", "PAYMENT_DECLINED")


async def test_collect_when_the_vpa_is_invalid_is_a_hard_decline(adapter: Adapter, psp: Any) -> None:
    result = await adapter.start(order(details={"vpa": "not-a-vpa"}))
    assert (result.outcome, result.error_code) == (Outcome.HARD_DECLINE, "INVALID_VPA")
    assert await psp.transactions(NAME) == []


async def test_collect_when_started_twice_with_one_attempt_id_charges_once(adapter: Adapter, psp: Any) -> None:
    deposit = order()
    first = await adapter.start(deposit)
    second = await adapter.start(deposit)
    assert (second.outcome, second.provider_ref) == (Outcome.PENDING, first.provider_ref)
    await psp.complete(NAME, deposit.attempt_id)
    assert (await adapter.start(deposit)).outcome == Outcome.SUCCEEDED
    assert (await psp.stats(NAME))["charges"] == {deposit.attempt_id: 1}


@pytest.mark.parametrize(
    ("faults", "outcome", "code"),
    [
        ({"decline": "soft"}, Outcome.SOFT_DECLINE, "ROUTE_UNAVAILABLE"),
        ({"decline": "hard"}, Outcome.HARD_DECLINE, "PAYMENT_DECLINED"),
        ({"error_status": 500}, Outcome.PROVIDER_ERROR, "500"),
    ],
)
async def test_collect_when_the_gateway_refuses_maps_to_the_outcome(
    adapter: Adapter, psp: Any, faults: dict[str, Any], outcome: Outcome, code: str
) -> None:
    await psp.faults(NAME, **faults)
    result = await adapter.start(order())
    assert (result.outcome, result.error_code) == (outcome, code)


async def test_collect_when_the_gateway_hangs_is_a_timeout(psp_url: str, psp: Any) -> None:
    await psp.faults(NAME, timeout=True)
    adapter = Adapter(upi_config(psp_url, timeout_seconds=0.5))
    try:
        result = await adapter.start(order())
    finally:
        await adapter.aclose()
    assert result.outcome == Outcome.TIMEOUT


async def test_collect_when_signed_with_the_wrong_salt_key_is_a_provider_error(psp_url: str, psp: Any) -> None:
    adapter = Adapter(upi_config(psp_url, api_key=SecretStr("not-the-salt")))
    try:
        result = await adapter.start(order())
    finally:
        await adapter.aclose()
    assert (result.outcome, result.error_code) == (Outcome.PROVIDER_ERROR, "AUTHORIZATION_FAILED")


async def test_collect_when_the_gateway_fails_after_creating_it_retry_finds_that_request(
    adapter: Adapter, psp: Any
) -> None:
    await psp.faults(NAME, error_after_charge=True, count=1)
    deposit = order()
    assert (await adapter.start(deposit)).outcome == Outcome.PROVIDER_ERROR
    retried = await adapter.start(deposit)
    [txn] = await psp.transactions(NAME)
    assert (retried.outcome, retried.provider_ref) == (Outcome.PENDING, txn["id"])


async def test_collect_when_the_amount_is_a_fraction_of_a_paisa_is_refused_unsent(adapter: Adapter, psp: Any) -> None:
    result = await adapter.start(order(amount=100005, exponent=3))
    assert (result.outcome, result.error_code) == (Outcome.HARD_DECLINE, "invalid_amount")
    assert (await psp.stats(NAME))["api_calls"] == 0


async def test_callback_when_genuine_verifies_and_when_tampered_is_refused(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    headers, body = await paid_callback(adapter, psp, webhook_sink)
    now = datetime.now(UTC)
    adapter.verify_webhook(headers, body, {}, now)
    payload = json.loads(base64.b64decode(json.loads(body)["response"]))
    payload["data"]["amount"] *= 10
    forged = json.dumps({"response": base64.b64encode(json.dumps(payload).encode()).decode()}).encode()
    with pytest.raises(WebhookRejected) as refused:
        adapter.verify_webhook(headers, forged, {}, now)
    assert refused.value.reason == "bad_signature"


async def test_callback_when_signed_with_another_salt_is_refused(
    psp_url: str, adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    headers, body = await paid_callback(adapter, psp, webhook_sink)
    other = Adapter(upi_config(psp_url, webhook_secret=SecretStr("another-salt")))
    try:
        with pytest.raises(WebhookRejected) as refused:
            other.verify_webhook(headers, body, {}, datetime.now(UTC))
    finally:
        await other.aclose()
    assert refused.value.reason == "bad_signature"


async def test_callback_when_the_salt_index_differs_is_refused(adapter: Adapter, psp: Any, webhook_sink: Any) -> None:
    headers, body = await paid_callback(adapter, psp, webhook_sink)
    digest = headers["x-verify"].split("###")[0]
    with pytest.raises(WebhookRejected) as refused:
        adapter.verify_webhook({"x-verify": f"{digest}###2"}, body, {}, datetime.now(UTC))
    assert refused.value.reason == "bad_signature"


def test_callback_when_unsigned_is_refused_as_missing_signature(adapter: Adapter) -> None:
    with pytest.raises(WebhookRejected) as refused:
        adapter.verify_webhook({}, b'{"response": "e30="}', {}, datetime.now(UTC))
    assert refused.value.reason == "missing_signature"


async def test_callback_when_not_base64_json_is_refused_as_malformed(adapter: Adapter) -> None:
    with pytest.raises(WebhookRejected) as refused:
        await adapter.parse_webhook(b'{"response": "%%% not base64 %%%"}')
    assert refused.value.reason == "malformed"


async def test_callback_when_duplicated_every_copy_carries_the_same_event_id(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.faults(NAME, webhook_duplicates=1)
    await paid_callback(adapter, psp, webhook_sink)
    deliveries = await webhook_sink.wait_for(NAME, 2)
    assert len({(await events_of(adapter, d))[0].event_id for d in deliveries}) == 1


async def test_payout_when_sent_answers_pending_then_calls_back_processing_and_succeeded(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    withdrawal = order("withdrawal", amount=25000)
    result = await adapter.payout(withdrawal)
    assert result.outcome == Outcome.PENDING
    events = [(await events_of(adapter, d))[0] for d in await webhook_sink.wait_for(NAME, 2)]
    assert [(e.kind, e.status, e.attempt_id, e.amount) for e in events] == [
        ("withdrawal", "processing", withdrawal.attempt_id, 25000),
        ("withdrawal", "succeeded", withdrawal.attempt_id, 25000),
    ]


async def test_payout_when_callbacks_come_out_of_order_succeeded_arrives_first(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults(NAME, webhook_out_of_order=True)
    await adapter.payout(order("withdrawal"))
    events = [(await events_of(adapter, d))[0] for d in await webhook_sink.wait_for(NAME, 2)]
    assert [e.status for e in events] == ["succeeded", "processing"]


async def test_payout_when_sent_twice_with_one_attempt_id_pays_once(adapter: Adapter, psp: Any) -> None:
    withdrawal = order("withdrawal")
    first = await adapter.payout(withdrawal)
    again = await adapter.payout(withdrawal)
    assert (again.outcome, again.provider_ref) == (Outcome.SUCCEEDED, first.provider_ref)
    assert (await psp.stats(NAME))["charges"] == {withdrawal.attempt_id: 1}


async def test_payout_when_the_vpa_is_invalid_is_a_hard_decline(adapter: Adapter, psp: Any) -> None:
    result = await adapter.payout(order("withdrawal", details={"vpa": "player@"}))
    assert (result.outcome, result.error_code) == (Outcome.HARD_DECLINE, "INVALID_VPA")


async def test_status_when_queried_follows_the_request_from_pending_to_succeeded(adapter: Adapter, psp: Any) -> None:
    deposit = order()
    await adapter.start(deposit)
    pending = await adapter.status(deposit.attempt_id, None, "deposit")
    assert pending is not None
    assert (pending.status, pending.attempt_id, pending.amount) == ("pending", deposit.attempt_id, 50000)
    await psp.complete(NAME, deposit.attempt_id)
    paid = await adapter.status(deposit.attempt_id, None, "deposit")
    assert paid is not None
    assert paid.status == "succeeded"
    assert await adapter.status(order().attempt_id, None, "deposit") is None


async def test_settlement_report_when_a_day_had_a_deposit_and_a_payout_lists_both(adapter: Adapter, psp: Any) -> None:
    deposit, withdrawal = order(amount=100000), order("withdrawal", amount=40000)
    paid_in = await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    paid_out = await adapter.payout(withdrawal)
    lines = {line.reference: line for line in await adapter.settlement_report(datetime.now(UTC).date())}
    assert set(lines) == {deposit.attempt_id, withdrawal.attempt_id}
    line_in, line_out = lines[deposit.attempt_id], lines[withdrawal.attempt_id]
    assert (line_in.provider_ref, line_in.kind, line_in.amount, line_in.fee) == (
        paid_in.provider_ref,
        "deposit",
        100000,
        1500,
    )
    assert (line_out.provider_ref, line_out.kind, line_out.amount) == (paid_out.provider_ref, "withdrawal", 40000)


async def test_settlement_report_when_a_discrepancy_is_injected_shows_it(adapter: Adapter, psp: Any) -> None:
    deposit = order(amount=100000)
    await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    await psp.discrepancies(
        NAME,
        [
            {"kind": "amount_mismatch", "reference": deposit.attempt_id, "amount_delta": -500},
            {"kind": "extra_at_provider", "reference": "ghost-attempt", "amount": 700, "currency": "INR"},
        ],
    )
    lines = await adapter.settlement_report(datetime.now(UTC).date())
    assert {line.reference: line.amount for line in lines} == {deposit.attempt_id: 99500, "ghost-attempt": 700}
