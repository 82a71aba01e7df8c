"""Deposits: choose a method -> compliance gate -> route -> provider -> webhook -> queue -> credit once -> event.

The credit's wallet key is derived from the provider's transaction id (`cashier:deposit:<provider>:<txn>`): the
synchronous answer, every duplicate webhook and the recovery worker all credit with the same key, so the wallet
moves the money exactly once whichever arrives first, and however often.

Crypto: the player gets a deposit address (one per player, asset and network); every on-chain transfer to it is
its own payment, credited when the provider reports enough confirmations, for the amount that actually arrived.
A transfer matching an open deposit request completes it (marked underpaid or overpaid when the amount differs
from what was expected); one with no open request becomes a new deposit.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

import orjson

from croupier.cashier import fx, repository
from croupier.cashier.core import (
    Context,
    PlayerRef,
    cascade,
    eligible_or_refuse,
    reload,
    transition,
)
from croupier.cashier.deposit_review import REVIEW_STATUSES, ArrivalVerdict, DepositReview
from croupier.cashier.errors import InvalidPaymentDetails, PaymentDeclined, PaymentRequestConflict
from croupier.cashier.ledger import Conversion, deposit_key
from croupier.cashier.providers.base import Outcome, ProviderEvent
from croupier.compliance.client import require_allowed
from croupier.kit.ids import uuid7

STATUS_OF_EVENT = {
    "pending": "pending",
    "processing": "processing",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
}
CRYPTO_NETWORKS = {"BTC": ("bitcoin",), "USDT": ("tron", "ethereum")}


def request_digest(kind: str, method: str, amount: int, currency: str, details: dict[str, Any]) -> str:
    canonical = orjson.dumps(
        {"kind": kind, "method": method, "amount": amount, "currency": currency, "details": details},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


class Deposits:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.review = DepositReview(context, self)

    async def create(
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
        if method == "crypto":
            network = details.get("network")
            if network not in CRYPTO_NETWORKS.get(currency, ()):
                raise InvalidPaymentDetails(
                    f"crypto deposits in {currency} need details.network, one of "
                    + ", ".join(CRYPTO_NETWORKS.get(currency, ())),
                    currency=currency,
                )
        elif amount <= 0:
            raise InvalidPaymentDetails("amount must be a positive number of minor units")
        digest = request_digest("deposit", method, amount, currency, details)
        existing = await self._by_request(player.player_id, request_key, digest)
        if existing is not None:
            return existing
        values: dict[str, Any] = {
            "id": uuid7(),
            "kind": "deposit",
            "player_id": player.player_id,
            "brand_id": profile.brand_id,
            "country": profile.country,
            "method": method,
            "currency": currency,
            "amount": amount,
            "wallet_account_id": profile.wallet_account_id,
            "wallet_currency": profile.currency,
            "request_key": request_key,
            "request_digest": digest,
            "details": details,
            "status": "created",
            "status_rank": 0,
            "created_at": context.clock(),
            "updated_at": context.clock(),
        }
        await eligible_or_refuse(context, {**values, "attempt_count": 0})
        wallet_amount = await self.in_wallet_currency(amount, currency, profile.currency) if amount else 0
        # A crypto address for any amount (0) is judged as the smallest deposit (may this player deposit at all?);
        # what actually arrives is judged again, for its amount, when it is confirmed (DepositReview).
        verdict = await require_allowed(
            context.gate,
            player.player_id,
            "deposit",
            max(wallet_amount, 1),
            {"ip": player.ip, "method": method, "currency": currency, "amount_in_payment_currency": amount},
        )
        values["decision_id"] = verdict.decision_id
        async with context.db.transaction() as connection:
            payment = await repository.insert_payment(connection, values)
        if payment is None:  # the same request key won a race with this request
            existing = await self._by_request(player.player_id, request_key, digest)
            assert existing is not None
            return existing
        return await self.route(payment)

    async def route(self, payment: dict[str, Any]) -> dict[str, Any]:
        """Run the cascade and record where it ended (a crash part-way is resumed by the recovery worker)."""
        outcome = await cascade(self.context, payment)
        payment = outcome.payment
        result = outcome.result
        if result is None:
            return payment
        if result.outcome == Outcome.SUCCEEDED:
            updated = await transition(  # announced once credited, not before
                self.context,
                payment,
                "succeeded",
                announce=False,
                provider_ref=result.provider_ref,
                received_amount=payment["amount"],
            )
            payment = updated or await reload(self.context, payment["id"])
            return await self.credit(payment)
        if result.outcome == Outcome.PENDING:
            action = result.next_action.as_dict() if result.next_action else None
            status = "awaiting_transfer" if payment["method"] == "crypto" else "pending"
            updated = await transition(
                self.context, payment, status, provider_ref=result.provider_ref, next_action=action
            )
            payment = updated or await reload(self.context, payment["id"])
            if payment["method"] == "crypto" and result.next_action and result.next_action.address:
                await self._remember_address(payment, outcome.provider or "", result.next_action.address)
            return payment
        code = "declined" if result.outcome == Outcome.HARD_DECLINE else "providers_failed"
        updated = await transition(
            self.context, payment, "failed", failure_code=code, failure_detail=result.error_code or result.detail
        )
        payment = updated or await reload(self.context, payment["id"])
        if payment["status"] == "failed":
            raise PaymentDeclined(
                "the payment was declined" if code == "declined" else "no provider could take the payment",
                payment_id=str(payment["id"]),
                failure_code=code,
                provider_code=result.error_code,
            )
        return payment

    async def advance(self, payment: dict[str, Any], event: ProviderEvent) -> dict[str, Any]:
        """Apply a provider's event to the deposit: forward only; a success credits the wallet."""
        status = STATUS_OF_EVENT.get(event.status)
        arrival: ArrivalVerdict | None = None
        for _ in range(5):
            if status is None or repository.rank("deposit", status) <= payment["status_rank"]:
                break  # late or repeated news ("processing" after "succeeded"): nothing to do
            changes: dict[str, Any] = {}
            if event.provider_ref and not payment["provider_ref"]:
                changes["provider_ref"] = event.provider_ref
            target, alerts = status, None
            if status == "succeeded":
                changes["received_amount"] = event.amount if event.amount is not None else payment["amount"]
                if payment["method"] == "crypto":  # the gate again, now that the coins are here
                    arrival = arrival or await self.review.on_arrival(payment, changes["received_amount"])
                    target, alerts = arrival.status, arrival.alerts
                    changes["review"] = {**payment["review"], "compliance": arrival.record}
            if status in ("failed", "canceled"):
                changes["failure_code"] = event.error_code or status
            # "succeeded" is announced once the wallet is credited (credit() below), not before
            updated = await transition(
                self.context,
                payment,
                target,
                announce=False if target == "succeeded" else None,
                alerts=alerts,
                **changes,
            )
            if updated is not None:
                payment = updated
                break
            payment = await reload(self.context, payment["id"])
        if payment["status"] == "held":
            payment = await self.review.move_to_suspense(payment)
        if payment["status"] == "succeeded" and payment["credited_at"] is None:
            payment = await self.credit(payment)
        return payment

    async def credit(self, payment: dict[str, Any]) -> dict[str, Any]:
        """Credit a succeeded deposit to the player's wallet, once (safe to repeat: the wallet key is fixed)."""
        context = self.context
        if payment["credited_at"] is not None or payment["status"] in REVIEW_STATUSES:
            return payment  # credited already, or held for an admin's decision (DepositReview.release credits it)
        received = payment["received_amount"] if payment["received_amount"] is not None else payment["amount"]
        reference = payment["provider_ref"] or f"{payment['id']}-{payment['attempt_count']}"
        key = deposit_key(payment["provider"], reference)
        conversion = await self.conversion(payment, received)
        await context.ledger.credit_deposit(
            key=key,
            brand_id=payment["brand_id"],
            provider=payment["provider"],
            player_account=payment["wallet_account_id"],
            currency=payment["currency"],
            amount=received,
            wallet_currency=payment["wallet_currency"],
            conversion=conversion,
            from_suspense=payment["held_transfer_id"] is not None,
            metadata={
                "payment_id": str(payment["id"]),
                "payment_kind": "deposit",
                "attempt_id": f"{payment['id']}-{payment['attempt_count']}",
                "provider": payment["provider"],
                "provider_ref": payment["provider_ref"],
                "reference": payment["provider_ref"]
                if payment["method"] == "crypto"
                else f"{payment['id']}-{payment['attempt_count']}",
                "method": payment["method"],
            },
        )
        credited = conversion.to_amount if conversion else received
        for _ in range(5):
            updated = await transition(
                context,
                payment,
                "succeeded",
                announce=True,
                credited_at=context.clock(),
                credited_amount=credited,
                credit_key=key,
            )
            if updated is not None:
                return updated
            payment = await reload(context, payment["id"])
            if payment["credited_at"] is not None:
                return payment
        raise RuntimeError(f"payment {payment['id']} kept changing while it was being credited")

    async def conversion(self, payment: dict[str, Any], received: int) -> Conversion | None:
        if payment["currency"] == payment["wallet_currency"]:
            return None
        context = self.context
        async with context.db.transaction() as connection:
            existing = await connection.fetchrow(
                "SELECT * FROM cashier.conversions WHERE payment_id = $1", payment["id"]
            )
            if existing is None:
                now = context.clock()
                rate = await fx.current_rate(
                    connection, payment["currency"], payment["wallet_currency"], now=now, max_age=context.fx_max_age
                )
                to_amount = fx.convert(received, rate, context.currencies)
                existing = await fx.record_conversion(
                    connection, payment_id=payment["id"], from_amount=received, to_amount=to_amount, rate=rate, now=now
                )
        row = dict(existing)
        return Conversion(
            row["id"], row["from_amount"], row["to_amount"], row["rate_id"], str(row["rate"]), row["spread_bps"]
        )

    async def in_wallet_currency(self, amount: int, currency: str, wallet_currency: str) -> int:
        if currency == wallet_currency:
            return amount
        context = self.context
        async with context.db.connection() as connection:
            rate = await fx.current_rate(
                connection, currency, wallet_currency, now=context.clock(), max_age=context.fx_max_age
            )
        return fx.convert(amount, rate, context.currencies)

    async def _by_request(self, player_id: str, request_key: str, digest: str) -> dict[str, Any] | None:
        async with self.context.db.connection() as connection:
            existing = await repository.payment_by_request(connection, player_id, request_key)
        if existing is None:
            return None
        if existing["request_digest"] != digest:
            raise PaymentRequestConflict(
                "this request key was used for another payment", payment_id=str(existing["id"])
            )
        return existing

    async def _remember_address(self, payment: dict[str, Any], provider: str, address: str) -> None:
        async with self.context.db.connection() as connection:
            await repository.save_crypto_address(
                connection,
                {
                    "provider": provider,
                    "network": payment["details"]["network"],
                    "address": address,
                    "asset": payment["currency"],
                    "player_id": payment["player_id"],
                    "brand_id": payment["brand_id"],
                    "country": payment["country"],
                    "wallet_account_id": payment["wallet_account_id"],
                    "wallet_currency": payment["wallet_currency"],
                    "created_at": self.context.clock(),
                },
            )

    # -- crypto ----------------------------------------------------------------------------------------------------

    async def apply_chain_transfer(self, provider: str, event: ProviderEvent) -> dict[str, Any] | None:
        """An on-chain transfer to a player's deposit address: one deposit per transaction hash."""
        assert event.address is not None
        assert event.tx_hash is not None
        assert event.network is not None
        context = self.context
        async with context.db.transaction() as connection:
            address = await repository.crypto_address(connection, provider, event.network, event.address)
            if address is None:
                return None  # not one of ours: nothing to credit (kept in the queue as applied, for the record)
            payment = await repository.crypto_payment(connection, provider, event.tx_hash)
            if payment is None:
                payment = await self._claim_request(connection, address, provider, event)
        return await self.advance(payment, event)

    async def _claim_request(
        self, connection: repository.Connection, address: dict[str, Any], provider: str, event: ProviderEvent
    ) -> dict[str, Any]:
        now = self.context.clock()
        received = event.amount or 0
        request = await repository.open_crypto_request(
            connection, address["player_id"], provider, address["asset"], event.network or ""
        )
        if request is not None:
            expected = request["amount"]
            review = dict(request["review"] or {})
            if expected and received != expected:
                review["payment"] = "underpaid" if received < expected else "overpaid"
                review["expected_amount"] = expected
            claimed = await repository.update_payment(
                connection,
                request["id"],
                request["version"],
                now,
                status="processing",
                status_rank=repository.rank("deposit", "processing"),
                provider_ref=event.tx_hash,
                received_amount=received,
                review=review,
            )
            assert claimed is not None
            return claimed
        values = {
            "id": uuid7(),
            "kind": "deposit",
            "player_id": address["player_id"],
            "brand_id": address["brand_id"],
            "country": address["country"],
            "method": "crypto",
            "currency": address["asset"],
            "amount": received,
            "wallet_account_id": address["wallet_account_id"],
            "wallet_currency": address["wallet_currency"],
            "request_key": f"chain:{event.network}:{event.tx_hash}"[:200],
            "request_digest": "",
            "details": {"network": event.network, "address": event.address},
            "status": "processing",
            "status_rank": repository.rank("deposit", "processing"),
            "provider": provider,
            "provider_ref": event.tx_hash,
            "received_amount": received,
            "review": {"payment": "unannounced"},
            "created_at": now,
            "updated_at": now,
        }
        inserted = await repository.insert_payment(connection, values)
        if inserted is None:
            inserted = await repository.payment_by_request(connection, address["player_id"], values["request_key"])
        assert inserted is not None
        return inserted
