"""The gate at registration and login, against real identity, the shipped geo database and the register simulator;
its cache across two processes on one database; failing closed when the database is gone."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from croupier.bootstrap import bootstrap, shutdown
from croupier.compliance.client import require_allowed
from croupier.compliance.errors import ActionRefused
from croupier.identity.errors import CurrencyNotAllowed, RegistrationRefused
from croupier.identity.schemas import UpdateBrandRequest
from croupier.kit.clock import ManualClock
from croupier.kit.config import Settings
from croupier.kit.embedded_pg import EmbeddedPostgres
from tests.compliance.conftest import REGISTER_KEY, Casino, _casino, list_on_register
from tests.conftest import free_port
from tests.identity.conftest import BRAND

DECISION_FIELDS = {"action", "reason", "rule", "rule_version", "inputs", "decided_at"}


async def _refused_registration(casino: Casino, brand_id: str = BRAND, **overrides: Any) -> dict[str, Any]:
    with pytest.raises(RegistrationRefused) as refused:
        await casino.register(brand_id, **overrides)
    decision = await casino.decision(refused.value.extensions["decision_id"])
    assert refused.value.extensions["reason"] == decision["reason"]
    return decision


# -- registration ---------------------------------------------------------------------------------------------------


async def test_register_when_underage_is_refused_and_logged_with_its_inputs(casino: Casino) -> None:
    today = casino.clock().date()
    seventeen = date(today.year - 17, today.month, 1)
    decision = await _refused_registration(casino, date_of_birth=seventeen, country="GB", currency="EUR")
    assert decision["action"] == "register"
    assert decision["allowed"] is False
    assert (decision["reason"], decision["rule"], decision["rule_version"]) == ("underage", "age", 1)
    assert decision["brand_id"] == BRAND
    assert decision["inputs"]["registration"] == {
        "country": "GB",
        "currency": "EUR",
        "date_of_birth": seventeen.isoformat(),
    }
    assert decision["inputs"]["facts"] == {"age": 17}
    assert decision["decided_at"] == casino.clock()
    assert await casino.db.fetchval("SELECT count(*) FROM identity.players") == 0


async def test_register_when_declared_country_not_allowed_is_refused_country_not_allowed(casino: Casino) -> None:
    decision = await _refused_registration(casino, country="FR")
    assert (decision["reason"], decision["rule"]) == ("country_not_allowed", "geo")
    assert decision["inputs"]["facts"] == {"declared_country": "FR"}
    assert decision["inputs"]["registration"]["country"] == "FR"


async def test_register_when_ip_country_denied_by_brand_is_refused_with_ip_country_logged(casino: Casino) -> None:
    await casino.brand("no-us", allowed_countries=["GB", "MT"], denied_countries=["US"])
    decision = await _refused_registration(casino, "no-us", ip="8.8.8.8", country="GB")
    assert (decision["reason"], decision["rule"]) == ("country_not_allowed", "geo")
    assert decision["inputs"]["ip_country"] == "US"
    assert decision["inputs"]["context"] == {"ip": "8.8.8.8"}
    assert decision["inputs"]["facts"] == {"ip_country": "US"}


async def test_register_when_ip_country_allowed_is_allowed_and_logged_with_ip_country(casino: Casino) -> None:
    await casino.brand("gb-only", allowed_countries=["GB"])
    player = await casino.register("gb-only", ip="81.2.69.160", country="GB")  # a GB address
    (decision,) = await casino.decisions(action="register", brand_id="gb-only")
    assert player.status == "active"
    assert decision["allowed"] is True
    assert (decision["reason"], decision["rule"], decision["rule_version"]) == ("allowed", "all", 1)
    assert decision["inputs"]["ip_country"] == "GB"
    assert decision["inputs"]["register"]["status"] == "not_excluded"
    assert decision.keys() >= DECISION_FIELDS


async def test_register_when_currency_not_offered_is_refused_and_the_refusal_is_logged(casino: Casino) -> None:
    # Every verdict is in the decision log; the gate has a currency rule (currency_not_allowed) for this.
    with pytest.raises((CurrencyNotAllowed, RegistrationRefused)):
        await casino.register(currency="USD")
    assert await casino.db.fetchval("SELECT count(*) FROM identity.players") == 0
    denials = await casino.decisions(action="register", allowed=False)
    assert [(d["reason"], d["rule"]) for d in denials] == [("currency_not_allowed", "currency")]
    assert denials[0]["inputs"]["registration"]["currency"] == "USD"


async def test_every_gate_verdict_when_logged_has_action_reason_rule_version_inputs_and_time(casino: Casino) -> None:
    player = await casino.register()
    with pytest.raises(RegistrationRefused):
        await casino.register(country="FR")
    await casino.login(player)
    await casino.deposit(player, 100)
    rows = await casino.decisions()
    assert [(r["action"], r["allowed"]) for r in rows] == [
        ("register", True),
        ("register", False),
        ("login", True),
        ("deposit", True),
    ]
    for row in rows:
        assert row["reason"]
        assert row["rule"]
        assert row["rule_version"] >= 1
        assert row["inputs"]["context"] is not None
        assert row["decided_at"] == casino.clock()
    assert rows[2]["player_id"] == rows[3]["player_id"] == str(player.id)
    assert rows[3]["amount"] == 100
    assert rows[3]["inputs"]["player"] == {"kyc_status": "unverified", "status": "active", "country": "GB"}


# -- the national self-exclusion register ------------------------------------------------------------------------


@pytest.fixture
async def registered_casino(database_url: str, clock: ManualClock, register_url: str) -> AsyncIterator[Casino]:
    settings = Settings(
        self_exclusion_register_url=register_url,
        self_exclusion_register_api_key=REGISTER_KEY,
    )
    async for running in _casino(settings, database_url, clock):
        await running.brand()
        yield running


@pytest.fixture
async def unreachable_casino(database_url: str, clock: ManualClock) -> AsyncIterator[Casino]:
    settings = Settings(
        self_exclusion_register_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        self_exclusion_register_api_key=REGISTER_KEY,
        self_exclusion_register_timeout=1.0,
    )
    async for running in _casino(settings, database_url, clock):
        await running.brand()
        yield running


async def test_register_when_person_listed_on_national_register_is_refused_external_self_exclusion(
    registered_casino: Casino, register_admin: httpx.AsyncClient
) -> None:
    listed = "listed.person@example.com"
    await list_on_register(register_admin, listed)
    decision = await _refused_registration(registered_casino, email=listed)
    assert (decision["reason"], decision["rule"]) == ("external_self_exclusion", "external_register")
    assert decision["inputs"]["register"]["status"] == "excluded"
    other = await registered_casino.register()  # someone not listed registers
    assert other.status == "active"


async def test_register_when_register_unreachable_and_brand_default_is_refused_register_unavailable(
    unreachable_casino: Casino,
) -> None:
    decision = await _refused_registration(unreachable_casino)
    assert (decision["reason"], decision["rule"]) == ("register_unavailable", "external_register")
    assert decision["inputs"]["register"]["status"] == "unavailable"
    assert decision["inputs"]["register"]["policy_when_unavailable"] == "deny"


async def test_register_when_register_unreachable_and_brand_allows_is_allowed(unreachable_casino: Casino) -> None:
    await unreachable_casino.identity.brands.update(
        BRAND, UpdateBrandRequest(register_unreachable_on_registration="allow")
    )
    player = await unreachable_casino.register()
    (decision,) = await unreachable_casino.decisions(action="register")
    assert player.status == "active"
    assert decision["allowed"] is True
    assert decision["inputs"]["register"]["status"] == "unavailable"
    assert decision["inputs"]["register"]["policy_when_unavailable"] == "allow"


async def test_login_when_player_listed_on_national_register_gets_a_restricted_session_and_cannot_bet(
    registered_casino: Casino, register_admin: httpx.AsyncClient
) -> None:
    player = await registered_casino.register()
    await list_on_register(register_admin, player.email)
    tokens = await registered_casino.login(player)
    assert tokens.restricted is True
    assert tokens.restriction_reason == "external_self_exclusion"
    session = await registered_casino.identity.get_session(tokens.session_id)
    assert session.restricted is True
    (login,) = await registered_casino.decisions(player, action="login")
    assert (login["allowed"], login["reason"]) == (False, "external_self_exclusion")


async def test_login_when_register_unreachable_and_brand_default_allows_an_unrestricted_session(
    unreachable_casino: Casino,
) -> None:
    await unreachable_casino.identity.brands.update(
        BRAND, UpdateBrandRequest(register_unreachable_on_registration="allow")
    )
    player = await unreachable_casino.register()
    tokens = await unreachable_casino.login(player)
    assert tokens.restricted is False
    (login,) = await unreachable_casino.decisions(player, action="login")
    assert login["allowed"] is True
    assert login["inputs"]["register"]["status"] == "unavailable"


# -- the cache never allows what the database denies -------------------------------------------------------------


async def test_cached_rules_when_another_process_self_excludes_the_player_deny_the_very_next_bet(
    casino: Casino, settings: Settings, database_url: str
) -> None:
    player = await casino.register()
    await casino.deposit(player, 1000)
    first = casino.compliance
    assert (await casino.bet(player, 100)).allowed  # the first process has the player's rules in its cache
    assert (await casino.bet(player, 100)).allowed
    assert first.cache_hits >= 1
    retries = first.stale_retries
    second = await bootstrap(settings, database_url, clock=casino.clock)  # another process, same database
    try:
        assert second.compliance is not None
        await second.compliance.exclude(str(player.id), "self_exclusion", months=6)
    finally:
        await shutdown(second)
    balance = await casino.balance(player)
    with pytest.raises(ActionRefused) as refused:
        await casino.bet(player, 100)
    assert refused.value.extensions["reason"] == "self_excluded"
    assert first.stale_retries > retries
    assert await casino.balance(player) == balance
    decision = await casino.decision(refused.value.extensions["decision_id"])
    assert (decision["allowed"], decision["reason"]) == (False, "self_excluded")


async def test_cached_limit_when_another_process_lowers_it_refuses_the_next_bet_over_the_new_limit(
    casino: Casino, settings: Settings, database_url: str
) -> None:
    player = await casino.register()
    await casino.deposit(player, 5000)
    await casino.compliance.set_limit(str(player.id), "wager", "day", 3000)
    await casino.bet(player, 500)  # cached: wager limit 3000
    second = await bootstrap(settings, database_url, clock=casino.clock)
    try:
        assert second.compliance is not None
        await second.compliance.set_limit(str(player.id), "wager", "day", 600)
    finally:
        await shutdown(second)
    with pytest.raises(ActionRefused) as refused:
        await casino.bet(player, 200)
    assert refused.value.extensions["reason"] == "wager_limit_exceeded"
    assert refused.value.extensions["limit"] == 600
    assert casino.compliance.stale_retries >= 1


# -- failing closed --------------------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_gate_when_its_database_is_killed_denies_bets_gate_unavailable_then_recovers(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    url = server.start()
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    try:
        async for casino in _casino(Settings(), url, clock):
            await casino.brand()
            player = await casino.register()
            await casino.deposit(player, 1000)
            await casino.compliance.set_limit(str(player.id), "loss", "day", 800)
            assert (await casino.bet(player, 100)).allowed
            server.kill()
            try:
                verdict = await casino.platform.gate.check(str(player.id), "bet", 100, {"game": "roulette"})
                assert verdict.allowed is False
                assert verdict.reason == "gate_unavailable"
                with pytest.raises(ActionRefused) as refused:
                    await require_allowed(casino.platform.gate, str(player.id), "deposit", 100)
                assert refused.value.extensions["reason"] == "gate_unavailable"
            finally:
                server.restart()
            clock.advance(timedelta(seconds=1))
            for _ in range(50):  # the pool reconnects on its own
                verdict = await casino.platform.gate.check(str(player.id), "bet", 100, {"game": "roulette"})
                if verdict.reason != "gate_unavailable":
                    break
            assert verdict.allowed is True
            with pytest.raises(ActionRefused) as over:
                await casino.bet(player, 800)
            assert over.value.extensions["reason"] == "loss_limit_exceeded"
    finally:
        server.stop()
