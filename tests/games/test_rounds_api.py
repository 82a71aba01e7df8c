"""The games API as players and back-office users meet it, over real HTTP: the catalog, every game's rounds, the
blackjack steps, bet limits, the compliance gate, RNG versions, verification, history and the back office.

Money assertions read the player's wallet balance; "nothing changed" means the balance and the player's round list.
The `platform` fixture replays every round and verifies the audit chain at teardown.
"""

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from croupier.bootstrap import Platform
from croupier.games.engines import ENGINES
from croupier.kit.auth import Principal
from tests.conftest import token_signer_for_tests
from tests.games.conftest import BRAND, GamesPlayer, balance, play

NewPlayer = Callable[..., Awaitable[GamesPlayer]]
Headers = dict[str, str]

PROBLEM_JSON = "application/problem+json"
EUR_DEFAULT_LIMITS = {"min_stake": 10, "max_stake": 100_000, "max_win": 10_000_000}  # 0.10, 1000, 100000 EUR
DICE = {"target": 5000, "direction": "over"}
ROULETTE_BETS = [
    {"kind": "red", "amount": 60},
    {"kind": "straight", "numbers": [17], "amount": 25},
    {"kind": "dozen", "numbers": list(range(12, 0, -1)), "amount": 15},
]
SEARCH = 200  # deals tried before a blackjack situation is declared not found (misses with p < 1e-6)


