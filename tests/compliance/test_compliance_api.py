"""The compliance HTTP API on a real uvicorn server: players manage only their own limits, exclusions and reality
check; back-office roles read the decision log by player and time; bad input changes nothing; reality checks add up
the wallet's real activity."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from croupier.identity.schemas import ProfileOut, UpdateBrandRequest
from croupier.kit.clock import ManualClock
from croupier.wallet.client import ReverseTransferRequest
from tests.compliance.conftest import Casino, bearer, http_login
from tests.identity.conftest import BRAND

ME = "/v1/compliance/me"


@pytest.fixture
def clock() -> ManualClock:
    """Two hours behind the wall clock: tests move it forward, and a token's issue time must not lie in the future
    of the wall clock (PyJWT checks `iat` against it). The wallet's transfers, stamped by the database's clock, still
    fall inside every session and window these tests look at."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))


PLAYER_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", f"{ME}/limits", None),
    ("PUT", f"{ME}/limits/loss/day", {"amount": 100}),
    ("GET", f"{ME}/exclusions", None),
    ("POST", f"{ME}/timeouts", {"hours": 24}),
    ("POST", f"{ME}/self-exclusions", {"months": 6}),
    ("GET", f"{ME}/reality-check?session_started_at=2026-01-01T00:00:00Z", None),
    ("PUT", f"{ME}/reality-check", {"interval_minutes": 30}),
]


def decisions_url(player: ProfileOut) -> str:
    return f"/v1/compliance/admin/players/{player.id}/decisions"


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


async def _nothing_changed(casino: Casino, player: ProfileOut) -> None:
    pid = str(player.id)
    assert await casino.compliance.get_limits(pid) == []
    assert await casino.compliance.get_exclusions(pid) == []
    assert await casino.db.fetchval("SELECT count(*) FROM compliance.limit_changes WHERE player_id = $1", pid) == 0
    assert await casino.db.fetchval("SELECT count(*) FROM compliance.reality_checks WHERE player_id = $1", pid) == 0


# -- players see and change only their own settings ------------------------------------------------------------


