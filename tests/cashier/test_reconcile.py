"""Daily reconciliation against real PostgreSQL and the payment-provider simulator over real HTTP.

Provider side: real charges and payouts at the simulated Stripe provider (its settlement report lists them, with
the discrepancies a test injects). Ledger side: the wallet transfers the cashier writes for them (CashierLedger),
with the metadata conventions of croupier.cashier.ledger.
"""

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from croupier.bootstrap import Platform
from croupier.cashier.ledger import CLEARING_KIND, WITHDRAWALS_LABEL, CashierLedger, deposit_key, withdrawal_key
from croupier.cashier.providers.base import AttemptResult, Outcome, PaymentOrder, ProviderAdapter
from croupier.cashier.providers.config import build_adapter, simulator_providers
from croupier.cashier.reconcile import (
    ALERT_TYPE,
    ReconciliationResult,
    get_reconciliation,
    list_reconciliations,
    reconcile,
)
from croupier.wallet.client import CreateHoldRequest, OpenAccountRequest

NAME = "stripe"
BRAND = "brand-1"


@pytest.fixture
async def stripe(psp: Any) -> AsyncIterator[ProviderAdapter]:
    adapter = build_adapter(next(c for c in simulator_providers(psp.url) if c.name == NAME))
    yield adapter
    await adapter.aclose()


@dataclass
class Cashier:
    """Moves money at the provider and writes what the cashier writes to the ledger for it."""

    platform: Platform
    provider: ProviderAdapter
    ledger: CashierLedger
    player_account: uuid.UUID

    async def charge(self, amount: int) -> tuple[PaymentOrder, AttemptResult]:
        order = _order("deposit", amount)
        result = await self.provider.start(order)
        assert result.outcome is Outcome.SUCCEEDED, result
        return order, result

    async def credit(self, order: PaymentOrder, provider_ref: str | None, amount: int | None = None) -> None:
        await self.ledger.credit_deposit(
            key=deposit_key(NAME, provider_ref or order.attempt_id),
            brand_id=BRAND,
            provider=NAME,
            player_account=self.player_account,
            currency=order.currency,
            amount=amount or order.amount,
            wallet_currency=order.currency,
            conversion=None,
            metadata=_metadata(order, provider_ref),
        )

    async def deposit(self, amount: int) -> PaymentOrder:
        order, result = await self.charge(amount)
        await self.credit(order, result.provider_ref)
        return order

    async def withdraw(self, amount: int) -> PaymentOrder:
        order = _order("withdrawal", amount)
        # CashierLedger.hold_withdrawal reads `transfer.hold_id`, which the wallet leaves empty on the hold itself
        # (the hold's id is its transfer's id): hold the same way here, with the ledger's own key and accounts.
        hold = await self.platform.wallet_client.create_hold(
            CreateHoldRequest(
                idempotency_key=withdrawal_key(order.payment_id, "hold"),
                debit_account_id=self.player_account,
                credit_account_id=await self.ledger.house(BRAND, CLEARING_KIND, WITHDRAWALS_LABEL, "EUR"),
                amount=amount,
                currency="EUR",
                type="withdrawal",
                metadata={"payment_id": str(order.payment_id), "payment_kind": "withdrawal"},
            )
        )
        hold_id = hold.transfer.id
        result = await self.provider.payout(order)
        assert result.outcome is Outcome.SUCCEEDED, result
        await self.ledger.settle_withdrawal(
            payment_id=order.payment_id,
            hold_id=hold_id,
            brand_id=BRAND,
            provider=NAME,
            currency="EUR",
            amount=amount,
            metadata=_metadata(order, result.provider_ref),
        )
        return order

    async def reconcile(self) -> ReconciliationResult:
        return await reconcile(self.platform.db, self.platform.wallet_client, self.provider, today())


def _order(kind: str, amount: int) -> PaymentOrder:
    payment_id = uuid.uuid4()
    return PaymentOrder(
        attempt_id=f"{payment_id}-1",
        payment_id=payment_id,
        kind=kind,  # type: ignore[arg-type]
        method="card",
        amount=amount,
        currency="EUR",
        exponent=2,
        country="DE",
        player_id="player-1",
        brand_id=BRAND,
        details={"card_token": "pm_card_visa"},
    )


def _metadata(order: PaymentOrder, provider_ref: str | None) -> dict[str, Any]:
    return {
        "payment_id": str(order.payment_id),
        "payment_kind": order.kind,
        "attempt_id": order.attempt_id,
        "provider": NAME,
        "provider_ref": provider_ref,
        "reference": order.attempt_id,
    }


def today() -> Any:
    return datetime.now(UTC).date()


@pytest.fixture
async def cashier(platform: Platform, stripe: ProviderAdapter) -> Cashier:
    account = await platform.wallet_client.open_account(
        OpenAccountRequest(brand_id=BRAND, owner_type="player", owner_id="player-1", kind="cash", currency="EUR")
    )
    return Cashier(platform, stripe, CashierLedger(platform.wallet_client), account.id)


