"""The iDEAL (Mollie-style) adapter against the simulated acquirer, over real HTTP."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from croupier.cashier.providers.base import Outcome, PaymentOrder, WebhookRejected
from croupier.cashier.providers.config import ProviderConfig, simulator_providers
from croupier.cashier.providers.ideal import Adapter

NAME = "ideal"
IBAN = "NL91ABNA0417164300"


def ideal_config(psp_url: str, **changes: Any) -> ProviderConfig:
    config = next(c for c in simulator_providers(psp_url) if c.name == NAME)
    return config.model_copy(update=changes)


@pytest.fixture
async def adapter(psp_url: str) -> AsyncIterator[Adapter]:
    adapter = Adapter(ideal_config(psp_url))
    yield adapter
    await adapter.aclose()


def order(kind: str = "deposit", amount: int = 1000, **changes: Any) -> PaymentOrder:
    payment_id = uuid4()
    values: dict[str, Any] = {
        "attempt_id": f"{payment_id}-1",
        "payment_id": payment_id,
        "kind": kind,
        "method": "ideal",
        "amount": amount,
        "currency": "EUR",
        "exponent": 2,
        "country": "NL",
        "player_id": "player-1",
        "brand_id": "brand-1",
        "details": {"iban": IBAN, "account_holder": "P. Layer"} if kind == "withdrawal" else {},
        "return_url": "https://casino.example/cashier/return",
    }
    values.update(changes)
    return PaymentOrder(**values)


async def events_of(adapter: Adapter, delivery: tuple[dict[str, str], bytes]) -> list[Any]:
    headers, body = delivery
    adapter.verify_webhook(headers, body, {}, datetime.now(UTC))
    return await adapter.parse_webhook(body)


async def test_deposit_when_created_redirects_to_the_bank(adapter: Adapter, psp: Any) -> None:
    result = await adapter.start(order())
    assert result.outcome == Outcome.PENDING
    assert result.provider_ref is not None
    assert result.provider_ref.startswith("tr_")
    assert result.next_action is not None
    assert result.next_action.type == "redirect"
    assert result.next_action.url is not None
    async with httpx.AsyncClient() as http:
        bank = await http.get(result.next_action.url)
    assert bank.status_code == 200
    assert "10.00 EUR" in bank.text


async def test_deposit_when_paid_at_the_bank_webhook_fetches_a_succeeded_event(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    deposit = order(amount=2599)
    result = await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    [delivery] = await webhook_sink.wait_for(NAME, 1)
    assert json.loads(delivery[1]) == {"id": result.provider_ref}
    [event] = await events_of(adapter, delivery)
    assert (event.kind, event.status, event.attempt_id) == ("deposit", "succeeded", deposit.attempt_id)
    assert (event.amount, event.currency, event.event_id) == (2599, "EUR", f"{result.provider_ref}:paid")


async def test_deposit_when_the_customer_lets_it_expire_at_the_bank_page_is_failed(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    result = await adapter.start(order())
    assert result.next_action is not None
    assert result.next_action.url is not None
    async with httpx.AsyncClient() as http:
        back = await http.post(f"{result.next_action.url}?status=expired")
    assert back.status_code == 303
    assert back.headers["location"] == "https://casino.example/cashier/return"
    [event] = await events_of(adapter, (await webhook_sink.wait_for(NAME, 1))[0])
    assert (event.status, event.error_code, event.event_id) == ("failed", "expired", f"{result.provider_ref}:expired")


async def test_deposit_when_started_twice_with_one_attempt_id_makes_one_payment(adapter: Adapter, psp: Any) -> None:
    deposit = order()
    first = await adapter.start(deposit)
    second = await adapter.start(deposit)
    assert second.provider_ref == first.provider_ref
    await psp.complete(NAME, deposit.attempt_id)
    assert (await adapter.start(deposit)).outcome == Outcome.SUCCEEDED
    assert len(await psp.transactions(NAME)) == 1
    assert (await psp.stats(NAME))["charges"] == {deposit.attempt_id: 1}


@pytest.mark.parametrize(
    ("faults", "outcome", "code"),
    [
        ({"decline": "soft"}, Outcome.SOFT_DECLINE, "method"),
        ({"decline": "hard"}, Outcome.HARD_DECLINE, "consumer"),
        ({"error_status": 502}, Outcome.PROVIDER_ERROR, "502"),
    ],
)
async def test_deposit_when_the_provider_refuses_maps_to_the_outcome(
    adapter: Adapter, psp: Any, faults: dict[str, Any], outcome: Outcome, code: str
) -> None:
    await psp.faults(NAME, **faults)
    result = await adapter.start(order())
    assert (result.outcome, result.error_code) == (outcome, code)


async def test_deposit_when_the_provider_hangs_is_a_timeout(psp_url: str, psp: Any) -> None:
    await psp.faults(NAME, timeout=True)
    adapter = Adapter(ideal_config(psp_url, timeout_seconds=0.5))
    try:
        result = await adapter.start(order())
    finally:
        await adapter.aclose()
    assert result.outcome == Outcome.TIMEOUT


async def test_deposit_when_the_api_key_is_wrong_is_a_provider_error(psp_url: str, psp: Any) -> None:
    adapter = Adapter(ideal_config(psp_url, api_key=SecretStr("test_wrong")))
    try:
        result = await adapter.start(order())
    finally:
        await adapter.aclose()
    assert (result.outcome, result.error_code) == (Outcome.PROVIDER_ERROR, "401")


async def test_deposit_when_the_provider_fails_after_creating_it_retry_finds_that_payment(
    adapter: Adapter, psp: Any
) -> None:
    await psp.faults(NAME, error_after_charge=True, count=1)
    deposit = order()
    assert (await adapter.start(deposit)).outcome == Outcome.PROVIDER_ERROR
    retried = await adapter.start(deposit)
    assert retried.outcome == Outcome.PENDING
    [payment] = await psp.transactions(NAME)
    assert retried.provider_ref == payment["id"]


async def test_deposit_when_the_amount_has_more_decimals_than_eur_is_refused_unsent(adapter: Adapter, psp: Any) -> None:
    result = await adapter.start(order(amount=1001, exponent=3))
    assert (result.outcome, result.error_code) == (Outcome.HARD_DECLINE, "invalid_amount")
    assert (await psp.stats(NAME))["api_calls"] == 0


@pytest.mark.parametrize("body", [b"id=tr_abc", b'{"id": "cus_123"}', b'{"payment": "tr_abc"}', b"[]"])
def test_webhook_when_not_an_id_body_is_refused_as_malformed(adapter: Adapter, body: bytes) -> None:
    with pytest.raises(WebhookRejected) as refused:
        adapter.verify_webhook({}, body, {}, datetime.now(UTC))
    assert refused.value.reason == "malformed"


async def test_webhook_when_the_id_is_unknown_to_the_provider_is_refused(adapter: Adapter, psp: Any) -> None:
    body = b'{"id": "tr_forged12345"}'
    adapter.verify_webhook({}, body, {}, datetime.now(UTC))  # the shape is fine: only the provider can tell
    with pytest.raises(WebhookRejected) as refused:
        await adapter.parse_webhook(body)
    assert refused.value.reason == "bad_signature"


async def test_webhook_when_duplicated_every_copy_gives_the_same_event(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults(NAME, webhook_duplicates=2)
    deposit = order()
    await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    deliveries = await webhook_sink.wait_for(NAME, 3)
    events = [(await events_of(adapter, d))[0] for d in deliveries]
    assert {(e.event_id, e.status) for e in events} == {(events[0].event_id, "succeeded")}


async def test_payout_when_webhooks_come_out_of_order_each_fetch_reads_the_final_status(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults(NAME, webhook_out_of_order=True)
    withdrawal = order("withdrawal", amount=5000)
    result = await adapter.payout(withdrawal)
    deliveries = await webhook_sink.wait_for(NAME, 2)
    events = [(await events_of(adapter, d))[0] for d in deliveries]
    assert [(e.status, e.kind, e.attempt_id, e.amount) for e in events] == [
        ("succeeded", "withdrawal", withdrawal.attempt_id, 5000)
    ] * 2
    assert events[0].event_id == f"{result.provider_ref}:paid"


async def test_payout_when_sent_is_pending_and_pays_once_per_attempt(adapter: Adapter, psp: Any) -> None:
    withdrawal = order("withdrawal")
    first = await adapter.payout(withdrawal)
    assert first.outcome == Outcome.PENDING
    assert first.provider_ref is not None
    assert first.provider_ref.startswith("po_")
    again = await adapter.payout(withdrawal)
    assert (again.outcome, again.provider_ref) == (Outcome.SUCCEEDED, first.provider_ref)
    assert (await psp.stats(NAME))["charges"] == {withdrawal.attempt_id: 1}


async def test_payout_when_the_iban_is_invalid_is_a_hard_decline(adapter: Adapter, psp: Any) -> None:
    result = await adapter.payout(order("withdrawal", details={"iban": "NL91ABNA0417164301"}))
    assert (result.outcome, result.error_code) == (Outcome.HARD_DECLINE, "destination.iban")
    assert await psp.transactions(NAME) == []


async def test_status_when_queried_by_payment_id_follows_the_payment(adapter: Adapter, psp: Any) -> None:
    deposit = order()
    result = await adapter.start(deposit)
    pending = await adapter.status(deposit.attempt_id, result.provider_ref, "deposit")
    assert pending is not None
    assert pending.status == "pending"
    await psp.complete(NAME, deposit.attempt_id, status="failed")
    failed = await adapter.status(deposit.attempt_id, result.provider_ref, "deposit")
    assert failed is not None
    assert (failed.status, failed.attempt_id) == ("failed", deposit.attempt_id)


async def test_status_when_the_payment_id_is_unknown_finds_the_attempt_by_metadata(adapter: Adapter, psp: Any) -> None:
    deposit = order(amount=777)
    await adapter.start(order())  # another attempt the search must pass over
    result = await adapter.start(deposit)
    found = await adapter.status(deposit.attempt_id, None, "deposit")
    assert found is not None
    assert (found.provider_ref, found.amount) == (result.provider_ref, 777)
    assert await adapter.status(order().attempt_id, None, "deposit") is None


async def test_settlement_report_when_a_day_had_a_deposit_and_a_payout_lists_both(adapter: Adapter, psp: Any) -> None:
    deposit, withdrawal = order(amount=10000), order("withdrawal", amount=2500)
    paid_in = await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    paid_out = await adapter.payout(withdrawal)
    lines = {line.reference: line for line in await adapter.settlement_report(datetime.now(UTC).date())}
    assert set(lines) == {deposit.attempt_id, withdrawal.attempt_id}
    line_in, line_out = lines[deposit.attempt_id], lines[withdrawal.attempt_id]
    assert (line_in.provider_ref, line_in.kind, line_in.amount, line_in.fee) == (
        paid_in.provider_ref,
        "deposit",
        10000,
        150,
    )
    assert (line_out.provider_ref, line_out.kind, line_out.amount) == (paid_out.provider_ref, "withdrawal", 2500)


async def test_settlement_report_when_a_discrepancy_is_injected_shows_it(adapter: Adapter, psp: Any) -> None:
    kept, dropped = order(), order()
    for deposit in (kept, dropped):
        await adapter.start(deposit)
        await psp.complete(NAME, deposit.attempt_id)
    await psp.discrepancies(
        NAME,
        [
            {"kind": "missing_at_provider", "reference": dropped.attempt_id},
            {"kind": "status_mismatch", "reference": kept.attempt_id},
        ],
    )
    lines = await adapter.settlement_report(datetime.now(UTC).date())
    assert [(line.reference, line.status) for line in lines] == [(kept.attempt_id, "refunded")]
