"""The batch write sends requests and transfers column by column, as PostgreSQL's text form of arrays written by
orjson (wallet/batch_write.py). Whatever a key, a type or a metadata object holds, what is stored is what was sent,
and a batch mixing rows with and without a hold, a reversal or an expiry keeps each row's own values."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from croupier.bootstrap import Platform
from croupier.wallet.batch_write import _json_array_text, _nullable_array_text, _text_array_text, _value_array_text
from croupier.wallet.client import (
    AccountOut,
    CreateHoldRequest,
    PostHoldRequest,
    ReverseTransferRequest,
    WalletClient,
)
from croupier.wallet.verify import verify_ledger
from tests.wallet.conftest import OpenPlayer, bet, key

#: Strings an array's text form would misread if written carelessly: quotes, backslashes, braces, commas, blanks,
#: the word NULL, control characters (JSON escapes them its own way), and text beyond ASCII.
AWKWARD_STRINGS = [
    "plain",
    "",
    "NULL",
    "null",
    'say "hi"',
    "back\\slash",
    "\\",
    '\\"',
    "{braces},comma",
    "  spaced  ",
    "new\nline",
    "tab\tand\rreturn",
    "bell\x07 and \x01",
    "é ü ß 漢字 🎲",
]


async def test_text_arrays_read_back_as_the_strings_sent(db: asyncpg.Connection) -> None:
    assert await db.fetchval("SELECT $1::text::text[]", _text_array_text(AWKWARD_STRINGS)) == AWKWARD_STRINGS
    printable = [value for value in AWKWARD_STRINGS if value.isprintable()]  # orjson's own quoting, no fallback
    assert await db.fetchval("SELECT $1::text::text[]", _text_array_text(printable)) == printable
    assert await db.fetchval("SELECT cardinality($1::text::text[])", _text_array_text([])) == 0


async def test_json_arrays_keep_each_text_byte_for_byte(db: asyncpg.Connection) -> None:
    values: list[Any] = [
        {"round": "r-1", "game": "dice"},
        {},
        {"z": 1, "a": [3, 1, 2], "nested": {"b": None, "a": True}},
        {value: value for value in AWKWARD_STRINGS},
        {"id": uuid.UUID(int=7), "big": 2**63 - 1, "neg": -(2**63), "float": 0.5},
    ]
    texts = await db.fetchval(
        "SELECT array(SELECT x::text FROM unnest($1::text::json[]) AS x)", _json_array_text(values)
    )
    assert texts == [orjson.dumps(value).decode() for value in values]
    as_jsonb = await db.fetchval(
        "SELECT array(SELECT x::text FROM unnest($1::text::jsonb[]) AS x)", _json_array_text(values)
    )
    assert [orjson.loads(text) for text in as_jsonb] == [orjson.loads(orjson.dumps(value)) for value in values]


async def test_value_arrays_read_back_with_their_nulls(db: asyncpg.Connection) -> None:
    ids = [uuid.UUID(int=1), None, uuid.uuid4()]
    assert await db.fetchval("SELECT $1::text::uuid[]", _value_array_text(ids)) == ids
    record_id = await db.fetchval("SELECT gen_random_uuid()")  # asyncpg's own UUID type
    assert await db.fetchval("SELECT $1::text::uuid[]", _value_array_text([record_id])) == [record_id]
    moments = [datetime(2026, 11, 22, 15, 39, 0, 897235, tzinfo=UTC), None]
    assert await db.fetchval("SELECT $1::text::timestamptz[]", _value_array_text(moments)) == moments
    amounts = [1, 2**63 - 1, 0]
    assert await db.fetchval("SELECT $1::text::int8[]", _value_array_text(amounts)) == amounts
    # A column without a value in any row goes as an empty array, which unnest pads with NULLs.
    assert _nullable_array_text([None, None]) == "{}"
    rows = await db.fetch(
        "SELECT * FROM unnest($1::text::int8[], $2::text::uuid[]) AS t(a, b)",
        "{1,2}",
        _nullable_array_text([None, None]),
    )
    assert [(row["a"], row["b"]) for row in rows] == [(1, None), (2, None)]


async def test_awkward_key_type_and_metadata_are_stored_and_replayed_as_sent(
    wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    player = await open_player(1000)
    awkward_key = f'k"{{a,b}}\\NULL-{uuid.uuid4().hex}'  # printable ASCII: every character a key may hold
    metadata = {value: value for value in AWKWARD_STRINGS} | {"list": AWKWARD_STRINGS}

    first = await wallet_client.transfer(bet(player, house, 300, awkward_key, metadata=metadata))

    row = await db.fetchrow(
        "SELECT request_key, metadata::text, type FROM wallet.transfers WHERE id = $1", first.transfer.id
    )
    assert row is not None
    assert row["request_key"] == awkward_key
    assert orjson.loads(row["metadata"]) == metadata
    assert row["type"] == "bet"
    assert await db.fetchval("SELECT count(*) FROM wallet.requests WHERE key = $1", awkward_key) == 1
    assert first.transfer.metadata == metadata
    replay = await wallet_client.transfer(bet(player, house, 300, awkward_key, metadata=metadata))
    assert replay == first
    (listed,) = (await wallet_client.list_transfers(account_id=player.id, limit=1)).items
    assert listed.metadata == metadata
    assert listed.idempotency_key == awkward_key


async def test_one_batch_of_transfers_holds_posts_and_reversals_keeps_each_rows_own_columns(
    wallet_client: WalletClient,
    house: AccountOut,
    open_player: OpenPlayer,
    db: asyncpg.Connection,
    platform: Platform,
) -> None:
    players = [await open_player(10_000) for _ in range(6)]
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    holds = [
        await wallet_client.create_hold(
            CreateHoldRequest(
                idempotency_key=key("hold"),
                debit_account_id=player.id,
                credit_account_id=house.id,
                amount=500,
                currency="EUR",
                type="withdrawal",
            )
        )
        for player in players[:3]
    ]
    bets = [await wallet_client.transfer(bet(player, house, 100)) for player in players[3:]]

    # Submitted together, so that the writer applies them in as few batches as it can: rows with and without a
    # hold id, a reversed id, an expiry and metadata side by side.
    results = await asyncio.gather(
        *(
            wallet_client.post_hold(hold.transfer.id, PostHoldRequest(idempotency_key=key("post"), amount=200))
            for hold in holds
        ),
        *(
            wallet_client.reverse(ReverseTransferRequest(idempotency_key=key("undo"), transfer_id=placed.transfer.id))
            for placed in bets
        ),
        *(wallet_client.transfer(bet(player, house, 50, metadata={})) for player in players),
        *(
            wallet_client.create_hold(
                CreateHoldRequest(
                    idempotency_key=key("hold"),
                    debit_account_id=player.id,
                    credit_account_id=house.id,
                    amount=10,
                    currency="EUR",
                    type="withdrawal",
                    expires_at=expires_at,
                    metadata={"psp": "sim"},
                )
            )
            for player in players
        ),
    )

    expected: dict[uuid.UUID, tuple[Any, ...]] = {}
    for result in results:
        for transfer in getattr(result, "transfers", None) or [result.transfer]:  # type: ignore[attr-defined]
            expected[transfer.id] = (
                transfer.kind,
                transfer.hold_id,
                transfer.reverses_id,
                transfer.expires_at,
                transfer.metadata,
            )
    rows = await db.fetch(
        "SELECT id, kind, hold_id, reverses_id, expires_at, metadata::text FROM wallet.transfers WHERE id = ANY($1)",
        list(expected),
    )
    stored = {
        row["id"]: (row["kind"], row["hold_id"], row["reverses_id"], row["expires_at"], orjson.loads(row["metadata"]))
        for row in rows
    }
    assert stored == expected
    assert sum(1 for kind, *_ in expected.values() if kind == "hold_post") == 3
    assert sum(1 for _, _, reverses, *_ in expected.values() if reverses is not None) == 3
    assert sum(1 for _, _, _, expiry, _ in expected.values() if expiry is not None) == 6
    assert (await verify_ledger(platform.db)).clean


@pytest.mark.parametrize("size", [1, 300])
async def test_batch_requests_of_any_size_store_every_row(
    size: int, wallet_client: WalletClient, house: AccountOut, open_player: OpenPlayer, db: asyncpg.Connection
) -> None:
    player = await open_player(100_000)
    placed = await asyncio.gather(*(wallet_client.transfer(bet(player, house, 1)) for _ in range(size)))
    ids = [result.transfer.id for result in placed]
    assert await db.fetchval("SELECT count(*) FROM wallet.transfers WHERE id = ANY($1)", ids) == size
    keys = [result.transfer.idempotency_key for result in placed]
    assert await db.fetchval("SELECT count(*) FROM wallet.requests WHERE key = ANY($1)", keys) == size
    assert (await wallet_client.get_balance(player.id)).posted == 100_000 - size
