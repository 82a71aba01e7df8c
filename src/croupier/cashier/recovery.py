"""The recovery pass: what a crash (kill -9 at any line) or a lost webhook leaves behind, repaired. Safe to run at
any time, in any number of processes: every step is a forward-only compare-and-set or a keyed wallet call.

What it finds, and what it does:
- money moved at the provider, not yet in the wallet (a deposit succeeded, a payout paid): credit / settle it;
- a withdrawal that ended unpaid with its hold still open: release the hold;
- a withdrawal interrupted before its hold and checks were recorded (`requested`): finish them;
- an approved withdrawal whose payout never started, or a payout claimed but never sent to a provider: pay it out;
- a deposit interrupted before its first provider was chosen: fail it (no provider ever heard of it);
- a payment with no news for `poll_after`: ask its provider (a payout the provider never received is sent again
  with the same attempt id; a deposit it never received is failed, nothing was charged).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from croupier.cashier import repository
from croupier.cashier.core import Context, call_provider, transition
from croupier.cashier.deposits import Deposits
from croupier.cashier.providers.base import ProviderEvent
from croupier.cashier.withdrawals import Withdrawals


class Recovery:
    def __init__(
        self,
        context: Context,
        deposits: Deposits,
        withdrawals: Withdrawals,
        apply_event: Callable[[str, ProviderEvent], Awaitable[None]],
    ) -> None:
        self.context = context
        self.deposits = deposits
        self.withdrawals = withdrawals
        self.apply_event = apply_event

    async def run(self, poll_after: timedelta) -> dict[str, int]:
        context = self.context
        repaired = {"credited": 0, "released": 0, "held": 0, "resumed": 0, "polled": 0}
        async with context.db.connection() as connection:
            uncredited = await repository.uncredited(connection)
            unreleased = await repository.unreleased(connection)
            held = await repository.unbooked_held(connection)
        for payment in held:  # held for review, not yet booked to suspense
            await self.deposits.review.move_to_suspense(payment)
            repaired["held"] += 1
        for payment in uncredited:  # the provider took or paid the money, the wallet has not moved yet
            if payment["kind"] == "deposit":
                await self.deposits.credit(payment)
            else:
                await self.withdrawals.settle(payment)
            repaired["credited"] += 1
        for payment in unreleased:  # ended unpaid, the hold not released yet
            await self.withdrawals.release(payment)
            repaired["released"] += 1
        stale = context.clock() - poll_after
        async with context.db.connection() as connection:
            interrupted = await repository.list_by_status(connection, "deposit", ["created"], older_than=stale)
            quiet = await repository.list_by_status(connection, "deposit", ["pending", "processing"], older_than=stale)
            requested = await repository.list_by_status(connection, "withdrawal", ["requested"], older_than=stale)
            approved = await repository.list_by_status(connection, "withdrawal", ["approved"], older_than=stale)
            payouts = await repository.list_by_status(connection, "withdrawal", ["processing"], older_than=stale)
        for payment in requested:
            await self.withdrawals.resume(payment)
            repaired["resumed"] += 1
        for payment in [*approved, *(p for p in payouts if p["attempt_count"] == 0)]:
            await self.withdrawals.pay_out(payment)  # crashed between approval (or the payout's claim) and the call
            repaired["resumed"] += 1
        for payment in [*interrupted, *quiet, *(p for p in payouts if p["attempt_count"] > 0)]:
            repaired["polled"] += await self._poll(payment)
        return repaired

    async def _poll(self, payment: dict[str, Any]) -> int:
        """Ask the provider about the payment's current attempt and apply what it says."""
        if payment["attempt_count"] == 0 and payment["status"] == "created":
            # Interrupted before an attempt was written: no provider was ever called, nothing was charged.
            await transition(self.context, payment, "failed", failure_code="interrupted")
            return 1
        if payment["attempt_count"] == 0 or payment["provider"] is None or payment["method"] == "crypto":
            return 0
        attempt_id = f"{payment['id']}-{payment['attempt_count']}"
        adapter = self.context.adapters.get(payment["provider"])
        if adapter is None:
            return 0
        event = await adapter.status(attempt_id, payment["provider_ref"], payment["kind"])
        if event is None:
            if payment["status"] == "created":  # the provider never got the attempt: nothing was charged
                await transition(self.context, payment, "failed", failure_code="interrupted")
                return 1
            if payment["kind"] == "withdrawal":  # the payout never reached the provider: send it again, same id
                result = await call_provider(self.context, payment["provider"], attempt_id, payment)
                if result.outcome.accepted:
                    return 1
            return 0
        if event.attempt_id is None:
            event = ProviderEvent(**{**_fields(event), "attempt_id": attempt_id})
        await self.apply_event(payment["provider"], event)
        return 1


def _fields(event: ProviderEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}
