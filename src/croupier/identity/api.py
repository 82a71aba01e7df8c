"""The identity HTTP API (/v1/identity). HTTP in, schemas out: no SQL and no business rules here.

Public: register, login, refresh, admin login. Player endpoints need a player access token whose session is still
open. Back-office endpoints need an admin access token holding one of the roles named on each route.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from croupier.identity import schemas
from croupier.identity.schemas import BRAND_ID_PATTERN
from croupier.identity.service import MAX_PAGE, IdentityService
from croupier.kit.auth import Principal, admin_with_roles, current_player
from croupier.kit.client_ip import client_ip
from croupier.kit.http import PROBLEM_SCHEMA

router = APIRouter(prefix="/v1/identity", tags=["identity"])


def _identity(request: Request) -> IdentityService:
    service: IdentityService = request.app.state.identity
    return service


def _ip(request: Request) -> str:
    return client_ip(request, getattr(request.app.state, "trusted_proxies", ()))


async def _player(request: Request) -> Principal:
    """A player's access token whose session is not revoked."""
    principal = await current_player(request)
    await _identity(request).check_session(principal)
    return principal


Player = Annotated[Principal, Depends(_player)]
BrandPath = Annotated[str, Path(pattern=BRAND_ID_PATTERN, description="Brand slug.")]

# Who may call which back-office endpoint (the `admin` role may call every one).
ReadPlayers = Annotated[Principal, Depends(admin_with_roles("support", "risk", "finance"))]
ReadKyc = Annotated[Principal, Depends(admin_with_roles("support", "risk"))]
MoveKyc = Annotated[Principal, Depends(admin_with_roles("risk"))]
ReadSessions = Annotated[Principal, Depends(admin_with_roles("support", "risk"))]
ReadBrands = Annotated[Principal, Depends(admin_with_roles("support", "risk", "finance"))]
AdminOnly = Annotated[Principal, Depends(admin_with_roles("admin"))]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return dict.fromkeys((*statuses, 413, 415, 422, 503), PROBLEM_SCHEMA)


_PLAYER_ERRORS = _errors(401, 403)
_ADMIN_ERRORS = _errors(401, 403)
_NO_CONTENT: dict[str, Any] = {"status_code": 204, "response_class": Response}


# -- public ---------------------------------------------------------------------------------------------------------


@router.post(
    "/brands/{brand_id}/players",
    response_model=schemas.ProfileOut,
    status_code=201,
    summary="Register a player (and open their wallet cash account)",
    description="Sending the same registration again after a failure (same email and password) completes it.",
    responses=_errors(403, 404, 409, 429),
)
async def register(brand_id: BrandPath, body: schemas.RegisterPlayerRequest, request: Request) -> schemas.ProfileOut:
    return await _identity(request).register(brand_id, body, ip=_ip(request))


@router.post(
    "/login",
    response_model=schemas.TokenPairOut,
    summary="Log a player in: an access token and a refresh token for a new session",
    responses=_errors(401, 403, 423, 429),
)
async def login(body: schemas.LoginRequest, request: Request) -> schemas.TokenPairOut:
    user_agent = request.headers.get("user-agent", "")
    return await _identity(request).login(body, ip=_ip(request), user_agent=user_agent)


@router.post(
    "/token/refresh",
    response_model=schemas.TokenPairOut,
    summary="Rotate a refresh token: the old one is used up, a new pair is returned",
    description="A refresh token presented a second time revokes its whole session (refresh_token_reused).",
    responses=_errors(401, 403),
)
async def refresh(body: schemas.RefreshRequest, request: Request) -> schemas.TokenPairOut:
    return await _identity(request).refresh(body.refresh_token)


# -- the player -----------------------------------------------------------------------------------------------------


@router.post("/logout", summary="End the current session", responses=_PLAYER_ERRORS, **_NO_CONTENT)
async def logout(player: Player, request: Request) -> Response:
    await _identity(request).logout(player)
    return Response(status_code=204)


@router.get("/me", response_model=schemas.ProfileOut, summary="The player's own profile", responses=_PLAYER_ERRORS)
async def get_me(player: Player, request: Request) -> schemas.ProfileOut:
    return await _identity(request).get_profile(UUID(player.subject))


@router.patch(
    "/me",
    response_model=schemas.ProfileOut,
    summary="Change the player's own profile (names, postcode)",
    responses=_errors(401, 403, 409),
)
async def update_me(body: schemas.UpdateProfileRequest, player: Player, request: Request) -> schemas.ProfileOut:
    return await _identity(request).update_profile(UUID(player.subject), body)


@router.get(
    "/me/sessions",
    response_model=list[schemas.SessionOut],
    summary="The player's open sessions (`current` marks this one)",
    responses=_PLAYER_ERRORS,
)
async def list_my_sessions(player: Player, request: Request) -> list[schemas.SessionOut]:
    return await _identity(request).list_sessions(player)


@router.delete(
    "/me/sessions",
    response_model=schemas.RevokedSessionsOut,
    summary="Revoke every other session of the player",
    responses=_PLAYER_ERRORS,
)
async def revoke_my_other_sessions(player: Player, request: Request) -> schemas.RevokedSessionsOut:
    return schemas.RevokedSessionsOut(revoked=await _identity(request).revoke_other_sessions(player))


@router.delete(
    "/me/sessions/{session_id}",
    summary="Revoke one of the player's sessions",
    responses=_errors(401, 403, 404),
    **_NO_CONTENT,
)
async def revoke_my_session(session_id: UUID, player: Player, request: Request) -> Response:
    await _identity(request).revoke_session(player, session_id)
    return Response(status_code=204)


