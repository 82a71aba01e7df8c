"""The wallet's HTTP API (/v1/wallet). HTTP in, schemas out: no SQL and no business rules here.

Money-moving endpoints answer 201 when the command was applied now and 200 with `Idempotent-Replayed: true` when the
idempotency key was already used with the same content (the body is then the original response, byte for byte).
"""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from croupier.kit.http import PROBLEM_SCHEMA, json_response
from croupier.kit.http_commands import JsonCommand
from croupier.kit.money import MAX_MINOR_UNITS
from croupier.wallet import schemas
from croupier.wallet.schemas import CURRENCY_PATTERN, IDENTIFIER_PATTERN
from croupier.wallet.service import MAX_PAGE, WalletService

router = APIRouter(prefix="/v1/wallet", tags=["wallet"])


def _wallet(request: Request) -> WalletService:
    # Read from app state directly rather than through Depends(): dependency solving costs every request.
    service: WalletService = request.app.state.wallet
    return service


Cursor = Annotated[str | None, Query(description="next_cursor of the previous page", max_length=64)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
CreatedFrom = Annotated[
    datetime | None,
    Query(
        description="Only transfers created at or after this instant (inclusive). RFC 3339 with a time zone offset, "
        "e.g. `2026-03-14T00:00:00Z` (in a URL, write `+` in an offset as `%2B`). A time without an offset is "
        "refused with `validation_error`.",
        examples=["2026-03-14T00:00:00Z"],
    ),
]
CreatedTo = Annotated[
    datetime | None,
    Query(
        description="Only transfers created before this instant (exclusive), with a time zone offset. With "
        "`created_from`, it must be later (otherwise `422 invalid_time_range`). One day is "
        "`created_from=2026-03-14T00:00:00Z&created_to=2026-03-15T00:00:00Z`. Pass the same window with `cursor`.",
        examples=["2026-03-15T00:00:00Z"],
    ),
]

_WINDOW = (
    "Keyset-paginated by id: pass `next_cursor` as `cursor` for the next page. With `created_from` and/or "
    "`created_to`, only transfers whose `created_at` is in the half-open window `[created_from, created_to)`; "
    "reading an old window costs the same as reading the newest one."
)
_ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys((400, 401, 403, 404, 409, 413, 415, 422, 503), PROBLEM_SCHEMA)


def _command_responses(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    return {
        **_ERRORS,
        200: {
            "model": model,
            "description": "Replay: this idempotency key was already applied with the same content; the original "
            "response is returned unchanged (header Idempotent-Replayed: true).",
        },
    }


def _command_result(result: dict[str, Any], replayed: bool) -> Response:
    if replayed:
        return json_response(result, 200, {"Idempotent-Replayed": "true"})
    return json_response(result, 201)


# -- accounts -------------------------------------------------------------------------------------------------------


@router.post(
    "/accounts",
    response_model=schemas.AccountOut,
    status_code=201,
    summary="Open an account",
    responses={**_ERRORS, 200: {"model": schemas.AccountOut, "description": "The identical account already existed."}},
)
async def open_account(body: schemas.OpenAccountRequest, request: Request) -> Response:
    wallet = _wallet(request)
    account, created = await wallet.open_account(body)
    return json_response(account, 201 if created else 200)


@router.get("/accounts", response_model=schemas.AccountPage, summary="List accounts", responses=_ERRORS)
async def list_accounts(
    request: Request,
    brand_id: Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)] = None,
    owner_type: Literal["player", "house"] | None = None,
    owner_id: Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)] = None,
    currency: Annotated[str | None, Query(pattern=CURRENCY_PATTERN)] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    wallet = _wallet(request)
    page = await wallet.list_accounts(
        brand_id=brand_id, owner_type=owner_type, owner_id=owner_id, currency=currency, cursor=cursor, limit=limit
    )
    return json_response(page)


