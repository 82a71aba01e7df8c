"""Fuzzing the round endpoints over real HTTP: malformed JSON, wrong types, huge and negative numbers, nested junk,
extra and missing keys, for POST /v1/games/rounds and POST /v1/games/rounds/{id}/steps.

Every refused request must answer 4xx problem+json with a stable `code` (never 5xx), and change nothing: the player's
balance, their rounds, and the round being stepped stay as they were.

Hypothesis drives a synchronous client from a worker thread while the server keeps running on the test's event loop;
examples are derandomised (the same cases every run) and nothing is written to a Hypothesis database.
"""

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from croupier.bootstrap import Platform
from tests.games.conftest import GamesPlayer, balance, play

NewPlayer = Callable[..., Awaitable[GamesPlayer]]
T = TypeVar("T")

FUNDS = 10_000_000  # far above anything the fuzzed rounds can stake: insufficient funds never comes into play
PROBLEM_JSON = "application/problem+json"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
VALID_ROUNDS: dict[str, tuple[int, dict[str, Any]]] = {
    "dice": (100, {"target": 5000, "direction": "over"}),
    "limbo": (100, {"target": 200}),
    "roulette": (100, {"bets": [{"kind": "red", "amount": 60}, {"kind": "straight", "numbers": [7], "amount": 40}]}),
    "plinko": (100, {"rows": 8, "risk": "low"}),
    "keno": (100, {"picks": [1, 2, 3]}),
    "mines": (100, {"mines": 3}),
    "blackjack": (100, {}),
    "slots": (100, {"slot": "fruit_five", "lines": 10}),
}
DICE_BODY = {"game": "dice", "stake": 100, "params": VALID_ROUNDS["dice"][1], "request_key": "fuzz-example"}
REQUEST_KEY = re.compile(r"[\x21-\x7e]{1,100}")
VALID_ACTIONS = [
    {"action": "reveal", "tile": tile} for tile in range(25)
] + [  # the only action documents the two engines accept (mines, blackjack)
    {"action": "cashout"},
    {"action": "hit"},
    {"action": "stand"},
    {"action": "double"},
    {"action": "split"},
    {"action": "insurance", "take": True},
    {"action": "insurance", "take": False},
]

# -- strategies -----------------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
junk = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
containers = st.one_of(st.lists(junk, max_size=3), st.dictionaries(st.text(max_size=8), junk, max_size=3))


def not_an_int(low: int, high: int) -> st.SearchStrategy[Any]:
    """Anything but a JSON integer in low … high: floats (100.0 too), bools, numeric strings, out of range, junk."""
    return st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(min_value=low, max_value=high).map(float),
        st.booleans(),
        st.integers(min_value=low, max_value=high).map(str),
        st.integers(max_value=low - 1),
        st.integers(min_value=high + 1, max_value=2**100),
        st.none(),
        st.text(max_size=10),
        containers,
    )


bad_stakes = not_an_int(1, 100_000)  # above 100000 EUR cents: over the default maximum stake
bad_games = junk.filter(lambda value: not (isinstance(value, str) and value in VALID_ROUNDS))
bad_keys = junk.filter(lambda value: not (isinstance(value, str) and REQUEST_KEY.fullmatch(value)))
bad_params = st.one_of(scalars, st.lists(junk, max_size=3))  # anything but an object
extra_keys = st.dictionaries(st.text(min_size=1, max_size=10), junk, min_size=1, max_size=3)


@st.composite
def round_bodies(draw: st.DrawFn) -> Any:
    """A valid round request with one thing broken (or, now and then, a params value that happens to be valid)."""
    game = draw(st.sampled_from(sorted(VALID_ROUNDS)))
    stake, params = VALID_ROUNDS[game]
    body: dict[str, Any] = {"game": game, "stake": stake, "params": dict(params), "request_key": uuid.uuid4().hex}
    how = draw(st.sampled_from(["game", "stake", "params", "request_key", "extra", "missing", "param", "param_extra"]))
    if how == "game":
        body["game"] = draw(bad_games)
    elif how == "stake":
        body["stake"] = draw(bad_stakes)
    elif how == "params":
        body["params"] = draw(bad_params)
    elif how == "request_key":
        body["request_key"] = draw(bad_keys)
    elif how == "extra":
        body.update({k: v for k, v in draw(extra_keys).items() if k not in body})
        if len(body) == 4:
            body["unexpected"] = None
    elif how == "missing":
        for key in draw(st.lists(st.sampled_from(["game", "stake", "request_key"]), min_size=1, unique=True)):
            del body[key]
    elif how == "param" and params:
        key = draw(st.sampled_from(sorted(params)))
        body["params"][key] = draw(junk)
    else:
        body["params"].update({k: v for k, v in draw(extra_keys).items() if k not in params})
        if body["params"] == params:
            body["params"]["unexpected"] = 1
    return body


