"""Crypto deposits the compliance gate refuses when the coins arrive, and the admin's decision about them.

The gate is asked when a player asks for a deposit address, and again when a transfer to it is confirmed: the player
may have self-excluded, reached a deposit limit or lost their KYC status in between (and a transfer nobody announced
was never asked about at all). Coins cannot be refused on chain, so a refusal on arrival does not fail the deposit:
it is **held**. Its verdict is recorded in the payment's `review.compliance` (reason, rule, decision id), the money
moves from the provider's clearing account to a suspense account (so the ledger and the provider's settlement still
agree, and nobody can play it), `cashier.deposit.held` tells the player and `cashier.alert.deposit_held` the back
office. A finance user then either releases it (the player is credited, once, under the deposit's usual key, from
suspense) or marks it for a refund (`refund_requested`: never credited; the coins stay in suspense until treasury
sends them back).

A gate that cannot decide (`gate_unavailable`) decides nothing: the webhook is retried later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from croupier.cashier import repository
from croupier.cashier.core import Context, reload, transition
from croupier.cashier.errors import DepositNotHeld, PaymentNotFound
from croupier.cashier.events import DepositHeld, dump
from croupier.cashier.ledger import deposit_key
from croupier.kit.outbox import Event

if TYPE_CHECKING:
    from croupier.cashier.deposits import Deposits

REVIEW_STATUSES = ("held", "refund_requested")


class ArrivalNotDecided(Exception):
    """The gate could not decide on arrival: nothing is decided now; the provider's event is applied again later."""


@dataclass(frozen=True, slots=True)
class ArrivalVerdict:
    status: str  # succeeded (credit it) or held
    record: dict[str, Any]  # what goes into review.compliance
    alerts: list[Event]


class DepositReview:
    def __init__(self, context: Context, deposits: Deposits) -> None:
        self.context = context
        self.deposits = deposits

    async def on_arrival(self, payment: dict[str, Any], received: int) -> ArrivalVerdict:
        """Ask the gate about coins that just arrived (confirmed): credit them, or hold them for review."""
        context = self.context
        amount = await self.deposits.in_wallet_currency(received, payment["currency"], payment["wallet_currency"])
        details = payment["details"] or {}
        verdict = await context.gate.check(
            payment["player_id"],
            "deposit",
            amount,
            {
                "method": payment["method"],
                "currency": payment["currency"],
                "amount_in_payment_currency": received,
                "network": details.get("network"),
                "tx_hash": payment["provider_ref"],
                "stage": "arrival",
            },
        )
        if not verdict.allowed and verdict.reason == "gate_unavailable":
            raise ArrivalNotDecided(f"the compliance gate could not decide: {verdict.detail}")
        now = context.clock()
        record = {
            "stage": "arrival",
            "verdict": "allowed" if verdict.allowed else "refused",
            "reason": verdict.reason,
            "rule": verdict.rule,
            "rule_version": verdict.rule_version,
            "decision_id": str(verdict.decision_id),
            "detail": verdict.detail,
            "facts": verdict.facts,
            "amount_in_wallet_currency": amount,
            "checked_at": now.isoformat(),
        }
        if verdict.allowed:
            return ArrivalVerdict("succeeded", record, [])
        alert = DepositHeld(
            payment_id=payment["id"],
            player_id=payment["player_id"],
            provider=payment["provider"],
            tx_hash=payment["provider_ref"],
            network=details.get("network"),
            currency=payment["currency"],
            amount=received,
            wallet_currency=payment["wallet_currency"],
            reason=verdict.reason,
            rule=verdict.rule,
            decision_id=verdict.decision_id,
        )
        event = Event("cashier.alert.deposit_held", dump(alert), now, payment["brand_id"])
        return ArrivalVerdict("held", record, [event])

    async def move_to_suspense(self, payment: dict[str, Any]) -> dict[str, Any]:
        """Book the held coins from the provider's clearing account to suspense (keyed: repeatable), and record it."""
        if payment["held_transfer_id"] is not None:
            return payment
        context = self.context
        transfer_id = await context.ledger.hold_deposit_for_review(
            key=deposit_key(payment["provider"], payment["provider_ref"]),
            brand_id=payment["brand_id"],
            provider=payment["provider"],
            currency=payment["currency"],
            amount=payment["received_amount"],
            metadata={
                "payment_id": str(payment["id"]),
                "payment_kind": "deposit",
                "attempt_id": f"{payment['id']}-{payment['attempt_count']}",
                "provider": payment["provider"],
                "provider_ref": payment["provider_ref"],
                "reference": payment["provider_ref"],
                "method": payment["method"],
                "decision_id": (payment["review"].get("compliance") or {}).get("decision_id"),
            },
        )
        async with context.db.connection() as connection:
            await repository.mark_held_transfer(connection, payment["id"], transfer_id)
        return {**payment, "held_transfer_id": transfer_id}

    async def release(self, payment_id: UUID, admin: str, reason: str) -> dict[str, Any]:
        """Credit a held deposit to the player (once: the deposit's usual key), from suspense."""
        payment = await self.move_to_suspense(await self._held(payment_id))
        received = payment["received_amount"]
        await self.deposits.conversion(payment, received)  # no fresh FX rate: refused here, before anything changes
        review = {
            **payment["review"],
            "released_by": admin,
            "release_reason": reason,
            "released_at": self.context.clock().isoformat(),
        }
        updated = await transition(self.context, payment, "succeeded", announce=False, review=review)
        if updated is None:
            raise DepositNotHeld("the deposit changed meanwhile; reload it", payment_id=str(payment_id))
        return await self.deposits.credit(updated)

    async def refund(self, payment_id: UUID, admin: str, reason: str) -> dict[str, Any]:
        """Decide that a held deposit goes back to the payer: it is never credited (treasury sends the coins)."""
        payment = await self.move_to_suspense(await self._held(payment_id))
        review = {
            **payment["review"],
            "refund_requested_by": admin,
            "refund_reason": reason,
            "refund_requested_at": self.context.clock().isoformat(),
        }
        code = (payment["review"].get("compliance") or {}).get("reason") or "refund_requested"
        updated = await transition(self.context, payment, "refund_requested", review=review, failure_code=code)
        if updated is None:
            raise DepositNotHeld("the deposit changed meanwhile; reload it", payment_id=str(payment_id))
        return await reload(self.context, payment_id)

    async def listing(self, status: str, limit: int) -> list[dict[str, Any]]:
        async with self.context.db.connection() as connection:
            return await repository.list_by_status(connection, "deposit", [status], limit=limit)

    async def _held(self, payment_id: UUID) -> dict[str, Any]:
        async with self.context.db.connection() as connection:
            payment = await repository.get_payment(connection, payment_id)
        if payment is None or payment["kind"] != "deposit":
            raise PaymentNotFound("no such deposit")
        if payment["status"] != "held":
            raise DepositNotHeld(f"the deposit is {payment['status']}", deposit_status=payment["status"])
        return payment
