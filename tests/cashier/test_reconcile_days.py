"""Reconciling an older day: the ledger side is that day's transfers, read from the wallet for that day only.

The ledger entries of past days come from a second wallet service on the test's database whose clock the test sets
(the wallet stamps each transfer's time from its own clock). The provider's report for a past day holds the lines the
test injects into the simulator (its real charges are all of today).
"""

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from croupier.bootstrap import Platform
from croupier.cashier.ledger import CashierLedger, deposit_key
from croupier.cashier.providers.base import ProviderAdapter
from croupier.cashier.providers.config import build_adapter, simulator_providers
from croupier.cashier.reconcile import reconcile
from croupier.wallet.client import InProcessWalletClient, OpenAccountRequest, TransferPage, WalletClient
from croupier.wallet.service import WalletService

NAME = "stripe"
BRAND = "brand-1"
TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=3)


class CountingWallet:
    """The platform's wallet client, counting the transfers its listings hand out (what reconciliation read)."""

    def __init__(self, inner: WalletClient) -> None:
        self.inner = inner
        self.transfers_read = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def list_transfers(self, **query: Any) -> TransferPage:
        page = await self.inner.list_transfers(**query)
        self.transfers_read += len(page.items)
        return page


class Books:
    """Deposits credited to the ledger on a chosen day, as the cashier credits them (CashierLedger)."""

    def __init__(self, platform: Platform, past: WalletService, clock: list[datetime], player: uuid.UUID) -> None:
        self.platform = platform
        self.past = CashierLedger(InProcessWalletClient(past))
        self.today = CashierLedger(platform.wallet_client)
        self.clock = clock
        self.player = player

    async def credit(self, day: date, amount: int) -> str:
        """A deposit of `amount` credited at noon (UTC) of `day`; returns its reference (the attempt id)."""
        payment_id = uuid.uuid4()
        reference = f"{payment_id}-1"
        self.clock[0] = datetime.combine(day, time(12), tzinfo=UTC)
        await (self.today if day == TODAY else self.past).credit_deposit(
            key=deposit_key(NAME, reference),
            brand_id=BRAND,
            provider=NAME,
            player_account=self.player,
            currency="EUR",
            amount=amount,
            wallet_currency="EUR",
            conversion=None,
            metadata={"payment_id": str(payment_id), "payment_kind": "deposit", "reference": reference},
        )
        return reference


@pytest.fixture
async def stripe(psp: Any) -> AsyncIterator[ProviderAdapter]:
    adapter = build_adapter(next(c for c in simulator_providers(psp.url) if c.name == NAME))
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def books(platform: Platform) -> AsyncIterator[Books]:
    clock = [datetime.now(UTC)]
    past = WalletService(platform.db, platform.currencies, clock=lambda: clock[0])
    await past.start()
    player = await platform.wallet_client.open_account(
        OpenAccountRequest(brand_id=BRAND, owner_type="player", owner_id="player-1", kind="cash", currency="EUR")
    )
    yield Books(platform, past, clock, player.id)
    await past.stop()


async def settled_on_day(psp: Any, *lines: tuple[str, int]) -> None:
    """The provider's report for any day also lists these (reference, amount) charges."""
    await psp.discrepancies(
        NAME, [{"kind": "extra_at_provider", "reference": ref, "amount": amount} for ref, amount in lines]
    )


async def test_reconcile_older_day_when_it_has_a_difference_finds_it_reading_that_days_transfers_only(
    books: Books, stripe: ProviderAdapter, psp: Any, platform: Platform
) -> None:
    settled = await books.credit(DAY, 5000)
    never_settled = await books.credit(DAY, 3000)
    await books.credit(DAY + timedelta(days=1), 700)  # later days' entries are not that day's business
    for amount in (100, 200, 300):
        await books.credit(TODAY, amount)
    await settled_on_day(psp, (settled, 5000))
    wallet = CountingWallet(platform.wallet_client)

    result = await reconcile(platform.db, wallet, stripe, DAY)  # type: ignore[arg-type]

    assert [(item.kind, item.reference, item.ledger_amount) for item in result.items] == [
        ("missing_at_provider", never_settled, 3000)
    ]
    assert (result.counts.ledger_lines, result.counts.matched) == (2, 1)
    assert wallet.transfers_read == 2


async def test_reconcile_older_day_when_it_is_clean_is_clean_whatever_later_days_hold(
    books: Books, stripe: ProviderAdapter, psp: Any, platform: Platform
) -> None:
    first, second = await books.credit(DAY, 5000), await books.credit(DAY, 1234)
    await books.credit(DAY + timedelta(days=1), 700)
    await books.credit(TODAY, 999)
    await settled_on_day(psp, (first, 5000), (second, 1234))

    result = await reconcile(platform.db, platform.wallet_client, stripe, DAY)

    assert (result.counts.ledger_lines, result.counts.matched, result.counts.discrepancies) == (2, 2, 0)
    assert result.items == []


async def run_cli(url: str, psp: Any, day: date) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "croupier", "cashier", "reconcile", "--database-url", url, "--provider", NAME),
        *("--date", day.isoformat()),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CROUPIER_CASHIER_SIMULATOR_URL": psp.url},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_for_older_days_exits_1_on_the_day_with_a_difference_and_0_on_the_clean_one(
    books: Books, psp: Any, database_url: str
) -> None:
    matched = await books.credit(DAY, 5000)
    unmatched = await books.credit(DAY + timedelta(days=1), 700)
    await settled_on_day(psp, (matched, 5000))

    differs = await run_cli(database_url, psp, DAY + timedelta(days=1))
    clean = await run_cli(database_url, psp, DAY)

    assert differs[0] == 1, differs[2]
    assert f"missing_at_provider reference={unmatched}" in differs[1]
    assert clean[0] == 0, clean[2]
    assert "clean" in clean[1]
