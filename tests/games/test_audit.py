"""The round audit: append-only, hash-chained, and every kind of tampering is reported by `croupier audit verify`."""

import json
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from croupier.bootstrap import Platform
from croupier.games import audit
from tests.games.conftest import GamesPlayer, play
from tests.wallet.test_event_feed import burn_transaction_ids_to_just_below_a_power_of_ten

NewPlayer = Callable[..., Awaitable[GamesPlayer]]
DICE = {"target": 5000, "direction": "over"}


async def played_and_sealed(
    games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection, rounds: int = 3
) -> list[dict[str, Any]]:
    player = await new_player(10_000)
    results = []
    for _ in range(rounds):
        response = await play(games_api, player, "dice", 100, DICE)
        assert response.status_code == 200, response.text
        results.append(response.json())
    await audit.seal(db, datetime.now(UTC))
    return results


def croupier(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "croupier", *args, "--database-url", database_url, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def problems(db: asyncpg.Connection) -> list[str]:
    report = await audit.verify(db)
    return [problem["problem"] for problem in report.problems]


async def tamper(db: asyncpg.Connection, sql: str, *args: Any) -> None:
    """Change the audit the way someone with database rights could: around the append-only triggers."""
    async with db.transaction():
        await db.execute("SET LOCAL session_replication_role = replica")  # triggers do not fire
        await db.execute(sql, *args)


async def test_audit_when_rounds_were_played_verifies_clean_from_the_command_line(
    games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection, database_url: str
) -> None:
    rounds = await played_and_sealed(games_api, new_player, db)
    result = croupier(database_url, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["entries"] == report["sealed"] >= 3 * len(rounds)
    assert len(report["head"]["chain_hash"]) == 64


async def test_audit_log_when_the_application_updates_or_deletes_an_entry_refuses(
    games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    await played_and_sealed(games_api, new_player, db, rounds=1)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("UPDATE games.audit_log SET body = body || ' '")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("DELETE FROM games.audit_log")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("DELETE FROM games.audit_chain")


@pytest.mark.tampers_with_audit
async def test_audit_when_a_payout_is_edited_reports_the_entry_and_the_replay_disagrees(
    games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection, database_url: str
) -> None:
    rounds = await played_and_sealed(games_api, new_player, db)
    round_id = rounds[1]["round_id"]
    await tamper(
        db,
        """UPDATE games.audit_log SET body = replace(body, '"payout":' || (body::jsonb ->> 'payout'), '"payout":999999')
           WHERE round_id = $1 AND kind = 'settled'""",
        uuid.UUID(round_id),
    )
    assert await problems(db) == ["entry_modified"]
    verified = croupier(database_url, "audit", "verify")
    assert verified.returncode == 1
    assert json.loads(verified.stdout)["problems"][0]["problem"] == "entry_modified"
    replayed = croupier(database_url, "round", "replay", round_id)
    assert replayed.returncode == 1
    assert any("payout differs" in p for p in json.loads(replayed.stdout)["problems"])
    untouched = croupier(database_url, "round", "replay", rounds[0]["round_id"])
    assert untouched.returncode == 0, untouched.stdout
    assert json.loads(untouched.stdout)["matches"] is True


@pytest.mark.tampers_with_audit
async def test_audit_when_an_entry_is_deleted_reports_it(
    games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    rounds = await played_and_sealed(games_api, new_player, db)
    await tamper(db, "DELETE FROM games.audit_log WHERE round_id = $1 AND seq = 0", uuid.UUID(rounds[0]["round_id"]))
    assert await problems(db) == ["entry_deleted"]


@pytest.mark.tampers_with_audit
async def test_audit_when_a_chain_link_is_deleted_reports_the_gap(
    games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    await played_and_sealed(games_api, new_player, db)
    await tamper(db, "DELETE FROM games.audit_chain WHERE position = 2")
    found = await problems(db)
    assert "chain_gap" in found
    assert "chain_link_modified" in found
    assert "entry_not_in_chain" in found


@pytest.mark.tampers_with_audit
async def test_audit_when_the_chain_is_rehashed_after_an_edit_still_breaks_at_the_next_link(
    games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    await played_and_sealed(games_api, new_player, db)
    # Edit entry 1 and recompute its own entry hash and link, as a careful forger would; the next link still names
    # the old hash.
    row = await db.fetchrow(
        "SELECT c.position, l.id, l.body FROM games.audit_chain c JOIN games.audit_log l ON l.id = c.entry_id "
        "WHERE c.position = 1"
    )
    previous = await db.fetchval("SELECT chain_hash FROM games.audit_chain WHERE position = 0")
    forged = row["body"].replace('"kind":', '"forged":true,"kind":')
    await tamper(db, "UPDATE games.audit_log SET body = $2 WHERE id = $1", row["id"], forged)
    entry_hash = audit.sha256_hex(forged)
    await tamper(
        db,
        "UPDATE games.audit_chain SET entry_hash = $1, chain_hash = $2 WHERE position = 1",
        entry_hash,
        audit.link(previous, entry_hash),
    )
    assert await problems(db) == ["chain_link_modified"]


@pytest.mark.tampers_with_audit
async def test_audit_when_an_entry_is_smuggled_in_behind_the_head_reports_it(
    games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    rounds = await played_and_sealed(games_api, new_player, db)
    forged = audit.entry("paid", datetime.now(UTC), uuid.UUID(rounds[0]["round_id"]), 99, amount=1_000_000)
    await db.execute(
        "INSERT INTO games.audit_log (id, round_id, seq, kind, body, recorded_at, txid) "
        "VALUES ($1, $2, $3, $4, $5, $6, '3'::xid8)",
        forged.id,
        forged.round_id,
        forged.seq,
        forged.kind,
        forged.body,
        forged.recorded_at,
    )
    assert await problems(db) == ["entry_not_in_chain"]


@pytest.mark.tampers_with_audit
async def test_audit_when_a_column_is_changed_without_the_body_reports_it(
    games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    rounds = await played_and_sealed(games_api, new_player, db)
    await tamper(
        db,
        "UPDATE games.audit_log SET kind = 'refunded' WHERE round_id = $1 AND kind = 'settled'",
        uuid.UUID(rounds[0]["round_id"]),
    )
    assert await problems(db) == ["entry_columns_modified"]


async def test_sealer_when_entries_arrive_after_a_seal_extends_the_same_chain(
    platform: Platform, games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection
) -> None:
    await played_and_sealed(games_api, new_player, db, rounds=2)
    head = (await audit.verify(db)).head_hash
    await played_and_sealed(games_api, new_player, db, rounds=2)
    report = await audit.verify(db)
    assert report.ok
    assert report.head_hash != head
    assert await db.fetchval("SELECT chain_hash FROM games.audit_chain WHERE chain_hash = $1", head) == head


async def test_sealer_when_transaction_ids_gain_a_digit_seals_in_numeric_order(
    games_api: httpx.AsyncClient, new_player: NewPlayer, db: asyncpg.Connection, database_url: str
) -> None:
    await played_and_sealed(games_api, new_player, db, rounds=1)
    await burn_transaction_ids_to_just_below_a_power_of_ten(database_url)
    player = await new_player(10_000)
    for _ in range(3):
        assert (await play(games_api, player, "dice", 100, DICE)).status_code == 200
    while await audit.seal(db, datetime.now(UTC), batch=2):
        pass
    report = await audit.verify(db)
    assert report.ok, report.problems
    assert report.unsealed == 0
