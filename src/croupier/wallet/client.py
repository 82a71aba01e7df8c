"""The wallet's public interface for other services, with two transports that behave the same.

- `InProcessWalletClient` calls the service object directly (all-in-one process: no HTTP, no JSON).
- `HttpWalletClient` calls the wallet's HTTP API (split deployment) and turns problem+json back into the same
  exceptions, so callers handle `InsufficientFunds` the same way whichever transport they were given.

Every money-moving call carries an idempotency key in its request: retrying it after a timeout or a crash is always
safe and returns the original result.
"""

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel

from croupier.kit.auth import Forbidden, Unauthenticated
from croupier.kit.errors import (
    AmountOutOfRange,
    Conflict,
    DomainError,
    InternalError,
    NotFound,
    ServiceUnavailable,
    UnknownCurrency,
    ValidationFailed,
)
from croupier.kit.remote_errors import errors_by_code
from croupier.kit.service_http import ServiceHttp
from croupier.wallet.commands import answer
from croupier.wallet.errors import (
    WALLET_ERRORS,
    AccountExists,
    AccountNotFound,
    AlreadyReversed,
    AmountOverflow,
    BrandMismatch,
    CurrencyMismatch,
    HoldAlreadyResolved,
    HoldExpired,
    HoldNotFound,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTimeRange,
    NotReversible,
    PostExceedsHold,
    TransferNotFound,
    TransferTombstoned,
)
from croupier.wallet.schemas import (
    AccountOut,
    AccountPage,
    BalanceOut,
    BatchResultOut,
    CreateBatchRequest,
    CreateHoldRequest,
    CreateTransferRequest,
    EventPage,
    HoldOut,
    OpenAccountRequest,
    PostHoldRequest,
    ReversalOut,
    ReverseTransferRequest,
    TransferLegIn,
    TransferOut,
    TransferPage,
    TransferResultOut,
    VoidHoldRequest,
)

if TYPE_CHECKING:
    from croupier.wallet.service import WalletService

__all__ = [
    "AccountExists",
    "AccountNotFound",
    "AccountOut",
    "AccountPage",
    "AlreadyReversed",
    "AmountOutOfRange",
    "AmountOverflow",
    "BalanceOut",
    "BatchResultOut",
    "BrandMismatch",
    "CreateBatchRequest",
    "CreateHoldRequest",
    "CreateTransferRequest",
    "CurrencyMismatch",
    "HoldAlreadyResolved",
    "HoldExpired",
    "HoldNotFound",
    "HoldOut",
    "HttpWalletClient",
    "IdempotencyConflict",
    "InProcessWalletClient",
    "InsufficientFunds",
    "InternalError",
    "InvalidTimeRange",
    "NotReversible",
    "OpenAccountRequest",
    "PostExceedsHold",
    "PostHoldRequest",
    "ReversalOut",
    "ReverseTransferRequest",
    "TransferLegIn",
    "TransferNotFound",
    "TransferOut",
    "TransferPage",
    "TransferResultOut",
    "TransferTombstoned",
    "UnknownCurrency",
    "VoidHoldRequest",
    "WalletClient",
]


