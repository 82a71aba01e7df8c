"""Registration: brand rules, the wallet account it opens, and recovery from a wallet failure."""

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from croupier.bootstrap import Platform
from croupier.identity.errors import CountryNotAllowed, CurrencyNotAllowed, EmailTaken, RateLimited, Underage
from croupier.identity.schemas import LoginRequest
from croupier.identity.service import IdentityService
from croupier.kit.clock import ManualClock
from croupier.kit.errors import ServiceUnavailable
from croupier.wallet.client import AccountOut, OpenAccountRequest, WalletClient
from tests.identity.conftest import BRAND, PASSWORD, Register, registration


async def test_register_when_valid_opens_an_active_player_with_a_wallet_cash_account(
    register: Register, clocked: Platform
) -> None:
    player = await register(email="Alice@Example.COM")
    assert player.email == "alice@example.com"
    assert player.status == "active"
    assert player.kyc_status == "unverified"
    assert player.wallet_account_id is not None
    account = await clocked.wallet_client.get_account(player.wallet_account_id)
    assert (account.owner_type, account.owner_id, account.kind, account.currency, account.brand_id) == (
        "player",
        str(player.id),
        "cash",
        "EUR",
        BRAND,
    )


async def test_register_when_under_min_age_without_gate_is_refused_underage(
    register: Register, clock: ManualClock, identity: IdentityService
) -> None:
    identity.set_gate(None)  # identity alone (no compliance service) still refuses minors itself
    seventeen = clock().date().replace(year=clock().date().year - 17)
    with pytest.raises(Underage):
        await register(date_of_birth=seventeen)


async def test_register_when_exactly_min_age_today_is_accepted(register: Register, clock: ManualClock) -> None:
    today = clock().date()
    player = await register(date_of_birth=today.replace(year=today.year - 18))
    assert player.status == "active"


async def test_register_when_currency_not_offered_by_brand_is_refused(
    register: Register, identity: IdentityService
) -> None:
    identity.set_gate(None)  # without the gate identity refuses it itself; with it, the gate does (and logs it)
    with pytest.raises(CurrencyNotAllowed):
        await register(currency="USD")


async def test_register_when_country_not_allowed_without_gate_is_refused(
    register: Register, identity: IdentityService
) -> None:
    identity.set_gate(None)
    with pytest.raises(CountryNotAllowed):
        await register(country="US")


async def test_register_when_email_taken_in_same_brand_is_refused_any_case(register: Register) -> None:
    await register(email="bob@example.com")
    with pytest.raises(EmailTaken):
        await register(email="BOB@example.com")


async def test_register_when_same_email_in_another_brand_is_accepted(
    register: Register, identity: IdentityService
) -> None:
    from tests.identity.conftest import brand_request

    await identity.brands.create(brand_request(id="brand-b"))
    await register(email="carol@example.com")
    other = await identity.register("brand-b", registration(email="carol@example.com"), ip="192.0.2.1")
    assert other.brand_id == "brand-b"


async def test_register_when_eleventh_from_one_ip_in_an_hour_is_rate_limited(
    register: Register, clock: ManualClock
) -> None:
    for _ in range(10):
        await register(ip="192.0.2.50")
    with pytest.raises(RateLimited) as refused:
        await register(ip="192.0.2.50")
    assert refused.value.extensions["retry_after"] > 0
    clock.advance(timedelta(hours=1, seconds=1))
    await register(ip="192.0.2.50")


class FlakyWallet:
    """The wallet port failing its first `failures` calls, as a wallet outage would."""

    def __init__(self, real: WalletClient, failures: int) -> None:
        self._real = real
        self.failures = failures

    async def open_account(self, request: OpenAccountRequest) -> AccountOut:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("wallet down")
        return await self._real.open_account(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def flaky(clocked: Platform, identity: IdentityService, clock: ManualClock) -> IdentityService:
    return IdentityService(
        clocked.db,
        clocked.currencies,
        FlakyWallet(clocked.wallet_client, failures=1),  # type: ignore[arg-type]
        identity.signer,
        clock=clock,
    )


async def test_register_when_wallet_fails_leaves_pending_player_and_retry_completes(
    flaky: IdentityService, db: asyncpg.Connection
) -> None:
    request = registration()
    with pytest.raises(ServiceUnavailable):
        await flaky.register(BRAND, request, ip="192.0.2.9")
    row = await db.fetchrow("SELECT status, wallet_account_id FROM identity.players WHERE email = $1", request.email)
    assert (row["status"], row["wallet_account_id"]) == ("pending", None)
    player = await flaky.register(BRAND, request, ip="192.0.2.9")
    assert player.status == "active"
    assert player.wallet_account_id is not None
    registered = await db.fetchval(
        "SELECT count(*) FROM identity.outbox WHERE type = 'identity.player.registered' AND payload->>'player_id' = $1",
        str(player.id),
    )
    assert registered == 1


async def test_register_when_retried_with_other_password_after_wallet_failure_is_email_taken(
    flaky: IdentityService,
) -> None:
    request = registration()
    with pytest.raises(ServiceUnavailable):
        await flaky.register(BRAND, request, ip="192.0.2.9")
    with pytest.raises(EmailTaken):
        await flaky.register(BRAND, registration(email=request.email, password="another password!"), ip="192.0.2.9")


async def test_login_when_registration_was_interrupted_completes_it(flaky: IdentityService) -> None:
    request = registration()
    with pytest.raises(ServiceUnavailable):
        await flaky.register(BRAND, request, ip="192.0.2.9")
    tokens = await flaky.login(LoginRequest(brand_id=BRAND, email=request.email, password=PASSWORD), ip="192.0.2.9")
    player = await flaky.get_player(tokens.player_id)
    assert player.status == "active"
    assert isinstance(player.wallet_account_id, UUID)


async def test_register_when_date_of_birth_in_future_is_refused_underage(
    register: Register, identity: IdentityService
) -> None:
    identity.set_gate(None)
    with pytest.raises(Underage):
        await register(date_of_birth=date(2100, 1, 1))
