"""Provably-fair seed pairs as players use them: commitment first, nonces in order, rotation reveals, nothing leaks."""

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from croupier.app import build_app
from croupier.bootstrap import Platform
from croupier.games.rng import stake_v1
from croupier.identity.schemas import CreateBrandRequest, RegisterPlayerRequest
from tests.conftest import free_port

PASSWORD = "a long enough password"
BRAND = "fair-brand"


@pytest.fixture
async def api(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    import asyncio

    import uvicorn

    assert platform.identity is not None
    await platform.identity.brands.create(
        CreateBrandRequest.model_validate(
            {"id": BRAND, "name": "F", "allowed_countries": ["GB"], "allowed_currencies": ["EUR"]}
        )
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(platform), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client
    server.should_exit = True
    await task


async def player_token(platform: Platform, api: httpx.AsyncClient) -> tuple[str, str]:
    assert platform.identity is not None
    email = f"f-{uuid.uuid4().hex[:8]}@example.com"
    profile = await platform.identity.register(
        BRAND,
        RegisterPlayerRequest.model_validate(
            {
                "email": email,
                "password": PASSWORD,
                "date_of_birth": date(1985, 6, 1),
                "country": "GB",
                "currency": "EUR",
            }
        ),
        ip="192.0.2.1",
    )
    response = await api.post("/v1/identity/login", json={"brand_id": BRAND, "email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(profile.id), response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_rotation_when_bets_were_taken_reveals_the_seed_that_matches_the_commitment_and_their_outcomes(
    platform: Platform, api: httpx.AsyncClient
) -> None:
    player_id, token = await player_token(platform, api)
    before = (await api.get("/v1/games/fairness", headers=bearer(token))).json()
    assert before["next_nonce"] == 0
    assert "server_seed" not in before
    assert platform.games is not None
    bets = [await platform.games.take_bet_seeds(player_id, BRAND) for _ in range(3)]
    assert [bet.nonce for bet in bets] == [0, 1, 2]
    rolls = [stake_v1.dice(bet.server_seed.reveal(), bet.client_seed, bet.nonce) for bet in bets]
    rotation = await api.post("/v1/games/fairness/rotate", json={"client_seed": "my lucky seed"}, headers=bearer(token))
    assert rotation.status_code == 200, rotation.text
    revealed, active = rotation.json()["revealed"], rotation.json()["active"]
    assert hashlib.sha256(revealed["server_seed"].encode()).hexdigest() == before["server_seed_hash"]
    assert revealed["bets"] == 3
    # The player recomputes every bet of the pair from what was revealed.
    assert [stake_v1.dice(revealed["server_seed"], revealed["client_seed"], n) for n in range(3)] == rolls
    assert (active["client_seed"], active["next_nonce"]) == ("my lucky seed", 0)
    assert active["server_seed_hash"] != before["server_seed_hash"]
    history = (await api.get("/v1/games/fairness/history", headers=bearer(token))).json()
    assert [pair["server_seed"] for pair in history] == [revealed["server_seed"]]


async def test_active_server_seed_when_bets_are_taken_never_appears_in_responses_or_logs(
    platform: Platform, api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    player_id, token = await player_token(platform, api)
    assert platform.games is not None
    caplog.set_level(logging.DEBUG)
    bet = await platform.games.take_bet_seeds(player_id, BRAND)
    secret = bet.server_seed.reveal()
    logging.getLogger("croupier.test").info("bet seeds %s %r", bet, bet.server_seed)
    bodies = [
        (await api.get("/v1/games/fairness", headers=bearer(token))).text,
        (await api.get("/v1/games/fairness/history", headers=bearer(token))).text,
        (await api.post("/v1/games/fairness/rotate", json={"client_seed": ""}, headers=bearer(token))).text,
    ]
    assert all(secret not in body for body in bodies)
    assert secret not in caplog.text
    assert secret not in repr(bet)
    assert secret not in str(bet)


async def test_fairness_when_two_players_use_it_shows_each_only_their_own_pair(
    platform: Platform, api: httpx.AsyncClient
) -> None:
    _, alice = await player_token(platform, api)
    _, bob = await player_token(platform, api)
    await api.post("/v1/games/fairness/rotate", json={"client_seed": "alice-seed"}, headers=bearer(alice))
    bob_pair = (await api.get("/v1/games/fairness", headers=bearer(bob))).json()
    assert bob_pair["client_seed"] != "alice-seed"
    assert (await api.get("/v1/games/fairness/history", headers=bearer(bob))).json() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [({"client_seed": ""}, 422), ({"client_seed": "x" * 65}, 422), ({"client_seed": 5}, 422), ({"seed": "a"}, 422)],
)
async def test_rotate_when_the_client_seed_is_bad_is_refused_and_changes_nothing(
    platform: Platform, api: httpx.AsyncClient, body: dict[str, object], status: int
) -> None:
    _, token = await player_token(platform, api)
    before = (await api.get("/v1/games/fairness", headers=bearer(token))).json()
    response = await api.post("/v1/games/fairness/rotate", json=body, headers=bearer(token))
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await api.get("/v1/games/fairness", headers=bearer(token))).json() == before


async def test_fairness_when_unauthenticated_answers_401(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/games/fairness")).status_code == 401
    assert (await api.post("/v1/games/fairness/rotate", json={})).status_code == 401