async def test_player_settings_when_changed_by_one_player_never_show_for_another(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    ann, bob = await casino.register(), await casino.register()
    ann_token = (await http_login(api, ann)).access_token
    bob_token = (await http_login(api, bob)).access_token
    response = await api.put(f"{ME}/limits/loss/day", json={"amount": 5000}, headers=bearer(ann_token))
    assert response.status_code == 200, response.text
    assert response.json()["in_force"] == 5000
    assert (await api.post(f"{ME}/timeouts", json={"hours": 48}, headers=bearer(ann_token))).status_code == 201
    put = await api.put(f"{ME}/reality-check", json={"interval_minutes": 15}, headers=bearer(ann_token))
    assert put.status_code == 200

    ann_limits = (await api.get(f"{ME}/limits", headers=bearer(ann_token))).json()
    assert [(limit["kind"], limit["period"], limit["amount"]) for limit in ann_limits] == [("loss", "day", 5000)]
    assert [e["kind"] for e in (await api.get(f"{ME}/exclusions", headers=bearer(ann_token))).json()] == ["timeout"]
    assert (await api.get(f"{ME}/limits", headers=bearer(bob_token))).json() == []
    assert (await api.get(f"{ME}/exclusions", headers=bearer(bob_token))).json() == []
    started = casino.clock().isoformat()
    bob_check = await api.get(f"{ME}/reality-check", params={"session_started_at": started}, headers=bearer(bob_token))
    assert bob_check.json()["interval_minutes"] == 60  # the brand's default, not Ann's 15
    await casino.deposit(bob, 100)  # Ann's time-out does not stop Bob
    assert (await casino.bet(bob, 100)).allowed


async def test_limit_when_raised_over_http_shows_as_pending_with_its_effective_time(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    player = await casino.register()
    token = (await http_login(api, player)).access_token
    await api.put(f"{ME}/limits/deposit/week", json={"amount": 1000}, headers=bearer(token))
    raised = await api.put(f"{ME}/limits/deposit/week", json={"amount": 3000}, headers=bearer(token))
    assert raised.json()["immediate"] is False
    assert raised.json()["in_force"] == 1000
    (shown,) = (await api.get(f"{ME}/limits", headers=bearer(token))).json()
    assert (shown["amount"], shown["pending_amount"]) == (1000, 3000)
    effective = datetime.fromisoformat(shown["pending_effective_at"])
    assert effective == casino.clock() + timedelta(hours=24)
    removed = await api.put(f"{ME}/limits/deposit/week", json={"amount": None}, headers=bearer(token))
    assert removed.status_code == 200
    (shown,) = (await api.get(f"{ME}/limits", headers=bearer(token))).json()
    assert (shown["amount"], shown["pending_removal"]) == (1000, True)


@pytest.mark.parametrize(("method", "path", "body"), PLAYER_ROUTES)
async def test_player_route_when_unauthenticated_answers_401(
    api: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await api.request(method, path, json=body)
    assert_problem(response, 401, "unauthenticated")
    garbage = await api.request(method, path, json=body, headers=bearer("not-a-token"))
    assert_problem(garbage, 401, "unauthenticated")


async def test_player_routes_when_called_with_an_admin_token_answer_403_and_change_nothing(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    token = await casino.admin_token("admin")
    for method, path, body in PLAYER_ROUTES:
        response = await api.request(method, path, json=body, headers=bearer(token))
        assert_problem(response, 403, "forbidden")
    assert await casino.db.fetchval("SELECT count(*) FROM compliance.exclusions") == 0
    assert await casino.db.fetchval("SELECT count(*) FROM compliance.limit_changes") == 0


async def test_exclusions_when_a_player_tries_to_lift_them_have_no_route(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    player = await casino.register()
    token = (await http_login(api, player)).access_token
    created = await api.post(f"{ME}/self-exclusions", json={"months": 6}, headers=bearer(token))
    assert created.status_code == 201
    exclusion_id = created.json().get("id", "x")
    for method, path in [
        ("DELETE", f"{ME}/self-exclusions"),
        ("DELETE", f"{ME}/timeouts"),
        ("DELETE", f"{ME}/exclusions"),
        ("PUT", f"{ME}/exclusions"),
        ("PATCH", f"{ME}/exclusions"),
        ("DELETE", f"{ME}/self-exclusions/{exclusion_id}"),
        ("DELETE", f"{ME}/exclusions/{exclusion_id}"),
    ]:
        response = await api.request(method, path, json={}, headers=bearer(token))
        assert response.status_code in (404, 405), (method, path, response.status_code)
    (shown,) = (await api.get(f"{ME}/exclusions", headers=bearer(token))).json()
    assert (shown["kind"], shown["active"]) == ("self_exclusion", True)


# -- bad input --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("PUT", f"{ME}/limits/bogus/day", {"amount": 100}, "validation_error"),
        ("PUT", f"{ME}/limits/loss/year", {"amount": 100}, "validation_error"),
        ("PUT", f"{ME}/limits/loss/session", {"amount": 100}, "limit_not_valid"),
        ("PUT", f"{ME}/limits/session_time/day", {"amount": 100}, "limit_not_valid"),
        ("PUT", f"{ME}/limits/loss/day", {"amount": 0}, "validation_error"),
        ("PUT", f"{ME}/limits/loss/day", {"amount": -5}, "validation_error"),
        ("PUT", f"{ME}/limits/loss/day", {"amount": 10.5}, "validation_error"),
        ("PUT", f"{ME}/limits/loss/day", {"amount": 100.0}, "validation_error"),
        ("PUT", f"{ME}/limits/loss/day", {"amount": "100"}, "validation_error"),
        ("PUT", f"{ME}/limits/loss/day", {"amount": True}, "validation_error"),
        ("PUT", f"{ME}/limits/loss/day", {"amount": 100, "player_id": "someone-else"}, "validation_error"),
        ("PUT", f"{ME}/limits/loss/day", {}, "validation_error"),
        ("POST", f"{ME}/timeouts", {"hours": 23}, "validation_error"),
        ("POST", f"{ME}/timeouts", {"hours": 1009}, "validation_error"),
        ("POST", f"{ME}/timeouts", {"hours": "48"}, "validation_error"),
        ("POST", f"{ME}/timeouts", {"hours": 48, "ends_at": "2020-01-01T00:00:00Z"}, "validation_error"),
        ("POST", f"{ME}/self-exclusions", {"months": 5}, "validation_error"),
        ("POST", f"{ME}/self-exclusions", {"months": 61}, "validation_error"),
        ("POST", f"{ME}/self-exclusions", {"months": 6.0}, "validation_error"),
        ("PUT", f"{ME}/reality-check", {"interval_minutes": 4}, "validation_error"),
        ("PUT", f"{ME}/reality-check", {"interval_minutes": 1441}, "validation_error"),
    ],
)
async def test_player_route_when_input_is_bad_answers_4xx_problem_and_changes_nothing(
    casino: Casino, api: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], code: str
) -> None:
    player = await casino.register()
    token = (await http_login(api, player)).access_token
    response = await api.request(method, path, json=body, headers=bearer(token))
    assert_problem(response, 422, code)
    await _nothing_changed(casino, player)


async def test_player_route_when_body_is_not_json_answers_400_malformed_json(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    player = await casino.register()
    token = (await http_login(api, player)).access_token
    headers = {**bearer(token), "content-type": "application/json"}
    response = await api.put(f"{ME}/limits/loss/day", content=b'{"amount": ', headers=headers)
    assert_problem(response, 400, "malformed_json")
    await _nothing_changed(casino, player)


# -- the decision log for the back office -----------------------------------------------------------------------


async def _history(casino: Casino) -> tuple[ProfileOut, ProfileOut, datetime]:
    """Ann: registration, a login, a deposit and three bets, a minute apart; Bob: the same bets in between."""
    ann, bob = await casino.register(), await casino.register()
    start = casino.clock()
    await casino.login(ann)
    casino.clock.advance(timedelta(minutes=1))
    await casino.deposit(ann, 1000)
    await casino.deposit(bob, 1000)
    for _ in range(3):
        casino.clock.advance(timedelta(minutes=1))
        await casino.bet(ann, 100)
        await casino.bet(bob, 100)
    return ann, bob, start


@pytest.mark.parametrize("role", ["support", "risk", "admin"])
async def test_decisions_when_read_by_a_back_office_role_list_the_players_newest_first(
    casino: Casino, api: httpx.AsyncClient, role: str
) -> None:
    ann, _, _ = await _history(casino)
    token = await casino.admin_token(role)
    response = await api.get(decisions_url(ann), headers=bearer(token))
    assert response.status_code == 200, response.text
    page = response.json()
    assert [item["action"] for item in page["items"]] == ["bet", "bet", "bet", "deposit", "login", "register"]
    assert {item["player_id"] for item in page["items"]} == {str(ann.id)}
    assert page["next_cursor"] is None
    bet = page["items"][0]
    assert (bet["allowed"], bet["reason"], bet["rule"], bet["rule_version"], bet["amount"]) == (
        True,
        "allowed",
        "all",
        1,
        100,
    )
    assert bet["inputs"]["context"]["game"] == "roulette"


async def test_decisions_when_paged_with_the_cursor_return_each_decision_once_in_order(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    ann, _, _ = await _history(casino)
    token = await casino.admin_token("risk")
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(decisions_url(ann), params=params, headers=bearer(token))).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = list(reversed(await casino.decisions(ann)))
    assert [item["id"] for item in seen] == [str(row["id"]) for row in expected]
    assert len(seen) == 6


async def test_decisions_when_filtered_by_time_return_only_that_window(casino: Casino, api: httpx.AsyncClient) -> None:
    ann, _, start = await _history(casino)
    token = await casino.admin_token("support")
    since, until = start + timedelta(minutes=2), start + timedelta(minutes=4)
    params = {"since": since.isoformat(), "until": until.isoformat()}
    page = (await api.get(decisions_url(ann), params=params, headers=bearer(token))).json()
    assert [(item["action"], datetime.fromisoformat(item["decided_at"])) for item in page["items"]] == [
        ("bet", start + timedelta(minutes=3)),
        ("bet", start + timedelta(minutes=2)),
    ]


async def test_decisions_when_cursor_is_not_one_the_api_gave_answer_422(casino: Casino, api: httpx.AsyncClient) -> None:
    ann = await casino.register()
    token = await casino.admin_token("support")
    response = await api.get(decisions_url(ann), params={"cursor": "yesterday"}, headers=bearer(token))
    assert_problem(response, 422, "validation_error")


async def test_decisions_when_read_by_finance_or_a_player_or_nobody_are_refused(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    ann = await casino.register()
    finance = await casino.admin_token("finance")
    player_token = (await http_login(api, ann)).access_token
    for path in (
        decisions_url(ann),
        f"/v1/compliance/admin/players/{ann.id}/limits",
        f"/v1/compliance/admin/players/{ann.id}/exclusions",
    ):
        assert_problem(await api.get(path, headers=bearer(finance)), 403, "forbidden")
        assert_problem(await api.get(path, headers=bearer(player_token)), 403, "forbidden")
        assert_problem(await api.get(path), 401, "unauthenticated")


async def test_admin_player_views_when_read_by_support_show_that_players_limits_and_exclusions(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    ann, bob = await casino.register(), await casino.register()
    await casino.compliance.set_limit(str(ann.id), "wager", "month", 9000)
    await casino.compliance.exclude(str(ann.id), "timeout", hours=72)
    token = await casino.admin_token("support")
    limits = (await api.get(f"/v1/compliance/admin/players/{ann.id}/limits", headers=bearer(token))).json()
    assert [(x["kind"], x["period"], x["amount"]) for x in limits] == [("wager", "month", 9000)]
    exclusions = (await api.get(f"/v1/compliance/admin/players/{ann.id}/exclusions", headers=bearer(token))).json()
    assert [x["kind"] for x in exclusions] == ["timeout"]
    assert (await api.get(f"/v1/compliance/admin/players/{bob.id}/limits", headers=bearer(token))).json() == []


# -- reality checks ---------------------------------------------------------------------------------------------


async def test_reality_check_when_due_steps_by_the_interval_and_shows_the_sessions_wallet_result(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    player = await casino.register()
    await casino.deposit(player, 5000)
    tokens = await http_login(api, player)
    session = await casino.identity.get_session(tokens.session_id)
    started = session.created_at
    params = {"session_started_at": started.isoformat()}
    first = (await api.get(f"{ME}/reality-check", params=params, headers=bearer(tokens.access_token))).json()
    assert first["interval_minutes"] == 60  # the brand's default
    assert datetime.fromisoformat(first["next_due_at"]) == started + timedelta(minutes=60)
    assert (first["time_played_seconds"], first["wagered"], first["won"], first["net_result"]) == (0, 0, 0, 0)

    put = await api.put(f"{ME}/reality-check", json={"interval_minutes": 20}, headers=bearer(tokens.access_token))
    assert put.status_code == 200
    await casino.bet(player, 300, {"session_id": str(tokens.session_id)})
    await casino.bet(player, 200, {"session_id": str(tokens.session_id)})
    await casino.win(player, 450)
    casino.clock.advance(timedelta(minutes=45))
    token = (await http_login(api, player)).access_token  # the first access token has expired by now
    check = (await api.get(f"{ME}/reality-check", params=params, headers=bearer(token))).json()
    assert check["interval_minutes"] == 20
    assert datetime.fromisoformat(check["next_due_at"]) == started + timedelta(minutes=60)
    assert check["time_played_seconds"] == 45 * 60
    assert (check["wagered"], check["won"], check["net_result"]) == (500, 450, -50)
    assert check["currency"] == "EUR"
    casino.clock.advance(timedelta(minutes=15))  # exactly at a reminder: the next one is one interval later
    token = (await http_login(api, player)).access_token
    check = (await api.get(f"{ME}/reality-check", params=params, headers=bearer(token))).json()
    assert datetime.fromisoformat(check["next_due_at"]) == started + timedelta(minutes=80)


@pytest.mark.parametrize("started", ["2026-01-01T00:00:00", "yesterday", ""])
async def test_reality_check_when_session_start_is_not_an_aware_time_answers_422(
    casino: Casino, api: httpx.AsyncClient, started: str
) -> None:
    player = await casino.register()
    token = (await http_login(api, player)).access_token
    response = await api.get(f"{ME}/reality-check", params={"session_started_at": started}, headers=bearer(token))
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("name", ["since", "until"])
async def test_decisions_when_time_filter_has_no_offset_answer_a_page_or_422_never_500(
    casino: Casino, api: httpx.AsyncClient, name: str
) -> None:
    ann = await casino.register()
    token = await casino.admin_token("support")
    response = await api.get(decisions_url(ann), params={name: "2026-01-01T00:00:00"}, headers=bearer(token))
    assert response.status_code in (200, 422), response.text


async def test_reality_check_when_a_bet_of_the_session_was_reversed_does_not_count_its_stake(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    player = await casino.register()
    await casino.deposit(player, 5000)
    tokens = await http_login(api, player)
    started = (await casino.identity.get_session(tokens.session_id)).created_at
    await casino.bet(player, 300)
    await casino.bet(player, 200)
    page = await casino.wallet.list_transfers(account_id=player.wallet_account_id, limit=1)
    (voided,) = page.items  # the round of the 200 stake was voided: the wallet gave the stake back
    await casino.wallet.reverse(ReverseTransferRequest(idempotency_key="void-round", transfer_id=voided.id))
    params = {"session_started_at": started.isoformat()}
    check = (await api.get(f"{ME}/reality-check", params=params, headers=bearer(tokens.access_token))).json()
    assert await casino.balance(player) == 5000 - 300
    assert (check["wagered"], check["won"], check["net_result"]) == (300, 0, -300)


async def test_reality_check_when_brand_default_interval_is_zero_never_answers_500(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    await casino.identity.brands.update(BRAND, UpdateBrandRequest(reality_check_minutes=0))
    player = await casino.register()
    tokens = await http_login(api, player)
    params = {"session_started_at": casino.clock().isoformat()}
    response = await api.get(f"{ME}/reality-check", params=params, headers=bearer(tokens.access_token))
    assert response.status_code < 500, response.text


async def test_player_route_when_the_session_was_logged_out_answers_401_session_revoked(
    casino: Casino, api: httpx.AsyncClient
) -> None:
    player = await casino.register()
    tokens = await http_login(api, player)
    assert (await api.get("/v1/compliance/me/limits", headers=bearer(tokens.access_token))).status_code == 200
    logout = await api.post("/v1/identity/logout", json={}, headers=bearer(tokens.access_token))
    assert logout.status_code in (200, 204), logout.text
    response = await api.put(
        "/v1/compliance/me/limits/deposit/day", json={"amount": 100}, headers=bearer(tokens.access_token)
    )
    assert response.status_code == 401
    assert response.json()["code"] == "session_revoked"
    assert await casino.compliance.get_limits(str(player.id)) == []
