"""Cashier errors with stable codes (part of the public API: never renamed or reused)."""

from croupier.kit.errors import DomainError


class MethodUnavailable(DomainError):
    """No provider takes this method for the player's country, currency, brand and amount."""

    code = "method_unavailable"
    status = 422
    title = "Payment method not available"


class InvalidPaymentDetails(DomainError):
    """The method's details are missing or malformed (a VPA, a phone number, a crypto network)."""

    code = "invalid_payment_details"
    status = 422
    title = "Payment details are not valid"


class ProvidersUnavailable(DomainError):
    """Every provider that could take the payment is failing or out of rotation; nothing was charged."""

    code = "providers_unavailable"
    status = 503
    title = "Payment providers unavailable"


class PaymentDeclined(DomainError):
    """The payment was declined (hard decline, or every eligible provider declined)."""

    code = "payment_declined"
    status = 402
    title = "Payment declined"


class PaymentNotFound(DomainError):
    """No such payment for this player (another player's payment is reported the same way)."""

    code = "payment_not_found"
    status = 404
    title = "Payment not found"


class PaymentRequestConflict(DomainError):
    """The same request key was used for a different payment request."""

    code = "idempotency_conflict"
    status = 409
    title = "Idempotency key reused with different content"


class InsufficientBalance(DomainError):
    """A withdrawal larger than the available balance."""

    code = "insufficient_funds"
    status = 422
    title = "Insufficient funds"


class WithdrawalNotCancellable(DomainError):
    """The payout was already sent (or the withdrawal already ended): it can no longer be cancelled."""

    code = "withdrawal_not_cancellable"
    status = 409
    title = "The withdrawal can no longer be cancelled"


class WithdrawalNotPendingApproval(DomainError):
    code = "withdrawal_not_pending_approval"
    status = 409
    title = "The withdrawal is not waiting for approval"


class DepositNotHeld(DomainError):
    """Only a deposit held for review (crypto refused by the compliance gate on arrival) can be released or
    marked for a refund; this one is not (or no longer) held."""

    code = "deposit_not_held"
    status = 409
    title = "The deposit is not held for review"


class FxRateUnavailable(DomainError):
    """No fresh exchange rate between the payment's currency and the wallet's."""

    code = "fx_rate_unavailable"
    status = 422
    title = "No exchange rate"


class UnknownProvider(DomainError):
    code = "unknown_provider"
    status = 404
    title = "Unknown payment provider"


class WebhookNotAuthentic(DomainError):
    """A webhook whose signature, token or timestamp does not verify. Nothing was stored."""

    code = "webhook_rejected"
    status = 400
    title = "Webhook rejected"


class WebhookEventNotFound(DomainError):
    code = "webhook_event_not_found"
    status = 404
    title = "Webhook event not found"


class ReconciliationNotFound(DomainError):
    code = "reconciliation_not_found"
    status = 404
    title = "Reconciliation not found"