@router.get("/accounts/{account_id}", response_model=schemas.AccountOut, summary="Get an account", responses=_ERRORS)
async def get_account(account_id: UUID, request: Request) -> Response:
    wallet = _wallet(request)
    return json_response(await wallet.get_account(account_id))


@router.get(
    "/accounts/{account_id}/balance",
    response_model=schemas.BalanceOut,
    summary="Get an account's balance (posted, pending, available)",
    responses=_ERRORS,
)
async def get_balance(account_id: UUID, request: Request) -> Response:
    wallet = _wallet(request)
    return json_response(await wallet.get_balance(account_id))


@router.get(
    "/accounts/{account_id}/transfers",
    response_model=schemas.TransferPage,
    summary="List an account's transfers, newest first (optionally those created in a time window)",
    description=_WINDOW,
    responses=_ERRORS,
)
async def list_account_transfers(
    account_id: UUID,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 100,
    created_from: CreatedFrom = None,
    created_to: CreatedTo = None,
) -> Response:
    wallet = _wallet(request)
    page = await wallet.list_transfers(
        account_id=account_id, cursor=cursor, limit=limit, created_from=created_from, created_to=created_to
    )
    return json_response(page)


# -- transfers ------------------------------------------------------------------------------------------------------


@router.post(
    "/transfers",
    response_model=schemas.TransferResultOut,
    status_code=201,
    summary="Move money (one transfer)",
    responses=_command_responses(schemas.TransferResultOut),
)
async def create_transfer(body: schemas.CreateTransferRequest, request: Request) -> Response:
    return await _transfer(request.app.state, body, {})


async def _transfer(state: Any, body: schemas.CreateTransferRequest, params: dict[str, UUID]) -> Response:
    return _command_result(*await state.wallet.transfer(body))


@router.post(
    "/transfers/batch",
    response_model=schemas.BatchResultOut,
    status_code=201,
    summary="Move money in several transfers atomically (all or none)",
    responses=_command_responses(schemas.BatchResultOut),
)
async def create_batch(body: schemas.CreateBatchRequest, request: Request) -> Response:
    return await _batch(request.app.state, body, {})


async def _batch(state: Any, body: schemas.CreateBatchRequest, params: dict[str, UUID]) -> Response:
    return _command_result(*await state.wallet.transfer_batch(body))


@router.get(
    "/transfers",
    response_model=schemas.TransferPage,
    summary="List transfers, newest first (optionally those created in a time window)",
    description=_WINDOW,
    responses=_ERRORS,
)
async def list_transfers(
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 100,
    created_from: CreatedFrom = None,
    created_to: CreatedTo = None,
) -> Response:
    wallet = _wallet(request)
    page = await wallet.list_transfers(cursor=cursor, limit=limit, created_from=created_from, created_to=created_to)
    return json_response(page)


@router.get("/transfers/{transfer_id}", response_model=schemas.TransferOut, summary="Get a transfer", responses=_ERRORS)
async def get_transfer(transfer_id: UUID, request: Request) -> Response:
    wallet = _wallet(request)
    return json_response(await wallet.get_transfer(transfer_id))


@router.post(
    "/reversals",
    response_model=schemas.ReversalOut,
    status_code=201,
    summary="Reverse a transfer (by id or by idempotency key; tombstones an unseen key)",
    responses=_command_responses(schemas.ReversalOut),
)
async def reverse_transfer(body: schemas.ReverseTransferRequest, request: Request) -> Response:
    return await _reverse(request.app.state, body, {})


async def _reverse(state: Any, body: schemas.ReverseTransferRequest, params: dict[str, UUID]) -> Response:
    return _command_result(*await state.wallet.reverse(body))


# -- holds ----------------------------------------------------------------------------------------------------------


@router.post(
    "/holds",
    response_model=schemas.TransferResultOut,
    status_code=201,
    summary="Reserve funds (two-phase transfer)",
    responses=_command_responses(schemas.TransferResultOut),
)
async def create_hold(body: schemas.CreateHoldRequest, request: Request) -> Response:
    return await _hold(request.app.state, body, {})


