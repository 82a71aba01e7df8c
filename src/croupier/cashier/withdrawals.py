"""Withdrawals: request -> wallet hold -> KYC (the gate) and AML -> automatic approval up to the brand's threshold,
the manual queue above it -> payout through a provider -> post the hold on success, void it on failure.

The hold makes the withdrawal safe against the player's own spending: the wallet refuses a hold beyond the
available balance, and held money cannot be bet. Every step is a forward-only, compare-and-set status change, so a
cancel racing the payout, an admin approving twice, or the recovery worker resuming a crashed payout cannot pay
twice or release money that was paid out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from croupier.cashier import aml, fx, repository
from croupier.cashier.core import Context, PlayerRef, cascade, eligible_or_refuse, reload, transition
from croupier.cashier.deposits import request_digest
from croupier.cashier.errors import (
    InsufficientBalance,
    InvalidPaymentDetails,
    PaymentDeclined,
    PaymentNotFound,
    PaymentRequestConflict,
    WithdrawalNotCancellable,
    WithdrawalNotPendingApproval,
)
from croupier.cashier.fx import Rate
from croupier.cashier.ledger import Conversion
from croupier.cashier.providers.base import Outcome, ProviderEvent
from croupier.compliance.client import require_allowed
from croupier.kit.ids import uuid7
from croupier.wallet.client import InsufficientFunds

#: A "requested" withdrawal is being held and checked (or was interrupted there, and is resumed): not yet.
CANCELLABLE = ("pending_approval", "approved")


class Withdrawals:
    def __init__(self, context: Context) -> None:
        self.context = context

    async def request(
        self,
        player: PlayerRef,
        *,
        method: str,
        amount: int,
        currency: str | None,
        request_key: str,
        details: dict[str, Any],
    ) -> dict[str, Any]:
        context = self.context
        profile = await context.identity.get_player(UUID(player.player_id))
        if profile.wallet_account_id is None:
            raise InvalidPaymentDetails("the player has no wallet account")
        currency = currency or profile.currency
        context.currencies.get(currency)  # UnknownCurrency for a code we do not know
        digest = request_digest("withdrawal", method, amount, currency, details)
        async with context.db.connection() as connection:
            existing = await repository.payment_by_request(connection, player.player_id, request_key)
        if existing is not None:
            if existing["request_digest"] != digest:
                raise PaymentRequestConflict(
                    "this request key was used for another payment", payment_id=str(existing["id"])
                )
            if existing["status"] == "requested":  # the first try was interrupted before the hold and checks
                return await self._hold_and_review(existing, profile.kyc_status)
            return existing
        now = context.clock()
        quote = await self._quote(amount, profile.currency, currency, now)
        values: dict[str, Any] = {
            "id": uuid7(),
            "kind": "withdrawal",
            "player_id": player.player_id,
            "brand_id": profile.brand_id,
            "country": profile.country,
            "method": method,
            "currency": currency,
            "amount": quote[1] if quote else amount,  # what the provider pays out
            "wallet_account_id": profile.wallet_account_id,
            "wallet_currency": profile.currency,
            "wallet_amount": amount,  # what is held, then debited
            "request_key": request_key,
            "request_digest": digest,
            "details": details,
            "status": "requested",
            "status_rank": 0,
            "created_at": now,
            "updated_at": now,
        }
        await eligible_or_refuse(context, {**values, "attempt_count": 0})
        verdict = await require_allowed(
            context.gate, player.player_id, "withdraw", amount, {"ip": player.ip, "method": method}
        )
        values["decision_id"] = verdict.decision_id
        async with context.db.transaction() as connection:
            payment = await repository.insert_payment(connection, values)
            if payment is not None and quote is not None:  # the rate is fixed now, with the request
                await fx.record_conversion(
                    connection, payment_id=payment["id"], from_amount=amount, to_amount=quote[1], rate=quote[0], now=now
                )
        if payment is None:
            async with context.db.connection() as connection:
                payment = await repository.payment_by_request(connection, player.player_id, request_key)
            assert payment is not None
            return payment
        return await self._hold_and_review(payment, profile.kyc_status)

    async def _quote(self, amount: int, wallet_currency: str, currency: str, now: datetime) -> tuple[Rate, int] | None:
        """The payout in another currency than the wallet's: the rate in force and the converted amount (rounded
        down); None when the payout is in the wallet's currency. Refuses a missing or stale rate, and a payout
        that converts to nothing."""
        if currency == wallet_currency:
            return None
        context = self.context
        async with context.db.connection() as connection:
            rate = await fx.current_rate(connection, wallet_currency, currency, now=now, max_age=context.fx_max_age)
        payout = fx.convert(amount, rate, context.currencies)
        if payout <= 0:
            raise InvalidPaymentDetails(
                f"{amount} minor units of {wallet_currency} are worth nothing in {currency}", currency=currency
            )
        return rate, payout

    async def resume(self, payment: dict[str, Any]) -> dict[str, Any]:
        """Finish a withdrawal interrupted before its hold and checks were recorded (the hold's key is the
        payment's, so a hold made before the interruption is found again, not made twice)."""
        profile = await self.context.identity.get_player(UUID(payment["player_id"]))
        return await self._hold_and_review(payment, profile.kyc_status)

    async def _hold_and_review(self, payment: dict[str, Any], kyc_status: str) -> dict[str, Any]:
        context = self.context
        try:
            hold_id = await context.ledger.hold_withdrawal(
                payment_id=payment["id"],
                brand_id=payment["brand_id"],
                player_account=payment["wallet_account_id"],
                currency=payment["wallet_currency"],
                amount=payment["wallet_amount"],
                conversion=await self._conversion(payment),
            )
        except InsufficientFunds as error:
            await transition(context, payment, "failed", failure_code="insufficient_funds")
            raise InsufficientBalance(
                "the withdrawal is larger than the available balance",
                payment_id=str(payment["id"]),
                **{k: v for k, v in error.extensions.items() if k in ("available", "requested")},
            ) from None
        verdicts = await aml.check_withdrawal(context, payment, kyc_status)
        flags = [v.rule for v in verdicts if v.verdict == "review"]
        async with context.db.connection() as connection:
            limits = await repository.auto_approve_limits(connection, payment["brand_id"])
        limit = limits.get(payment["wallet_currency"])  # what leaves the player's balance decides
        reasons = list(flags)
        if limit is None:
            reasons.append("no_auto_approval_limit")
        elif payment["wallet_amount"] > limit:
            reasons.append("over_auto_approval_limit")
        review = {"aml_flags": flags, "reasons": reasons, "auto_approve_limit": limit}
        status = "pending_approval" if reasons else "approved"
        updated = await transition(context, payment, status, hold_id=hold_id, review=review)
        payment = updated or await reload(context, payment["id"])
        if payment["status"] == "approved":
            return await self.pay_out(payment)
        return payment

    async def approve(self, payment_id: UUID, admin: str) -> dict[str, Any]:
        payment = await self._pending(payment_id)
        review = {**payment["review"], "approved_by": admin, "approved_at": self.context.clock().isoformat()}
        updated = await transition(self.context, payment, "approved", review=review)
        if updated is None:
            raise WithdrawalNotPendingApproval("the withdrawal changed; reload it")
        return await self.pay_out(updated)

    async def reject(self, payment_id: UUID, admin: str, reason: str) -> dict[str, Any]:
        payment = await self._pending(payment_id)
        review = {**payment["review"], "rejected_by": admin, "rejection_reason": reason}
        updated = await transition(self.context, payment, "rejected", review=review, failure_code="rejected")
        if updated is None:
            raise WithdrawalNotPendingApproval("the withdrawal changed; reload it")
        await self.release(updated)
        return await reload(self.context, payment_id)

    async def cancel(self, player: PlayerRef, payment_id: UUID) -> dict[str, Any]:
        for _ in range(5):
            payment = await reload_owned(self.context, player, payment_id)
            if payment["kind"] != "withdrawal":
                raise PaymentNotFound("no such withdrawal")
            if payment["status"] not in CANCELLABLE:
                raise WithdrawalNotCancellable(
                    f"the withdrawal is {payment['status']}", withdrawal_status=payment["status"]
                )
            updated = await transition(self.context, payment, "canceled", failure_code="canceled_by_player")
            if updated is not None:
                await self.release(updated)
                return await reload(self.context, payment_id)
        raise WithdrawalNotCancellable("the withdrawal kept changing; reload it")

    async def pay_out(self, payment: dict[str, Any]) -> dict[str, Any]:
        """Claim an approved withdrawal (approved -> processing) and send it through the cascade."""
        context = self.context
        if payment["status"] == "approved":
            claimed = await transition(context, payment, "processing")
            if claimed is None:  # cancelled or claimed by someone else in the meantime
                return await reload(context, payment["id"])
            payment = claimed
        if payment["status"] != "processing":
            return payment
        outcome = await cascade(context, payment)
        payment = outcome.payment
        result = outcome.result
        if result is None:
            return payment
        if result.outcome == Outcome.SUCCEEDED:
            return await self.advance(
                payment,
                ProviderEvent(
                    event_id=f"sync:{outcome.attempt_id}",
                    kind="withdrawal",
                    status="succeeded",
                    attempt_id=outcome.attempt_id,
                    provider_ref=result.provider_ref,
                    amount=payment["amount"],
                ),
            )
        if result.outcome == Outcome.PENDING:
            async with context.db.connection() as connection:
                updated = await repository.update_payment(
                    connection, payment["id"], payment["version"], context.clock(), provider_ref=result.provider_ref
                )
            return updated or await reload(context, payment["id"])
        code = "declined" if result.outcome == Outcome.HARD_DECLINE else "providers_failed"
        failed = await transition(
            context, payment, "failed", failure_code=code, failure_detail=result.error_code or result.detail
        )
        if failed is not None:
            await self.release(failed)
            raise PaymentDeclined(
                "the payout was refused; the money is back in the wallet",
                payment_id=str(payment["id"]),
                failure_code=code,
            )
        return await reload(context, payment["id"])

    async def advance(self, payment: dict[str, Any], event: ProviderEvent) -> dict[str, Any]:
        """Apply a provider's payout event: paid -> post the hold; failed -> release it."""
        context = self.context
        if event.status == "succeeded" and payment["status"] == "processing":
            changes: dict[str, Any] = {"received_amount": event.amount or payment["amount"]}
            if event.provider_ref and not payment["provider_ref"]:
                changes["provider_ref"] = event.provider_ref
            payment = await transition(context, payment, "paid", **changes) or await reload(context, payment["id"])
        elif event.status in ("failed", "canceled") and payment["status"] == "processing":
            failed = await transition(context, payment, "failed", failure_code=event.error_code or "payout_failed")
            if failed is not None:
                await self.release(failed)
            return await reload(context, payment["id"])
        if payment["status"] == "paid" and payment["credited_at"] is None:
            return await self.settle(payment)
        return payment

    async def settle(self, payment: dict[str, Any]) -> dict[str, Any]:
        """Post the hold and move the money to the provider's clearing account (each step keyed, so repeatable)."""
        context = self.context
        attempt_id = f"{payment['id']}-{payment['attempt_count']}"
        transfer_id = await context.ledger.settle_withdrawal(
            payment_id=payment["id"],
            hold_id=payment["hold_id"],
            brand_id=payment["brand_id"],
            provider=payment["provider"],
            currency=payment["wallet_currency"],
            amount=payment["wallet_amount"],
            payout_currency=payment["currency"],
            payout_amount=payment["amount"],
            conversion=await self._conversion(payment),
            metadata={
                "payment_id": str(payment["id"]),
                "payment_kind": "withdrawal",
                "attempt_id": attempt_id,
                "provider": payment["provider"],
                "provider_ref": payment["provider_ref"],
                "reference": attempt_id,
                "method": payment["method"],
            },
        )
        for _ in range(5):
            async with context.db.connection() as connection:
                updated = await repository.update_payment(
                    connection,
                    payment["id"],
                    payment["version"],
                    context.clock(),
                    credited_at=context.clock(),
                    credited_amount=payment["wallet_amount"],
                    credit_key=str(transfer_id),
                )
            if updated is not None:
                return updated
            payment = await reload(context, payment["id"])
            if payment["credited_at"] is not None:
                return payment
        raise RuntimeError(f"withdrawal {payment['id']} kept changing while it was being settled")

    async def _conversion(self, payment: dict[str, Any]) -> Conversion | None:
        """The conversion recorded when a withdrawal in another currency was requested (None: same currency)."""
        if payment["currency"] == payment["wallet_currency"]:
            return None
        async with self.context.db.connection() as connection:
            row = await connection.fetchrow("SELECT * FROM cashier.conversions WHERE payment_id = $1", payment["id"])
        assert row is not None, f"withdrawal {payment['id']} in {payment['currency']} has no recorded conversion"
        return Conversion(
            row["id"], row["from_amount"], row["to_amount"], row["rate_id"], str(row["rate"]), row["spread_bps"]
        )

    async def release(self, payment: dict[str, Any]) -> None:
        """Release the hold of a withdrawal that ended unpaid, and record it (repeatable: the void is keyed)."""
        if payment["hold_id"] is None or payment.get("released_at") is not None:
            return
        reason = payment["failure_code"] or payment["status"]
        await self.context.ledger.release_withdrawal(
            payment_id=payment["id"], hold_id=payment["hold_id"], reason=reason
        )
        async with self.context.db.connection() as connection:
            await repository.mark_released(connection, payment["id"], self.context.clock())

    async def _pending(self, payment_id: UUID) -> dict[str, Any]:
        async with self.context.db.connection() as connection:
            payment = await repository.get_payment(connection, payment_id)
        if payment is None or payment["kind"] != "withdrawal":
            raise PaymentNotFound("no such withdrawal")
        if payment["status"] != "pending_approval":
            raise WithdrawalNotPendingApproval(
                f"the withdrawal is {payment['status']}", withdrawal_status=payment["status"]
            )
        return payment


async def reload_owned(context: Context, player: PlayerRef, payment_id: UUID) -> dict[str, Any]:
    async with context.db.connection() as connection:
        payment = await repository.get_payment(connection, payment_id)
    if payment is None or payment["player_id"] != player.player_id:
        raise PaymentNotFound("no such payment")
    return payment
