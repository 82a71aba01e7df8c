"""Database outages: reads answer service_unavailable (503) and recover; a lost COMMIT acknowledgement is handled."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from croupier.app import build_app
from croupier.bootstrap import Platform, bootstrap, shutdown
from croupier.kit.config import Settings
from croupier.kit.db import DatabaseUnavailable
from croupier.kit.embedded_pg import EmbeddedPostgres
from croupier.kit.errors import ServiceUnavailable
from croupier.wallet import batch_write
from croupier.wallet.client import CreateTransferRequest, OpenAccountRequest
from tests.conftest import service_headers


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
        async with httpx.AsyncClient(transport=transport, base_url="http://wallet", headers=service_headers()) as http:
            response = await http.get(f"/v1/wallet/accounts/{account.id}/balance")
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"
    finally:
        server.restart()
    assert (await platform.wallet_client.get_balance(account.id)).posted == 0


@pytest.mark.parametrize("path", ["locked", "optimistic"])
async def test_commit_whose_acknowledgement_is_lost_is_answered_as_applied_not_replayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    url = server.start()
    platform = await bootstrap(Settings(wallet_optimistic_writer=path == "optimistic"), url)
    try:
        await _lose_one_commit_ack(platform, monkeypatch, path)
    finally:
        await shutdown(platform)
        server.stop()


async def _lose_one_commit_ack(platform: Platform, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    client = platform.wallet_client
    house = await client.open_account(
        OpenAccountRequest(
            brand_id="b", owner_type="house", owner_id="h", kind="bankroll", currency="EUR", allow_negative=True
        )
    )
    player = await client.open_account(
        OpenAccountRequest(brand_id="b", owner_type="player", owner_id="p", kind="cash", currency="EUR")
    )
    # The COMMIT really happens; only its acknowledgement is lost once, as when the connection drops right after it.
    lost = {"remaining": 1}
    if path == "locked":  # BEGIN ... COMMIT: the acknowledgement of COMMIT is lost
        real_transaction = platform.db.transaction

        @contextlib.asynccontextmanager
        async def transaction_losing_one_ack() -> AsyncIterator[Any]:
            async with real_transaction() as connection:
                yield connection
            if lost["remaining"]:
                lost["remaining"] -= 1
                raise DatabaseUnavailable("simulated: the acknowledgement of COMMIT was lost")

        monkeypatch.setattr(platform.db, "transaction", transaction_losing_one_ack)
    else:  # the pipelined writer's single write statement is its own transaction: its answer is lost
        real_write = batch_write.write_batch

        async def write_losing_one_ack(connection: Any, *args: Any) -> None:
            await real_write(connection, *args)
            if lost["remaining"] and not connection.is_in_transaction():
                lost["remaining"] -= 1
                raise DatabaseUnavailable("simulated: the answer to the autocommitted write was lost")

        monkeypatch.setattr(batch_write, "write_batch", write_losing_one_ack)
    assert platform.wallet is not None
    result, replayed = await platform.wallet.transfer(
        CreateTransferRequest(
            idempotency_key="deposit-ack-lost",
            debit_account_id=house.id,
            credit_account_id=player.id,
            amount=500,
            currency="EUR",
            type="deposit",
        )
    )
    assert lost["remaining"] == 0
    assert replayed is False  # applied by this request, so 201, not "Idempotent-Replayed"
    assert result["transfer"]["amount"] == 500
    assert (await client.get_balance(player.id)).posted == 500  # once, not twice
    assert platform.wallet.writer.stats()["locked_batches"] >= (1 if path == "optimistic" else 0)
