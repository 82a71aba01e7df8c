"""The transfer listing's time window, [created_from, created_to), over both client transports and raw HTTP.

Transfers of a chosen instant come from a second wallet service on the test's database whose clock the test sets
(the wallet stamps created_at, and the transfer's id, from its own clock); the listings are read through the
platform's wallet, as a caller would.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from croupier.app import build_app
from croupier.bootstrap import Platform
from croupier.kit.config import Settings
from croupier.kit.errors import ValidationFailed
from croupier.wallet.client import (
    AccountOut,
    CreateTransferRequest,
    InProcessWalletClient,
    InvalidTimeRange,
    WalletClient,
)
from croupier.wallet.service import WalletService
from tests.conftest import service_headers
from tests.wallet.conftest import OpenPlayer, key

DAY = datetime(2026, 1, 10, tzinfo=UTC)


@dataclass
class SetClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class PastWallet:
    """A wallet service writing at the instant the test chooses."""

    client: InProcessWalletClient
    clock: SetClock

    async def pay(self, debit: AccountOut, credit: AccountOut, at: datetime, amount: int = 1) -> UUID:
        self.clock.now = at
        result = await self.client.transfer(
            CreateTransferRequest(
                idempotency_key=key("t"),
                debit_account_id=debit.id,
                credit_account_id=credit.id,
                amount=amount,
                currency="EUR",
                type="deposit",
            )
        )
        assert result.transfer.created_at == at
        return result.transfer.id


@pytest.fixture
async def past(platform: Platform) -> AsyncIterator[PastWallet]:
    clock = SetClock(DAY)
    service = WalletService(platform.db, platform.currencies, clock=clock)
    await service.start()
    yield PastWallet(InProcessWalletClient(service), clock)
    await service.stop()


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


async def test_list_transfers_when_window_given_returns_only_those_created_in_it_newest_first(
    wallet_client: WalletClient, past: PastWallet, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player()
    ids = {hour: await past.pay(house, player, at(hour)) for hour in (9, 10, 10.5, 11)}

    page = await wallet_client.list_transfers(created_from=at(10), created_to=at(11))

    # created_from is included, created_to is not.
    assert [item.id for item in page.items] == [ids[10.5], ids[10]]
    assert page.next_cursor is None


async def test_list_account_transfers_when_window_given_returns_only_that_accounts_in_the_window(
    wallet_client: WalletClient, past: PastWallet, house: AccountOut, open_player: OpenPlayer
) -> None:
    player, other = await open_player(), await open_player()
    mine = await past.pay(house, player, at(10))
    await past.pay(house, other, at(10.25))  # in the window, another account
    await past.pay(house, player, at(12))  # the account's, after the window
    back = await past.pay(player, house, at(10.5), amount=1)  # the account on the debit side counts too

    page = await wallet_client.list_transfers(account_id=player.id, created_from=at(10), created_to=at(11))

    assert [item.id for item in page.items] == [back, mine]


async def test_list_transfers_when_window_spans_pages_pages_through_the_window_only(
    wallet_client: WalletClient, past: PastWallet, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player()
    inside = [await past.pay(house, player, at(10 + n / 10)) for n in range(5)]
    for hour in (8, 9, 11, 12):
        await past.pay(house, player, at(hour))

    seen: list[list[UUID]] = []
    cursor = None
    while True:
        page = await wallet_client.list_transfers(
            account_id=player.id, created_from=at(10), created_to=at(11), cursor=cursor, limit=2
        )
        seen.append([item.id for item in page.items])
        if (cursor := page.next_cursor) is None:
            break

    assert seen == [inside[:2:-1], inside[2:0:-1], inside[:1]]


async def test_list_transfers_when_window_is_open_ended_bounds_one_side_only(
    wallet_client: WalletClient, past: PastWallet, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(500)  # funded now, by the platform's wallet: far after DAY
    early = await past.pay(house, player, at(9))
    late = await past.pay(house, player, at(15))

    until = await wallet_client.list_transfers(account_id=player.id, created_to=at(10))
    since = await wallet_client.list_transfers(account_id=player.id, created_from=at(10))

    assert [item.id for item in until.items] == [early]
    assert [item.id for item in since.items][1:] == [late]  # the deposit made now comes first
    assert since.items[0].created_at > datetime.now(UTC) - timedelta(hours=1)


async def test_list_transfers_when_window_is_empty_or_reversed_raises_invalid_time_range(
    wallet_client: WalletClient,
) -> None:
    for start, end in ((at(11), at(10)), (at(10), at(10))):
        with pytest.raises(InvalidTimeRange) as refused:
            await wallet_client.list_transfers(created_from=start, created_to=end)
        assert refused.value.code == "invalid_time_range"


async def test_list_transfers_when_time_has_no_offset_raises_validation_failed(wallet_client: WalletClient) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await wallet_client.list_transfers(created_from=datetime(2026, 1, 10, 10, 0))
    assert refused.value.code == "validation_error"
    assert "time zone" in refused.value.detail


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"created_from": "2026-01-10T11:00:00Z", "created_to": "2026-01-10T10:00:00Z"}, "invalid_time_range"),
        ({"created_from": "yesterday"}, "validation_error"),
        ({"created_to": "2026-01-10T10:00:00"}, "validation_error"),
    ],
)
async def test_transfers_endpoint_when_window_is_bad_answers_422_problem_with_stable_code(
    http_base_url: str, house: AccountOut, query: dict[str, str], code: str
) -> None:
    async with httpx.AsyncClient(base_url=http_base_url, headers=service_headers()) as http:
        for path in ("/v1/wallet/transfers", f"/v1/wallet/accounts/{house.id}/transfers"):
            response = await http.get(path, params=query)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == code


async def test_transfers_endpoint_when_offset_is_given_in_the_url_reads_that_instant(
    http_base_url: str, past: PastWallet, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player()
    transfer = await past.pay(house, player, at(10))  # 10:00 UTC is 11:00 at +01:00
    async with httpx.AsyncClient(base_url=http_base_url, headers=service_headers()) as http:
        response = await http.get(
            f"/v1/wallet/accounts/{player.id}/transfers",
            params={"created_from": "2026-01-10T11:00:00+01:00", "created_to": "2026-01-10T12:00:00+01:00"},
        )
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == [str(transfer)]


@pytest.mark.parametrize("path", ["/v1/wallet/transfers", "/v1/wallet/accounts/{account_id}/transfers"])
def test_openapi_when_built_documents_the_window_parameters(path: str) -> None:
    document: dict[str, Any] = build_app(settings=Settings(), url="postgresql://unused/unused").openapi()
    operation = document["paths"][path]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    for name in ("created_from", "created_to"):
        schema = parameters[name]["schema"]
        assert {"type": "string", "format": "date-time"} in schema["anyOf"]
        assert parameters[name]["description"]
    assert "application/problem+json" in operation["responses"]["422"]["content"]
