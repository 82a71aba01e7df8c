"""Listing accounts with filters and keyset pagination (both transports), and the currency registry over HTTP."""

import uuid

import httpx

from croupier.kit.money import MAX_MINOR_UNITS
from croupier.wallet.client import AccountOut, OpenAccountRequest, WalletClient
from tests.conftest import service_headers


async def _open(
    client: WalletClient, brand: str, owner_type: str, owner_id: str, kind: str, currency: str
) -> AccountOut:
    return await client.open_account(
        OpenAccountRequest(
            brand_id=brand,
            owner_type=owner_type,  # type: ignore[arg-type]
            owner_id=owner_id,
            kind=kind,
            currency=currency,
            allow_negative=owner_type == "house",
        )
    )


async def test_accounts_list_pages_through_every_match_in_id_order_without_gaps_or_repeats(
    wallet_client: WalletClient,
) -> None:
    brand = f"list-{uuid.uuid4().hex[:8]}"
    players = [await _open(wallet_client, brand, "player", f"p{n}", "cash", "EUR") for n in range(5)]
    dollars = await _open(wallet_client, brand, "player", "p0", "cash", "USD")
    bankroll = await _open(wallet_client, brand, "house", "house", "bankroll", "EUR")
    bonus_pool = await _open(wallet_client, brand, "house", "house", "bonus_pool", "EUR")
    await _open(wallet_client, f"{brand}-other", "player", "p0", "cash", "EUR")  # another brand: never listed
    mine = [*players, dollars, bankroll, bonus_pool]

    pages = []
    cursor = None
    while True:
        page = await wallet_client.list_accounts(brand_id=brand, cursor=cursor, limit=3)
        pages.append([account.id for account in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break

    assert [len(page) for page in pages] == [3, 3, 2]
    assert [account_id for page in pages for account_id in page] == sorted(account.id for account in mine)

    houses = await wallet_client.list_accounts(brand_id=brand, owner_type="house")
    assert {account.id for account in houses.items} == {bankroll.id, bonus_pool.id}
    assert houses.next_cursor is None
    owner = await wallet_client.list_accounts(brand_id=brand, owner_id="p0")
    assert {account.id for account in owner.items} == {players[0].id, dollars.id}
    usd = await wallet_client.list_accounts(brand_id=brand, currency="USD")
    assert [(account.id, account.currency) for account in usd.items] == [(dollars.id, "USD")]
    # A page exactly as long as what is left has no next page.
    exact = await wallet_client.list_accounts(brand_id=brand, limit=len(mine))
    assert len(exact.items) == len(mine)
    assert exact.next_cursor is None


async def test_currencies_list_each_with_its_exponent_and_kind_as_documented(http_base_url: str) -> None:
    async with httpx.AsyncClient(base_url=http_base_url, headers=service_headers()) as http:
        listed = await http.get("/v1/wallet/currencies")
        document = (await http.get("/openapi.json")).json()

    assert listed.status_code == 200
    by_code = {entry["code"]: entry for entry in listed.json()}
    assert by_code["EUR"] == {
        "code": "EUR",
        "exponent": 2,
        "name": "Euro",
        "kind": "fiat",
        "max_amount": MAX_MINOR_UNITS,
    }
    assert by_code["JPY"]["exponent"] == 0
    assert (by_code["BTC"]["kind"], by_code["BTC"]["exponent"]) == ("crypto", 8)
    assert {"ETH", "USDT"} <= by_code.keys()
    schema = document["paths"]["/v1/wallet/currencies"]["get"]["responses"]["200"]["content"]["application/json"]
    assert schema["schema"]["type"] == "array"
    item = document["components"]["schemas"][schema["schema"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert set(item["properties"]) == set(by_code["EUR"])
    assert item["properties"]["kind"]["enum"] == ["fiat", "crypto"]
