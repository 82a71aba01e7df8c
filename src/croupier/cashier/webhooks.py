"""The webhook queue: verify, store, answer at once; apply later, with retries and a dead-letter state.

Intake (the provider's request): the adapter verifies the signature on the raw body; the body is stored in
cashier.webhook_events (an identical redelivery counts a delivery on the existing row, and sends an applied row
back to the queue: id-only webhooks look the same for every status change) and the provider gets its answer.
Nothing else happens in the provider's request, so a slow wallet or a crash never makes a provider retry, and an
accepted webhook is never lost.

Workers claim due events with a lease (FOR UPDATE SKIP LOCKED, then next_attempt_at pushed past the lease), so
several processes share the queue and an event whose worker died is retried when the lease ends. A failure is
retried with exponential backoff and full jitter; after `max_attempts` the event is dead-lettered. An admin can
list dead letters and replay one (back to pending, attempts reset).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from croupier.cashier.errors import WebhookEventNotFound, WebhookNotAuthentic
from croupier.cashier.providers.base import ProviderAdapter, ProviderEvent, WebhookRejected
from croupier.kit.clock import Clock
from croupier.kit.db import Database

log = logging.getLogger("croupier.cashier.webhooks")

LEASE = timedelta(seconds=60)
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 600.0
#: Headers kept with the stored event (for the audit trail and for replays): never cookies or authorization.
KEPT_HEADERS = ("content-type", "user-agent", "stripe-signature", "x-signature", "x-verify", "x-callback-token")


class NotMatchedYet(Exception):
    """The event names an attempt or payment this process cannot find (yet): retried, then dead-lettered."""


def backoff(attempts: int, rng: random.Random) -> timedelta:
    """Full jitter: a random delay up to base * 2^(attempts-1), capped."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


class WebhookQueue:
    def __init__(
        self,
        db: Database,
        adapters: Mapping[str, ProviderAdapter],
        apply: Callable[[str, ProviderEvent], Awaitable[None]],
        *,
        clock: Clock,
        max_attempts: int = 8,
        poll_seconds: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.adapters = adapters
        self._apply = apply
        self.clock = clock
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- intake ------------------------------------------------------------------------------------------------------

    async def receive(self, provider: str, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        """Verify and store a webhook; raise WebhookNotAuthentic (nothing stored) if it does not verify."""
        adapter = self.adapters[provider]
        now = self.clock()
        try:
            adapter.verify_webhook(headers, body, query, now)
        except WebhookRejected as error:
            raise WebhookNotAuthentic(error.detail, reason=error.reason, provider=provider) from None
        kept = {name: value for name, value in headers.items() if name in KEPT_HEADERS}
        if query:
            kept["query"] = "&".join(f"{k}={v}" for k, v in query.items() if k not in ("token", "secret"))
        async with self.db.connection() as connection:
            await connection.execute(
                """INSERT INTO cashier.webhook_events (provider, digest, body, headers, received_at, next_attempt_at)
                   VALUES ($1, $2, $3, $4, $5, $5)
                   ON CONFLICT (provider, digest) DO UPDATE SET deliveries = cashier.webhook_events.deliveries + 1,
                       -- an id-only webhook (Mollie-style) has the same body for every status change: apply it
                       -- again, since the status it leads to may be new (applying twice is safe)
                       status = CASE WHEN cashier.webhook_events.status = 'applied' THEN 'pending'
                                     ELSE cashier.webhook_events.status END,
                       next_attempt_at = CASE WHEN cashier.webhook_events.status = 'applied' THEN $5
                                              ELSE cashier.webhook_events.next_attempt_at END""",
                provider,
                hashlib.sha256(body).hexdigest(),
                body,
                kept,
                now,
            )
        self._wake.set()

    # -- workers -----------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cashier-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                if await self.process_due() == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                    self._wake.clear()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be down: keep the worker alive and try again
                log.exception("webhook worker iteration failed")
                await asyncio.sleep(self.poll_seconds)

    async def process_due(self, limit: int = 20) -> int:
        """Claim and apply the events that are due; return how many were claimed."""
        now = self.clock()
        async with self.db.transaction() as connection:
            rows = await connection.fetch(
                """UPDATE cashier.webhook_events SET next_attempt_at = $2, attempts = attempts + 1
                   WHERE id IN (SELECT id FROM cashier.webhook_events
                                WHERE status = 'pending' AND next_attempt_at <= $1
                                ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
                   RETURNING id, provider, body, attempts""",
                now,
                now + LEASE,
                limit,
            )
        for row in rows:
            await self._process(row["id"], row["provider"], bytes(row["body"]), row["attempts"])
        return len(rows)

    async def _process(self, event_id: int, provider: str, body: bytes, attempts: int) -> None:
        try:
            adapter = self.adapters.get(provider)
            if adapter is None:
                raise NotMatchedYet(f"provider {provider!r} is not configured in this process")
            events = await adapter.parse_webhook(body)
            for event in events:
                await self._apply(provider, event)
        except Exception as error:
            dead = attempts >= self.max_attempts
            log.warning("webhook %s from %s failed (attempt %s): %r", event_id, provider, attempts, error)
            async with self.db.connection() as connection:
                await connection.execute(
                    """UPDATE cashier.webhook_events SET status = $2, next_attempt_at = $3, last_error = $4
                       WHERE id = $1""",
                    event_id,
                    "dead" if dead else "pending",
                    self.clock() + backoff(attempts, self._rng),
                    repr(error)[:2000],
                )
            return
        async with self.db.connection() as connection:
            await connection.execute(
                """UPDATE cashier.webhook_events SET status = 'applied', applied_at = $2, last_error = NULL,
                          events = $3 WHERE id = $1""",
                event_id,
                self.clock(),
                [_event_summary(event) for event in events],
            )

    # -- dead letters ------------------------------------------------------------------------------------------------

    async def list_events(
        self, *, status: str = "dead", provider: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        async with self.db.connection() as connection:
            rows = await connection.fetch(
                """SELECT id, provider, status, attempts, deliveries, received_at, next_attempt_at, applied_at,
                          last_error, headers, convert_from(body, 'UTF8') AS body, events
                   FROM cashier.webhook_events WHERE status = $1 AND ($2::text IS NULL OR provider = $2)
                   ORDER BY id DESC LIMIT $3""",
                status,
                provider,
                limit,
            )
        return [dict(row) for row in rows]

    async def replay(self, event_id: int) -> dict[str, Any]:
        """Send a dead (or applied) event back to the queue: applying it again is safe (forward-only, keyed)."""
        async with self.db.connection() as connection:
            row = await connection.fetchrow(
                """UPDATE cashier.webhook_events SET status = 'pending', attempts = 0, next_attempt_at = $2,
                          last_error = NULL WHERE id = $1
                   RETURNING id, provider, status, attempts, deliveries, received_at, next_attempt_at, applied_at,
                             last_error, headers, convert_from(body, 'UTF8') AS body, events""",
                event_id,
                self.clock(),
            )
        if row is None:
            raise WebhookEventNotFound(f"no webhook event {event_id}")
        self._wake.set()
        return dict(row)


def _event_summary(event: ProviderEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "kind": event.kind,
        "status": event.status,
        "attempt_id": event.attempt_id,
        "provider_ref": event.provider_ref,
        "amount": event.amount,
        "tx_hash": event.tx_hash,
        "confirmations": event.confirmations,
    }
