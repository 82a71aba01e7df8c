"""The cashier's public interface for other services (a bonus service, the back office), with two transports that
behave the same.

- `InProcessCashierClient` calls the cashier service object directly (all-in-one process: no HTTP, no JSON).
- `HttpCashierClient` calls the cashier's HTTP API (split deployment) with a service token (or a back-office user's
  token with the role support, risk, finance or admin) and turns problem+json back into the same exceptions.

Everything here reads: a player's deposits and withdrawals and the methods the player can use, one payment, the
withdrawals by status, the providers' health, and the daily reconciliation runs. Amounts are integers in minor units
of their currency. Both transports check the arguments the same way (`ValidationFailed`, code validation_error).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from croupier.cashier import errors as cashier_errors
from croupier.cashier import reconcile
from croupier.cashier.core import PlayerRef
from croupier.cashier.errors import PaymentNotFound, ReconciliationNotFound, UnknownProvider
from croupier.cashier.schemas import (
    AdminPaymentOut,
    MethodOut,
    PaymentKind,
    PaymentOut,
    PaymentPage,
    PaymentsQuery,
    ProviderHealthOut,
    ProviderHealthQuery,
    ReconciliationOut,
    ReconciliationsQuery,
    WithdrawalQueueItem,
    WithdrawalsQuery,
    WithdrawalStatus,
)
from croupier.identity.client import PlayerNotFound
from croupier.kit.auth import Forbidden, Unauthenticated
from croupier.kit.errors import DomainError, InternalError, NotFound, ServiceUnavailable, ValidationFailed
from croupier.kit.remote_errors import errors_by_code
from croupier.kit.service_http import ServiceHttp

if TYPE_CHECKING:
    from croupier.cashier.service import CashierService

__all__ = [
    "AdminPaymentOut",
    "CashierClient",
    "HttpCashierClient",
    "InProcessCashierClient",
    "MethodOut",
    "PaymentNotFound",
    "PaymentOut",
    "PaymentPage",
    "PlayerNotFound",
    "ProviderHealthOut",
    "ReconciliationNotFound",
    "ReconciliationOut",
    "UnknownProvider",
    "WithdrawalQueueItem",
]


class CashierClient(Protocol):
    async def methods(self, player_id: UUID) -> list[MethodOut]:
        """The payment methods the player can use now (for the player's brand, country and wallet currency, as the
        routing rules route payments), each with its deposit currencies and whether withdrawals work. Raises
        PlayerNotFound."""
        ...

    async def list_payments(
        self, player_id: UUID, *, kind: PaymentKind | None = None, before: UUID | None = None, limit: int = 50
    ) -> PaymentPage:
        """The player's deposits and/or withdrawals (`kind`), newest first, with their status and whether the wallet
        was credited; pass `next_before` as `before` for the next page. An unknown player has none."""
        ...

    async def get_payment(self, payment_id: UUID) -> AdminPaymentOut:
        """One deposit or withdrawal: status, amounts, credited amount, and its attempts at providers, AML checks
        and currency conversion. Raises PaymentNotFound."""
        ...

    async def list_withdrawals(
        self, *, status: WithdrawalStatus = "pending_approval", limit: int = 100
    ) -> list[WithdrawalQueueItem]:
        """Withdrawals in `status` (default: waiting for approval), oldest first."""
        ...

    async def provider_health(self, *, hours: int = 24) -> ProviderHealthOut:
        """Per provider, the circuit state and recent success rate of the serving process; per provider, method and
        country over the last `hours` (1 to 744), attempts, success rate, latency and callback lag."""
        ...

    async def list_reconciliations(
        self, *, provider: str | None = None, day: date | None = None, limit: int = 50
    ) -> list[ReconciliationOut]:
        """Reconciliation runs newest first, optionally of one provider and/or settlement day, with their counts
        (their items are empty here: see get_reconciliation)."""
        ...

    async def get_reconciliation(self, reconciliation_id: UUID) -> ReconciliationOut:
        """One reconciliation run with every difference it found. Raises ReconciliationNotFound."""
        ...


Q = TypeVar("Q", bound=BaseModel)


def _checked(query: type[Q], **values: Any) -> Q:
    """The arguments checked as the HTTP API checks its query (same models, same error and detail)."""
    try:
        return query.model_validate(values)
    except ValidationError as error:
        problems: list[dict[str, Any]] = []
        for problem in error.errors():
            problems.append(
                {"loc": ["query", *map(str, problem["loc"])], "msg": problem["msg"], "type": problem["type"]}
            )
        where = ".".join(problems[0]["loc"][1:])
        raise ValidationFailed(f"{where}: {problems[0]['msg']}", errors=problems) from None


class InProcessCashierClient:
    """Calls the cashier service in this process."""

    def __init__(self, service: CashierService) -> None:
        self._service = service

    async def methods(self, player_id: UUID) -> list[MethodOut]:
        return [MethodOut.model_validate(item) for item in await self._service.player_methods(player_id)]

    async def list_payments(
        self, player_id: UUID, *, kind: PaymentKind | None = None, before: UUID | None = None, limit: int = 50
    ) -> PaymentPage:
        query = _checked(PaymentsQuery, kind=kind, before=before, limit=limit)
        payments = await self._service.history(
            PlayerRef(str(player_id), ""), kind=query.kind, before=query.before, limit=query.limit
        )
        return PaymentPage.of(payments, query.limit)

    async def get_payment(self, payment_id: UUID) -> AdminPaymentOut:
        return AdminPaymentOut.of(await self._service.admin_payment(payment_id))

    async def list_withdrawals(
        self, *, status: WithdrawalStatus = "pending_approval", limit: int = 100
    ) -> list[WithdrawalQueueItem]:
        query = _checked(WithdrawalsQuery, status=status, limit=limit)
        items = await self._service.pending_withdrawals(query.status, query.limit)
        return [
            WithdrawalQueueItem.model_validate({**item, "credited": item["credited_at"] is not None}) for item in items
        ]

    async def provider_health(self, *, hours: int = 24) -> ProviderHealthOut:
        query = _checked(ProviderHealthQuery, hours=hours)
        return ProviderHealthOut.model_validate(await self._service.provider_health(timedelta(hours=query.hours)))

    async def list_reconciliations(
        self, *, provider: str | None = None, day: date | None = None, limit: int = 50
    ) -> list[ReconciliationOut]:
        query = _checked(ReconciliationsQuery, provider=provider, day=day, limit=limit)
        runs = await reconcile.list_reconciliations(
            self._service.db, provider=query.provider, day=query.day, limit=query.limit
        )
        return [ReconciliationOut.model_validate(run.as_dict()) for run in runs]

    async def get_reconciliation(self, reconciliation_id: UUID) -> ReconciliationOut:
        run = await reconcile.get_reconciliation(self._service.db, reconciliation_id)
        if run is None:
            raise ReconciliationNotFound(f"no reconciliation {reconciliation_id}")
        return ReconciliationOut.model_validate(run.as_dict())


#: Every cashier error class (codes are stable; a new one is known here as soon as it is defined), and the others
#: the cashier's API answers with.
_CASHIER_ERRORS = tuple(
    value
    for value in vars(cashier_errors).values()
    if isinstance(value, type) and issubclass(value, DomainError) and value is not DomainError
)
_ERRORS_BY_CODE = errors_by_code(
    (
        *_CASHIER_ERRORS,
        PlayerNotFound,
        Unauthenticated,
        Forbidden,
        ValidationFailed,
        NotFound,
        ServiceUnavailable,
        InternalError,
    )
)


class HttpCashierClient:
    """Calls a cashier over HTTP. Pass the base URL of the process serving the cashier (e.g. http://127.0.0.1:8000)
    and a token: a string, or a function returning a fresh one (croupier.kit.auth.ServiceTokens mints short-lived
    service tokens from the deployment's shared key; a back-office user's access token with a reading role works
    too). Close it with `await client.aclose()`."""

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
            service="cashier",
            prefix="/v1/cashier/admin",
            errors=_ERRORS_BY_CODE,
            token=token,
            timeout=timeout,
            http=http,
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self._api.request("GET", path, params=params)

    async def methods(self, player_id: UUID) -> list[MethodOut]:
        return [MethodOut.model_validate(item) for item in await self._get(f"/players/{player_id}/methods")]

    async def list_payments(
        self, player_id: UUID, *, kind: PaymentKind | None = None, before: UUID | None = None, limit: int = 50
    ) -> PaymentPage:
        params = {"kind": kind, "before": before, "limit": limit}
        return PaymentPage.model_validate(await self._get(f"/players/{player_id}/payments", params))

    async def get_payment(self, payment_id: UUID) -> AdminPaymentOut:
        return AdminPaymentOut.model_validate(await self._get(f"/payments/{payment_id}"))

    async def list_withdrawals(
        self, *, status: WithdrawalStatus = "pending_approval", limit: int = 100
    ) -> list[WithdrawalQueueItem]:
        items = await self._get("/withdrawals", {"status": status, "limit": limit})
        return [WithdrawalQueueItem.model_validate(item) for item in items]

    async def provider_health(self, *, hours: int = 24) -> ProviderHealthOut:
        return ProviderHealthOut.model_validate(await self._get("/providers/health", {"hours": hours}))

    async def list_reconciliations(
        self, *, provider: str | None = None, day: date | None = None, limit: int = 50
    ) -> list[ReconciliationOut]:
        params = {"provider": provider, "day": day.isoformat() if day else None, "limit": limit}
        return [ReconciliationOut.model_validate(run) for run in await self._get("/reconciliations", params)]

    async def get_reconciliation(self, reconciliation_id: UUID) -> ReconciliationOut:
        return ReconciliationOut.model_validate(await self._get(f"/reconciliations/{reconciliation_id}"))