async def record_payment(db: Any, order: PaymentOrder, *, status: str, attempt_status: str, provider_ref: Any) -> None:
    """The cashier's own record of a payment and its attempt (as the cashier core writes them)."""
    now = datetime.now(UTC)
    await db.execute(
        """INSERT INTO cashier.payments (id, kind, player_id, brand_id, country, method, currency, amount,
               wallet_account_id, wallet_currency, request_key, request_digest, status, status_rank, provider,
               attempt_count, provider_ref, created_at, updated_at)
           VALUES ($1, $2, 'player-1', $3, 'DE', 'card', 'EUR', $4, $5, 'EUR', $6, 'digest', $7, 3, $8, 1, $9, $10,
                   $10)""",
        order.payment_id,
        order.kind,
        BRAND,
        order.amount,
        uuid.uuid4(),
        f"request-{order.payment_id}",
        status,
        NAME,
        provider_ref,
        now,
    )
    await db.execute(
        """INSERT INTO cashier.attempts (id, payment_id, number, provider, method, country, kind, status,
               provider_ref, created_at)
           VALUES ($1, $2, 1, $3, 'card', 'DE', $4, $5, $6, $7)""",
        order.attempt_id,
        order.payment_id,
        NAME,
        order.kind,
        attempt_status,
        provider_ref,
        now,
    )


async def test_reconcile_when_day_is_clean_matches_every_reference_and_finds_nothing(cashier: Cashier) -> None:
    await cashier.deposit(5000)
    await cashier.deposit(1234)
    await cashier.withdraw(2000)

    result = await cashier.reconcile()

    assert (result.counts.ledger_lines, result.counts.provider_lines) == (3, 3)
    assert result.counts.matched == 3
    assert result.counts.discrepancies == 0
    assert result.items == []


async def test_reconcile_when_another_day_is_asked_ignores_todays_money(cashier: Cashier) -> None:
    await cashier.deposit(5000)

    result = await reconcile(
        cashier.platform.db, cashier.platform.wallet_client, cashier.provider, today() - timedelta(days=1)
    )

    assert (result.counts.ledger_lines, result.counts.provider_lines, result.counts.discrepancies) == (0, 0, 0)


@pytest.mark.parametrize(
    ("injected", "expected", "ledger_amount", "provider_amount"),
    [
        ("missing_at_provider", "missing_at_provider", 5000, None),
        ("amount_mismatch", "amount_mismatch", 5000, 5100),
        ("status_mismatch", "status_mismatch", 5000, 5000),
    ],
)
async def test_reconcile_when_report_line_is_altered_classifies_it(
    cashier: Cashier, psp: Any, injected: str, expected: str, ledger_amount: int, provider_amount: int | None
) -> None:
    await cashier.deposit(700)
    order = await cashier.deposit(5000)
    await psp.discrepancies(NAME, [{"kind": injected, "reference": order.attempt_id}])

    result = await cashier.reconcile()

    assert [(i.kind, i.reference) for i in result.items] == [(expected, order.attempt_id)]
    assert (result.items[0].ledger_amount, result.items[0].provider_amount) == (ledger_amount, provider_amount)
    assert result.items[0].payment_id == order.payment_id
    assert result.counts.matched == 1


async def test_reconcile_when_provider_reports_line_unknown_to_ledger_says_missing_in_ledger(
    cashier: Cashier, psp: Any
) -> None:
    await cashier.deposit(700)
    await psp.discrepancies(NAME, [{"kind": "extra_at_provider", "reference": "ghost-1", "amount": 999}])

    result = await cashier.reconcile()

    assert [(i.kind, i.reference, i.provider_amount) for i in result.items] == [("missing_in_ledger", "ghost-1", 999)]
    assert "no payment" in result.items[0].detail


async def test_reconcile_when_four_differences_injected_finds_exactly_four(cashier: Cashier, psp: Any) -> None:
    orders = [await cashier.deposit(1000 + n) for n in range(4)]
    await psp.discrepancies(
        NAME,
        [
            {"kind": "missing_at_provider", "reference": orders[0].attempt_id},
            {"kind": "amount_mismatch", "reference": orders[1].attempt_id, "amount_delta": -1},
            {"kind": "status_mismatch", "reference": orders[2].attempt_id},
            {"kind": "extra_at_provider", "reference": "ghost-2"},
        ],
    )

    result = await cashier.reconcile()

    assert result.counts.discrepancies == 4
    assert result.counts.by_kind == {
        "missing_at_provider": 1,
        "amount_mismatch": 1,
        "status_mismatch": 1,
        "missing_in_ledger": 1,
    }
    assert result.counts.matched == 1


