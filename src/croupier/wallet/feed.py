"""The wallet's event feed: events of finished transactions after a cursor, in (transaction, id) order.

Two sources (repository.read_events): whole events in wallet.outbox, and transfers named by wallet.transfer_events,
whose events are rendered here from the transfer rows (docs/wallet.md, "Events"). The cursor is
`<transaction id>:<event id>` of the last event returned.
"""

from typing import Any
from uuid import UUID

from croupier.kit.errors import ValidationFailed
from croupier.kit.serialization import dumps, loads
from croupier.wallet import events, repository
from croupier.wallet.rules import EVENT_TYPES

_NIL = UUID(int=0)
_EVENT_FIELDS = ("id", "type", "version", "occurred_at", "brand_id", "trace_id", "payload")


async def read_page(connection: Any, after: str | None, limit: int) -> dict[str, Any]:
    """Up to `limit` events after the cursor `after` (None: from the start), and the cursor to read on from."""
    txid, event_id = _decode_cursor(after)
    rows = await repository.read_events(connection, txid, event_id, limit)
    # A transfer's event by reference (type NULL) is its transfer row, which never changes.
    transfers = await repository.transfers_by_id(connection, [row["id"] for row in rows if row["type"] is None])
    items = []
    for row in rows:
        if row["type"] is not None:
            items.append({key: row[key] for key in _EVENT_FIELDS})
            continue
        transfer = transfers.get(row["id"])
        if transfer is None:  # written in the same statement as its reference, and never deleted
            raise RuntimeError(f"the event feed names transfer {row['id']}, which the ledger does not hold")
        items.append(
            {
                "id": row["id"],
                "type": EVENT_TYPES[transfer["kind"]],
                "version": events.VERSION,
                "occurred_at": transfer["created_at"],
                "brand_id": transfer["brand_id"],
                "trace_id": row["trace_id"],
                # In the form a payload written whole has (orjson's text, read back): same strings, same types.
                "payload": loads(dumps(transfer)),
            }
        )
    next_cursor = f"{rows[-1]['txid']}:{rows[-1]['id']}" if rows else (after or f"0:{_NIL}")
    return {"items": items, "next_cursor": next_cursor}


def _decode_cursor(cursor: str | None) -> tuple[int, UUID]:
    if not cursor:
        return 0, _NIL
    try:
        txid, _, event_id = cursor.partition(":")
        return int(txid), UUID(event_id)
    except ValueError as error:
        raise ValidationFailed("the feed cursor is not valid: pass next_cursor as it was returned") from error