def bad_actions() -> st.SearchStrategy[Any]:
    """Actions no round may take."""
    names = junk
    return st.one_of(
        scalars,
        st.lists(junk, max_size=3),
        st.dictionaries(st.text(max_size=8).filter(lambda key: key != "action"), junk, max_size=4),
        st.fixed_dictionaries({"action": names}),
        st.fixed_dictionaries({"action": st.just("reveal"), "tile": not_an_int(0, 24)}),
        st.fixed_dictionaries({"action": st.sampled_from(["cashout", "hit", "stand"]), "tile": junk}),
        st.fixed_dictionaries({"action": st.just("insurance"), "take": junk.filter(lambda v: not isinstance(v, bool))}),
        st.builds(
            lambda extra: {"action": "reveal", "tile": 3, **extra},
            extra_keys.filter(lambda d: not {"action", "tile"} & set(d)),
        ),
    ).filter(lambda action: action not in VALID_ACTIONS)


@st.composite
def step_bodies(draw: st.DrawFn) -> Any:
    """A step request that no round may take: a broken step number, a broken action, or a broken body."""
    how = draw(st.sampled_from(["step", "stale", "action", "extra", "missing"]))
    body: dict[str, Any] = {"step": 0, "action": draw(bad_actions())}
    if how == "step":
        body = {"step": draw(not_an_int(0, 10_000)), "action": {"action": "cashout"}}
    elif how == "stale":  # a valid action for a step the round is not at
        body = {"step": draw(st.integers(min_value=1, max_value=10_000)), "action": {"action": "stand"}}
    elif how == "extra":
        body = {
            "step": 0,
            "action": {"action": "cashout"},
            **draw(extra_keys.filter(lambda d: not {"step", "action"} & set(d))),
        }
    elif how == "missing":
        body = draw(st.sampled_from([{"step": 0}, {"action": {"action": "cashout"}}, {}]))
    return body


malformed = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    st.sampled_from(['{"game": "dice",', "{'game': 'dice'}", '{"stake": NaN}', '{"stake": Infinity}', "[1, 2", "{}}"]),
).filter(lambda raw: not _parses(raw))


