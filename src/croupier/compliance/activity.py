"""Player activity (wagered, won, deposited, withdrawn per hour), projected from the wallet's event feed.

The amounts limits are measured against come from the wallet's committed transfers, never from a client. The
projector reads the feed (croupier.wallet.client.WalletClient.read_events) after the cursor stored in
compliance.feed_cursors, classifies each money movement of a player account by its type code, and adds it to the
player's hourly bucket, recording every event id it applied (so no event ever counts twice, whichever process reads
it). The gate calls `catch_up()` before deciding a deposit or a bet, so every movement the wallet had committed and
published when the check started is counted.

Type codes counted (the conventions the games, gateway and cashier use when they move money):
  - `bet` debiting a player account: wagered;  `win` crediting a player account: won;
  - `deposit` crediting a player account: deposited;  `withdrawal` debiting a player account: withdrawn;
  - a reversal (`reverses_id` set) subtracts what its original added.
"""

import asyncio
import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from croupier.compliance import repository
from croupier.kit.clock import Clock
from croupier.kit.db import Database
from croupier.wallet.client import WalletClient

logger = logging.getLogger(__name__)

FEED = "wallet"
MONEY_EVENTS = ("wallet.transfer.committed", "wallet.hold.posted")
# (type code, side of the player account) -> column
CATEGORIES = {("bet", "debit"): 0, ("win", "credit"): 1, ("deposit", "credit"): 2, ("withdrawal", "debit"): 3}


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class ActivityProjector:
    def __init__(self, db: Database, wallet: WalletClient, clock: Clock, *, page: int = 500) -> None:
        self._db = db
        self._wallet = wallet
        self._clock = clock
        self._page = page
        self._owners: dict[UUID, str | None] = {}  # wallet account -> player id (None: not a player account)
        self._lock = asyncio.Lock()
        self._cursor: str | None = None  # last cursor this process saw saved (a hint; the table is the truth)
        # Single flight: every caller takes a ticket; a catch-up that starts reading after a caller arrived covers
        # that caller too, so callers queued behind it return at once instead of reading the feed again.
        self._tickets = 0
        self._covered = 0

    async def catch_up(self) -> int:
        """Apply every event the wallet has published since the stored cursor; return how many were applied.

        Everything the wallet had published when this call began is applied when it returns.
        """
        self._tickets += 1
        ticket = self._tickets
        async with self._lock:
            if self._covered >= ticket:  # a catch-up that began after we arrived has finished
                return 0
            begin = self._tickets
            applied = await self._catch_up()
            self._covered = begin
            return applied

    async def _catch_up(self) -> int:
        applied = 0
        while True:
            # The common case first: nothing new after the cursor we know, one read and no transaction.
            if self._cursor is not None:
                probe = await self._wallet.read_events(after=self._cursor, limit=1)
                if not probe.items:
                    return applied
            count, more = await self._apply_page()
            applied += count
            if not more:
                return applied

    async def _apply_page(self) -> tuple[int, bool]:
        async with self._db.transaction() as connection:
            cursor = await repository.lock_cursor(connection, FEED)
            page = await self._wallet.read_events(after=cursor, limit=self._page)
            rows: dict[tuple[str, datetime], list[int]] = {}
            candidates = [event for event in page.items if event.type in MONEY_EVENTS]
            fresh = await repository.claim_events(connection, [event.id for event in candidates], self._clock())
            for event in candidates:
                if event.id in fresh:
                    await self._classify(event.payload, rows)
            await repository.add_activity(
                connection,
                [(player, hour, a[0], a[1], a[2], a[3]) for (player, hour), a in rows.items()],
            )
            await repository.save_cursor(connection, FEED, page.next_cursor)
        self._cursor = page.next_cursor
        return len(fresh), len(page.items) == self._page

    async def _classify(self, payload: dict[str, Any], rows: dict[tuple[str, datetime], list[int]]) -> None:
        amount = int(payload["amount"])
        sign = 1
        type_code = payload["type"]
        debit, credit = UUID(str(payload["debit_account_id"])), UUID(str(payload["credit_account_id"]))
        if payload.get("reverses_id"):
            original = await self._wallet.get_transfer(UUID(str(payload["reverses_id"])))
            # The reversal moves the money back: the original's debit side is this transfer's credit side.
            type_code, debit, credit, sign = original.type, original.debit_account_id, original.credit_account_id, -1
        hour = hour_of(datetime.fromisoformat(str(payload["created_at"])))
        for side, account_id in (("debit", debit), ("credit", credit)):
            column = CATEGORIES.get((type_code, side))
            if column is None:
                continue
            player = await self._owner(account_id)
            if player is None:
                continue
            amounts = rows.setdefault((player, hour), [0, 0, 0, 0])
            amounts[column] += sign * amount

    async def _owner(self, account_id: UUID) -> str | None:
        if account_id not in self._owners:  # accounts never change owner: cache forever
            account = await self._wallet.get_account(account_id)
            self._owners[account_id] = account.owner_id if account.owner_type == "player" else None
        return self._owners[account_id]
