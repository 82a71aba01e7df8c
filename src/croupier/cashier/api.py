"""The cashier HTTP API (/v1/cashier): methods, deposits, withdrawals, payment status and history; provider
webhooks; and the back office (approvals, dead letters, reconciliation, provider health, routes, FX, thresholds)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from croupier.cashier import reconcile, schemas
from croupier.cashier.core import PlayerRef
from croupier.cashier.errors import ReconciliationNotFound, UnknownProvider
from croupier.cashier.service import CashierService
from croupier.kit.auth import Principal, admin_with_roles, live_player
from croupier.kit.client_ip import client_ip
from croupier.kit.errors import NotFound
from croupier.kit.http import PROBLEM_SCHEMA

router = APIRouter(prefix="/v1/cashier", tags=["cashier"])

_ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys((401, 403, 404, 409, 422, 503), PROBLEM_SCHEMA)
_PAY_ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys(
    (400, 401, 402, 403, 404, 409, 413, 415, 422, 503), PROBLEM_SCHEMA
)
ProviderName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,31}$")]
BrandId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]


def _service(request: Request) -> CashierService:
    service: CashierService = request.app.state.cashier
    return service


Player = Annotated[Principal, Depends(live_player(lambda request: _service(request).session_revoked))]
Reader = Annotated[Principal, Depends(admin_with_roles("support", "risk", "finance"))]
#: The reads of the cashier client (croupier.cashier.client): other services, and back-office users who may read.
ServiceOrReader = Annotated[Principal, Depends(admin_with_roles("support", "risk", "finance", services=True))]
Finance = Annotated[Principal, Depends(admin_with_roles("finance"))]
Operator = Annotated[Principal, Depends(admin_with_roles("admin"))]


def _ref(request: Request, player: Principal) -> PlayerRef:
    ip = client_ip(request, getattr(request.app.state, "trusted_proxies", ()))
    return PlayerRef(player.subject, player.brand_id or "", ip)


# -- the player's cashier -------------------------------------------------------------------------------------------


@router.get(
    "/methods",
    response_model=list[schemas.MethodOut],
    summary="Payment methods I can use",
    description="The methods a deposit can be routed to for my brand, country and wallet currency, as the routing "
    "rules route it (for some amount and card), with the currencies I can deposit in and whether withdrawals work.",
    responses=_ERRORS,
)
async def methods(request: Request, player: Player) -> Any:
    return await _service(request).player_methods(UUID(player.subject))


@router.post(
    "/deposits",
    response_model=schemas.PaymentOut,
    summary="Deposit: routed to a provider (with failover); the answer says what I do next (redirect, QR, ...)",
    responses=_PAY_ERRORS,
)
async def deposit(body: schemas.DepositRequest, request: Request, player: Player) -> Any:
    payment = await _service(request).deposits.create(
        _ref(request, player),
        method=body.method,
        amount=body.amount,
        currency=body.currency,
        request_key=body.request_key,
        details=body.details.as_dict(),
    )
    return schemas.PaymentOut.of(payment)


@router.post(
    "/withdrawals",
    response_model=schemas.PaymentOut,
    summary="Withdraw: the amount is held at once; paid out after the checks (or an approval)",
    responses=_PAY_ERRORS,
)
async def withdraw(body: schemas.WithdrawalRequest, request: Request, player: Player) -> Any:
    payment = await _service(request).withdrawals.request(
        _ref(request, player),
        method=body.method,
        amount=body.amount,
        currency=body.currency,
        request_key=body.request_key,
        details=body.details.as_dict(),
    )
    return schemas.PaymentOut.of(payment)


@router.post(
    "/withdrawals/{payment_id}/cancel",
    response_model=schemas.PaymentOut,
    summary="Cancel my withdrawal before it is paid out (the held amount is released)",
    responses=_ERRORS,
)
async def cancel_withdrawal(payment_id: UUID, request: Request, player: Player) -> Any:
    return schemas.PaymentOut.of(await _service(request).withdrawals.cancel(_ref(request, player), payment_id))


@router.get(
    "/payments/{payment_id}", response_model=schemas.PaymentOut, summary="One of my payments", responses=_ERRORS
)
async def my_payment(payment_id: UUID, request: Request, player: Player) -> Any:
    return schemas.PaymentOut.of(await _service(request).payment(_ref(request, player), payment_id))


@router.get("/payments", response_model=schemas.PaymentPage, summary="My payments, newest first", responses=_ERRORS)
async def my_payments(
    request: Request,
    player: Player,
    kind: Annotated[str | None, Query(pattern=r"^(deposit|withdrawal)$")] = None,
    before: Annotated[UUID | None, Query(description="Only payments older than this payment id.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    items = await _service(request).history(_ref(request, player), kind=kind, before=before, limit=limit)
    return schemas.PaymentPage.of(items, limit)


# -- provider webhooks ----------------------------------------------------------------------------------------------


@router.post(
    "/webhooks/{provider}",
    summary="A provider's webhook: verified, stored durably, answered at once; applied by the queue's workers",
    responses={
        200: {"description": "Stored (or an identical redelivery counted)."},
        **dict.fromkeys((400, 404, 413, 415, 422), PROBLEM_SCHEMA),
    },
)
async def webhook(provider: ProviderName, request: Request) -> Response:
    service = _service(request)
    adapter = service.context.adapters.get(provider)
    if adapter is None:
        raise UnknownProvider(f"no provider {provider!r} is configured", provider=provider)
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    await service.webhooks.receive(provider, headers, body, dict(request.query_params))
    answer = adapter.webhook_answer()
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)


# -- back office and other services (the reads of croupier.cashier.client take services' tokens too) ----------------


@router.get(
    "/admin/players/{player_id}/methods",
    response_model=list[schemas.MethodOut],
    summary="The payment methods a player can use (as the player's GET /methods answers)",
    responses=_ERRORS,
)
async def player_methods(player_id: UUID, request: Request, reader: ServiceOrReader) -> Any:
    return await _service(request).player_methods(player_id)


@router.get(
    "/admin/players/{player_id}/payments",
    response_model=schemas.PaymentPage,
    summary="A player's deposits and withdrawals, newest first",
    responses=_ERRORS,
)
async def player_payments(
    player_id: UUID, request: Request, reader: ServiceOrReader, query: Annotated[schemas.PaymentsQuery, Query()]
) -> Any:
    payments = await _service(request).history(
        PlayerRef(str(player_id), ""), kind=query.kind, before=query.before, limit=query.limit
    )
    return schemas.PaymentPage.of(payments, query.limit)


@router.get(
    "/admin/payments/{payment_id}",
    response_model=schemas.AdminPaymentOut,
    summary="A payment with its attempts, AML checks and conversion",
    responses=_ERRORS,
)
async def admin_payment(payment_id: UUID, request: Request, reader: ServiceOrReader) -> Any:
    return schemas.AdminPaymentOut.of(await _service(request).admin_payment(payment_id))


@router.get(
    "/admin/withdrawals",
    response_model=list[schemas.WithdrawalQueueItem],
    summary="Withdrawals by status (default: the approval queue), oldest first",
    responses=_ERRORS,
)
async def withdrawal_queue(
    request: Request, reader: ServiceOrReader, query: Annotated[schemas.WithdrawalsQuery, Query()]
) -> Any:
    items = await _service(request).pending_withdrawals(query.status, query.limit)
    return [schemas.WithdrawalQueueItem.of(item) for item in items]


@router.post(
    "/admin/withdrawals/{payment_id}/approve",
    response_model=schemas.PaymentOut,
    summary="Approve a withdrawal waiting for approval: it is paid out now",
    responses=_PAY_ERRORS,
)
async def approve(payment_id: UUID, request: Request, admin: Finance) -> Any:
    return schemas.PaymentOut.of(await _service(request).withdrawals.approve(payment_id, admin.subject))


@router.post(
    "/admin/withdrawals/{payment_id}/reject",
    response_model=schemas.PaymentOut,
    summary="Reject a withdrawal waiting for approval: the held amount is released",
    responses=_PAY_ERRORS,
)
async def reject(payment_id: UUID, body: schemas.RejectRequest, request: Request, admin: Finance) -> Any:
    return schemas.PaymentOut.of(await _service(request).withdrawals.reject(payment_id, admin.subject, body.reason))


@router.get(
    "/admin/deposits",
    response_model=list[schemas.HeldDepositItem],
    summary="Crypto deposits held for review (refused by the compliance gate when the coins arrived), oldest first",
    responses=_ERRORS,
)
async def held_deposits(
    request: Request,
    admin: Reader,
    status: Annotated[str, Query(pattern=r"^(held|refund_requested)$")] = "held",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    items = await _service(request).deposits.review.listing(status, limit)
    return [schemas.HeldDepositItem.of(item) for item in items]


@router.post(
    "/admin/deposits/{payment_id}/release",
    response_model=schemas.PaymentOut,
    summary="Release a held deposit: the player is credited (once)",
    responses=_PAY_ERRORS,
)
async def release_deposit(
    payment_id: UUID, body: schemas.DepositDecisionRequest, request: Request, admin: Finance
) -> Any:
    payment = await _service(request).deposits.review.release(payment_id, admin.subject, body.reason)
    return schemas.PaymentOut.of(payment)


@router.post(
    "/admin/deposits/{payment_id}/refund",
    response_model=schemas.PaymentOut,
    summary="Mark a held deposit for a refund to the payer: it is never credited",
    responses=_PAY_ERRORS,
)
async def refund_deposit(
    payment_id: UUID, body: schemas.DepositDecisionRequest, request: Request, admin: Finance
) -> Any:
    payment = await _service(request).deposits.review.refund(payment_id, admin.subject, body.reason)
    return schemas.PaymentOut.of(payment)


@router.get(
    "/admin/webhooks",
    response_model=list[schemas.WebhookEventOut],
    summary="Queued webhook events by status (default: dead letters), newest first",
    responses=_ERRORS,
)
async def webhook_events(
    request: Request,
    admin: Reader,
    status: Annotated[str, Query(pattern=r"^(pending|applied|dead)$")] = "dead",
    provider: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9-]{0,31}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    return await _service(request).webhooks.list_events(status=status, provider=provider, limit=limit)


@router.post(
    "/admin/webhooks/{event_id}/replay",
    response_model=schemas.WebhookEventOut,
    summary="Send a webhook event back to the queue (applying it again is safe)",
    responses=_PAY_ERRORS,
)
async def replay_webhook(event_id: Annotated[int, Path(ge=1)], request: Request, admin: Operator) -> Any:
    return await _service(request).webhooks.replay(event_id)


@router.get(
    "/admin/providers/health",
    response_model=schemas.ProviderHealthOut,
    summary="Per provider: circuit state and recent success rate; per provider/method/country: success rate, "
    "latency and callback lag",
    responses=_ERRORS,
)
async def provider_health(
    request: Request, reader: ServiceOrReader, query: Annotated[schemas.ProviderHealthQuery, Query()]
) -> Any:
    return await _service(request).provider_health(timedelta(hours=query.hours))


@router.get(
    "/admin/reconciliations",
    response_model=list[schemas.ReconciliationOut],
    summary="Reconciliation runs, newest first (without their items)",
    responses=_ERRORS,
)
async def reconciliations(
    request: Request, reader: ServiceOrReader, query: Annotated[schemas.ReconciliationsQuery, Query()]
) -> Any:
    db = _service(request).db
    runs = await reconcile.list_reconciliations(db, provider=query.provider, day=query.day, limit=query.limit)
    return [run.as_dict() for run in runs]


@router.get(
    "/admin/reconciliations/{reconciliation_id}",
    response_model=schemas.ReconciliationOut,
    summary="One reconciliation run with every difference it found",
    responses=_ERRORS,
)
async def reconciliation(reconciliation_id: UUID, request: Request, reader: ServiceOrReader) -> Any:
    run = await reconcile.get_reconciliation(_service(request).db, reconciliation_id)
    if run is None:
        raise ReconciliationNotFound(f"no reconciliation {reconciliation_id}")
    return run.as_dict()


@router.post(
    "/admin/reconciliations",
    response_model=schemas.ReconciliationOut,
    summary="Reconcile a provider's settlement report for a day with the ledger now",
    responses=_PAY_ERRORS,
)
async def run_reconciliation(body: schemas.ReconcileIn, request: Request, admin: Finance) -> Any:
    service = _service(request)
    adapter = service.context.adapters.get(body.provider)
    if adapter is None:
        raise UnknownProvider(f"no provider {body.provider!r} is configured", provider=body.provider)
    run = await reconcile.reconcile(service.db, service.context.wallet, adapter, body.day, clock=service.clock)
    return run.as_dict()


@router.get("/admin/routes", response_model=list[schemas.RouteOut], summary="Routing rules", responses=_ERRORS)
async def routes(request: Request, admin: Reader) -> Any:
    return await _service(request).list_routes()


@router.post("/admin/routes", response_model=schemas.RouteOut, summary="Add a routing rule", responses=_PAY_ERRORS)
async def add_route(body: schemas.RouteIn, request: Request, admin: Operator) -> Any:
    return await _service(request).add_route(body.model_dump())


@router.delete("/admin/routes/{route_id}", status_code=204, summary="Delete a routing rule", responses=_ERRORS)
async def delete_route(route_id: UUID, request: Request, admin: Operator) -> Response:
    if not await _service(request).delete_route(route_id):
        raise NotFound(f"no route {route_id}")
    return Response(status_code=204)


@router.get("/admin/fx-rates", response_model=list[schemas.FxRateOut], summary="Current FX rates", responses=_ERRORS)
async def fx_rates(request: Request, admin: Reader) -> Any:
    return await _service(request).fx_rates()


@router.post("/admin/fx-rates", response_model=schemas.FxRateOut, summary="Record an FX rate", responses=_PAY_ERRORS)
async def add_fx_rate(body: schemas.FxRateIn, request: Request, admin: Finance) -> Any:
    rate = await _service(request).add_fx_rate(
        base=body.base,
        quote=body.quote,
        rate=body.rate,
        spread_bps=body.spread_bps,
        source=body.source,
        effective_at=body.effective_at,
    )
    return {
        "id": rate.id,
        "base": rate.base,
        "quote": rate.quote,
        "rate": rate.rate,
        "spread_bps": rate.spread_bps,
        "source": rate.source,
        "effective_at": rate.effective_at,
    }


@router.get(
    "/admin/brands/{brand_id}/auto-approval",
    response_model=schemas.AutoApprovalOut,
    summary="The brand's withdrawal auto-approval limits",
    responses=_ERRORS,
)
async def auto_approval(brand_id: BrandId, request: Request, admin: Reader) -> Any:
    return {"brand_id": brand_id, "limits": await _service(request).auto_approve_limits(brand_id)}


@router.put(
    "/admin/brands/{brand_id}/auto-approval",
    response_model=schemas.AutoApprovalOut,
    summary="Set the brand's withdrawal auto-approval limits (per currency)",
    responses=_PAY_ERRORS,
)
async def set_auto_approval(brand_id: BrandId, body: schemas.AutoApprovalIn, request: Request, admin: Operator) -> Any:
    return {"brand_id": brand_id, "limits": await _service(request).set_auto_approve_limits(brand_id, body.limits)}