# -- helpers --------------------------------------------------------------------------------------------------------


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The HTTP status, problem+json and its stable code (the body's other members are checked by `problem`)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    body = refused(response, status, code)
    assert body["status"] == status, body
    assert body["type"].endswith(code), body
    assert body["title"], body
    assert body["detail"], body
    return body


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


async def admin_headers(platform: Platform, *roles: str) -> Headers:
    """A back-office user's token with `roles`, as /v1/identity/admin/login issues it (signed with the test key)."""
    token, _ = token_signer_for_tests().issue(Principal("admin", str(uuid.uuid4()), roles=frozenset(roles)))
    return {"authorization": f"Bearer {token}"}


async def round_ids(api: httpx.AsyncClient, player: GamesPlayer, **query: Any) -> list[str]:
    page = ok(await api.get("/v1/games/rounds", params={"limit": 200, **query}, headers=player.headers))
    return [item["round_id"] for item in page["items"]]


async def step(
    api: httpx.AsyncClient,
    player: GamesPlayer,
    round_: dict[str, Any],
    action: dict[str, Any],
    number: int | None = None,
) -> httpx.Response:
    return await api.post(
        f"/v1/games/rounds/{round_['round_id']}/steps",
        json={"step": round_["next_step"] if number is None else number, "action": action},
        headers=player.headers,
    )


async def played(api: httpx.AsyncClient, player: GamesPlayer, game: str, stake: int, params: dict[str, Any]) -> Any:
    return ok(await play(api, player, game, stake, params))


async def deal_until(
    api: httpx.AsyncClient, player: GamesPlayer, wanted: Callable[[dict[str, Any]], bool], stake: int = 100
) -> dict[str, Any]:
    """Deal new blackjack rounds until one is in the wanted situation (bounded); others are left as they are."""
    for _ in range(SEARCH):
        round_ = await played(api, player, "blackjack", stake, {})
        if wanted(round_):
            return round_
    pytest.fail(f"no wanted blackjack deal in {SEARCH} rounds")


async def finish(api: httpx.AsyncClient, player: GamesPlayer, round_: dict[str, Any]) -> dict[str, Any]:
    """Stand on every open hand (declining a pending insurance) until the blackjack round settles."""
    while round_["status"] == "active":
        action = {"action": "stand"} if "stand" in round_["allowed_actions"] else {"action": "insurance", "take": False}
        round_ = ok(await step(api, player, round_, action))
    return round_


def in_play(*actions: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r["status"] == "active" and set(actions) <= set(r["allowed_actions"])


# -- games on offer -------------------------------------------------------------------------------------------------


async def test_games_list_when_read_shows_every_game_with_eur_default_limits(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(0)
    games = ok(await games_api.get("/v1/games", headers=player.headers))
    assert {game["game"] for game in games} == set(ENGINES)
    for game in games:
        assert game["currency"] == "EUR", game["game"]
        assert game["limits"] == EUR_DEFAULT_LIMITS, game["game"]
        assert game["rng_version"] == "stake-v1", game["game"]
        assert game["multi_step"] == (game["game"] in ("mines", "blackjack")), game["game"]


async def test_games_list_when_read_shows_each_games_exact_rules_and_rtp(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(0)
    games = {game["game"]: game for game in ok(await games_api.get("/v1/games", headers=player.headers))}
    for name, engine in ENGINES.items():
        assert games[name]["config"] == engine.describe(engine.check_settings({})), name
    assert games["blackjack"]["config"]["rtp"] == "0.9942961199"
    assert games["dice"]["config"]["rtp"] == {"min": "0.9899023298", "max": "0.9900000000"}


async def test_game_when_withdrawn_by_the_admin_disappears_from_the_list(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(0)
    admin = await admin_headers(platform, "admin")
    withdrawn = await games_api.put(
        f"/v1/games/admin/brands/{BRAND}/games/keno", json={"enabled": False}, headers=admin
    )
    assert ok(withdrawn)["games"]["keno"]["enabled"] is False
    games = {game["game"] for game in ok(await games_api.get("/v1/games", headers=player.headers))}
    assert games == set(ENGINES) - {"keno"}


async def test_game_when_withdrawn_by_the_admin_answers_404_game_unavailable_and_takes_nothing(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    admin = await admin_headers(platform, "admin")
    ok(await games_api.put(f"/v1/games/admin/brands/{BRAND}/games/keno", json={"enabled": False}, headers=admin))
    problem(await play(games_api, player, "keno", 100, {"picks": [1, 2, 3]}), 404, "game_unavailable")
    assert await balance(platform, player) == 10_000
    assert await round_ids(games_api, player) == []


async def test_game_when_unknown_answers_404_game_unavailable(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    problem(await play(games_api, player, "baccarat", 100, {}), 404, "game_unavailable")


# -- single-step games ----------------------------------------------------------------------------------------------


async def single_step_request(api: httpx.AsyncClient, player: GamesPlayer, game: str) -> tuple[int, dict[str, Any]]:
    if game == "limbo":
        return 100, {"target": 150}
    if game == "roulette":
        return sum(bet["amount"] for bet in ROULETTE_BETS), {"bets": ROULETTE_BETS}
    if game == "plinko":
        return 100, {"rows": 12, "risk": "medium"}
    if game == "keno":
        return 100, {"picks": [40, 3, 22, 14]}
    assert game == "slots"
    games = {g["game"]: g for g in ok(await api.get("/v1/games", headers=player.headers))}
    slot = games["slots"]["config"]["slots"][0]
    lines = len(slot["paylines"])
    return 10 * lines, {"slot": slot["slot"], "lines": lines}


@pytest.mark.parametrize("game", ["limbo", "roulette", "plinko", "keno", "slots"])
async def test_single_step_round_when_played_moves_the_balance_by_payout_minus_stake(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer, game: str
) -> None:
    player = await new_player(100_000)
    stake, params = await single_step_request(games_api, player, game)
    round_ = await played(games_api, player, game, stake, params)
    assert (round_["game"], round_["status"], round_["stake"], round_["staked"]) == (game, "closed", stake, stake)
    assert round_["payout"] == round_["outcome"]["payout"]
    assert len(round_["stake_transfer_ids"]) == 1
    assert (round_["win_transfer_id"] is None) == (round_["payout"] == 0)
    assert await balance(platform, player) == 100_000 - stake + round_["payout"]
    assert await round_ids(games_api, player) == [round_["round_id"]]


async def test_roulette_round_when_played_settles_every_bet_by_the_pocket(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    round_ = await played(games_api, player, "roulette", 100, {"bets": ROULETTE_BETS})
    pocket = round_["outcome"]["rng"]["pocket"]
    bets = round_["outcome"]["bets"]
    assert [bet["amount"] for bet in bets] == [60, 25, 15]
    assert bets[2]["numbers"] == list(range(1, 13))  # normalised: sorted
    for bet in bets:
        assert bet["win"] == (pocket in bet["numbers"]), bet
        assert bet["payout"] == (bet["amount"] * 36 // len(bet["numbers"]) if bet["win"] else 0), bet
    assert round_["payout"] == sum(bet["payout"] for bet in bets)


async def test_roulette_round_when_stake_differs_from_the_bets_sum_answers_422_and_takes_nothing(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    problem(await play(games_api, player, "roulette", 99, {"bets": ROULETTE_BETS}), 422, "invalid_game_input")
    assert await balance(platform, player) == 10_000
    assert await round_ids(games_api, player) == []


async def test_limbo_round_when_won_pays_the_target_times_the_stake(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    for _ in range(40):  # target 1.01x wins 98 % of rounds
        round_ = await played(games_api, player, "limbo", 1000, {"target": 101})
        if round_["outcome"]["win"]:
            assert round_["payout"] == 1010
            return
        assert round_["payout"] == 0
    pytest.fail("no limbo win at 1.01x in 40 rounds")


# -- blackjack ------------------------------------------------------------------------------------------------------


async def test_blackjack_double_when_taken_doubles_staked_and_debits_the_wallet_twice(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    dealt = await deal_until(games_api, player, in_play("double"))
    at_deal = await balance(platform, player)
    doubled = ok(await step(games_api, player, dealt, {"action": "double"}))
    assert doubled["status"] == "closed"  # one card, the hand is finished, the dealer plays
    assert doubled["staked"] == 200
    first, second = doubled["stake_transfer_ids"]
    assert first == dealt["stake_transfer_ids"][0]
    assert second != first
    for transfer_id in (first, second):
        transfer = await platform.wallet_client.get_transfer(uuid.UUID(transfer_id))
        assert (transfer.amount, transfer.debit_account_id, transfer.type) == (100, player.account_id, "bet")
    assert await balance(platform, player) == at_deal - 100 + doubled["payout"]


async def test_blackjack_split_when_offered_plays_two_hands_with_a_stake_each(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    dealt = await deal_until(games_api, player, in_play("split"))
    at_deal = await balance(platform, player)
    split = ok(await step(games_api, player, dealt, {"action": "split"}))
    assert split["staked"] == 200
    assert len(split["stake_transfer_ids"]) == 2
    if split["status"] == "active":
        assert len(split["view"]["hands"]) == 2
        assert [hand["stake"] for hand in split["view"]["hands"]] == [100, 100]
    settled = await finish(games_api, player, split)
    assert settled["status"] == "closed"
    assert len(settled["outcome"]["hands"]) == 2
    assert settled["payout"] == sum(hand["payout"] for hand in settled["outcome"]["hands"])
    assert await balance(platform, player) == at_deal - 100 + settled["payout"]


async def test_blackjack_insurance_when_the_dealer_shows_an_ace_is_the_only_action_and_costs_half_the_stake(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    dealt = await deal_until(games_api, player, lambda r: r["allowed_actions"] == ["insurance"])
    assert dealt["view"]["dealer"]["cards"][0]["rank"] == "A"
    assert dealt["view"]["insurance"]["offered"] is True
    at_deal = await balance(platform, player)
    insured = ok(await step(games_api, player, dealt, {"action": "insurance", "take": True}))
    assert insured["staked"] == 150
    assert len(insured["stake_transfer_ids"]) == 2
    settled = await finish(games_api, player, insured)
    assert settled["outcome"]["insurance"]["taken"] is True
    assert settled["outcome"]["insurance"]["stake"] == 50
    assert settled["outcome"]["insurance"]["payout"] == (150 if settled["outcome"]["dealer"]["blackjack"] else 0)
    assert await balance(platform, player) == at_deal - 50 + settled["payout"]


async def test_blackjack_insurance_when_the_dealer_shows_no_ace_is_not_offered(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    dealt = await deal_until(games_api, player, in_play("stand"))
    assert dealt["view"]["dealer"]["cards"][0]["rank"] != "A"
    assert "insurance" not in dealt["allowed_actions"]
    assert dealt["view"]["insurance"]["offered"] is False


async def test_blackjack_view_when_in_play_never_shows_the_hole_card(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    dealt = await deal_until(games_api, player, in_play("stand"))
    assert len(dealt["view"]["dealer"]["cards"]) == 1
    assert dealt["outcome"] is None
    assert dealt["payout"] is None


async def test_blackjack_step_when_the_action_is_not_allowed_answers_422_and_changes_nothing(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    dealt = await deal_until(games_api, player, lambda r: in_play("stand")(r) and "split" not in r["allowed_actions"])
    at_deal = await balance(platform, player)
    problem(await step(games_api, player, dealt, {"action": "split"}), 422, "invalid_game_input")
    assert ok(await games_api.get(f"/v1/games/rounds/{dealt['round_id']}", headers=player.headers)) == dealt
    assert await balance(platform, player) == at_deal


async def test_blackjack_step_when_sent_again_with_the_same_action_returns_the_same_round_and_pays_once(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    dealt = await deal_until(games_api, player, in_play("stand"))
    first = ok(await step(games_api, player, dealt, {"action": "stand"}))
    after_first = await balance(platform, player)
    again = ok(await step(games_api, player, dealt, {"action": "stand"}, number=0))
    assert again == first
    assert await balance(platform, player) == after_first


async def test_blackjack_step_when_sent_again_with_another_action_answers_409_step_conflict(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    dealt = await deal_until(games_api, player, in_play("stand", "double"))
    first = ok(await step(games_api, player, dealt, {"action": "stand"}))
    after_first = await balance(platform, player)
    problem(await step(games_api, player, dealt, {"action": "double"}, number=0), 409, "step_conflict")
    assert ok(await games_api.get(f"/v1/games/rounds/{dealt['round_id']}", headers=player.headers)) == first
    assert await balance(platform, player) == after_first


async def test_blackjack_step_when_ahead_of_the_round_answers_409_step_conflict(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    dealt = await deal_until(games_api, player, in_play("stand"))
    problem(await step(games_api, player, dealt, {"action": "stand"}, number=5), 409, "step_conflict")


async def test_round_step_when_the_round_is_settled_answers_409_round_not_active(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    dealt = await deal_until(games_api, player, in_play("stand"))
    settled = await finish(games_api, player, dealt)
    after = await balance(platform, player)
    refused(await step(games_api, player, settled, {"action": "hit"}), 409, "round_not_active")
    assert ok(await games_api.get(f"/v1/games/rounds/{settled['round_id']}", headers=player.headers)) == settled
    assert await balance(platform, player) == after


async def test_round_step_when_the_round_is_settled_answers_a_problem_whose_status_is_409(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    round_ = await played(games_api, player, "dice", 100, DICE)
    body = refused(await step(games_api, player, round_, {"action": "hit"}), 409, "round_not_active")
    assert body["status"] == 409


async def test_single_step_round_when_stepped_answers_409_round_not_active(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    round_ = await played(games_api, player, "dice", 100, DICE)
    refused(await step(games_api, player, round_, {"action": "hit"}), 409, "round_not_active")


# -- bet limits -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stake", [EUR_DEFAULT_LIMITS["min_stake"] - 1, EUR_DEFAULT_LIMITS["max_stake"] + 1])
async def test_stake_when_outside_the_default_limits_answers_422_stake_out_of_limits_and_takes_nothing(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer, stake: int
) -> None:
    player = await new_player(200_000)
    body = problem(await play(games_api, player, "dice", stake, DICE), 422, "stake_out_of_limits")
    assert (body["min_stake"], body["max_stake"], body["currency"]) == (10, 100_000, "EUR")
    assert await balance(platform, player) == 200_000
    assert await round_ids(games_api, player) == []


async def test_stake_when_at_the_default_limits_is_played(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(200_000)
    for stake in (EUR_DEFAULT_LIMITS["min_stake"], EUR_DEFAULT_LIMITS["max_stake"]):
        assert (await played(games_api, player, "dice", stake, DICE))["stake"] == stake


async def test_bet_limits_when_set_by_the_admin_are_enforced_at_once(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    ok(await play(games_api, player, "dice", 100, DICE))  # the brand's configuration is cached now
    admin = await admin_headers(platform, "admin")
    limits = {"min_stake": 200, "max_stake": 500, "max_win": 5000}
    ok(await games_api.put(f"/v1/games/admin/brands/{BRAND}/limits/dice/EUR", json=limits, headers=admin))
    before = await balance(platform, player)
    body = problem(await play(games_api, player, "dice", 100, DICE), 422, "stake_out_of_limits")
    assert (body["min_stake"], body["max_stake"]) == (200, 500)
    problem(await play(games_api, player, "dice", 501, DICE), 422, "stake_out_of_limits")
    assert await balance(platform, player) == before


async def test_bet_limits_when_set_for_one_game_are_listed_for_it_only(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(0)
    admin = await admin_headers(platform, "admin")
    limits = {"min_stake": 200, "max_stake": 500, "max_win": 5000}
    ok(await games_api.put(f"/v1/games/admin/brands/{BRAND}/limits/dice/EUR", json=limits, headers=admin))
    games = {game["game"]: game for game in ok(await games_api.get("/v1/games", headers=player.headers))}
    assert games["dice"]["limits"] == limits
    assert games["limbo"]["limits"] == EUR_DEFAULT_LIMITS


async def test_bet_limits_when_max_win_is_below_max_stake_answer_422_limits_not_valid(
    platform: Platform, games_api: httpx.AsyncClient
) -> None:
    admin = await admin_headers(platform, "admin")
    limits = {"min_stake": 200, "max_stake": 500, "max_win": 499}
    response = await games_api.put(f"/v1/games/admin/brands/{BRAND}/limits/dice/EUR", json=limits, headers=admin)
    problem(response, 422, "limits_not_valid")
    brand = ok(await games_api.get(f"/v1/games/admin/brands/{BRAND}", headers=admin))
    assert brand["limits"] == []


async def test_max_win_when_a_round_wins_more_caps_the_payout_and_the_credit(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    admin = await admin_headers(platform, "admin")
    limits = {"min_stake": 100, "max_stake": 100, "max_win": 150}
    ok(await games_api.put(f"/v1/games/admin/brands/{BRAND}/limits/limbo/EUR", json=limits, headers=admin))
    for _ in range(60):  # a 2x target wins about half the rounds
        before = await balance(platform, player)
        round_ = await played(games_api, player, "limbo", 100, {"target": 200})
        if round_["outcome"]["win"]:
            assert round_["outcome"]["payout"] == 200  # what the game paid before the cap
            assert round_["payout"] == 150
            assert await balance(platform, player) == before - 100 + 150
            return
    pytest.fail("no limbo win at 2x in 60 rounds")


# -- the compliance gate --------------------------------------------------------------------------------------------


async def self_exclude(api: httpx.AsyncClient, player: GamesPlayer) -> None:
    response = await api.post("/v1/compliance/me/self-exclusions", json={"months": 6}, headers=player.headers)
    assert response.status_code == 201, response.text


async def time_out(api: httpx.AsyncClient, player: GamesPlayer) -> None:
    response = await api.post("/v1/compliance/me/timeouts", json={"hours": 24}, headers=player.headers)
    assert response.status_code == 201, response.text


async def limit_wagers(api: httpx.AsyncClient, player: GamesPlayer) -> None:
    ok(await api.put("/v1/compliance/me/limits/wager/day", json={"amount": 50}, headers=player.headers))


@pytest.mark.parametrize(
    ("restrict", "reason"),
    [(self_exclude, "self_excluded"), (time_out, "timed_out"), (limit_wagers, "wager_limit_exceeded")],
    ids=["self_excluded", "timed_out", "wager_limit"],
)
async def test_round_when_the_gate_refuses_the_player_answers_403_with_the_reason_and_moves_nothing(
    platform: Platform,
    games_api: httpx.AsyncClient,
    new_player: NewPlayer,
    restrict: Callable[[httpx.AsyncClient, GamesPlayer], Awaitable[None]],
    reason: str,
) -> None:
    player = await new_player(10_000)
    await restrict(games_api, player)
    body = problem(await play(games_api, player, "dice", 100, DICE), 403, "compliance_refused")
    assert body["reason"] == reason
    assert body["decision_id"]
    assert await balance(platform, player) == 10_000
    assert await round_ids(games_api, player) == []


async def test_blackjack_double_when_it_would_exceed_the_wager_limit_answers_403_and_takes_nothing_more(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(100_000)
    dealt = await deal_until(games_api, player, in_play("double"))
    ok(await games_api.put("/v1/compliance/me/limits/wager/day", json={"amount": 150}, headers=player.headers))
    at_deal = await balance(platform, player)
    body = problem(await step(games_api, player, dealt, {"action": "double"}), 403, "compliance_refused")
    assert body["reason"] == "wager_limit_exceeded"
    assert ok(await games_api.get(f"/v1/games/rounds/{dealt['round_id']}", headers=player.headers)) == dealt
    assert await balance(platform, player) == at_deal


# -- RNG versions ---------------------------------------------------------------------------------------------------


async def switch_to_certified(platform: Platform, api: httpx.AsyncClient) -> None:
    admin = await admin_headers(platform, "admin")
    switched = await api.put(f"/v1/games/admin/brands/{BRAND}", json={"rng_version": "certified-v1"}, headers=admin)
    assert ok(switched)["rng_version"] == "certified-v1"


async def test_brand_when_switched_to_certified_v1_plays_new_rounds_under_certified_v1(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    await switch_to_certified(platform, games_api)
    round_ = await played(games_api, player, "dice", 100, DICE)
    assert round_["fairness"]["rng_version"] == "certified-v1"
    assert round_["fairness"]["server_seed_hash"] is None
    assert round_["fairness"]["nonce"] is None
    assert await balance(platform, player) == 10_000 - 100 + round_["payout"]
    games = ok(await games_api.get("/v1/games", headers=player.headers))
    assert {game["rng_version"] for game in games} == {"certified-v1"}


async def test_mines_round_when_started_before_the_switch_to_certified_v1_finishes_under_stake_v1(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    started = await played(games_api, player, "mines", 100, {"mines": 1})
    assert started["fairness"]["rng_version"] == "stake-v1"
    await switch_to_certified(platform, games_api)
    revealed = ok(await step(games_api, player, started, {"action": "reveal", "tile": 12}))
    state = revealed
    if state["status"] == "active":
        state = ok(await step(games_api, player, state, {"action": "cashout"}))
    assert state["status"] == "closed"
    assert state["fairness"] == started["fairness"]
    assert state["outcome"]["status"] == ("lost" if 12 in state["outcome"]["rng"]["mines"] else "cashed_out")
    assert await balance(platform, player) == 10_000 - 100 + state["payout"]


async def test_certified_v1_round_when_verified_is_verifiable_at_once_and_matches(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    await switch_to_certified(platform, games_api)
    round_ = await played(games_api, player, "keno", 100, {"picks": [1, 2, 3]})
    verification = ok(await games_api.get(f"/v1/games/rounds/{round_['round_id']}/verify", headers=player.headers))
    assert (verification["verifiable"], verification["matches"]) == (True, True)
    assert verification["rng_version"] == "certified-v1"


# -- player verification --------------------------------------------------------------------------------------------


async def test_round_verification_when_the_seed_pair_is_not_rotated_is_not_verifiable_and_hides_the_seed(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    round_ = await played(games_api, player, "dice", 100, DICE)
    verification = ok(await games_api.get(f"/v1/games/rounds/{round_['round_id']}/verify", headers=player.headers))
    assert verification["verifiable"] is False
    assert verification["server_seed"] is None
    assert verification["matches"] is None
    assert verification["recomputed"] is None
    assert verification["server_seed_hash"] == round_["fairness"]["server_seed_hash"]


async def test_round_verification_when_the_seed_pair_is_rotated_shows_the_seed_and_matches(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    round_ = await played(games_api, player, "plinko", 100, {"rows": 8, "risk": "high"})
    rotation = ok(await games_api.post("/v1/games/fairness/rotate", json={}, headers=player.headers))
    verification = ok(await games_api.get(f"/v1/games/rounds/{round_['round_id']}/verify", headers=player.headers))
    assert (verification["verifiable"], verification["matches"]) == (True, True)
    assert verification["server_seed"] == rotation["revealed"]["server_seed"]
    assert hashlib.sha256(verification["server_seed"].encode()).hexdigest() == round_["fairness"]["server_seed_hash"]
    assert verification["nonce"] == round_["fairness"]["nonce"]
    assert verification["problems"] == []


async def test_round_verification_when_the_round_is_another_players_answers_404_round_not_found(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    owner, other = await new_player(10_000), await new_player(0)
    round_ = await played(games_api, owner, "dice", 100, DICE)
    response = await games_api.get(f"/v1/games/rounds/{round_['round_id']}/verify", headers=other.headers)
    problem(response, 404, "round_not_found")


# -- history --------------------------------------------------------------------------------------------------------


async def test_round_history_when_paged_with_next_before_lists_every_round_once_newest_first(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    ids = [(await played(games_api, player, "dice", 100, DICE))["round_id"] for _ in range(5)]
    pages: list[list[str]] = []
    query: dict[str, Any] = {"limit": 2}
    while True:
        page = ok(await games_api.get("/v1/games/rounds", params=query, headers=player.headers))
        pages.append([item["round_id"] for item in page["items"]])
        if page["next_before"] is None:
            break
        assert page["next_before"] == pages[-1][-1]
        query = {"limit": 2, "before": page["next_before"]}
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[0:1]]


async def test_round_history_when_filtered_by_game_lists_only_that_game(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    dice = (await played(games_api, player, "dice", 100, DICE))["round_id"]
    limbo = (await played(games_api, player, "limbo", 100, {"target": 300}))["round_id"]
    assert await round_ids(games_api, player, game="limbo") == [limbo]
    assert await round_ids(games_api, player, game="dice") == [dice]


async def test_round_history_when_others_play_lists_only_the_players_own_rounds(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player, other = await new_player(10_000), await new_player(10_000)
    mine = (await played(games_api, player, "dice", 100, DICE))["round_id"]
    await played(games_api, other, "dice", 100, DICE)
    assert await round_ids(games_api, player) == [mine]


async def test_round_history_when_empty_has_no_next_page(games_api: httpx.AsyncClient, new_player: NewPlayer) -> None:
    player = await new_player(0)
    page = ok(await games_api.get("/v1/games/rounds", headers=player.headers))
    assert page == {"items": [], "next_before": None}


# -- back office ----------------------------------------------------------------------------------------------------


async def test_admin_round_when_read_by_support_shows_the_audit_entries_and_a_matching_replay(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    round_ = await played(games_api, player, "limbo", 100, {"target": 101})
    support = await admin_headers(platform, "support")
    view = ok(await games_api.get(f"/v1/games/admin/rounds/{round_['round_id']}", headers=support))
    assert view["round"] == round_
    assert (view["player_id"], view["brand_id"]) == (player.player_id, BRAND)
    kinds = [entry["kind"] for entry in view["entries"]]
    assert kinds == (["opened", "staked", "settled", "paid"] if round_["payout"] else ["opened", "staked", "settled"])
    assert view["replay"]["matches"] is True


async def test_admin_round_when_read_with_a_player_token_answers_403(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    round_ = await played(games_api, player, "dice", 100, DICE)
    problem(
        await games_api.get(f"/v1/games/admin/rounds/{round_['round_id']}", headers=player.headers), 403, "forbidden"
    )


async def test_admin_round_when_unknown_answers_404_round_not_found(
    platform: Platform, games_api: httpx.AsyncClient
) -> None:
    support = await admin_headers(platform, "support")
    problem(await games_api.get(f"/v1/games/admin/rounds/{uuid.uuid4()}", headers=support), 404, "round_not_found")


async def test_admin_audit_when_read_by_support_reports_an_intact_chain(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    await played(games_api, player, "dice", 100, DICE)
    support = await admin_headers(platform, "support")
    report = ok(await games_api.get("/v1/games/admin/audit", headers=support))
    assert report["ok"] is True
    assert report["problems"] == []
    assert report["entries"] >= 3


ADMIN_WRITES = [
    (f"/v1/games/admin/brands/{BRAND}", {"rng_version": "certified-v1"}),
    (f"/v1/games/admin/brands/{BRAND}/games/dice", {"enabled": False}),
    (f"/v1/games/admin/brands/{BRAND}/limits/dice/EUR", {"min_stake": 500, "max_stake": 600, "max_win": 700}),
]


async def test_admin_writes_when_sent_by_support_answer_403_and_change_nothing(
    platform: Platform, games_api: httpx.AsyncClient
) -> None:
    support = await admin_headers(platform, "support")
    before = ok(await games_api.get(f"/v1/games/admin/brands/{BRAND}", headers=support))
    for path, body in ADMIN_WRITES:
        problem(await games_api.put(path, json=body, headers=support), 403, "forbidden")
    assert ok(await games_api.get(f"/v1/games/admin/brands/{BRAND}", headers=support)) == before


async def test_admin_writes_when_sent_with_a_player_token_answer_403(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(0)
    for path, body in ADMIN_WRITES:
        problem(await games_api.put(path, json=body, headers=player.headers), 403, "forbidden")
    games = ok(await games_api.get("/v1/games", headers=player.headers))
    assert {game["rng_version"] for game in games} == {"stake-v1"}
    assert "dice" in {game["game"] for game in games}


async def test_admin_brand_when_read_by_a_player_answers_403(
    games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(0)
    problem(await games_api.get(f"/v1/games/admin/brands/{BRAND}", headers=player.headers), 403, "forbidden")


async def test_player_endpoints_when_called_with_an_admin_token_answer_403(
    platform: Platform, games_api: httpx.AsyncClient
) -> None:
    admin = await admin_headers(platform, "admin")
    problem(await games_api.get("/v1/games", headers=admin), 403, "forbidden")
    response = await games_api.post(
        "/v1/games/rounds", json={"game": "dice", "stake": 100, "params": DICE, "request_key": "k"}, headers=admin
    )
    problem(response, 403, "forbidden")


# -- sessions -------------------------------------------------------------------------------------------------------


async def test_games_endpoints_when_the_session_was_logged_out_answer_401_and_move_nothing(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer
) -> None:
    player = await new_player(10_000)
    started = await played(games_api, player, "mines", 100, {"mines": 3})
    logout = await games_api.post("/v1/identity/logout", json={}, headers=player.headers)
    assert logout.status_code == 204, logout.text
    at_logout = await balance(platform, player)
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/v1/games", None),
        ("POST", "/v1/games/rounds", {"game": "dice", "stake": 100, "params": DICE, "request_key": "after-logout"}),
        ("POST", f"/v1/games/rounds/{started['round_id']}/steps", {"step": 0, "action": {"action": "cashout"}}),
        ("GET", "/v1/games/rounds", None),
        ("GET", f"/v1/games/rounds/{started['round_id']}", None),
        ("GET", f"/v1/games/rounds/{started['round_id']}/verify", None),
        ("GET", "/v1/games/fairness", None),
        ("POST", "/v1/games/fairness/rotate", {}),
    ]
    for method, path, body in calls:
        response = await games_api.request(method, path, json=body, headers=player.headers)
        assert problem(response, 401, "unauthenticated")["reason"] == "session_revoked", f"{method} {path}"
    assert await balance(platform, player) == at_logout


async def test_games_endpoint_when_called_without_a_token_answers_401(games_api: httpx.AsyncClient) -> None:
    problem(await games_api.get("/v1/games"), 401, "unauthenticated")
