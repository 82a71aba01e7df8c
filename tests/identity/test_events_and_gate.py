"""Outbox events written with each change, and what registration and login do with the compliance gate's verdicts."""

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from croupier.app import build_app
from croupier.bootstrap import bootstrap, shutdown
from croupier.compliance.client import RegistrationFacts, Verdict
from croupier.identity.errors import LoginRefused, RegistrationRefused
from croupier.identity.schemas import (
    LoginRequest,
    MoveKycRequest,
    SubmitKycRequest,
    UpdateBrandRequest,
    UpdateProfileRequest,
)
from croupier.identity.service import IdentityService
from croupier.kit.auth import Principal
from croupier.kit.config import Settings
from tests.identity.conftest import BRAND, PASSWORD, Login, Register, brand_request, registration

DOCUMENT = {"type": "passport", "number_last4": "1111", "issuing_country": "GB", "expires_on": "2030-01-01"}


async def _events(db: asyncpg.Connection, event_type: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT payload::text, brand_id FROM identity.outbox WHERE type = $1 ORDER BY id", event_type)
    return [{**json.loads(row["payload"]), "_brand": row["brand_id"]} for row in rows]


async def test_register_when_completed_writes_player_registered(register: Register, db: asyncpg.Connection) -> None:
    player = await register()
    (event,) = await _events(db, "identity.player.registered")
    assert event["player_id"] == str(player.id)
    assert event["wallet_account_id"] == str(player.wallet_account_id)
    assert event["_brand"] == BRAND


async def test_profile_update_when_changed_writes_player_updated_naming_fields(
    register: Register, identity: IdentityService, db: asyncpg.Connection
) -> None:
    player = await register()
    await identity.update_profile(player.id, UpdateProfileRequest(postcode="AB1 2CD"))
    await identity.update_profile(player.id, UpdateProfileRequest(postcode="AB1 2CD"))  # no change, no event
    (event,) = await _events(db, "identity.player.updated")
    assert event["changed"] == ["postcode"]


async def test_kyc_when_moved_writes_kyc_changed_per_transition(
    register: Register, identity: IdentityService, db: asyncpg.Connection
) -> None:
    player = await register()
    await identity.submit_kyc(player.id, SubmitKycRequest.model_validate({"documents": [DOCUMENT]}))
    await identity.move_kyc(player.id, MoveKycRequest(to="verified", reason="ok"), by_admin="admin-1")
    events = await _events(db, "identity.kyc.changed")
    assert [(e["from_status"], e["to_status"], e["by"]) for e in events] == [
        ("unverified", "pending", "player"),
        ("pending", "verified", "admin-1"),
    ]
    assert (await identity.get_player(player.id)).kyc_status == "verified"


async def test_kyc_events_when_updated_in_database_are_refused(
    register: Register, identity: IdentityService, db: asyncpg.Connection
) -> None:
    player = await register()
    await identity.submit_kyc(player.id, SubmitKycRequest.model_validate({"documents": [DOCUMENT]}))
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("UPDATE identity.kyc_events SET reason = 'edited'")


async def test_brand_when_created_or_updated_writes_brand_updated(
    identity: IdentityService, db: asyncpg.Connection
) -> None:
    await identity.brands.update(BRAND, UpdateBrandRequest(min_age=21))
    events = await _events(db, "identity.brand.updated")
    assert [(e["created"], e["brand"]["min_age"]) for e in events] == [(True, 18), (False, 21)]
    assert (await identity.brands.get(BRAND)).min_age == 21  # the cache was invalidated


async def test_session_when_revoked_writes_session_revoked_with_reason(
    register: Register, login: Login, identity: IdentityService, db: asyncpg.Connection
) -> None:
    tokens = await login((await register()).email)
    principal = Principal("player", str(tokens.player_id), BRAND, str(tokens.session_id))
    await identity.logout(principal)
    (event,) = await _events(db, "identity.session.revoked")
    assert (event["session_id"], event["reason"]) == (str(tokens.session_id), "logout")


@dataclass
class ScriptedGate:
    """The compliance gate's contract, answering what the test scripts (the real gate is another service)."""

    reason: str = "allowed"
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    async def check(
        self,
        player_id: str | None,
        action: Any,
        amount: int | None = None,
        context: dict[str, Any] | None = None,
        *,
        registration: RegistrationFacts | None = None,
    ) -> Verdict:
        self.calls.append((player_id, action, context, registration))
        return Verdict(self.reason == "allowed", self.reason, uuid4(), "test", 1)


async def test_register_when_gate_denies_is_refused_with_reason_and_decision(identity: IdentityService) -> None:
    gate = ScriptedGate("external_self_exclusion")
    identity.set_gate(gate)
    with pytest.raises(RegistrationRefused) as refused:
        await identity.register(BRAND, registration(), ip="192.0.2.3")
    assert refused.value.extensions["reason"] == "external_self_exclusion"
    UUID(refused.value.extensions["decision_id"])
    ((player_id, action, context, facts),) = gate.calls
    # The gate gets the id the player would have had, so the verdict is logged under it.
    UUID(player_id)
    assert (action, context) == ("register", {"ip": "192.0.2.3"})
    assert facts.brand_id == BRAND


async def test_register_when_gate_allows_underage_rule_is_left_to_the_gate(identity: IdentityService) -> None:
    identity.set_gate(ScriptedGate("allowed"))
    player = await identity.register(BRAND, registration(country="US"), ip="192.0.2.3")
    assert player.status == "active"


@pytest.mark.parametrize("reason", ["self_excluded", "timed_out", "external_self_exclusion"])
async def test_login_when_gate_says_excluded_gives_a_restricted_session(
    register: Register, identity: IdentityService, reason: str
) -> None:
    player = await register()
    identity.set_gate(ScriptedGate(reason))
    tokens = await identity.login(LoginRequest(brand_id=BRAND, email=player.email, password=PASSWORD), ip="192.0.2.4")
    assert (tokens.restricted, tokens.restriction_reason) == (True, reason)
    assert identity.signer.verify(tokens.access_token).restricted is True
    refreshed = await identity.refresh(tokens.refresh_token)
    assert identity.signer.verify(refreshed.access_token).restricted is True
    assert (await identity.get_session(tokens.session_id)).restricted is True


async def test_login_when_gate_denies_for_another_reason_is_refused(
    register: Register, identity: IdentityService
) -> None:
    player = await register()
    identity.set_gate(ScriptedGate("player_blocked"))
    with pytest.raises(LoginRefused) as refused:
        await identity.login(LoginRequest(brand_id=BRAND, email=player.email, password=PASSWORD), ip="192.0.2.4")
    assert refused.value.extensions["reason"] == "player_blocked"


async def test_gate_when_request_came_through_a_trusted_proxy_gets_the_forwarded_client_ip(
    settings: Settings, database_url: str
) -> None:
    behind_proxy = settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    platform = await bootstrap(behind_proxy, database_url)
    try:
        assert platform.identity is not None
        await platform.identity.brands.create(brand_request())
        gate = ScriptedGate("allowed")
        platform.identity.set_gate(gate)
        transport = httpx.ASGITransport(app=build_app(platform), client=("10.0.0.2", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://identity.test") as http:
            response = await http.post(
                f"/v1/identity/brands/{BRAND}/players",
                json=registration().model_dump(mode="json"),
                headers={"X-Forwarded-For": "1.1.1.1, 198.51.100.23"},
            )
        assert response.status_code == 201, response.text
        ((_, _, context, _),) = gate.calls
        assert context == {"ip": "198.51.100.23"}
    finally:
        await shutdown(platform)