async def test_reconcile_when_charge_was_never_credited_says_missing_in_ledger(cashier: Cashier, db: Any) -> None:
    order, charged = await cashier.charge(4200)
    await record_payment(db, order, status="succeeded", attempt_status="succeeded", provider_ref=charged.provider_ref)

    result = await cashier.reconcile()

    [item] = result.items
    assert (item.kind, item.reference, item.provider_ref) == (
        "missing_in_ledger",
        order.attempt_id,
        charged.provider_ref,
    )
    assert item.payment_id == order.payment_id
    assert "succeeded at the provider" in item.detail
    assert "never credited" in item.detail


async def test_reconcile_when_abandoned_attempt_was_charged_says_charged_after_failover(
    cashier: Cashier, db: Any
) -> None:
    order, _ = await cashier.charge(4200)
    await record_payment(db, order, status="succeeded", attempt_status="timeout", provider_ref=None)

    result = await cashier.reconcile()

    [item] = result.items
    assert item.kind == "missing_in_ledger"
    assert "after failover" in item.detail


async def test_reconcile_when_ledger_entry_was_never_settled_says_missing_at_provider(cashier: Cashier) -> None:
    await cashier.deposit(700)
    never_charged = _order("deposit", 3300)
    await cashier.credit(never_charged, provider_ref=None)

    result = await cashier.reconcile()

    [item] = result.items
    assert (item.kind, item.reference, item.ledger_amount) == ("missing_at_provider", never_charged.attempt_id, 3300)
    assert item.payment_id == never_charged.payment_id


async def test_reconcile_when_payout_is_missing_at_provider_reports_it_paid_out(cashier: Cashier, psp: Any) -> None:
    await cashier.deposit(5000)
    payout = await cashier.withdraw(2000)
    await psp.discrepancies(NAME, [{"kind": "missing_at_provider", "reference": payout.attempt_id}])

    result = await cashier.reconcile()

    [item] = result.items
    assert (item.kind, item.ledger_status, item.ledger_amount) == ("missing_at_provider", "paid_out", 2000)


async def test_reconcile_when_discrepancies_found_writes_one_alert_event(cashier: Cashier, psp: Any, db: Any) -> None:
    order = await cashier.deposit(5000)
    await psp.discrepancies(NAME, [{"kind": "amount_mismatch", "reference": order.attempt_id}])

    result = await cashier.reconcile()

    events = await db.fetch("SELECT type, payload FROM cashier.outbox")
    assert [e["type"] for e in events] == [ALERT_TYPE]
    payload = json.loads(events[0]["payload"])
    assert payload["reconciliation_id"] == str(result.id)
    assert (payload["provider"], payload["day"], payload["discrepancies"]) == (NAME, today().isoformat(), 1)
    assert payload["by_kind"] == {"amount_mismatch": 1}


async def test_reconcile_when_clean_writes_no_alert_event(cashier: Cashier, db: Any) -> None:
    await cashier.deposit(5000)

    await cashier.reconcile()

    assert await db.fetchval("SELECT count(*) FROM cashier.outbox") == 0
    assert await db.fetchval("SELECT count(*) FROM cashier.reconciliations") == 1


async def test_stored_run_when_read_back_has_its_counts_and_items(cashier: Cashier, psp: Any) -> None:
    order = await cashier.deposit(5000)
    await psp.discrepancies(NAME, [{"kind": "status_mismatch", "reference": order.attempt_id}])
    result = await cashier.reconcile()

    stored = await get_reconciliation(cashier.platform.db, result.id)
    runs = await list_reconciliations(cashier.platform.db, provider=NAME, day=today())

    assert stored is not None
    assert stored.as_dict() == result.as_dict()
    assert [(run.id, run.counts.by_kind) for run in runs] == [(result.id, {"status_mismatch": 1})]


async def run_cli(url: str, psp: Any, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "croupier", "cashier", "reconcile", "--database-url", url, *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CROUPIER_CASHIER_SIMULATOR_URL": psp.url},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_when_discrepancies_found_prints_them_and_exits_1(
    cashier: Cashier, psp: Any, database_url: str
) -> None:
    order = await cashier.deposit(5000)
    await psp.discrepancies(NAME, [{"kind": "missing_at_provider", "reference": order.attempt_id}])

    code, out, err = await run_cli(database_url, psp, "--provider", NAME, "--date", today().isoformat())

    assert code == 1, err
    assert "missing_at_provider: 1" in out
    assert f"missing_at_provider reference={order.attempt_id}" in out


async def test_cli_when_day_is_clean_prints_json_and_exits_0(cashier: Cashier, psp: Any, database_url: str) -> None:
    await cashier.deposit(5000)

    code, out, err = await run_cli(database_url, psp, "--provider", NAME, "--date", today().isoformat(), "--json")

    assert code == 0, err
    result = json.loads(out)
    assert (result["matched"], result["discrepancies"], result["items"]) == (1, 0, [])


async def test_cli_when_provider_is_not_configured_exits_2(psp: Any, database_url: str) -> None:
    code, _, err = await run_cli(database_url, psp, "--date", "2026-01-02", "--provider", "nobody")

    assert code == 2
    assert "unknown provider 'nobody'" in err