async def _hold(state: Any, body: schemas.CreateHoldRequest, params: dict[str, UUID]) -> Response:
    return _command_result(*await state.wallet.create_hold(body))


@router.get("/holds/{hold_id}", response_model=schemas.HoldOut, summary="Get a hold and its status", responses=_ERRORS)
async def get_hold(hold_id: UUID, request: Request) -> Response:
    wallet = _wallet(request)
    return json_response(await wallet.get_hold(hold_id))


@router.post(
    "/holds/{hold_id}/post",
    response_model=schemas.TransferResultOut,
    status_code=201,
    summary="Post a hold, fully or partly (the rest is released)",
    responses=_command_responses(schemas.TransferResultOut),
)
async def post_hold(hold_id: UUID, body: schemas.PostHoldRequest, request: Request) -> Response:
    return await _post(request.app.state, body, {"hold_id": hold_id})


async def _post(state: Any, body: schemas.PostHoldRequest, params: dict[str, UUID]) -> Response:
    return _command_result(*await state.wallet.post_hold(params["hold_id"], body))


@router.post(
    "/holds/{hold_id}/void",
    response_model=schemas.TransferResultOut,
    status_code=201,
    summary="Void a hold (release it in full)",
    responses=_command_responses(schemas.TransferResultOut),
)
async def void_hold(hold_id: UUID, body: schemas.VoidHoldRequest, request: Request) -> Response:
    return await _void(request.app.state, body, {"hold_id": hold_id})


async def _void(state: Any, body: schemas.VoidHoldRequest, params: dict[str, UUID]) -> Response:
    return _command_result(*await state.wallet.void_hold(params["hold_id"], body))


# -- the event feed -------------------------------------------------------------------------------------------------


@router.get(
    "/events",
    response_model=schemas.EventPage,
    summary="Read the wallet's events in order (a feed for consumers such as compliance)",
    description=(
        "Events of finished transactions only, ordered so that none can ever appear behind a cursor already "
        "returned. Pass `next_cursor` as `after` to read on; at the end of the feed the same cursor comes back."
    ),
    responses=_ERRORS,
)
async def read_events(
    request: Request,
    after: Annotated[str | None, Query(max_length=80, description="`next_cursor` of the previous page")] = None,
    limit: Limit = 100,
) -> Response:
    wallet = _wallet(request)
    return json_response(await wallet.read_events(after=after, limit=limit))


# -- reference data -------------------------------------------------------------------------------------------------


@router.get(
    "/currencies",
    summary="Currencies and their exponents (minor units per major unit = 10^exponent)",
    responses=dict.fromkeys((401, 403), PROBLEM_SCHEMA),
)
async def list_currencies(request: Request) -> list[schemas.CurrencyOut]:
    wallet = _wallet(request)
    return [
        schemas.CurrencyOut(code=c.code, exponent=c.exponent, name=c.name, kind=c.kind, max_amount=MAX_MINOR_UNITS)
        for c in wallet.currencies
    ]


#: The money-moving endpoints, also served by the lean JSON command path (croupier.kit.http_commands) with the same
#: handlers and models as the FastAPI routes above, which keep defining them in the OpenAPI document.
COMMANDS = (
    JsonCommand("/v1/wallet/transfers", schemas.CreateTransferRequest, _transfer),
    JsonCommand("/v1/wallet/transfers/batch", schemas.CreateBatchRequest, _batch),
    JsonCommand("/v1/wallet/reversals", schemas.ReverseTransferRequest, _reverse),
    JsonCommand("/v1/wallet/holds", schemas.CreateHoldRequest, _hold),
    JsonCommand("/v1/wallet/holds/{hold_id}/post", schemas.PostHoldRequest, _post),
    JsonCommand("/v1/wallet/holds/{hold_id}/void", schemas.VoidHoldRequest, _void),
)
