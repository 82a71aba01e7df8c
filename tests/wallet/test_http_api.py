"""HTTP specifics of the wallet API: status codes and the byte-identical replay."""

import httpx

from croupier.wallet.client import AccountOut
from tests.conftest import service_headers
from tests.wallet.conftest import OpenPlayer, key


async def test_transfer_replay_over_http_returns_the_original_bytes_with_200_and_replay_header(
    http_base_url: str, house: AccountOut, open_player: OpenPlayer
) -> None:
    player = await open_player(1000)
    body = {
        "idempotency_key": key("bet"),
        "debit_account_id": str(player.id),
        "credit_account_id": str(house.id),
        "amount": 125,
        "currency": "EUR",
        "type": "bet",
        # Keys deliberately out of order: a replay must not come back re-sorted.
        "metadata": {"round": "r-9", "game": "dice", "a": [3, 1, 2]},
    }
    async with httpx.AsyncClient(base_url=http_base_url, headers=service_headers()) as http:
        first = await http.post("/v1/wallet/transfers", json=body)
        later = await http.post("/v1/wallet/transfers", json={**body, "idempotency_key": key("bet")})
        replay = await http.post("/v1/wallet/transfers", json=body)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert later.status_code == 201
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    assert replay.json()["debit_balance"]["posted"] == 875  # the balance as it was then, not 750 as now
