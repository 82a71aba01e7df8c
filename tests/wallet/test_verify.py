"""`croupier wallet verify` recomputes balances from transfers and reports every discrepancy."""

import os
import subprocess
import sys
import uuid

import asyncpg

from croupier.bootstrap import Platform
from croupier.wallet.client import AccountOut, CreateTransferRequest, WalletClient
from croupier.wallet.verify import verify_ledger
from tests.wallet.conftest import OpenPlayer, key


async def _some_activity(wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer) -> AccountOut:
    player = await open_player(500)
    await wallet_client.transfer(
        CreateTransferRequest(
            idempotency_key=key(),
            debit_account_id=player.id,
            credit_account_id=house.id,
            amount=120,
            currency="EUR",
            type="bet",
        )
    )
    return player


async def test_verify_when_ledger_untouched_is_clean(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, platform: Platform
) -> None:
    await _some_activity(wallet_client, house, open_player)
    report = await verify_ledger(platform.db)
    assert report.clean
    assert report.transfers == 2
    assert report.currencies["EUR"]["debits_posted"] == report.currencies["EUR"]["credits_posted"] == 620


async def test_verify_when_balance_edited_by_hand_reports_the_account(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, platform: Platform, db: asyncpg.Connection
) -> None:
    player = await _some_activity(wallet_client, house, open_player)
    await db.execute("UPDATE wallet.accounts SET credits_posted = credits_posted + 1 WHERE id = $1", player.id)
    report = await verify_ledger(platform.db)
    checks = {(d.check, d.subject) for d in report.discrepancies}
    assert ("balance_matches_transfers", str(player.id)) in checks
    assert ("debits_equal_credits", "EUR") in checks


async def test_verify_when_player_negative_reports_it(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, platform: Platform, db: asyncpg.Connection
) -> None:
    player = await open_player(0)
    # Bypass every safeguard to plant a broken ledger: drop the constraint and the append-only trigger first.
    await db.execute("ALTER TABLE wallet.accounts DROP CONSTRAINT available_not_negative")
    await db.execute(
        """INSERT INTO wallet.requests (key, kind, request_hash, result, created_at)
           VALUES ('planted', 'transfer', '\\x00', '{}', now())"""
    )
    planted = uuid.uuid4()
    await db.execute(
        """INSERT INTO wallet.transfers (id, request_key, kind, type, brand_id, debit_account_id, credit_account_id,
               amount, currency, created_at)
           VALUES ($3, 'planted', 'transfer', 'bet', 'brand-test', $1, $2, 5, 'EUR', now())""",
        player.id,
        house.id,
        planted,
    )
    await db.execute("INSERT INTO wallet.transfer_events (transfer_ids) VALUES (ARRAY[$1::uuid])", planted)
    await db.execute("UPDATE wallet.accounts SET debits_posted = debits_posted + 5 WHERE id = $1", player.id)
    await db.execute("UPDATE wallet.accounts SET credits_posted = credits_posted + 5 WHERE id = $1", house.id)
    report = await verify_ledger(platform.db)
    assert [d.check for d in report.discrepancies] == ["no_negative_balance"]
    assert report.discrepancies[0].subject == str(player.id)


async def test_verify_reports_a_transfer_without_its_event_or_with_two_and_an_event_of_no_transfer(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, platform: Platform, db: asyncpg.Connection
) -> None:
    player = await open_player(100)
    silent = uuid.uuid4()
    await db.execute(
        """INSERT INTO wallet.requests (key, kind, request_hash, result, created_at)
           VALUES ('planted', 'transfer', '\\x00', '{}', now())"""
    )
    await db.execute(  # balanced: both accounts' totals move with it below, so only its missing event is wrong
        """INSERT INTO wallet.transfers (id, request_key, kind, type, brand_id, debit_account_id, credit_account_id,
               amount, currency, created_at)
           VALUES ($3, 'planted', 'transfer', 'deposit', 'brand-test', $1, $2, 5, 'EUR', now())""",
        house.id,
        player.id,
        silent,
    )
    await db.execute("UPDATE wallet.accounts SET debits_posted = debits_posted + 5 WHERE id = $1", house.id)
    await db.execute("UPDATE wallet.accounts SET credits_posted = credits_posted + 5 WHERE id = $1", player.id)
    funded = await db.fetchval(
        "SELECT id FROM wallet.transfers WHERE credit_account_id = $1 AND id <> $2", player.id, silent
    )
    await db.execute("INSERT INTO wallet.transfer_events (transfer_ids) VALUES (ARRAY[$1::uuid])", funded)  # twice
    ghost = uuid.uuid4()
    await db.execute(
        """INSERT INTO wallet.outbox (id, type, version, occurred_at, payload)
           VALUES ($1, 'wallet.transfer.committed', 1, now(), json_build_object('id', $1::uuid))""",
        ghost,
    )
    report = await verify_ledger(platform.db)
    found = {(d.check, d.subject, d.detail) for d in report.discrepancies}
    assert found == {
        ("transfer_has_one_event", str(silent), "0 events instead of exactly one"),
        ("transfer_has_one_event", str(funded), "2 events instead of exactly one"),
        ("transfer_has_one_event", str(ghost), "an event names this transfer, which does not exist"),
    }


async def test_verify_command_exits_nonzero_on_discrepancy(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, database_url: str, db: asyncpg.Connection
) -> None:
    await _some_activity(wallet_client, house, open_player)
    command = [sys.executable, "-m", "croupier", "wallet", "verify", "--database-url", database_url, "--json"]
    clean = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert '"clean": true' in clean.stdout
    await db.execute("UPDATE wallet.accounts SET debits_posted = debits_posted + 3 WHERE id = $1", house.id)
    broken = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
    assert broken.returncode == 1
    assert '"clean": false' in broken.stdout


async def test_verify_command_prints_a_report_by_currency_and_names_each_discrepancy(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, database_url: str, db: asyncpg.Connection
) -> None:
    await _some_activity(wallet_client, house, open_player)
    command = [sys.executable, "-m", "croupier", "wallet", "verify", "--database-url", database_url]
    env = os.environ | {"COLUMNS": "200"}  # rich fits its table to the terminal's width
    clean = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    await db.execute("UPDATE wallet.accounts SET debits_posted = debits_posted + 3 WHERE id = $1", house.id)
    broken = subprocess.run(command, capture_output=True, text=True, env=env, check=False)

    assert clean.returncode == 0, clean.stdout + clean.stderr
    lines = clean.stdout.splitlines()
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]
    # The EUR row: the player's funding (500, from the house) and one bet (120): 620 moved each way, none pending.
    assert ["EUR", "2", "620", "620", "620", "0"] in rows, clean.stdout
    assert "2 accounts, 2 transfers checked" in clean.stdout
    assert lines[-1] == "clean"
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"DISCREPANCY balance_matches_transfers {house.id}" in broken.stdout
    assert "DISCREPANCY debits_equal_credits EUR" in broken.stdout
    assert broken.stdout.splitlines()[-1].endswith("discrepancies")


def test_verify_command_when_database_unreachable_exits_2() -> None:
    command = [
        sys.executable,
        "-m",
        "croupier",
        "wallet",
        "verify",
        "--database-url",
        "postgresql://nobody:nothing@127.0.0.1:1/none",
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "could not verify" in result.stderr