@router.get("/me/kyc", response_model=schemas.KycOut, summary="The player's KYC status", responses=_PLAYER_ERRORS)
async def get_my_kyc(player: Player, request: Request) -> schemas.KycOut:
    return await _identity(request).get_kyc(UUID(player.subject))


@router.post(
    "/me/kyc/documents",
    response_model=schemas.KycOut,
    status_code=201,
    summary="Submit identity documents (metadata only): KYC becomes pending",
    responses=_errors(401, 403, 409),
)
async def submit_my_kyc(body: schemas.SubmitKycRequest, player: Player, request: Request) -> schemas.KycOut:
    return await _identity(request).submit_kyc(UUID(player.subject), body)


# -- back office ----------------------------------------------------------------------------------------------------


@router.post(
    "/admin/login",
    response_model=schemas.AdminTokenOut,
    summary="Log a back-office user in (no refresh token: log in again when it expires)",
    responses=_errors(401, 403, 423, 429),
)
async def admin_login(body: schemas.AdminLoginRequest, request: Request) -> schemas.AdminTokenOut:
    service = _identity(request)
    service.hit_login_limit(_ip(request))
    return await service.admins.login(body.email, body.password)


@router.post(
    "/admin/brands",
    response_model=schemas.BrandOut,
    status_code=201,
    summary="Create a brand (role admin)",
    responses=_errors(401, 403, 409),
)
async def create_brand(body: schemas.CreateBrandRequest, _: AdminOnly, request: Request) -> schemas.BrandOut:
    return await _identity(request).brands.create(body)


@router.get(
    "/admin/brands",
    response_model=list[schemas.BrandOut],
    summary="List brands (any back-office role)",
    responses=_ADMIN_ERRORS,
)
async def list_brands(_: ReadBrands, request: Request) -> list[schemas.BrandOut]:
    return await _identity(request).brands.list()


@router.get(
    "/admin/brands/{brand_id}",
    response_model=schemas.BrandOut,
    summary="Get a brand (any back-office role)",
    responses=_errors(401, 403, 404),
)
async def get_brand(brand_id: BrandPath, _: ReadBrands, request: Request) -> schemas.BrandOut:
    return await _identity(request).brands.get(brand_id)


@router.patch(
    "/admin/brands/{brand_id}",
    response_model=schemas.BrandOut,
    summary="Change a brand's settings (role admin)",
    responses=_errors(401, 403, 404),
)
async def update_brand(
    brand_id: BrandPath, body: schemas.UpdateBrandRequest, _: AdminOnly, request: Request
) -> schemas.BrandOut:
    return await _identity(request).brands.update(brand_id, body)


@router.get(
    "/admin/players",
    response_model=schemas.PlayerPage,
    summary="Find players (roles support, risk, finance)",
    responses=_ADMIN_ERRORS,
)
async def list_players(
    _: ReadPlayers,
    request: Request,
    brand_id: Annotated[str | None, Query(pattern=BRAND_ID_PATTERN)] = None,
    email: Annotated[str | None, Query(max_length=254)] = None,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> schemas.PlayerPage:
    return await _identity(request).list_players(brand_id=brand_id, email=email, cursor=cursor, limit=limit)


@router.get(
    "/admin/players/{player_id}",
    response_model=schemas.PlayerOut,
    summary="Get a player (roles support, risk, finance)",
    responses=_errors(401, 403, 404),
)
async def get_player(player_id: UUID, _: ReadPlayers, request: Request) -> schemas.PlayerOut:
    return await _identity(request).get_player(player_id)


@router.get(
    "/admin/players/{player_id}/kyc",
    response_model=schemas.KycOut,
    summary="A player's KYC status and history (roles support, risk)",
    responses=_errors(401, 403, 404),
)
async def get_player_kyc(player_id: UUID, _: ReadKyc, request: Request) -> schemas.KycOut:
    return await _identity(request).get_kyc(player_id)


@router.post(
    "/admin/players/{player_id}/kyc",
    response_model=schemas.KycOut,
    summary="Move a player's KYC status (role risk)",
    responses=_errors(401, 403, 404, 409),
)
async def move_player_kyc(
    player_id: UUID, body: schemas.MoveKycRequest, admin: MoveKyc, request: Request
) -> schemas.KycOut:
    return await _identity(request).move_kyc(player_id, body, by_admin=admin.subject)


@router.get(
    "/admin/sessions/{session_id}",
    response_model=schemas.SessionOut,
    summary="Get a session (roles support, risk)",
    responses=_errors(401, 403, 404),
)
async def get_session(session_id: UUID, _: ReadSessions, request: Request) -> schemas.SessionOut:
    return await _identity(request).get_session(session_id)


@router.post(
    "/admin/admins",
    response_model=schemas.AdminOut,
    status_code=201,
    summary="Create a back-office user (role admin)",
    responses=_errors(401, 403, 409),
)
async def create_admin(body: schemas.CreateAdminRequest, _: AdminOnly, request: Request) -> schemas.AdminOut:
    return await _identity(request).admins.create(body)


@router.get(
    "/admin/admins",
    response_model=list[schemas.AdminOut],
    summary="List back-office users (role admin)",
    responses=_ADMIN_ERRORS,
)
async def list_admins(_: AdminOnly, request: Request) -> list[schemas.AdminOut]:
    return await _identity(request).admins.list()


@router.patch(
    "/admin/admins/{admin_id}",
    response_model=schemas.AdminOut,
    summary="Change a back-office user's roles or disable them (role admin)",
    responses=_errors(401, 403, 404),
)
async def update_admin(
    admin_id: UUID, body: schemas.UpdateAdminRequest, _: AdminOnly, request: Request
) -> schemas.AdminOut:
    return await _identity(request).admins.update(admin_id, body)
