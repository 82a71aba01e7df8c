"""How the cashier's money shows in the wallet: its house accounts, idempotency keys and transfer metadata.

Accounts (house, owner_id "cashier", allow_negative), per brand and currency:
- `psp_clearing` labelled with the provider's name: what the provider owes us (deposits debit it) or we owe it
  (payouts credit it). Reconciliation compares its transfers with the provider's settlement report.
- `psp_clearing` labelled `withdrawals`: the credit side of withdrawal holds, until the payout is confirmed and the
  money moves on to the provider's clearing account.
- `fx` labelled `cashier`: the two legs of a conversion (one per currency) meet here.
- `suspense` labelled `deposits_held`: crypto that arrived for a player the compliance gate refused on arrival,
  until an admin releases it to the player (or it is sent back). Ours to account for, nobody's to play with.

Every transfer that touches a provider's clearing account carries metadata
`{"payment_id", "payment_kind", "attempt_id", "provider", "provider_ref", "reference"}` where `reference` is what the
provider knows us by (the attempt id; for a crypto deposit, the transaction hash). Conversions add
`{"conversion_id", "rate_id", "rate", "spread_bps"}`: a deposit in another currency than the wallet's, and a
withdrawal paid out in another currency (its hold, post and settlement; the hold and post are in the wallet's
currency, the settlement's second leg in the payout's).

Idempotency keys (all retries reuse them, so nothing moves twice):
- deposit credit: `cashier:deposit:<provider>:<provider transaction id>` (from the suspense account when the
  deposit was held for review; the move into it: the same key with `:held`)
- withdrawal hold: `cashier:withdrawal:<payment id>:hold`; its post: `...:post`; void: `...:void`;
  the move to the provider's clearing account: `...:settle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from croupier.wallet.client import (
    CreateBatchRequest,
    CreateHoldRequest,
    CreateTransferRequest,
    HoldAlreadyResolved,
    IdempotencyConflict,
    OpenAccountRequest,
    PostHoldRequest,
    TransferLegIn,
    VoidHoldRequest,
    WalletClient,
)

CASHIER_OWNER = "cashier"
CLEARING_KIND = "psp_clearing"
WITHDRAWALS_LABEL = "withdrawals"
FX_KIND, FX_LABEL = "fx", "cashier"
SUSPENSE_KIND, HELD_DEPOSITS_LABEL = "suspense", "deposits_held"


def deposit_key(provider: str, provider_txn: str) -> str:
    return f"cashier:deposit:{provider}:{provider_txn}"[:200]


def withdrawal_key(payment_id: UUID, step: str) -> str:
    return f"cashier:withdrawal:{payment_id}:{step}"


@dataclass(frozen=True, slots=True)
class Conversion:
    id: UUID
    from_amount: int
    to_amount: int
    rate_id: UUID
    rate: str
    spread_bps: int


class CashierLedger:
    """Opens (and remembers) the cashier's house accounts and moves money with the keys above."""

    def __init__(self, wallet: WalletClient) -> None:
        self.wallet = wallet
        self._accounts: dict[tuple[str, str, str, str], UUID] = {}

    async def house(self, brand_id: str, kind: str, label: str, currency: str) -> UUID:
        key = (brand_id, kind, label, currency)
        cached = self._accounts.get(key)
        if cached is not None:
            return cached
        account = await self.wallet.open_account(
            OpenAccountRequest(
                brand_id=brand_id,
                owner_type="house",
                owner_id=CASHIER_OWNER,
                kind=kind,
                label=label,
                currency=currency,
                allow_negative=True,
            )
        )
        self._accounts[key] = account.id
        return account.id

    async def clearing(self, brand_id: str, provider: str, currency: str) -> UUID:
        return await self.house(brand_id, CLEARING_KIND, provider, currency)

    async def held_deposits(self, brand_id: str, currency: str) -> UUID:
        return await self.house(brand_id, SUSPENSE_KIND, HELD_DEPOSITS_LABEL, currency)

    async def hold_deposit_for_review(
        self, *, key: str, brand_id: str, provider: str, currency: str, amount: int, metadata: dict[str, Any]
    ) -> UUID:
        """Money that arrived but may not be played yet: from the provider's clearing account to suspense."""
        result = await self.wallet.transfer(
            CreateTransferRequest(
                idempotency_key=f"{key}:held"[:200],
                debit_account_id=await self.clearing(brand_id, provider, currency),
                credit_account_id=await self.held_deposits(brand_id, currency),
                amount=amount,
                currency=currency,
                type="deposit_held",
                metadata=metadata,
            )
        )
        return result.transfer.id

    async def credit_deposit(
        self,
        *,
        key: str,
        brand_id: str,
        provider: str,
        player_account: UUID,
        currency: str,
        amount: int,
        wallet_currency: str,
        conversion: Conversion | None,
        metadata: dict[str, Any],
        from_suspense: bool = False,
    ) -> list[UUID]:
        """Credit the player for money the provider received: one transfer, or two legs through fx (atomic). The
        money comes from the provider's clearing account, or from suspense for a deposit held for review."""
        if from_suspense:
            clearing = await self.held_deposits(brand_id, currency)
        else:
            clearing = await self.clearing(brand_id, provider, currency)
        if conversion is None:
            result = await self.wallet.transfer(
                CreateTransferRequest(
                    idempotency_key=key,
                    debit_account_id=clearing,
                    credit_account_id=player_account,
                    amount=amount,
                    currency=currency,
                    type="deposit",
                    metadata=metadata,
                )
            )
            return [result.transfer.id]
        fx_meta = {**metadata, **_fx_metadata(conversion)}
        batch = await self.wallet.transfer_batch(
            CreateBatchRequest(
                idempotency_key=key,
                transfers=[
                    TransferLegIn(
                        debit_account_id=clearing,
                        credit_account_id=await self.house(brand_id, FX_KIND, FX_LABEL, currency),
                        amount=conversion.from_amount,
                        currency=currency,
                        type="fx_conversion",
                        metadata=fx_meta,
                    ),
                    TransferLegIn(
                        debit_account_id=await self.house(brand_id, FX_KIND, FX_LABEL, wallet_currency),
                        credit_account_id=player_account,
                        amount=conversion.to_amount,
                        currency=wallet_currency,
                        type="deposit",
                        metadata=fx_meta,
                    ),
                ],
            )
        )
        return [transfer.id for transfer in batch.transfers]

    async def hold_withdrawal(
        self,
        *,
        payment_id: UUID,
        brand_id: str,
        player_account: UUID,
        currency: str,
        amount: int,
        conversion: Conversion | None = None,
    ) -> UUID:
        """Reserve the withdrawal on the player's account, in its currency (raises InsufficientFunds beyond the
        available balance). A payout in another currency names the conversion fixed with the request."""
        result = await self.wallet.create_hold(
            CreateHoldRequest(
                idempotency_key=withdrawal_key(payment_id, "hold"),
                debit_account_id=player_account,
                credit_account_id=await self.house(brand_id, CLEARING_KIND, WITHDRAWALS_LABEL, currency),
                amount=amount,
                currency=currency,
                type="withdrawal",
                metadata={"payment_id": str(payment_id), "payment_kind": "withdrawal", **_fx_metadata(conversion)},
            )
        )
        return result.transfer.id  # a hold is named by the id of its own transfer

    async def settle_withdrawal(
        self,
        *,
        payment_id: UUID,
        hold_id: UUID,
        brand_id: str,
        provider: str,
        currency: str,
        amount: int,
        metadata: dict[str, Any],
        payout_currency: str | None = None,
        payout_amount: int | None = None,
        conversion: Conversion | None = None,
    ) -> UUID:
        """The payout is confirmed: post the hold (`amount` of the wallet's `currency`), then move the money to the
        provider's clearing account: one transfer, or, for a payout in another currency, two legs through fx at the
        conversion fixed with the request (atomic). Returns the transfer that reaches the clearing account."""
        metadata = {**metadata, **_fx_metadata(conversion)}
        await self.wallet.post_hold(
            hold_id, PostHoldRequest(idempotency_key=withdrawal_key(payment_id, "post"), metadata=metadata)
        )
        held = await self.house(brand_id, CLEARING_KIND, WITHDRAWALS_LABEL, currency)
        if conversion is None or payout_currency is None or payout_amount is None:
            result = await self.wallet.transfer(
                CreateTransferRequest(
                    idempotency_key=withdrawal_key(payment_id, "settle"),
                    debit_account_id=held,
                    credit_account_id=await self.clearing(brand_id, provider, currency),
                    amount=amount,
                    currency=currency,
                    type="payout",
                    metadata=metadata,
                )
            )
            return result.transfer.id
        batch = await self.wallet.transfer_batch(
            CreateBatchRequest(
                idempotency_key=withdrawal_key(payment_id, "settle"),
                transfers=[
                    TransferLegIn(
                        debit_account_id=held,
                        credit_account_id=await self.house(brand_id, FX_KIND, FX_LABEL, currency),
                        amount=amount,
                        currency=currency,
                        type="fx_conversion",
                        metadata=metadata,
                    ),
                    TransferLegIn(
                        debit_account_id=await self.house(brand_id, FX_KIND, FX_LABEL, payout_currency),
                        credit_account_id=await self.clearing(brand_id, provider, payout_currency),
                        amount=payout_amount,
                        currency=payout_currency,
                        type="payout",
                        metadata=metadata,
                    ),
                ],
            )
        )
        return batch.transfers[-1].id

    async def release_withdrawal(self, *, payment_id: UUID, hold_id: UUID, reason: str) -> None:
        """The withdrawal will not be paid (cancelled, rejected, failed): release the hold in full. Returns once the
        hold is released, by this call or an earlier one (whose metadata may have said it in other words)."""
        try:
            await self.wallet.void_hold(
                hold_id,
                VoidHoldRequest(
                    idempotency_key=withdrawal_key(payment_id, "void"),
                    metadata={"reason": reason, "payment_id": str(payment_id), "payment_kind": "withdrawal"},
                ),
            )
        except (IdempotencyConflict, HoldAlreadyResolved):
            if (await self.wallet.get_hold(hold_id)).status != "voided":
                raise


def _fx_metadata(conversion: Conversion | None) -> dict[str, Any]:
    """What ties a transfer to the conversion it used (cashier.conversions, and the rate behind it)."""
    if conversion is None:
        return {}
    return {
        "conversion_id": str(conversion.id),
        "rate_id": str(conversion.rate_id),
        "rate": conversion.rate,
        "spread_bps": conversion.spread_bps,
    }
