"""Rounds as players play them over HTTP: stake taken once, outcome from the committed seeds, win paid once."""

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg
import httpx

from croupier.bootstrap import Platform
from croupier.games.rng import stake_v1
from tests.games.conftest import GamesPlayer, balance, play

NewPlayer = Callable[..., Awaitable[GamesPlayer]]
DICE = {"target": 5000, "direction": "over"}


async def test_dice_round_when_played_moves_stake_and_payout_and_matches_the_revealed_seed(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    response = await play(games_api, player, "dice", 100, DICE)
    assert response.status_code == 200, response.text
    round_ = response.json()
    assert round_["status"] == "closed"
    assert round_["staked"] == 100
    assert await balance(platform, player) == 10_000 - 100 + round_["payout"]
    rotation = await games_api.post("/v1/games/fairness/rotate", json={}, headers=player.headers)
    revealed = rotation.json()["revealed"]
    assert revealed["server_seed_hash"] == round_["fairness"]["server_seed_hash"]
    roll = stake_v1.dice(revealed["server_seed"], round_["fairness"]["client_seed"], round_["fairness"]["nonce"])
    assert Decimal(round_["outcome"]["rng"]["roll"]) == roll
    assert (round_["payout"] > 0) == (roll > Decimal("50.00"))


async def test_round_when_balance_is_too_low_is_rejected_and_takes_nothing(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    player = await new_player(50)
    response = await play(games_api, player, "dice", 100, DICE)
    assert response.status_code == 422
    assert response.json()["code"] == "insufficient_funds"
    assert await balance(platform, player) == 50
    assert await db.fetchval("SELECT status FROM games.rounds WHERE player_id = $1", player.player_id) == "rejected"


async def test_round_when_request_is_sent_twice_is_played_and_charged_once(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    key = uuid.uuid4().hex
    first = await play(games_api, player, "dice", 100, DICE, key)
    second = await play(games_api, player, "dice", 100, DICE, key)
    assert first.json() == second.json()
    assert await balance(platform, player) == 10_000 - 100 + first.json()["payout"]
    other = await play(games_api, player, "dice", 200, DICE, key)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_conflict"


async def test_mines_round_when_revealed_and_cashed_out_pays_the_multiplier_once(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    started = (await play(games_api, player, "mines", 100, {"mines": 1})).json()
    assert started["status"] == "active"
    assert "mines" not in str(started["view"]).lower() or "mine_positions" not in started["view"]
    round_id = started["round_id"]
    state = started
    tile = 0
    while state["status"] == "active" and state["next_step"] < 2:
        response = await games_api.post(
            f"/v1/games/rounds/{round_id}/steps",
            json={"step": state["next_step"], "action": {"action": "reveal", "tile": tile}},
            headers=player.headers,
        )
        assert response.status_code == 200, response.text
        state = response.json()
        tile += 1
    if state["status"] == "active":
        response = await games_api.post(
            f"/v1/games/rounds/{round_id}/steps",
            json={"step": state["next_step"], "action": {"action": "cashout"}},
            headers=player.headers,
        )
        state = response.json()
    assert state["status"] == "closed"
    assert await balance(platform, player) == 10_000 - 100 + state["payout"]


async def test_round_of_another_player_when_stepped_or_read_is_not_found(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    owner, intruder = await new_player(10_000), await new_player(10_000)
    started = (await play(games_api, owner, "mines", 100, {"mines": 3})).json()
    step = await games_api.post(
        f"/v1/games/rounds/{started['round_id']}/steps",
        json={"step": 0, "action": {"action": "cashout"}},
        headers=intruder.headers,
    )
    assert step.status_code == 404
    assert step.json()["code"] == "round_not_found"
    read = await games_api.get(f"/v1/games/rounds/{started['round_id']}", headers=intruder.headers)
    assert read.status_code == 404
    mine = await games_api.get(f"/v1/games/rounds/{started['round_id']}", headers=owner.headers)
    assert mine.json()["status"] == "active"
