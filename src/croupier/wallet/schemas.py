"""Request and response models of the wallet API (shared by the HTTP API and both client transports).

Amounts are JSON integers in minor units of the currency (EUR 12.34 is 1234; JPY 500 is 500; BTC 0.001 is 100000).
Floats and strings are refused for amounts.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from croupier.kit.money import MAX_MINOR_UNITS
from croupier.wallet.events import TransferCommitted

MAX_METADATA_BYTES = 4096
MAX_BATCH_TRANSFERS = 100

Amount = Annotated[
    StrictInt,
    Field(ge=1, le=MAX_MINOR_UNITS, description="Integer number of minor units of the currency (EUR 12.34 = 1234)."),
]


#: Keys the wallet makes for itself (a hold's expiry). A client's key with this prefix is refused by the service
#: (WalletService._submit), for either transport, and not here: a Python validator on every request's key cost a
#: third of the request's validation.
RESERVED_KEY_PREFIX = "wallet:"
IdempotencyKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Client-chosen unique key (printable ASCII, no spaces; the prefix `wallet:` is reserved). The "
        "same key with the same content returns the original result; with different content it is refused with "
        "idempotency_conflict.",
        examples=["games:round:0193f1b2:bet"],
    ),
]
CURRENCY_PATTERN = r"^[A-Z][A-Z0-9]{2,9}$"
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
CurrencyCode = Annotated[
    str, Field(pattern=CURRENCY_PATTERN, description="ISO 4217 code, or BTC / ETH / USDT.", examples=["EUR"])
]
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN, examples=["brand-eu"])]
TypeCode = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_.]{0,63}$",
        description="What the money movement is: bet, win, deposit, withdrawal, bonus_grant, adjustment, ...",
        examples=["bet"],
    ),
]
AccountKind = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="Player kinds: cash, bonus. House kinds: bankroll, psp_clearing, bonus_pool, jackpot, fx, "
        "suspense, adjustment.",
        examples=["cash"],
    ),
]


def _small_metadata(value: dict[str, Any]) -> dict[str, Any]:
    try:
        encoded = orjson.dumps(value)
    except TypeError as error:  # integers beyond 64 bits, lone surrogates: not storable as they are
        raise ValueError(f"metadata cannot be stored: {error}") from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata must serialise to at most {MAX_METADATA_BYTES} bytes")
    if b"\\u0000" in encoded:
        raise ValueError("metadata must not contain NUL characters (\\u0000)")
    return value


Metadata = Annotated[
    dict[str, Any],
    AfterValidator(_small_metadata),
    Field(description="Free JSON object (round, game, provider or PSP reference); at most 4 KiB."),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- accounts -------------------------------------------------------------------------------------------------------


class OpenAccountRequest(_In):
    """Open an account, or return the existing one with the same brand, owner, kind, label and currency."""

    brand_id: Identifier
    owner_type: Literal["player", "house"]
    owner_id: Identifier = Field(description="The player's id; for house accounts a name such as 'house'.")
    kind: AccountKind
    label: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9._:-]*$")] = Field(
        default="", description="Tells apart house accounts of one kind, e.g. the PSP of a psp_clearing account."
    )
    currency: CurrencyCode
    allow_negative: StrictBool = Field(default=False, description="House accounts only; player accounts never.")
    metadata: Metadata = Field(default_factory=dict)


class BalanceOut(_Out):
    account_id: UUID
    currency: str
    posted: int = Field(description="credits_posted - debits_posted")
    available: int = Field(description="posted - pending_debits: what can be spent now")
    pending_debits: int
    pending_credits: int
    debits_posted: int
    credits_posted: int


class AccountOut(_Out):
    id: UUID
    brand_id: str
    owner_type: Literal["player", "house"]
    owner_id: str
    kind: str
    label: str
    currency: str
    allow_negative: bool
    metadata: dict[str, Any]
    created_at: datetime
    balance: BalanceOut


# -- commands -------------------------------------------------------------------------------------------------------


class TransferLegIn(_In):
    debit_account_id: UUID = Field(description="Account the money leaves.")
    credit_account_id: UUID = Field(description="Account the money enters.")
    amount: Amount
    currency: CurrencyCode
    type: TypeCode
    metadata: Metadata = Field(default_factory=dict)


class CreateTransferRequest(TransferLegIn):
    idempotency_key: IdempotencyKey


class CreateBatchRequest(_In):
    """Several transfers applied atomically: all of them or none."""

    idempotency_key: IdempotencyKey
    transfers: list[TransferLegIn] = Field(min_length=1, max_length=MAX_BATCH_TRANSFERS)


class CreateHoldRequest(TransferLegIn):
    """Reserve funds: the debit account's available balance drops now; money moves only when the hold is posted."""

    idempotency_key: IdempotencyKey
    expires_at: datetime | None = Field(default=None, description="When an unresolved hold is voided automatically.")

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("expires_at must carry a time zone offset")
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("expires_at is out of range") from None
        if value <= datetime.now(UTC):
            raise ValueError("expires_at must be in the future")
        return value


