"""The Adyen-protocol adapter against the simulated Adyen provider, over real HTTP."""

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from croupier.cashier.providers.adyen import Adapter
from croupier.cashier.providers.base import Outcome, PaymentOrder, WebhookRejected
from croupier.cashier.providers.config import ProviderConfig, simulator_providers
from tests.conftest import free_port

NAME = "adyen"
#: A key as Adyen's Customer Area shows one: 64 hex digits.
HEX_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"


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
        country="NL",
        player_id="player-1",
        brand_id="brand-1",
        details=details or {"card_token": "8415995487234100"},
        return_url="https://casino.example/cashier/return",
    )


def now() -> datetime:
    return datetime.now(UTC)


def signed_notification(key: bytes, *items: dict[str, Any]) -> bytes:
    """A standard notification signed the way Adyen documents it (written here independently of the adapter)."""
    for item in items:
        amount = item["amount"]
        message = ":".join(
            [
                item["pspReference"],
                item.get("originalReference", ""),
                item["merchantAccountCode"],
                item["merchantReference"],
                str(amount["value"]),
                amount["currency"],
                item["eventCode"],
                item["success"],
            ]
        )
        signature = base64.b64encode(hmac.new(key, message.encode(), hashlib.sha256).digest()).decode()
        item.setdefault("additionalData", {})["hmacSignature"] = signature
    return json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": i} for i in items]}).encode()


def item(**changes: Any) -> dict[str, Any]:
    base = {
        "pspReference": "7914073381342284",
        "merchantAccountCode": "CroupierECOM",
        "merchantReference": "pay-1-1",
        "amount": {"value": 1130, "currency": "EUR"},
        "eventCode": "AUTHORISATION",
        "success": "true",
        "eventDate": "2019-06-28T18:03:50+01:00",
    }
    return {**base, **changes}


async def events_of(adapter: Adapter, deliveries: list[tuple[dict[str, str], bytes]]) -> list[Any]:
    events = []
    for headers, body in deliveries:
        adapter.verify_webhook(headers, body, {}, now())
        events += await adapter.parse_webhook(body)
    return events


async def test_payment_when_card_is_good_is_authorised_and_webhooks_report_authorisation_and_capture(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    payment = order(amount=1234)

    result = await adapter.start(payment)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.provider_ref
    events = await events_of(adapter, await webhook_sink.wait_for(NAME, 2))
    assert [(e.raw_type, e.status) for e in events] == [("AUTHORISATION", "succeeded"), ("CAPTURE", "succeeded")]
    assert {(e.attempt_id, e.provider_ref, e.amount, e.currency) for e in events} == {
        (payment.attempt_id, result.provider_ref, 1234, "EUR")
    }
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
    ("holder_name", "outcome", "code"),
    [
        ("NOT_ENOUGH_BALANCE", Outcome.HARD_DECLINE, "12"),
        ("CARD_EXPIRED", Outcome.HARD_DECLINE, "6"),
        ("CVC_DECLINED", Outcome.HARD_DECLINE, "24"),
        ("FRAUD", Outcome.HARD_DECLINE, "20"),
        ("ISSUER_UNAVAILABLE", Outcome.SOFT_DECLINE, "9"),
        ("ACQUIRER_ERROR", Outcome.SOFT_DECLINE, "4"),
    ],
)
async def test_payment_when_test_holder_name_is_refused_maps_its_refusal_code(
    adapter: Adapter, psp: Any, holder_name: str, outcome: Outcome, code: str
) -> None:
    result = await adapter.start(order(card_token="8415995487234100", holder_name=holder_name))

    assert (result.outcome, result.error_code) == (outcome, code)


