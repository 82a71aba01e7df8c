"""The Pix adapter against the simulated Pix PSP, over real HTTP."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from pydantic import SecretStr

from croupier.cashier.providers.base import Outcome, PaymentOrder, WebhookRejected
from croupier.cashier.providers.config import ProviderConfig, simulator_providers
from croupier.cashier.providers.pix import Adapter, attempt_id_from_txid, br_code_is_valid, txid_for

NAME = "pix"


def pix_config(psp_url: str, **changes: Any) -> ProviderConfig:
    config = next(c for c in simulator_providers(psp_url) if c.name == NAME)
    return config.model_copy(update=changes)


@pytest.fixture
async def adapter(psp_url: str) -> AsyncIterator[Adapter]:
    adapter = Adapter(pix_config(psp_url))
    yield adapter
    await adapter.aclose()


def order(kind: str = "deposit", amount: int = 1000, **changes: Any) -> PaymentOrder:
    payment_id = uuid4()
    values: dict[str, Any] = {
        "attempt_id": f"{payment_id}-1",
        "payment_id": payment_id,
        "kind": kind,
        "method": "pix",
        "amount": amount,
        "currency": "BRL",
        "exponent": 2,
        "country": "BR",
        "player_id": "player-1",
        "brand_id": "brand-1",
        "details": {"pix_key": "player@example.com"} if kind == "withdrawal" else {},
    }
    values.update(changes)
    return PaymentOrder(**values)


async def verified_events(adapter: Adapter, delivery: tuple[dict[str, str], bytes]) -> list[Any]:
    headers, body = delivery
    adapter.verify_webhook(headers, body, {}, datetime.now(UTC))
    return await adapter.parse_webhook(body)


def test_txid_when_derived_from_an_attempt_id_is_a_valid_txid_that_maps_back() -> None:
    attempt_id = f"{uuid4()}-12"
    txid = txid_for(attempt_id)
    assert txid.isalnum()
    assert 26 <= len(txid) <= 35
    assert attempt_id_from_txid(txid) == attempt_id


async def test_deposit_when_created_answers_a_qr_code_with_a_valid_br_code(adapter: Adapter, psp: Any) -> None:
    deposit = order()
    result = await adapter.start(deposit)
    assert result.outcome == Outcome.PENDING
    assert result.provider_ref == txid_for(deposit.attempt_id)
    assert result.next_action is not None
    assert result.next_action.type == "qr"
    code = result.next_action.copy_paste
    assert code is not None
    assert code.startswith("000201")
    assert br_code_is_valid(code)
    assert "540510.00" in code  # field 54, the amount in reais
    assert result.next_action.qr_data == code


async def test_deposit_when_paid_sends_a_webhook_parsed_to_a_succeeded_event(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    deposit = order(amount=2550)
    result = await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    [delivery] = await webhook_sink.wait_for(NAME, 1)
    [event] = await verified_events(adapter, delivery)
    assert (event.kind, event.status, event.attempt_id) == ("deposit", "succeeded", deposit.attempt_id)
    assert (event.provider_ref, event.amount, event.currency) == (result.provider_ref, 2550, "BRL")
    assert event.event_id.startswith("E")


async def test_deposit_when_underpaid_reports_the_amount_received(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    deposit = order(amount=1000)
    await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id, amount=750)
    [event] = await verified_events(adapter, (await webhook_sink.wait_for(NAME, 1))[0])
    assert event.amount == 750


async def test_deposit_when_started_twice_with_one_attempt_id_makes_one_charge(adapter: Adapter, psp: Any) -> None:
    deposit = order()
    first = await adapter.start(deposit)
    second = await adapter.start(deposit)
    assert second.outcome == Outcome.PENDING
    assert second.provider_ref == first.provider_ref
    await psp.complete(NAME, deposit.attempt_id)
    third = await adapter.start(deposit)
    assert third.outcome == Outcome.SUCCEEDED
    assert len(await psp.transactions(NAME)) == 1
    assert (await psp.stats(NAME))["charges"] == {deposit.attempt_id: 1}


@pytest.mark.parametrize(
    ("faults", "outcome", "code"),
    [
        ({"decline": "soft"}, Outcome.SOFT_DECLINE, "LimiteExcedido"),
        ({"decline": "hard"}, Outcome.HARD_DECLINE, "CobOperacaoInvalida"),
        ({"error_status": 503}, Outcome.PROVIDER_ERROR, "503"),
    ],
)
async def test_deposit_when_the_psp_refuses_maps_to_the_outcome(
    adapter: Adapter, psp: Any, faults: dict[str, Any], outcome: Outcome, code: str
) -> None:
    await psp.faults(NAME, **faults)
    result = await adapter.start(order())
    assert (result.outcome, result.error_code) == (outcome, code)


async def test_deposit_when_the_psp_hangs_is_a_timeout(psp_url: str, psp: Any) -> None:
    await psp.faults(NAME, timeout=True)
    adapter = Adapter(pix_config(psp_url, timeout_seconds=0.5))
    try:
        result = await adapter.start(order())
    finally:
        await adapter.aclose()
    assert result.outcome == Outcome.TIMEOUT


async def test_deposit_when_the_api_key_is_wrong_is_a_provider_error(psp_url: str, psp: Any) -> None:
    adapter = Adapter(pix_config(psp_url, api_key=SecretStr("wrong")))
    try:
        result = await adapter.start(order())
    finally:
        await adapter.aclose()
    assert (result.outcome, result.error_code) == (Outcome.PROVIDER_ERROR, "401")


async def test_deposit_when_the_psp_fails_after_creating_the_charge_retry_finds_that_charge(
    adapter: Adapter, psp: Any
) -> None:
    await psp.faults(NAME, error_after_charge=True, count=1)
    deposit = order()
    assert (await adapter.start(deposit)).outcome == Outcome.PROVIDER_ERROR
    retried = await adapter.start(deposit)
    assert retried.outcome == Outcome.PENDING
    assert retried.provider_ref == txid_for(deposit.attempt_id)
    assert len(await psp.transactions(NAME)) == 1


async def test_deposit_when_the_amount_has_more_decimals_than_brl_is_refused_unsent(adapter: Adapter, psp: Any) -> None:
    result = await adapter.start(order(amount=10005, exponent=3))
    assert (result.outcome, result.error_code) == (Outcome.HARD_DECLINE, "invalid_amount")
    assert (await psp.stats(NAME))["api_calls"] == 0


async def test_webhook_when_genuine_verifies_and_when_altered_is_refused(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    deposit = order()
    await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    [(headers, body)] = await webhook_sink.wait_for(NAME, 1)
    now = datetime.now(UTC)
    adapter.verify_webhook(headers, body, {}, now)
    tampered = body.replace(b'"10.00"', b'"99.00"')
    assert tampered != body
    with pytest.raises(WebhookRejected) as refused:
        adapter.verify_webhook(headers, tampered, {}, now)
    assert refused.value.reason == "bad_signature"


async def test_webhook_when_signed_with_another_secret_is_refused(
    psp_url: str, adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    deposit = order()
    await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    [(headers, body)] = await webhook_sink.wait_for(NAME, 1)
    other = Adapter(pix_config(psp_url, webhook_secret=SecretStr("whsec_someone_else")))
    with pytest.raises(WebhookRejected) as refused:
        other.verify_webhook(headers, body, {}, datetime.now(UTC))
    await other.aclose()
    assert refused.value.reason == "bad_signature"


def test_webhook_when_unsigned_is_refused_as_missing_signature(adapter: Adapter) -> None:
    with pytest.raises(WebhookRejected) as refused:
        adapter.verify_webhook({"content-type": "application/json"}, b'{"pix":[]}', {}, datetime.now(UTC))
    assert refused.value.reason == "missing_signature"


async def test_webhook_when_not_a_pix_body_is_refused_as_malformed(adapter: Adapter) -> None:
    with pytest.raises(WebhookRejected) as refused:
        await adapter.parse_webhook(b'{"evento": "outro"}')
    assert refused.value.reason == "malformed"


async def test_webhook_when_duplicated_every_copy_carries_the_same_event_id(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults(NAME, webhook_duplicates=2)
    deposit = order()
    await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    deliveries = await webhook_sink.wait_for(NAME, 3)
    ids = {(await verified_events(adapter, d))[0].event_id for d in deliveries}
    assert len(ids) == 1


async def test_payout_when_sent_answers_pending_then_webhooks_processing_and_succeeded(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    withdrawal = order("withdrawal", amount=4200)
    result = await adapter.payout(withdrawal)
    assert result.outcome == Outcome.PENDING
    assert result.provider_ref == txid_for(withdrawal.attempt_id)
    deliveries = await webhook_sink.wait_for(NAME, 2)
    events = [(await verified_events(adapter, d))[0] for d in deliveries]
    assert [e.status for e in events] == ["processing", "succeeded"]
    assert {(e.kind, e.attempt_id, e.amount) for e in events} == {("withdrawal", withdrawal.attempt_id, 4200)}
    assert len({e.event_id for e in events}) == 2


async def test_payout_when_webhooks_come_out_of_order_succeeded_arrives_first(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults(NAME, webhook_out_of_order=True)
    await adapter.payout(order("withdrawal"))
    deliveries = await webhook_sink.wait_for(NAME, 2)
    assert [(await verified_events(adapter, d))[0].status for d in deliveries] == ["succeeded", "processing"]


async def test_payout_when_the_pix_key_is_invalid_is_a_hard_decline(adapter: Adapter, psp: Any) -> None:
    result = await adapter.payout(order("withdrawal", details={"pix_key": "not a key"}))
    assert (result.outcome, result.error_code) == (Outcome.HARD_DECLINE, "PixOperacaoInvalida")
    assert await psp.transactions(NAME) == []


async def test_payout_when_sent_twice_with_one_attempt_id_pays_once(adapter: Adapter, psp: Any) -> None:
    withdrawal = order("withdrawal")
    await adapter.payout(withdrawal)
    again = await adapter.payout(withdrawal)
    assert again.outcome == Outcome.SUCCEEDED
    assert (await psp.stats(NAME))["charges"] == {withdrawal.attempt_id: 1}


async def test_status_when_queried_follows_the_charge_from_pending_to_succeeded(adapter: Adapter, psp: Any) -> None:
    deposit = order()
    result = await adapter.start(deposit)
    pending = await adapter.status(deposit.attempt_id, result.provider_ref, "deposit")
    assert pending is not None
    assert (pending.status, pending.amount) == ("pending", 1000)
    await psp.complete(NAME, deposit.attempt_id, amount=1200)
    paid = await adapter.status(deposit.attempt_id, None, "deposit")
    assert paid is not None
    assert (paid.status, paid.amount) == ("succeeded", 1200)


async def test_status_when_the_charge_expired_is_failed_without_a_webhook(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    deposit = order()
    await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id, status="failed")
    expired = await adapter.status(deposit.attempt_id, None, "deposit")
    assert expired is not None
    assert expired.status == "failed"
    await psp.drain()
    assert webhook_sink.received.get(NAME, []) == []


async def test_status_when_the_attempt_is_unknown_is_none(adapter: Adapter, psp: Any) -> None:
    assert await adapter.status(order().attempt_id, None, "deposit") is None
    assert await adapter.status(order().attempt_id, None, "withdrawal") is None


async def test_settlement_report_when_a_day_had_a_deposit_and_a_payout_lists_both(adapter: Adapter, psp: Any) -> None:
    deposit, withdrawal = order(amount=10000), order("withdrawal", amount=3000)
    await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    await adapter.payout(withdrawal)
    lines = await adapter.settlement_report(datetime.now(UTC).date())
    by_reference = {line.reference: line for line in lines}
    assert set(by_reference) == {deposit.attempt_id, withdrawal.attempt_id}
    paid_in = by_reference[deposit.attempt_id]
    assert (paid_in.kind, paid_in.amount, paid_in.fee, paid_in.currency) == ("deposit", 10000, 150, "BRL")
    assert paid_in.provider_ref == txid_for(deposit.attempt_id)
    assert (by_reference[withdrawal.attempt_id].kind, by_reference[withdrawal.attempt_id].amount) == (
        "withdrawal",
        3000,
    )


async def test_settlement_report_when_a_discrepancy_is_injected_shows_it(adapter: Adapter, psp: Any) -> None:
    deposit = order(amount=10000)
    await adapter.start(deposit)
    await psp.complete(NAME, deposit.attempt_id)
    await psp.discrepancies(
        NAME,
        [
            {"kind": "amount_mismatch", "reference": deposit.attempt_id, "amount_delta": 25},
            {"kind": "extra_at_provider", "reference": "unknown-attempt", "amount": 500, "currency": "BRL"},
        ],
    )
    lines = await adapter.settlement_report(datetime.now(UTC).date())
    amounts = {line.reference: line.amount for line in lines}
    assert amounts == {deposit.attempt_id: 10025, "unknown-attempt": 500}


async def test_settlement_report_when_nothing_settled_that_day_is_empty(adapter: Adapter, psp: Any) -> None:
    await adapter.start(order())  # still waiting for the payer: not settled
    assert await adapter.settlement_report(datetime.now(UTC).date()) == []
