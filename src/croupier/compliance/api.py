"""The compliance HTTP API (/v1/compliance): players manage their own limits, time-outs, self-exclusions and reality
checks; back-office users read a player's decisions, limits and exclusions. HTTP in, schemas out."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime

from croupier.compliance import schemas
from croupier.compliance.errors import SessionEnded
from croupier.compliance.service import ComplianceService
from croupier.kit.auth import Principal, admin_with_roles, current_player
from croupier.kit.http import PROBLEM_SCHEMA

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])


_ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys((401, 403, 404, 409, 422, 503), PROBLEM_SCHEMA)


async def live_player(request: Request, player: Annotated[Principal, Depends(current_player)]) -> Principal:
    """A player whose session is still open: after logout or revocation the access token no longer works here."""
    session_id = player.session_id
    if session_id is None or await _service(request).directory.session_revoked(session_id):
        raise SessionEnded("this session was revoked; log in again", reason="session_revoked")
    return player


Player = Annotated[Principal, Depends(live_player)]
Reader = Annotated[Principal, Depends(admin_with_roles("support", "risk"))]


def _service(request: Request) -> ComplianceService:
    service: ComplianceService = request.app.state.compliance
    return service


# -- the player's own settings --------------------------------------------------------------------------------------


@router.get("/me/limits", response_model=list[schemas.LimitOut], summary="My limits", responses=_ERRORS)
async def my_limits(request: Request, player: Player) -> Any:
    return await _service(request).get_limits(player.subject)


@router.put(
    "/me/limits/{kind}/{period}",
    response_model=schemas.LimitChangeOut,
    summary="Set or remove one of my limits (lower: at once; raise or remove: after cooling-off)",
    responses=_ERRORS,
)
async def set_my_limit(
    kind: schemas.LimitKind,
    period: schemas.LimitPeriod,
    body: schemas.SetLimitRequest,
    request: Request,
    player: Player,
) -> Any:
    return await _service(request).set_limit(player.subject, kind, period, body.amount)


@router.get(
    "/me/exclusions",
    response_model=list[schemas.ExclusionOut],
    summary="My time-outs and self-exclusions",
    responses=_ERRORS,
)
async def my_exclusions(request: Request, player: Player) -> Any:
    return await _service(request).get_exclusions(player.subject)


@router.post(
    "/me/timeouts",
    response_model=schemas.ExclusionOut,
    status_code=201,
    summary="Take a time-out (24 hours to 6 weeks): no deposits and no bets until it ends",
    responses=_ERRORS,
)
async def take_timeout(body: schemas.TimeoutRequest, request: Request, player: Player) -> Any:
    return await _service(request).exclude(player.subject, "timeout", hours=body.hours, reason=body.reason)


@router.post(
    "/me/self-exclusions",
    response_model=schemas.ExclusionOut,
    status_code=201,
    summary="Self-exclude (6 months to 5 years); it cannot be lifted before it ends",
    responses=_ERRORS,
)
async def self_exclude(body: schemas.SelfExclusionRequest, request: Request, player: Player) -> Any:
    return await _service(request).exclude(player.subject, "self_exclusion", months=body.months, reason=body.reason)


@router.get(
    "/me/reality-check",
    response_model=schemas.RealityCheckOut,
    summary="When my next reality check is due, and what it shows",
    responses=_ERRORS,
)
async def my_reality_check(
    request: Request,
    player: Player,
    session_started_at: Annotated[
        AwareDatetime, Query(description="Start of the current session (from login), with its UTC offset.")
    ],
) -> Any:
    return await _service(request).reality_check(player.subject, session_started_at)


@router.put(
    "/me/reality-check",
    response_model=schemas.RealityCheckRequest,
    summary="Set my reality-check interval",
    responses=_ERRORS,
)
async def set_my_reality_check(body: schemas.RealityCheckRequest, request: Request, player: Player) -> Any:
    return await _service(request).set_reality_check(player.subject, body.interval_minutes)


# -- back office ----------------------------------------------------------------------------------------------------


@router.get(
    "/admin/players/{player_id}/decisions",
    response_model=schemas.DecisionPage,
    summary="The gate's decisions about a player, newest first (roles: support, risk, admin)",
    responses=_ERRORS,
)
async def player_decisions(
    player_id: UUID,
    request: Request,
    admin: Reader,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    return await _service(request).decisions(
        player_id=str(player_id), since=since, until=until, cursor=cursor, limit=limit
    )


@router.get(
    "/admin/players/{player_id}/limits",
    response_model=list[schemas.LimitOut],
    summary="A player's limits (roles: support, risk, admin)",
    responses=_ERRORS,
)
async def player_limits(player_id: UUID, request: Request, admin: Reader) -> Any:
    return await _service(request).get_limits(str(player_id))


@router.get(
    "/admin/players/{player_id}/exclusions",
    response_model=list[schemas.ExclusionOut],
    summary="A player's time-outs and self-exclusions (roles: support, risk, admin)",
    responses=_ERRORS,
)
async def player_exclusions(player_id: UUID, request: Request, admin: Reader) -> Any:
    return await _service(request).get_exclusions(str(player_id))
