"""How a command's result is stored with its idempotency key, and read back for a replay.

A result repeats the transfer rows the command wrote (one for a transfer, hold or hold resolution; a list for a batch
or reversal). Stored by reference, each row keeps only its id and its metadata, and a replay reads the other columns
back from `wallet.transfers`, where they never change: the key's row in `wallet.requests` shrinks from about 600 to
about 200 bytes, a fifth of the WAL a transfer writes (docs/adr/0005, session 6 addendum). The metadata stays in the
result because a replay returns the original bytes, and `wallet.transfers.metadata` is jsonb, which reorders keys.
Every other column comes back exactly as it was written, in the order `batch_state.BatchState._record` writes it. The
balances cannot be read back (they are the balances right after the command), so they are stored as they were.

Both forms are read: a stored row with all its columns (stored by earlier versions, or with
`wallet_results_by_reference` off) is returned as it is.
"""

from typing import Any
from uuid import UUID

from croupier.wallet.state import KnownTransfer


def by_reference(result: dict[str, Any]) -> dict[str, Any]:
    """The form to store: every transfer row reduced to its id and metadata (the result itself is left as it is)."""
    transfer = result.get("transfer")
    if isinstance(transfer, dict):
        return {**result, "transfer": _reference(transfer)}
    rows = result.get("transfers")
    if rows:
        return {**result, "transfers": [_reference(row) for row in rows]}
    return result


def is_by_reference(result: dict[str, Any]) -> bool:
    transfer = result.get("transfer")
    if isinstance(transfer, dict):
        return _is_reference(transfer)
    rows = result.get("transfers")
    return isinstance(rows, list) and len(rows) > 0 and _is_reference(rows[0])


def referenced_ids(result: dict[str, Any]) -> list[UUID]:
    """The transfers a stored result names, in either form."""
    if "transfer" in result:
        return [UUID(str(result["transfer"]["id"]))]
    return [UUID(str(row["id"])) for row in result.get("transfers", [])]


def expand(result: dict[str, Any], transfers: dict[UUID, KnownTransfer]) -> dict[str, Any]:
    """The result as it was first returned, its rows read back from the ledger (`transfers`, loaded by id)."""
    transfer = result.get("transfer")
    if isinstance(transfer, dict):
        return {**result, "transfer": _row(transfer, transfers)}
    return {**result, "transfers": [_row(row, transfers) for row in result.get("transfers", [])]}


def _reference(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "metadata": row["metadata"]}


def _is_reference(row: dict[str, Any]) -> bool:
    return "kind" not in row  # a whole row has every column


def _row(reference: dict[str, Any], transfers: dict[UUID, KnownTransfer]) -> dict[str, Any]:
    if not _is_reference(reference):
        return reference
    known = transfers.get(UUID(str(reference["id"])))
    if known is None:  # transfers are never deleted, and were written in the same statement as the result
        raise RuntimeError(f"the stored result names transfer {reference['id']}, which the ledger does not hold")
    return {**known.row, "metadata": reference["metadata"]}