async def test_payment_when_refused_sends_unsuccessful_authorisation_webhook(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    payment = order(card_token="8415995487234100", holder_name="NOT_ENOUGH_BALANCE")

    await adapter.start(payment)

    [event] = await events_of(adapter, await webhook_sink.wait_for(NAME, 1))
    assert (event.status, event.error_code, event.attempt_id) == ("failed", "Not enough balance", payment.attempt_id)


async def test_payment_when_provider_answers_5xx_is_provider_error(adapter: Adapter, psp: Any) -> None:
    await psp.faults(NAME, error_status=502)

    result = await adapter.start(order())

    assert (result.outcome, result.error_code) == (Outcome.PROVIDER_ERROR, "502")


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
    assert (found.status, found.amount, found.attempt_id) == ("succeeded", payment.amount, payment.attempt_id)


async def test_payment_when_provider_is_unreachable_is_provider_error(config: ProviderConfig) -> None:
    adapter = Adapter(config.model_copy(update={"base_url": f"http://127.0.0.1:{free_port()}/adyen"}))

    result = await adapter.start(order())
    await adapter.aclose()

    assert (result.outcome, result.error_code) == (Outcome.PROVIDER_ERROR, "connection_error")


async def test_payment_when_api_key_is_wrong_is_provider_error(config: ProviderConfig, psp: Any) -> None:
    adapter = Adapter(config.model_copy(update={"api_key": SecretStr("AQE_wrong")}))

    result = await adapter.start(order())
    await adapter.aclose()

    assert result.outcome is Outcome.PROVIDER_ERROR
    assert result.detail.startswith("HTTP 401")


@pytest.mark.parametrize(("amount", "currency", "exponent"), [(0, "EUR", 2), (50_000, "JPY", 2), (10, "BTC", 8)])
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
    payment = order(card_token="3DS2_REQUIRED")

    result = await adapter.start(payment)
    assert result.outcome is Outcome.PENDING
    assert result.next_action is not None
    assert result.next_action.type == "redirect"
    async with httpx.AsyncClient() as browser:
        page = await browser.get(str(result.next_action.url))

    assert page.status_code == 303
    assert page.headers["location"].startswith(f"{payment.return_url}?redirectResult=")
    events = await events_of(adapter, await webhook_sink.wait_for(NAME, 2))
    assert [(e.raw_type, e.status, e.attempt_id) for e in events] == [
        ("AUTHORISATION", "succeeded", payment.attempt_id),
        ("CAPTURE", "succeeded", payment.attempt_id),
    ]


async def test_verify_webhook_when_signed_with_a_hex_key_accepts_it(config: ProviderConfig) -> None:
    adapter = Adapter(config.model_copy(update={"webhook_secret": SecretStr(HEX_KEY)}))
    body = signed_notification(bytes.fromhex(HEX_KEY), item(), item(eventCode="CAPTURE", originalReference="X1"))

    adapter.verify_webhook({}, body, {}, now())
    events = await adapter.parse_webhook(body)
    await adapter.aclose()

    assert [e.provider_ref for e in events] == ["7914073381342284", "X1"]


async def test_verify_webhook_when_event_date_is_old_still_accepts_it(adapter: Adapter, config: ProviderConfig) -> None:
    # Adyen signs no timestamp: a retried notification days later is genuine (dedup by event id handles replays).
    key = config.webhook_secret.get_secret_value().encode()
    body = signed_notification(key, item(eventDate=(now() - timedelta(days=3)).isoformat()))

    adapter.verify_webhook({}, body, {}, now())


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("tampered_amount", "bad_signature"),
        ("wrong_key", "bad_signature"),
        ("one_item_forged", "bad_signature"),
        ("missing_signature", "missing_signature"),
        ("not_json", "malformed"),
    ],
)
async def test_verify_webhook_when_not_authentic_refuses_it(
    adapter: Adapter, config: ProviderConfig, case: str, reason: str
) -> None:
    key = b"someone else" if case == "wrong_key" else config.webhook_secret.get_secret_value().encode()
    body = signed_notification(key, item(), item(pspReference="8814073381342285"))
    notification = json.loads(body)
    first = notification["notificationItems"][0]["NotificationRequestItem"]
    second = notification["notificationItems"][1]["NotificationRequestItem"]
    if case == "tampered_amount":
        first["amount"]["value"] = 113000
    elif case == "one_item_forged":
        second["merchantReference"] = "someone-elses-1"
    elif case == "missing_signature":
        del first["additionalData"]["hmacSignature"]
    raw = b"[accepted" if case == "not_json" else json.dumps(notification).encode()

    with pytest.raises(WebhookRejected) as refused:
        adapter.verify_webhook({}, raw, {}, now())

    assert refused.value.reason == reason


