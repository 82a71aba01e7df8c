"""While PostgreSQL is down, reads answer service_unavailable (503), and serve again once it is back."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from croupier.app import build_app
from croupier.bootstrap import Platform, bootstrap, shutdown
from croupier.kit.config import Settings
from croupier.kit.embedded_pg import EmbeddedPostgres
from croupier.kit.errors import ServiceUnavailable
from croupier.wallet.client import OpenAccountRequest


@pytest.fixture
async def own_server(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedPostgres, Platform]]:
    server = EmbeddedPostgres(tmp_path / "pg")
    url = server.start()
    platform = await bootstrap(Settings(), url)
    yield server, platform
    await shutdown(platform)
    server.stop()


@pytest.mark.slow
async def test_reads_while_database_down_are_service_unavailable_then_recover(
    own_server: tuple[EmbeddedPostgres, Platform],
) -> None:
    server, platform = own_server
    account = await platform.wallet_client.open_account(
        OpenAccountRequest(brand_id="b", owner_type="player", owner_id="p", kind="cash", currency="EUR")
    )
    server.kill()
    try:
        with pytest.raises(ServiceUnavailable):
            await platform.wallet_client.get_balance(account.id)
        transport = httpx.ASGITransport(app=build_app(platform))
        async with httpx.AsyncClient(transport=transport, base_url="http://wallet") as http:
            response = await http.get(f"/v1/wallet/accounts/{account.id}/balance")
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"
    finally:
        server.restart()
    assert (await platform.wallet_client.get_balance(account.id)).posted == 0