class WalletClient(Protocol):
    async def open_account(self, request: OpenAccountRequest) -> AccountOut:
        """Open an account, or return the identical existing one (same brand, owner, kind, label, currency)."""
        ...

    async def get_account(self, account_id: UUID) -> AccountOut:
        """The account with its current balance. Raises AccountNotFound."""
        ...

    async def get_balance(self, account_id: UUID) -> BalanceOut:
        """Posted, pending and available balance, read consistently from one row."""
        ...

    async def list_accounts(
        self,
        *,
        brand_id: str | None = None,
        owner_type: str | None = None,
        owner_id: str | None = None,
        currency: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> AccountPage:
        """Accounts matching the filters, keyset-paginated."""
        ...

    async def transfer(self, request: CreateTransferRequest) -> TransferResultOut:
        """Move money now. Raises InsufficientFunds, CurrencyMismatch, AccountNotFound, IdempotencyConflict, ..."""
        ...

    async def transfer_batch(self, request: CreateBatchRequest) -> BatchResultOut:
        """Move money in several transfers atomically (all or none)."""
        ...

    async def create_hold(self, request: CreateHoldRequest) -> TransferResultOut:
        """Reserve funds (two-phase transfer, first phase)."""
        ...

    async def post_hold(self, hold_id: UUID, request: PostHoldRequest) -> TransferResultOut:
        """Move all or part of a held amount; the rest is released."""
        ...

    async def void_hold(self, hold_id: UUID, request: VoidHoldRequest) -> TransferResultOut:
        """Release a hold in full."""
        ...

    async def reverse(self, request: ReverseTransferRequest) -> ReversalOut:
        """Undo a transfer with an opposite one; by idempotency key, tombstone a transfer not seen yet."""
        ...

    async def get_transfer(self, transfer_id: UUID) -> TransferOut:
        """One transfer. Raises TransferNotFound."""
        ...

    async def get_hold(self, hold_id: UUID) -> HoldOut:
        """A hold with its status (open, posted, voided, expired) and resolution."""
        ...

    async def read_events(self, *, after: str | None = None, limit: int = 100) -> EventPage:
        """The wallet's events after cursor `after` (None: from the start), in an order that never skips one."""
        ...

    async def list_transfers(
        self,
        *,
        account_id: UUID | None = None,
        cursor: str | None = None,
        limit: int = 100,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> TransferPage:
        """Transfers newest first (of one account, or all), keyset-paginated. With `created_from` and/or
        `created_to` (timezone-aware), only those whose created_at is in [created_from, created_to); pass the same
        window with the cursor. Raises InvalidTimeRange when created_to is not later than created_from,
        ValidationFailed for a time without a time zone."""
        ...


_M = TypeVar("_M", bound=BaseModel)


def _validator(model: type[_M]) -> Callable[[Any], _M]:
    """pydantic's validator of `model`, called directly: model_validate's Python wrapper around it costs a quarter as
    much again, on every transfer an in-process caller makes."""
    return model.__pydantic_validator__.validate_python


_transfer_result = _validator(TransferResultOut)
_batch_result = _validator(BatchResultOut)
_reversal = _validator(ReversalOut)


class InProcessWalletClient:
    """Calls the wallet service in this process."""

    def __init__(self, service: "WalletService") -> None:
        self._service = service

    async def open_account(self, request: OpenAccountRequest) -> AccountOut:
        account, _ = await self._service.open_account(request)
        return AccountOut.model_validate(account)

    async def get_account(self, account_id: UUID) -> AccountOut:
        return AccountOut.model_validate(await self._service.get_account(account_id))

    async def get_balance(self, account_id: UUID) -> BalanceOut:
        return BalanceOut.model_validate(await self._service.get_balance(account_id))

    async def list_accounts(
        self,
        *,
        brand_id: str | None = None,
        owner_type: str | None = None,
        owner_id: str | None = None,
        currency: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> AccountPage:
        page = await self._service.list_accounts(
            brand_id=brand_id, owner_type=owner_type, owner_id=owner_id, currency=currency, cursor=cursor, limit=limit
        )
        return AccountPage.model_validate(page)

    async def transfer(self, request: CreateTransferRequest) -> TransferResultOut:
        # The service's future, awaited here: one coroutine less per transfer than `await self._service.transfer()`.
        result, _ = answer(await self._service.start_transfer(request))
        return _transfer_result(result)

    async def transfer_batch(self, request: CreateBatchRequest) -> BatchResultOut:
        result, _ = await self._service.transfer_batch(request)
        return _batch_result(result)

    async def create_hold(self, request: CreateHoldRequest) -> TransferResultOut:
        result, _ = await self._service.create_hold(request)
        return _transfer_result(result)

    async def post_hold(self, hold_id: UUID, request: PostHoldRequest) -> TransferResultOut:
        result, _ = await self._service.post_hold(hold_id, request)
        return _transfer_result(result)

    async def void_hold(self, hold_id: UUID, request: VoidHoldRequest) -> TransferResultOut:
        result, _ = await self._service.void_hold(hold_id, request)
        return _transfer_result(result)

    async def reverse(self, request: ReverseTransferRequest) -> ReversalOut:
        result, _ = await self._service.reverse(request)
        return _reversal(result)

    async def get_transfer(self, transfer_id: UUID) -> TransferOut:
        return TransferOut.model_validate(await self._service.get_transfer(transfer_id))

    async def get_hold(self, hold_id: UUID) -> HoldOut:
        return HoldOut.model_validate(await self._service.get_hold(hold_id))

    async def read_events(self, *, after: str | None = None, limit: int = 100) -> EventPage:
        return EventPage.model_validate(await self._service.read_events(after=after, limit=limit))

    async def list_transfers(
        self,
        *,
        account_id: UUID | None = None,
        cursor: str | None = None,
        limit: int = 100,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> TransferPage:
        page = await self._service.list_transfers(
            account_id=account_id, cursor=cursor, limit=limit, created_from=created_from, created_to=created_to
        )
        return TransferPage.model_validate(page)


_KNOWN_ERRORS: tuple[type[DomainError], ...] = (
    *WALLET_ERRORS,
    Unauthenticated,
    Forbidden,
    ValidationFailed,
    NotFound,
    Conflict,
    UnknownCurrency,
    AmountOutOfRange,
    ServiceUnavailable,
    InternalError,
)
_ERRORS_BY_CODE = errors_by_code(_KNOWN_ERRORS)


class HttpWalletClient:
    """Calls a wallet over HTTP. Pass the base URL of the process serving the wallet (e.g. http://127.0.0.1:8000)
    and a token: a string, or a function returning a fresh one (croupier.kit.auth.ServiceTokens mints short-lived
    service tokens from the deployment's shared key). The wallet API answers only services and back-office users."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | Callable[[], str] | None = None,
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._api = ServiceHttp(
            base_url,
            service="wallet",
            prefix="/v1/wallet",
            errors=_ERRORS_BY_CODE,
            token=token,
            timeout=timeout,
            http=http,
            unreachable_hint="; retry with the same idempotency key",
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    async def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        return await self._api.request(method, path, json=json, params=params)

    async def open_account(self, request: OpenAccountRequest) -> AccountOut:
        data = await self._call("POST", "/accounts", json=request.model_dump(mode="json"))
        return AccountOut.model_validate(data)

    async def get_account(self, account_id: UUID) -> AccountOut:
        return AccountOut.model_validate(await self._call("GET", f"/accounts/{account_id}"))

    async def get_balance(self, account_id: UUID) -> BalanceOut:
        return BalanceOut.model_validate(await self._call("GET", f"/accounts/{account_id}/balance"))

    async def list_accounts(
        self,
        *,
        brand_id: str | None = None,
        owner_type: str | None = None,
        owner_id: str | None = None,
        currency: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> AccountPage:
        params = {
            "brand_id": brand_id,
            "owner_type": owner_type,
            "owner_id": owner_id,
            "currency": currency,
            "cursor": cursor,
            "limit": limit,
        }
        return AccountPage.model_validate(await self._call("GET", "/accounts", params=params))

    async def transfer(self, request: CreateTransferRequest) -> TransferResultOut:
        data = await self._call("POST", "/transfers", json=request.model_dump(mode="json"))
        return TransferResultOut.model_validate(data)

    async def transfer_batch(self, request: CreateBatchRequest) -> BatchResultOut:
        data = await self._call("POST", "/transfers/batch", json=request.model_dump(mode="json"))
        return BatchResultOut.model_validate(data)

    async def create_hold(self, request: CreateHoldRequest) -> TransferResultOut:
        data = await self._call("POST", "/holds", json=request.model_dump(mode="json", exclude_none=True))
        return TransferResultOut.model_validate(data)

    async def post_hold(self, hold_id: UUID, request: PostHoldRequest) -> TransferResultOut:
        data = await self._call("POST", f"/holds/{hold_id}/post", json=request.model_dump(mode="json"))
        return TransferResultOut.model_validate(data)

    async def void_hold(self, hold_id: UUID, request: VoidHoldRequest) -> TransferResultOut:
        data = await self._call("POST", f"/holds/{hold_id}/void", json=request.model_dump(mode="json"))
        return TransferResultOut.model_validate(data)

    async def reverse(self, request: ReverseTransferRequest) -> ReversalOut:
        data = await self._call("POST", "/reversals", json=request.model_dump(mode="json", exclude_none=True))
        return ReversalOut.model_validate(data)

    async def get_transfer(self, transfer_id: UUID) -> TransferOut:
        return TransferOut.model_validate(await self._call("GET", f"/transfers/{transfer_id}"))

    async def get_hold(self, hold_id: UUID) -> HoldOut:
        return HoldOut.model_validate(await self._call("GET", f"/holds/{hold_id}"))

    async def read_events(self, *, after: str | None = None, limit: int = 100) -> EventPage:
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = after
        return EventPage.model_validate(await self._call("GET", "/events", params=params))

    async def list_transfers(
        self,
        *,
        account_id: UUID | None = None,
        cursor: str | None = None,
        limit: int = 100,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> TransferPage:
        params = {
            "cursor": cursor,
            "limit": limit,
            "created_from": created_from.isoformat() if created_from is not None else None,
            "created_to": created_to.isoformat() if created_to is not None else None,
        }
        path = f"/accounts/{account_id}/transfers" if account_id is not None else "/transfers"
        return TransferPage.model_validate(await self._call("GET", path, params=params))
