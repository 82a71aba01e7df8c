"""Ledger fixtures: a brand's house bankroll and funded player accounts, opened through the client under test."""

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from croupier.bootstrap import Platform
from croupier.kit.db import Database
from croupier.wallet.client import (
    AccountOut,
    CreateHoldRequest,
    CreateTransferRequest,
    OpenAccountRequest,
    WalletClient,
)
from croupier.wallet.ledger import LedgerWriter
from croupier.wallet.service import WalletService

BRAND = "brand-test"

OpenPlayer = Callable[..., Awaitable[AccountOut]]


def writer_of(platform: Platform) -> LedgerWriter:
    """The wallet's ledger writer in this process (its counters tell which path a batch took)."""
    assert platform.wallet is not None
    return platform.wallet.writer


def key(prefix: str = "k") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


async def read_all(client: WalletClient, after: str | None = None) -> tuple[list[dict[str, object]], str]:
    """Every event of the wallet's feed after `after`, read in small pages, and the cursor after the last."""
    events: list[dict[str, object]] = []
    while True:
        page = await client.read_events(after=after, limit=7)
        events.extend(event.model_dump() for event in page.items)
        if not page.items:
            return events, page.next_cursor
        after = page.next_cursor


def withdrawal_hold(player: AccountOut, house: AccountOut, amount: int, **extra: object) -> CreateHoldRequest:
    """A hold of a player's funds for a withdrawal, in EUR, under a fresh key."""
    return CreateHoldRequest(
        idempotency_key=key("hold"),
        debit_account_id=player.id,
        credit_account_id=house.id,
        amount=amount,
        currency="EUR",
        type="withdrawal",
        **extra,  # type: ignore[arg-type]
    )


def bet(
    player: AccountOut,
    house: AccountOut,
    amount: int,
    idempotency_key: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> CreateTransferRequest:
    """A player's bet to the house, in EUR, under a fresh key unless one is given."""
    return CreateTransferRequest(
        idempotency_key=idempotency_key or key("bet"),
        debit_account_id=player.id,
        credit_account_id=house.id,
        amount=amount,
        currency="EUR",
        type="bet",
        metadata={"round": "r-1", "game": "dice"} if metadata is None else metadata,
    )


@pytest.fixture
async def house(wallet_client: WalletClient) -> AccountOut:
    return await wallet_client.open_account(
        OpenAccountRequest(
            brand_id=BRAND, owner_type="house", owner_id="house", kind="bankroll", currency="EUR", allow_negative=True
        )
    )


@pytest.fixture
def open_player(wallet_client: WalletClient, house: AccountOut) -> OpenPlayer:
    """Open a player's EUR cash account and deposit `balance` into it from the house bankroll."""

    async def open_player(balance: int = 0, currency: str = "EUR", brand: str = BRAND) -> AccountOut:
        account = await wallet_client.open_account(
            OpenAccountRequest(
                brand_id=brand, owner_type="player", owner_id=key("player"), kind="cash", currency=currency
            )
        )
        if balance:
            await wallet_client.transfer(
                CreateTransferRequest(
                    idempotency_key=key("deposit"),
                    debit_account_id=house.id,
                    credit_account_id=account.id,
                    amount=balance,
                    currency=currency,
                    type="deposit",
                )
            )
        return account

    return open_player


@contextlib.asynccontextmanager
async def other_wallet_process(platform: Platform, database_url: str, **options: Any) -> AsyncIterator[WalletService]:
    """Another wallet service on the same database, with its own pool: what a second wallet process is."""
    db = Database(database_url, min_size=1, max_size=4)
    await db.connect()
    service = WalletService(db, platform.currencies, **options)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
        await db.close()


@pytest.fixture
async def second_writer(platform: Platform, database_url: str) -> AsyncIterator[WalletService]:
    """A second wallet process whose writer takes the locked path."""
    async with other_wallet_process(platform, database_url, optimistic_writer=False) as service:
        yield service
