"""The wallet service: accounts, balances, transfers, holds and reversals.

Money-moving commands go through the batching LedgerWriter; reads and account opening use their own short
transactions. Results are plain dicts shaped like the schemas' *Out models so that a replay returns exactly the bytes
stored the first time.
"""

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from croupier.kit.db import Database
from croupier.kit.errors import DomainError, ValidationFailed
from croupier.kit.ids import uuid7
from croupier.kit.money import CurrencyRegistry
from croupier.kit.outbox import Event
from croupier.kit.tracing import current_trace_id
from croupier.wallet import errors, feed, repository, schemas
from croupier.wallet.commands import Command, Leg, Outcome, answer
from croupier.wallet.ledger import MAX_WRITES_IN_FLIGHT, LedgerWriter

logger = logging.getLogger(__name__)

MAX_PAGE = 500


class WalletService:
    def __init__(
        self,
        db: Database,
        currencies: CurrencyRegistry,
        *,
        batch_max: int = 1000,
        optimistic_writer: bool = True,
        results_by_reference: bool = True,
        events_by_reference: bool = True,
        hold_sweep_seconds: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.currencies = currencies
        self.clock = clock
        # The batch write is one large statement whose planning cost PostgreSQL about 0.3 ms per batch, as much as
        # executing a small batch. Its generic plan (key lookups and a nested loop over the batch's accounts on the
        # primary key; checked with EXPLAIN (GENERIC_PLAN) on 300,000 accounts) is right for any table size, so the
        # writer sends it on a small pool of its own that plans it once per connection (docs/adr/0005).
        self._write_db = Database(db.url, min_size=1, max_size=MAX_WRITES_IN_FLIGHT, generic_plans=True)
        self.writer = LedgerWriter(
            db,
            batch_max=batch_max,
            clock=clock,
            optimistic=optimistic_writer,
            write_db=self._write_db,
            results_by_reference=results_by_reference,
            events_by_reference=events_by_reference,
        )
        self._hold_sweep_seconds = hold_sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._check_pinned_exponents()
        await self._write_db.connect()
        await self.writer.start()
        self._sweeper = asyncio.create_task(self._sweep_expired_holds(), name="wallet-hold-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.writer.stop()
        await self._write_db.close()

    async def _check_pinned_exponents(self) -> None:
        async with self.db.connection() as connection:
            pinned = await repository.pinned_exponents(connection)
        for code, exponent in pinned.items():
            configured = self.currencies.get(code).exponent if code in self.currencies else None
            if configured != exponent:
                raise errors.CurrencyExponentChanged(
                    f"the ledger holds {code} with exponent {exponent}, the configuration says {configured}; "
                    "changing it would rescale every stored amount"
                )

    # -- accounts -------------------------------------------------------------------------------------------------

    async def open_account(self, request: schemas.OpenAccountRequest) -> tuple[dict[str, Any], bool]:
        """Open an account; returns (account, created). An identical existing account is returned as it is."""
        currency = self.currencies.get(request.currency)
        if request.owner_type == "player" and request.allow_negative:
            raise ValidationFailed("player accounts can never go negative: allow_negative must be false")
        created_at = self.clock()
        values: dict[str, Any] = {
            "id": uuid7(),
            "brand_id": request.brand_id,
            "owner_type": request.owner_type,
            "owner_id": request.owner_id,
            "kind": request.kind,
            "label": request.label,
            "currency": request.currency,
            "allow_negative": request.allow_negative,
            "metadata": request.metadata,
            "created_at": created_at,
        }
        async with self.db.transaction() as connection:
            pinned = await repository.pin_currency(connection, currency.code, currency.exponent)
            if pinned != currency.exponent:
                raise errors.CurrencyExponentChanged(f"{currency.code} is pinned with exponent {pinned}")
            record = await repository.insert_account(connection, values)
            created = record is not None
            if record is None:
                record = await repository.find_account_by_natural_key(connection, values)
                assert record is not None
                if record["allow_negative"] != request.allow_negative:
                    raise errors.AccountExists(
                        f"account {record['id']} already exists with allow_negative={record['allow_negative']}",
                        account_id=str(record["id"]),
                    )
            else:
                account = _account_out(record)
                event = Event(
                    type="wallet.account.opened",
                    payload={k: v for k, v in account.items() if k != "balance"},
                    occurred_at=created_at,
                    brand_id=request.brand_id,
                    trace_id=current_trace_id.get(),
                )
                await repository.write_account_events(connection, [event])
        return _account_out(record), created

    async def get_account(self, account_id: UUID) -> dict[str, Any]:
        async with self.db.connection() as connection:
            record = await repository.get_account(connection, account_id)
        if record is None:
            raise errors.AccountNotFound(f"no account with id {account_id}", account_id=str(account_id))
        return _account_out(record)

    async def get_balance(self, account_id: UUID) -> dict[str, Any]:
        balance: dict[str, Any] = (await self.get_account(account_id))["balance"]
        return balance

    async def list_accounts(
        self,
        *,
        brand_id: str | None = None,
        owner_type: str | None = None,
        owner_id: str | None = None,
        currency: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        limit = _page_size(limit)
        after = _decode_cursor(cursor)
        async with self.db.connection() as connection:
            rows = await repository.list_accounts(
                connection,
                brand_id=brand_id,
                owner_type=owner_type,
                owner_id=owner_id,
                currency=currency,
                after=after,
                limit=limit + 1,
            )
        items = [_account_out(row) for row in rows[:limit]]
        next_cursor = _encode_cursor(rows[limit - 1]["id"]) if len(rows) > limit else None
        return {"items": items, "next_cursor": next_cursor}

    # -- money movement -------------------------------------------------------------------------------------------

    async def transfer(self, request: schemas.CreateTransferRequest) -> tuple[dict[str, Any], bool]:
        return answer(await self.start_transfer(request))

    def start_transfer(self, request: schemas.CreateTransferRequest) -> "asyncio.Future[Outcome]":
        """Queue a transfer; its outcome arrives in the future (`answer` turns it into the result or the refusal).

        The in-process client awaits this future itself: each coroutine between a caller and the writer's future is
        resumed once more per command, and the transfer is the most frequent command.
        """
        return self._enqueue(Command("transfer", request.idempotency_key, legs=(self._leg(request),)))

    async def transfer_batch(self, request: schemas.CreateBatchRequest) -> tuple[dict[str, Any], bool]:
        legs = []
        for index, leg in enumerate(request.transfers):
            try:
                legs.append(self._leg(leg))
            except DomainError as error:
                error.extensions.setdefault("transfer_index", index)
                raise
        return await self._submit(Command("batch", request.idempotency_key, legs=tuple(legs)))

    async def create_hold(self, request: schemas.CreateHoldRequest) -> tuple[dict[str, Any], bool]:
        command = Command(
            "hold", request.idempotency_key, legs=(self._leg(request),), expires_at=_utc(request.expires_at)
        )
        return await self._submit(command)

    async def post_hold(self, hold_id: UUID, request: schemas.PostHoldRequest) -> tuple[dict[str, Any], bool]:
        command = Command(
            "hold_post", request.idempotency_key, hold_id=hold_id, amount=request.amount, metadata=request.metadata
        )
        return await self._submit(command)

    async def void_hold(self, hold_id: UUID, request: schemas.VoidHoldRequest) -> tuple[dict[str, Any], bool]:
        command = Command("hold_void", request.idempotency_key, hold_id=hold_id, metadata=request.metadata)
        return await self._submit(command)

    async def reverse(self, request: schemas.ReverseTransferRequest) -> tuple[dict[str, Any], bool]:
        command = Command(
            "reversal",
            request.idempotency_key,
            target_id=request.transfer_id,
            target_key=request.original_idempotency_key,
            type=request.type,
            metadata=request.metadata,
        )
        return await self._submit(command)

    async def expire_hold(self, hold_id: UUID) -> Outcome:
        """Void a hold because it expired (used by the sweeper; the key makes it idempotent across processes)."""
        return await self.writer.submit(Command("hold_expiry", f"wallet:hold-expiry:{hold_id}", hold_id=hold_id))

    def _leg(self, leg: schemas.TransferLegIn) -> Leg:
        self.currencies.get(leg.currency)
        if leg.debit_account_id == leg.credit_account_id:
            raise ValidationFailed("debit_account_id and credit_account_id must differ")
        return Leg(leg.debit_account_id, leg.credit_account_id, leg.amount, leg.currency, leg.type, leg.metadata)

    async def _submit(self, command: Command) -> tuple[dict[str, Any], bool]:
        """Hand a client's command to the writer; raise its refusal, or return its result and whether it replayed."""
        return answer(await self._enqueue(command))

    def _enqueue(self, command: Command) -> "asyncio.Future[Outcome]":
        reserved = schemas.RESERVED_KEY_PREFIX
        if command.key.startswith(reserved):
            raise _reserved("idempotency_key")
        if command.target_key is not None and command.target_key.startswith(reserved):
            raise _reserved("original_idempotency_key")
        command.trace_id = current_trace_id.get()
        return self.writer.enqueue(command)

    async def _sweep_expired_holds(self) -> None:
        while True:
            await asyncio.sleep(self._hold_sweep_seconds)
            try:
                async with self.db.connection() as connection:
                    due = await repository.due_hold_expiries(connection, self.clock(), 500)
                outcomes = await asyncio.gather(*(self.expire_hold(hold_id) for hold_id in due))
                expired = sum(1 for outcome in outcomes if outcome.error is None and not outcome.replayed)
                if expired:
                    logger.info("voided %d expired holds", expired)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hold expiry sweep failed; trying again later")

    # -- reads ----------------------------------------------------------------------------------------------------

    async def get_transfer(self, transfer_id: UUID) -> dict[str, Any]:
        async with self.db.connection() as connection:
            record = await repository.get_transfer(connection, transfer_id)
        if record is None:
            raise errors.TransferNotFound(f"no transfer with id {transfer_id}", transfer_id=str(transfer_id))
        return dict(record)

    async def get_hold(self, hold_id: UUID) -> dict[str, Any]:
        async with self.db.connection() as connection:
            record = await repository.get_transfer(connection, hold_id)
            if record is None or record["kind"] != "hold":
                raise errors.HoldNotFound(f"no hold with id {hold_id}", hold_id=str(hold_id))
            resolution = await repository.get_resolution(connection, hold_id)
        status = "open"
        if resolution is not None:
            status = {"hold_post": "posted", "hold_void": "voided", "hold_expiry": "expired"}[resolution["kind"]]
        return {"hold": dict(record), "status": status, "resolution": dict(resolution) if resolution else None}

    async def read_events(self, *, after: str | None = None, limit: int = 100) -> dict[str, Any]:
        """The outbox as a feed, oldest first: events of finished transactions after the cursor, never skipping one.

        An event appears only once every transaction that started before it has finished, so the feed trails the
        newest commits by the age of the oldest running transaction (usually milliseconds).
        """
        limit = _page_size(limit)
        async with self.db.connection() as connection:
            return await feed.read_page(connection, after, limit)

    async def list_transfers(
        self,
        *,
        account_id: UUID | None = None,
        cursor: str | None = None,
        limit: int = 100,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> dict[str, Any]:
        """Transfers newest first, of one account or all; with a time window, only those whose created_at is in
        [created_from, created_to) (timezone-aware; either end may be left open). A cursor continues the listing it
        came from: pass the same window with it."""
        limit = _page_size(limit)
        before = _decode_cursor(cursor)
        _check_window(created_from, created_to)
        async with self.db.connection() as connection:
            if account_id is not None and await repository.get_account(connection, account_id) is None:
                raise errors.AccountNotFound(f"no account with id {account_id}", account_id=str(account_id))
            rows = await repository.list_transfers(
                connection,
                account_id=account_id,
                before=before,
                limit=limit + 1,
                created_from=created_from,
                created_to=created_to,
            )
        items = [dict(row) for row in rows[:limit]]
        next_cursor = _encode_cursor(rows[limit - 1]["id"]) if len(rows) > limit else None
        return {"items": items, "next_cursor": next_cursor}


def _check_window(created_from: datetime | None, created_to: datetime | None) -> None:
    for name, value in (("created_from", created_from), ("created_to", created_to)):
        if value is not None and value.utcoffset() is None:
            raise ValidationFailed(
                f"{name} must carry a time zone offset (e.g. 2026-03-14T00:00:00Z): a time without one is ambiguous",
                field=name,
            )
    if created_from is not None and created_to is not None and created_to <= created_from:
        raise errors.InvalidTimeRange(
            "created_to must be later than created_from: the window [created_from, created_to) is empty or reversed",
            created_from=created_from.isoformat(),
            created_to=created_to.isoformat(),
        )


def _account_out(record: Any) -> dict[str, Any]:
    dp, cp, dq, cq = (
        record["debits_posted"],
        record["credits_posted"],
        record["debits_pending"],
        record["credits_pending"],
    )
    return {
        "id": record["id"],
        "brand_id": record["brand_id"],
        "owner_type": record["owner_type"],
        "owner_id": record["owner_id"],
        "kind": record["kind"],
        "label": record["label"],
        "currency": record["currency"],
        "allow_negative": record["allow_negative"],
        "metadata": record["metadata"],
        "created_at": record["created_at"],
        "balance": {
            "account_id": record["id"],
            "currency": record["currency"],
            "posted": cp - dp,
            "available": cp - dp - dq,
            "pending_debits": dq,
            "pending_credits": cq,
            "debits_posted": dp,
            "credits_posted": cp,
        },
    }


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}")
    return limit


def _encode_cursor(value: UUID) -> str:
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> UUID | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return UUID(bytes=raw)
    except (ValueError, binascii.Error):
        raise ValidationFailed("cursor is not one this API returned", cursor=cursor) from None


def _reserved(field: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: keys starting with {schemas.RESERVED_KEY_PREFIX!r} are reserved for the wallet", field=field
    )
