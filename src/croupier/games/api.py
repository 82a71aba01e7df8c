"""The games HTTP API (/v1/games). This part: provably-fair seeds as the player manages them."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from croupier.games import schemas
from croupier.games.service import GamesService
from croupier.kit.auth import Principal, current_player
from croupier.kit.http import PROBLEM_SCHEMA

router = APIRouter(prefix="/v1/games", tags=["games"])

_ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys((401, 403, 422, 503), PROBLEM_SCHEMA)
Player = Annotated[Principal, Depends(current_player)]


def _service(request: Request) -> GamesService:
    service: GamesService = request.app.state.games
    return service


def _brand(player: Principal) -> str:
    return player.brand_id or ""


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
    responses=_ERRORS,
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
