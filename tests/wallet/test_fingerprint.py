"""A command's fingerprint is stored with its idempotency key and compared on every replay, by this process and by
every later version of the wallet: the bytes it is computed from must never change, or a client's honest retry after
an upgrade would be refused as an idempotency conflict. These digests were computed by the first released format."""

from datetime import UTC, datetime
from uuid import UUID

import pytest
from asyncpg.pgproto.pgproto import UUID as DatabaseUUID

from croupier.wallet.commands import Command, Leg

DEBIT = UUID("0190a0b0-0000-7000-8000-000000000001")
CREDIT = UUID("0190a0b0-0000-7000-8000-000000000002")


@pytest.mark.parametrize(
    ("command", "digest"),
    [
        (
            Command(
                "transfer",
                "k1",
                legs=(Leg(DEBIT, CREDIT, 500, "EUR", "bet", {"round": "r1", "game": {"b": 1, "a": 2}}),),
            ),
            "bdaa6ae72589a6212263fba913685bc3841cfd6d14f4fe38453b31662b36517a",
        ),
        (
            Command(
                "hold",
                "k2",
                legs=(Leg(DEBIT, CREDIT, 7, "BTC", "withdrawal", {}),),
                expires_at=datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
            ),
            "a701d5e7ce22d2a1b9cd4f0474d5de504577363446a0cc321ec3415591bc651b",
        ),
        (
            Command(
                "hold_post", "k3", hold_id=UUID("0190a0b0-0000-7000-8000-000000000003"), amount=5, metadata={"x": "y"}
            ),
            "d33993da68f64fe89dc67f9743e062769013054ff844adb4ed3ca59b48e27482",
        ),
        (
            Command(
                "reversal",
                "k4",
                target_id=UUID("0190a0b0-0000-7000-8000-000000000004"),
                target_key="k1",
                type="correction",
            ),
            "4d311dd13e0106da278a49ce73ee85d21d82c63bb16bebfc55ad91142dc0cdd7",
        ),
        (
            Command(
                "batch",
                "k5",
                legs=(
                    Leg(DEBIT, CREDIT, 5, "EUR", "bet", {}),
                    Leg(DatabaseUUID(str(CREDIT)), DEBIT, 2, "EUR", "win", {"r": 1}),
                ),
            ),
            "bb059ca3f9d46c3bcd9700a9cf4e3585fe2f14593c2b92eb06d2aeb0c904d892",
        ),
    ],
)
def test_fingerprint_bytes_never_change(command: Command, digest: str) -> None:
    assert command.digest.hex() == digest


def test_fingerprint_is_the_same_for_ids_read_from_the_database() -> None:
    """asyncpg returns its own UUID type; a command built from one must match the same command built by a client."""
    read = Command(
        "transfer", "k1", legs=(Leg(DatabaseUUID(str(DEBIT)), DatabaseUUID(str(CREDIT)), 5, "EUR", "bet", {}),)
    )
    sent = Command("transfer", "k1", legs=(Leg(DEBIT, CREDIT, 5, "EUR", "bet", {}),))
    assert read.digest == sent.digest
    assert Command("transfer", "k1", legs=(Leg(DEBIT, CREDIT, 6, "EUR", "bet", {}),)).digest != sent.digest
