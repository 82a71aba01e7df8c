"""The crypto gateway adapter against the simulated gateway, over real HTTP."""

import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from croupier.cashier.providers.base import Outcome, PaymentOrder, WebhookRejected
from croupier.cashier.providers.config import ProviderConfig, simulator_providers
from croupier.cashier.providers.crypto import Adapter

NOW = datetime.now(UTC)


def crypto_config(psp_url: str, **update: Any) -> ProviderConfig:
    config = next(c for c in simulator_providers(psp_url) if c.name == "crypto")
    return config.model_copy(update=update)


@pytest.fixture(autouse=True)
async def no_stale_webhook_target(psp: Any) -> None:
    """A reset keeps the webhook target: without this, webhooks would go to an earlier test's closed sink."""
    await psp.webhooks_to(None)


@pytest.fixture
async def adapter(psp_url: str) -> AsyncIterator[Adapter]:
    crypto = Adapter(crypto_config(psp_url))
    yield crypto
    await crypto.aclose()


def order(kind: str = "deposit", currency: str = "USDT", amount: int = 0, **details: Any) -> PaymentOrder:
    payment_id = uuid.uuid4()
    return PaymentOrder(
        attempt_id=f"{payment_id}-1",
        payment_id=payment_id,
        kind=kind,  # type: ignore[arg-type]
        method="crypto",
        amount=amount,
        currency=currency,
        exponent=6 if currency == "USDT" else 8,
        country="DE",
        player_id="player-7",
        brand_id="brand-1",
        details=details or {"network": "tron"},
    )


async def send_coins(psp: Any, address: str, amount: int, **extra: Any) -> dict[str, Any]:
    response = await psp.http.post(
        f"{psp.url}/crypto/_sim/chain/send", json={"address": address, "amount": amount, **extra}
    )
    response.raise_for_status()
    await psp.drain()  # its webhooks are out before the next block's
    result: dict[str, Any] = response.json()
    return result


async def mine(psp: Any, blocks: int) -> None:
    (await psp.http.post(f"{psp.url}/crypto/_sim/chain/mine", json={"blocks": blocks})).raise_for_status()
    await psp.drain()


async def events_of(adapter: Adapter, deliveries: list[tuple[dict[str, str], bytes]]) -> list[Any]:
    events = []
    for headers, body in deliveries:
        adapter.verify_webhook(headers, body, {}, NOW)
        events.extend(await adapter.parse_webhook(body))
    return events


async def test_start_when_usdt_on_tron_returns_the_players_deposit_address(psp: Any, adapter: Adapter) -> None:
    result = await adapter.start(order(network="tron"))

    assert result.outcome is Outcome.PENDING
    assert result.next_action is not None
    assert result.next_action.type == "crypto_address"
    assert result.next_action.network == "tron"
    assert result.next_action.asset == "USDT"
    assert result.provider_ref == result.next_action.address
    assert result.provider_ref.startswith("T")


async def test_start_when_asked_again_returns_the_same_address_per_network(psp: Any, adapter: Adapter) -> None:
    first = await adapter.start(order(network="ethereum"))
    again = await adapter.start(order(network="ethereum"))
    on_tron = await adapter.start(order(network="tron"))

    assert first.provider_ref == again.provider_ref
    assert first.provider_ref is not None
    assert first.provider_ref.startswith("0x")
    assert on_tron.provider_ref != first.provider_ref


async def test_start_when_network_unknown_is_hard_declined_without_asking(psp: Any, adapter: Adapter) -> None:
    result = await adapter.start(order(network="solana"))

    assert result.outcome is Outcome.HARD_DECLINE
    assert result.error_code == "unsupported_network"
    assert (await psp.stats("crypto"))["api_calls"] == 0