async def test_webhooks_when_duplicated_carry_the_same_event_id(adapter: Adapter, psp: Any, webhook_sink: Any) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults(NAME, webhook_duplicates=1)

    await adapter.start(order())

    events = await events_of(adapter, await webhook_sink.wait_for(NAME, 4))
    assert [e.raw_type for e in events] == ["AUTHORISATION", "AUTHORISATION", "CAPTURE", "CAPTURE"]
    assert len({e.event_id for e in events}) == 2


async def test_webhooks_when_out_of_order_deliver_capture_before_authorisation(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    await psp.faults(NAME, webhook_out_of_order=True)

    await adapter.start(order())

    events = await events_of(adapter, await webhook_sink.wait_for(NAME, 2))
    assert [e.raw_type for e in events] == ["CAPTURE", "AUTHORISATION"]
    assert {e.status for e in events} == {"succeeded"}


async def test_webhook_answer_is_the_accepted_body_adyen_requires(adapter: Adapter) -> None:
    answer = adapter.webhook_answer()

    assert (answer.status, answer.body) == (200, b"[accepted]")


async def test_payout_when_accepted_is_authorised_and_webhook_reports_it(
    adapter: Adapter, psp: Any, webhook_sink: Any
) -> None:
    await psp.webhooks_to(webhook_sink.url)
    withdrawal = order(kind="withdrawal", amount=5000, destination="8415995487234100")

    result = await adapter.payout(withdrawal)

    assert result.outcome is Outcome.SUCCEEDED
    [event] = await events_of(adapter, await webhook_sink.wait_for(NAME, 1))
    assert (event.raw_type, event.kind, event.status, event.amount) == (
        "PAYOUT_THIRDPARTY",
        "withdrawal",
        "succeeded",
        5000,
    )
    assert (event.attempt_id, event.provider_ref) == (withdrawal.attempt_id, result.provider_ref)


@pytest.mark.parametrize(("decline", "expected"), [("soft", Outcome.SOFT_DECLINE), ("hard", Outcome.HARD_DECLINE)])
async def test_payout_when_decline_fault_is_set_maps_to_its_decline_class(
    adapter: Adapter, psp: Any, decline: str, expected: Outcome
) -> None:
    await psp.faults(NAME, decline=decline)

    result = await adapter.payout(order(kind="withdrawal"))

    assert result.outcome is expected


async def test_status_when_provider_ref_is_known_reports_payout(adapter: Adapter, psp: Any) -> None:
    withdrawal = order(kind="withdrawal", amount=700)
    result = await adapter.payout(withdrawal)

    found = await adapter.status(withdrawal.attempt_id, result.provider_ref, "withdrawal")

    assert found is not None
    assert (found.status, found.amount, found.attempt_id) == ("succeeded", 700, withdrawal.attempt_id)


async def test_status_when_provider_never_saw_the_attempt_is_none(adapter: Adapter, psp: Any) -> None:
    assert await adapter.status("never-sent-1", None, "deposit") is None
    assert await adapter.status("never-sent-1", "0000000000000000", "deposit") is None


async def test_settlement_report_lists_payments_and_payouts_in_minor_units(adapter: Adapter, psp: Any) -> None:
    euro, yen, withdrawal = order(amount=10_001), order(amount=500, currency="JPY", exponent=0), order("withdrawal")
    paid_in = await adapter.start(euro)
    await adapter.start(yen)
    await adapter.payout(withdrawal)
    await adapter.start(order(card_token="8415995487234100", holder_name="BLOCK_CARD"))  # refused: never settled

    lines = await adapter.settlement_report(now().date())

    by_ref = {line.reference: line for line in lines}
    assert set(by_ref) == {euro.attempt_id, yen.attempt_id, withdrawal.attempt_id}
    euro_line = by_ref[euro.attempt_id]
    assert (euro_line.kind, euro_line.amount, euro_line.fee, euro_line.status) == ("deposit", 10_001, 150, "succeeded")
    assert euro_line.provider_ref == paid_in.provider_ref
    assert (by_ref[yen.attempt_id].amount, by_ref[yen.attempt_id].currency, by_ref[yen.attempt_id].fee) == (
        500,
        "JPY",
        7,
    )
    assert (by_ref[withdrawal.attempt_id].kind, by_ref[withdrawal.attempt_id].amount) == ("withdrawal", 2500)
    assert euro_line.settled_on == now().date()
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