def _parses(raw: str | bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False
    return True


# -- the harness ----------------------------------------------------------------------------------------------------


class Observer:
    """Sync access, from Hypothesis's worker thread, to what the player can lose: balance, rounds, a round's state."""

    def __init__(self, loop: asyncio.AbstractEventLoop, platform: Platform, db: asyncpg.Connection) -> None:
        self.loop = loop
        self.platform = platform
        self.db = db

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def money_and_rounds(self, player: GamesPlayer) -> tuple[int, int]:
        count = self.run(self.db.fetchval("SELECT count(*) FROM games.rounds WHERE player_id = $1", player.player_id))
        return self.run(balance(self.platform, player)), int(count)


def assert_refused(response: httpx.Response, sent: Any) -> None:
    assert 400 <= response.status_code < 500, f"{response.status_code} for {sent!r}: {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON), f"{sent!r}: {response.headers}"
    body = response.json()
    assert isinstance(body.get("code"), str), f"{sent!r}: {body}"
    assert body["code"], f"{sent!r}: {body}"
    assert body["status"] == response.status_code, f"{sent!r}: {body}"


async def in_thread(work: Callable[[], None]) -> None:
    await asyncio.to_thread(work)


# -- the fuzz tests -------------------------------------------------------------------------------------------------


async def test_round_request_when_malformed_or_mistyped_is_refused_with_a_problem_and_changes_nothing(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    player = await new_player(FUNDS)
    observer = Observer(asyncio.get_running_loop(), platform, db)
    played = {"rounds": 0}

    with httpx.Client(base_url=str(games_api.base_url), headers=player.headers, timeout=30) as client:

        @FUZZ
        @given(body=round_bodies())
        @example(body={**DICE_BODY, "stake": 100.0})
        @example(body={**DICE_BODY, "stake": True})
        @example(body={**DICE_BODY, "stake": "100"})
        @example(body={**DICE_BODY, "stake": 2**64})
        @example(body={**DICE_BODY, "stake": -100})
        @example(body={**DICE_BODY, "stake": 0})
        @example(body={**DICE_BODY, "game": None})
        @example(body={**DICE_BODY, "params": []})
        @example(body={**DICE_BODY, "params": {"target": 5000.0, "direction": "over"}})
        @example(body={**DICE_BODY, "params": {"target": "5000", "direction": "over"}})
        @example(body={**DICE_BODY, "params": {"target": 5000, "direction": "over", "extra": 1}})
        @example(body={**DICE_BODY, "request_key": ""})
        @example(body={**DICE_BODY, "request_key": "with space"})
        @example(body={**DICE_BODY, "extra": {"nested": [1, {"deep": None}]}})
        @example(body=[DICE_BODY])
        def check(body: Any) -> None:
            before = observer.money_and_rounds(player)
            response = client.post("/v1/games/rounds", json=body)
            if response.status_code == 200:  # a junk params value that happens to be valid: a real round
                played["rounds"] += 1
                return
            assert_refused(response, body)
            assert observer.money_and_rounds(player) == before, body

        await in_thread(check)
    assert played["rounds"] < 30  # the fuzz is about refusals: most cases must be refused


async def test_round_request_when_not_json_is_refused_with_a_problem_and_changes_nothing(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    player = await new_player(FUNDS)
    observer = Observer(asyncio.get_running_loop(), platform, db)
    before = await asyncio.to_thread(observer.money_and_rounds, player)

    with httpx.Client(base_url=str(games_api.base_url), timeout=30) as client:

        @FUZZ
        @given(raw=malformed, content_type=st.sampled_from(["application/json", "text/plain", None]))
        def check(raw: str | bytes, content_type: str | None) -> None:
            headers = dict(player.headers)
            if content_type is not None:
                headers["content-type"] = content_type
            response = client.post("/v1/games/rounds", content=raw, headers=headers)
            assert_refused(response, raw)

        await in_thread(check)
    assert await asyncio.to_thread(observer.money_and_rounds, player) == before


async def active_round(api: httpx.AsyncClient, player: GamesPlayer, game: str) -> dict[str, Any]:
    """A round of `game` waiting for the player's first step (blackjack: dealt until no natural settles it)."""
    for _ in range(50):
        response = await play(api, player, game, 100, VALID_ROUNDS[game][1])
        assert response.status_code == 200, response.text
        if response.json()["status"] == "active":
            return dict(response.json())
    raise AssertionError(f"no {game} round waiting for a step in 50 rounds")


@pytest.mark.parametrize("game", ["mines", "blackjack"])
async def test_step_request_when_malformed_or_mistyped_is_refused_with_a_problem_and_changes_nothing(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection, game: str
) -> None:
    player = await new_player(FUNDS)
    target = await active_round(games_api, player, game)
    path = f"/v1/games/rounds/{target['round_id']}"
    observer = Observer(asyncio.get_running_loop(), platform, db)
    before = await asyncio.to_thread(observer.money_and_rounds, player)
    bodies = step_bodies()

    with httpx.Client(base_url=str(games_api.base_url), headers=player.headers, timeout=30) as client:

        @FUZZ
        @given(body=bodies, raw=st.one_of(st.none(), malformed))
        @example(body={"step": 0, "action": {"action": "reveal", "tile": 25}}, raw=None)
        @example(body={"step": 0, "action": {"action": "hit", "tile": 1}}, raw=None)
        @example(body={"step": 0.0, "action": {"action": "cashout"}}, raw=None)
        @example(body={"step": True, "action": {"action": "stand"}}, raw=None)
        @example(body={"step": "0", "action": {"action": "stand"}}, raw=None)
        @example(body={"step": 2**64, "action": {"action": "stand"}}, raw=None)
        @example(body={"step": -1, "action": {"action": "stand"}}, raw=None)
        @example(body={"step": 0, "action": {"action": "stand"}, "extra": 1}, raw=None)
        def check(body: Any, raw: str | bytes | None) -> None:
            if raw is None:
                response = client.post(f"{path}/steps", json=body)
            else:
                response = client.post(f"{path}/steps", content=raw, headers={"content-type": "application/json"})
            assert_refused(response, body if raw is None else raw)
            assert observer.money_and_rounds(player) == before, body
            assert client.get(path).json() == target, body

        await in_thread(check)


@pytest.mark.parametrize("name", [["hit"], {"hit": True}], ids=["list", "object"])
async def test_blackjack_step_when_the_action_name_is_not_a_string_answers_422_invalid_game_input(
    games_api: httpx.AsyncClient, new_player: NewPlayer, name: Any
) -> None:
    player = await new_player(FUNDS)
    target = await active_round(games_api, player, "blackjack")
    response = await games_api.post(
        f"/v1/games/rounds/{target['round_id']}/steps",
        json={"step": 0, "action": {"action": name}},
        headers=player.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_game_input"


async def test_step_request_when_the_round_id_is_not_a_uuid_answers_422_validation_error(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(0)
    for round_id in ("1", "not-a-uuid", "00000000-0000-0000-0000-00000000000g", "%00", "9" * 300):
        response = await games_api.post(
            f"/v1/games/rounds/{round_id}/steps",
            json={"step": 0, "action": {"action": "cashout"}},
            headers=player.headers,
        )
        assert_refused(response, round_id)
        assert response.json()["code"] in ("validation_error", "not_found"), round_id


async def test_round_request_when_the_body_is_over_the_size_limit_answers_413_and_changes_nothing(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    player = await new_player(FUNDS)
    picks = list(range(1, 11)) * 60_000  # about 2 MB of JSON, over the 1 MiB default
    body = {"game": "keno", "stake": 100, "params": {"picks": picks}, "request_key": "too-large"}
    response = await games_api.post("/v1/games/rounds", json=body, headers=player.headers)
    assert_refused(response, "2 MB body")
    assert response.json()["code"] == "payload_too_large"
    assert await balance(platform, player) == FUNDS
    assert await db.fetchval("SELECT count(*) FROM games.rounds WHERE player_id = $1", player.player_id) == 0
