"""The games HTTP API (/v1/games): games on offer, rounds and their steps, fairness, and the back office."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request

from croupier.games import schemas
from croupier.games.audit import verify
from croupier.games.rounds import PlayerRef
from croupier.games.service import GamesService, admin_round, player_verification
from croupier.kit.auth import Principal, admin_with_roles, live_player
from croupier.kit.client_ip import client_ip
from croupier.kit.http import PROBLEM_SCHEMA

router = APIRouter(prefix="/v1/games", tags=["games"])

_ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys((401, 403, 404, 409, 422, 503), PROBLEM_SCHEMA)
# Operations with a body also refuse malformed JSON (400), an oversized body (413) and a non-JSON type (415).
_PLAY_ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys(
    (400, 401, 403, 404, 409, 413, 415, 422, 503), PROBLEM_SCHEMA
)
GameName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Currency = Annotated[str, Path(pattern=r"^[A-Z][A-Z0-9]{2,9}$")]
BrandId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]  # identity's brand slug


def _service(request: Request) -> GamesService:
    service: GamesService = request.app.state.games
    return service


Player = Annotated[Principal, Depends(live_player(lambda request: _service(request).session_revoked))]
Reader = Annotated[Principal, Depends(admin_with_roles("support", "risk", "finance"))]
Operator = Annotated[Principal, Depends(admin_with_roles("admin"))]


def _brand(player: Principal) -> str:
    return player.brand_id or ""


def _ref(request: Request, player: Principal) -> PlayerRef:
    return PlayerRef(
        player.subject, _brand(player), client_ip(request, getattr(request.app.state, "trusted_proxies", ()))
    )


# -- games on offer -------------------------------------------------------------------------------------------------


@router.get(
    "",
    response_model=list[schemas.GameOut],
    summary="Games my brand offers, with their rules, options, pay tables, exact RTP and my bet limits",
    responses=_ERRORS,
)
async def list_games(request: Request, player: Player) -> Any:
    service = _service(request)
    account = await service.rounds.player_account(_ref(request, player))
    return await service.catalog.offered(_brand(player), account.currency)


# -- rounds ---------------------------------------------------------------------------------------------------------


@router.post(
    "/rounds",
    response_model=schemas.RoundOut,
    summary="Play a round (single-step games settle at once; mines and blackjack wait for steps)",
    responses=_PLAY_ERRORS,
)
async def play_round(body: schemas.PlayRoundRequest, request: Request, player: Player) -> Any:
    return await _service(request).rounds.play(
        _ref(request, player), body.game, body.stake, body.params, body.request_key
    )


@router.post(
    "/rounds/{round_id}/steps",
    response_model=schemas.RoundOut,
    summary="Take the next step of my multi-step round",
    responses=_PLAY_ERRORS,
)
async def take_step(round_id: UUID, body: schemas.StepRequest, request: Request, player: Player) -> Any:
    return await _service(request).rounds.step(_ref(request, player), round_id, body.step, body.action)


@router.get("/rounds", response_model=schemas.RoundPage, summary="My rounds, newest first", responses=_ERRORS)
async def my_rounds(
    request: Request,
    player: Player,
    before: Annotated[UUID | None, Query(description="Only rounds older than this round id.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    game: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = None,
) -> Any:
    items = await _service(request).rounds.history(_ref(request, player), before=before, limit=limit, game=game)
    return {"items": items, "next_before": items[-1]["round_id"] if len(items) == limit else None}


@router.get("/rounds/{round_id}", response_model=schemas.RoundOut, summary="One of my rounds", responses=_ERRORS)
async def my_round(round_id: UUID, request: Request, player: Player) -> Any:
    return await _service(request).rounds.get(_ref(request, player), round_id)


@router.get(
    "/rounds/{round_id}/verify",
    response_model=schemas.RoundVerificationOut,
    summary="Recompute one of my past rounds from its seeds (stake-v1: once the seed pair is rotated)",
    responses=_ERRORS,
)
async def verify_my_round(round_id: UUID, request: Request, player: Player) -> Any:
    return await player_verification(_service(request).db, player.subject, round_id)


# -- fairness -------------------------------------------------------------------------------------------------------


@router.get(
    "/fairness",
    response_model=schemas.SeedPairOut,
    summary="My active seed pair: the server seed's SHA-256, my client seed, the next nonce",
    responses=_ERRORS,
)
async def my_seeds(request: Request, player: Player) -> Any:
    return await _service(request).fairness(player.subject, _brand(player))


@router.post(
    "/fairness/rotate",
    response_model=schemas.RotationOut,
    summary="Reveal my current server seed and start a new pair (optionally with my own client seed)",
    responses=_PLAY_ERRORS,
)
async def rotate_seeds(body: schemas.RotateSeedsRequest, request: Request, player: Player) -> Any:
    return await _service(request).rotate(player.subject, _brand(player), body.client_seed)


@router.get(
    "/fairness/history",
    response_model=list[schemas.RevealedSeedPairOut],
    summary="My revealed seed pairs, newest first, to verify past bets",
    responses=_ERRORS,
)
async def my_revealed_seeds(request: Request, player: Player, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Any:
    return await _service(request).history(player.subject, limit)


# -- back office ----------------------------------------------------------------------------------------------------


@router.get(
    "/admin/brands/{brand_id}",
    response_model=schemas.BrandGamesOut,
    summary="A brand's games configuration: RNG version, games and settings, bet limits",
    responses=_ERRORS,
)
async def brand_games(brand_id: BrandId, request: Request, admin: Reader) -> Any:
    return await _service(request).catalog.brand(brand_id)


@router.put(
    "/admin/brands/{brand_id}",
    response_model=schemas.BrandGamesOut,
    summary="Set the RNG version of a brand's new rounds",
    responses=_PLAY_ERRORS,
)
async def set_brand_rng(
    brand_id: BrandId, body: schemas.BrandGamesSettingsRequest, request: Request, admin: Operator
) -> Any:
    return await _service(request).catalog.set_rng_version(brand_id, body.rng_version)


@router.put(
    "/admin/brands/{brand_id}/games/{game}",
    response_model=schemas.BrandGamesOut,
    summary="Offer or withdraw a game, with its brand settings",
    responses=_PLAY_ERRORS,
)
async def set_brand_game(
    brand_id: BrandId, game: GameName, body: schemas.GameSettingsRequest, request: Request, admin: Operator
) -> Any:
    return await _service(request).catalog.set_game(brand_id, game, body.enabled, body.settings)


@router.put(
    "/admin/brands/{brand_id}/limits/{game}/{currency}",
    response_model=schemas.BrandGamesOut,
    summary="Set the bet limits of a game in a currency (minor units)",
    responses=_PLAY_ERRORS,
)
async def set_brand_limits(
    brand_id: BrandId,
    game: GameName,
    currency: Currency,
    body: schemas.BetLimitsRequest,
    request: Request,
    admin: Operator,
) -> Any:
    return await _service(request).catalog.set_limits(
        brand_id, game, currency, body.min_stake, body.max_stake, body.max_win
    )


@router.get(
    "/admin/rounds/{round_id}",
    response_model=schemas.AdminRoundOut,
    summary="Any round with its audit entries and a replay",
    responses=_ERRORS,
)
async def any_round(round_id: UUID, request: Request, admin: Reader) -> Any:
    return await admin_round(_service(request).db, round_id)


@router.get(
    "/admin/audit",
    response_model=schemas.AuditReportOut,
    summary="Verify the round audit hash chain (what `croupier audit verify` prints)",
    responses=_ERRORS,
)
async def audit_report(request: Request, admin: Reader) -> Any:
    async with _service(request).db.connection() as connection:
        report = await verify(connection)
    return report.as_json()