async def test_deposit_when_confirmations_reach_the_network_threshold_succeeds(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    address = (await adapter.start(order(network="tron"))).provider_ref
    transfer = await send_coins(psp, address, 12_500_000)
    await mine(psp, 19)
    await mine(psp, 1)

    events = await events_of(adapter, await webhook_sink.wait_for("crypto", 3))

    assert [e.status for e in events] == ["processing", "processing", "succeeded"]
    assert [e.confirmations for e in events] == [0, 19, 20]
    last = events[-1]
    assert (last.amount, last.currency, last.address, last.network) == (12_500_000, "USDT", address, "tron")
    assert last.tx_hash == transfer["tx_hash"]
    assert last.attempt_id is None


async def test_deposit_when_underpaid_reports_exactly_what_arrived(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    address = (await adapter.start(order(currency="BTC", amount=150_000, network="bitcoin"))).provider_ref
    await send_coins(psp, address, 120_000)

    [event] = await events_of(adapter, await webhook_sink.wait_for("crypto", 1))

    assert (event.amount, event.currency, event.network) == (120_000, "BTC", "bitcoin")


async def test_deposit_when_operator_requires_fewer_confirmations_succeeds_earlier(
    psp: Any, psp_url: str, webhook_sink: Any
) -> None:
    adapter = Adapter(crypto_config(psp_url, options={"confirmations": {"tron": 3}}))
    await psp.webhooks_to(webhook_sink.url)
    address = (await adapter.start(order(network="tron"))).provider_ref
    await send_coins(psp, address, 1_000_000)
    await mine(psp, 3)

    events = await events_of(adapter, await webhook_sink.wait_for("crypto", 2))
    await adapter.aclose()

    assert [(e.status, e.confirmations) for e in events] == [("processing", 0), ("succeeded", 3)]


async def test_deposit_webhook_when_duplicated_carries_the_same_event_id(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults("crypto", webhook_duplicates=1)
    address = (await adapter.start(order(network="bitcoin", currency="BTC"))).provider_ref
    await send_coins(psp, address, 5_000)
    await mine(psp, 2)

    events = await events_of(adapter, await webhook_sink.wait_for("crypto", 4))

    ids = [e.event_id for e in events]
    assert ids[0] == ids[1]
    assert ids[2] == ids[3]
    assert ids[0] != ids[2]
    assert [e.status for e in events] == ["processing", "processing", "succeeded", "succeeded"]


async def test_deposit_webhooks_when_out_of_order_arrive_confirmed_first(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults("crypto", webhook_out_of_order=True)
    address = (await adapter.start(order(network="bitcoin", currency="BTC"))).provider_ref
    await send_coins(psp, address, 5_000, confirmations=6)

    events = await events_of(adapter, await webhook_sink.wait_for("crypto", 2))

    assert [(e.status, e.confirmations) for e in events] == [("succeeded", 6), ("processing", 0)]


@pytest.mark.parametrize(
    ("faults", "outcome", "code"),
    [
        ({"decline": "soft"}, Outcome.SOFT_DECLINE, "network_maintenance"),
        ({"decline": "hard"}, Outcome.HARD_DECLINE, "customer_blocked"),
        ({"error_status": 503}, Outcome.PROVIDER_ERROR, "503"),
    ],
)
async def test_start_when_gateway_fails_maps_to_outcome(
    psp: Any, adapter: Adapter, faults: dict[str, Any], outcome: Outcome, code: str
) -> None:
    await psp.faults("crypto", **faults)

    result = await adapter.start(order())

    assert (result.outcome, result.error_code) == (outcome, code)


async def test_start_when_gateway_hangs_times_out(psp: Any, psp_url: str) -> None:
    adapter = Adapter(crypto_config(psp_url, timeout_seconds=0.5))
    await psp.faults("crypto", timeout=True, count=1)

    result = await adapter.start(order())
    await adapter.aclose()

    assert result.outcome is Outcome.TIMEOUT
    assert result.latency_ms >= 500


async def test_webhook_when_genuine_verifies_and_when_altered_is_refused(
    psp: Any, webhook_sink: Any, adapter: Adapter
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    address = (await adapter.start(order())).provider_ref
    await send_coins(psp, address, 1_000_000)
    [(headers, body)] = await webhook_sink.wait_for("crypto", 1)
    forged = hmac.new(b"not-the-secret", body, hashlib.sha512).hexdigest()

    adapter.verify_webhook(headers, body, {}, NOW)
    with pytest.raises(WebhookRejected) as tampered:
        adapter.verify_webhook(headers, body.replace(b'"amount":"1"', b'"amount":"100"'), {}, NOW)
    with pytest.raises(WebhookRejected) as wrong_secret:
        adapter.verify_webhook({**headers, "x-signature": forged}, body, {}, NOW)
    with pytest.raises(WebhookRejected) as missing:
        adapter.verify_webhook({"content-type": "application/json"}, body, {}, NOW)

    assert (tampered.value.reason, wrong_secret.value.reason) == ("bad_signature", "bad_signature")
    assert missing.value.reason == "missing_signature"


async def test_payout_when_mined_is_confirmed_by_webhook(psp: Any, webhook_sink: Any, adapter: Adapter) -> None:
    await psp.webhooks_to(webhook_sink.url)
    withdrawal = order("withdrawal", "USDT", 25_000_000, network="tron", address="TXyz0000000000000000000000000000")

    result = await adapter.payout(withdrawal)
    await mine(psp, 20)
    events = await events_of(adapter, await webhook_sink.wait_for("crypto", 2))

    assert result.outcome is Outcome.PENDING
    assert result.provider_ref is not None
    assert [e.status for e in events] == ["processing", "succeeded"]
    assert {e.attempt_id for e in events} == {withdrawal.attempt_id}
    assert events[-1].amount == 25_000_000
    assert events[-1].tx_hash is not None


async def test_payout_when_retried_after_error_after_charge_pays_once(psp: Any, adapter: Adapter) -> None:
    await psp.faults("crypto", error_after_charge=True, count=1)
    withdrawal = order("withdrawal", "BTC", 100_000, network="bitcoin", address="bc1qexample")

    first = await adapter.payout(withdrawal)
    retry = await adapter.payout(withdrawal)
    await mine(psp, 2)

    assert first.outcome is Outcome.PROVIDER_ERROR
    assert retry.outcome is Outcome.PENDING
    assert (await psp.stats("crypto"))["charges"] == {withdrawal.attempt_id: 1}
    assert len(await psp.transactions("crypto")) == 1


async def test_status_when_asked_reports_withdrawal_and_deposit_progress(psp: Any, adapter: Adapter) -> None:
    withdrawal = order("withdrawal", "USDT", 3_000_000, network="ethereum", address="0xabc")
    await adapter.payout(withdrawal)
    deposit = order(network="ethereum")
    address = (await adapter.start(deposit)).provider_ref
    awaiting = await adapter.status(deposit.attempt_id, address, "deposit")
    await send_coins(psp, address, 7_000_000)
    await mine(psp, 12)

    paid_out = await adapter.status(withdrawal.attempt_id, None, "withdrawal")
    received = await adapter.status(deposit.attempt_id, address, "deposit")
    unknown = await adapter.status("no-such-attempt", None, "withdrawal")

    assert awaiting is not None
    assert awaiting.status == "pending"
    assert paid_out is not None
    assert (paid_out.status, paid_out.amount) == ("succeeded", 3_000_000)
    assert received is not None
    assert (received.status, received.amount) == ("succeeded", 7_000_000)
    assert unknown is None


async def test_settlement_report_when_discrepancy_injected_shows_lines_and_difference(
    psp: Any, adapter: Adapter
) -> None:
    withdrawal = order("withdrawal", "BTC", 100_000, network="bitcoin", address="bc1qexample")
    await adapter.payout(withdrawal)
    address = (await adapter.start(order(currency="BTC", network="bitcoin"))).provider_ref
    transfer = await send_coins(psp, address, 40_000)
    await mine(psp, 2)
    await psp.discrepancies("crypto", [{"kind": "amount_mismatch", "reference": transfer["tx_hash"]}])

    lines = await adapter.settlement_report(datetime.now(UTC).date())

    by_kind = {line.kind: line for line in lines}
    assert by_kind["withdrawal"].reference == withdrawal.attempt_id
    assert (by_kind["withdrawal"].amount, by_kind["withdrawal"].fee) == (100_000, 2_000)
    assert by_kind["deposit"].reference == transfer["tx_hash"]
    assert by_kind["deposit"].amount == 40_100
    assert {line.status for line in lines} == {"succeeded"}
    assert {line.currency for line in lines} == {"BTC"}