class PostHoldRequest(_In):
    idempotency_key: IdempotencyKey
    amount: Amount | None = Field(default=None, description="Part of the hold to post; the rest is released.")
    metadata: Metadata = Field(default_factory=dict)


class VoidHoldRequest(_In):
    idempotency_key: IdempotencyKey
    metadata: Metadata = Field(default_factory=dict)


class ReverseTransferRequest(_In):
    """Undo a transfer with a new, opposite transfer. Name the original by id, or by its idempotency key.

    By key, an original that has not arrived (yet) is tombstoned: the reversal succeeds without moving money and the
    original is refused with transfer_tombstoned if it arrives later.
    """

    idempotency_key: IdempotencyKey
    transfer_id: UUID | None = None
    original_idempotency_key: IdempotencyKey | None = None
    type: TypeCode = "reversal"
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_target(self) -> "ReverseTransferRequest":
        if (self.transfer_id is None) == (self.original_idempotency_key is None):
            raise ValueError("give exactly one of transfer_id and original_idempotency_key")
        if self.original_idempotency_key == self.idempotency_key:
            raise ValueError("a reversal needs its own idempotency key, not the key of the transfer it reverses")
        return self


# -- results --------------------------------------------------------------------------------------------------------


class BalanceSnapshot(_Out):
    posted: int
    available: int


class TransferOut(TransferCommitted):
    """A transfer row as the API returns it: the same fields as the wallet.transfer.committed event payload."""


class TransferResultOut(_Out):
    """One transfer, hold, post or void, with both accounts' balances right after it (as they were then)."""

    transfer: TransferOut
    debit_balance: BalanceSnapshot
    credit_balance: BalanceSnapshot


class BatchResultOut(_Out):
    idempotency_key: str
    transfers: list[TransferOut]
    balances: dict[str, BalanceSnapshot] = Field(description="Balances after the batch, by account id.")


class ReversalOut(_Out):
    idempotency_key: str
    status: Literal["reversed", "tombstoned"]
    original_idempotency_key: str | None
    transfers: list[TransferOut] = Field(description="The reversing transfers (empty when tombstoned).")
    balances: dict[str, BalanceSnapshot]


class TransferPage(_Out):
    items: list[TransferOut]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")


class EventOut(_Out):
    """One outbox event (see croupier.wallet.events for the payload of each type)."""

    id: UUID
    type: str
    version: int
    occurred_at: datetime
    brand_id: str | None
    trace_id: str | None
    payload: dict[str, Any]


class EventPage(_Out):
    items: list[EventOut]
    next_cursor: str = Field(
        description="Pass as `after` to read on. Always present: at the end of the feed it is the same cursor again."
    )


class AccountPage(_Out):
    items: list[AccountOut]
    next_cursor: str | None


class CurrencyOut(_Out):
    """A currency the wallet accepts. Amounts of it are integers in minor units: 10^exponent per major unit."""

    code: str = Field(description="ISO 4217 code, or the platform's code of a crypto asset (BTC, ETH, USDT)")
    exponent: int = Field(ge=0, description="minor units per major unit = 10^exponent (EUR 2: 1250 is 12.50 EUR)")
    name: str
    kind: Literal["fiat", "crypto"]
    max_amount: int = Field(description="the largest amount in minor units a transfer or balance may hold (2^63 - 1)")


class HoldOut(_Out):
    hold: TransferOut
    status: Literal["open", "posted", "voided", "expired"]
    resolution: TransferOut | None
