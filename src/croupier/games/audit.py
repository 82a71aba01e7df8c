"""The round audit: an append-only log of every change to every round, sealed into a SHA-256 hash chain.

- Each entry is canonical JSON text (sorted keys, no insignificant whitespace, UTF-8), stored exactly as hashed, in
  the same transaction as the change it records. The database refuses updates and deletes of the log.
- The sealer appends entries to `games.audit_chain` in (transaction id, entry id) order, taking only entries of
  transactions older than every running one, so an entry can never appear behind the sealed head:
  `entry_hash = sha256(body)`, `chain_hash = sha256(previous chain_hash + entry_hash)` (hex strings), starting from
  64 zeros. Sealing runs off the bet path (every `SEAL_INTERVAL` seconds in the games service), so the chain is not a
  point every round must queue on.
- `verify` recomputes everything: an edited body, an edited or deleted chain link, a deleted entry, an entry
  smuggled in behind the head, or a column that disagrees with its body is reported. Publishing the head hash
  (`croupier audit verify` prints it) lets an outside party detect even a rewrite of the whole chain.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from croupier.kit.ids import uuid7

GENESIS = "0" * 64
SEAL_INTERVAL = 0.5
SEAL_BATCH = 5000
_SEAL_LOCK = 0x67616D65  # pg_advisory_xact_lock key of the sealer ("game")


def canonical(document: Mapping[str, Any]) -> str:
    """Canonical JSON text of an entry body."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS).decode()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def link(previous: str, entry_hash: str) -> str:
    return hashlib.sha256((previous + entry_hash).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """An audit entry about to be written."""

    id: UUID
    round_id: UUID | None
    seq: int | None
    kind: str
    body: str
    recorded_at: datetime


def entry(kind: str, recorded_at: datetime, round_id: UUID | None, seq: int | None, **fields: Any) -> Entry:
    entry_id = uuid7()
    document = {
        **fields,
        "entry_id": str(entry_id),
        "kind": kind,
        "round_id": None if round_id is None else str(round_id),
        "seq": seq,
        "recorded_at": recorded_at.isoformat(),
    }
    return Entry(entry_id, round_id, seq, kind, canonical(document), recorded_at)


async def append(connection: Any, entries: list[Entry]) -> None:
    """Write entries (the caller owns the transaction: they commit with the change they record)."""
    await connection.execute(
        """INSERT INTO games.audit_log (id, round_id, seq, kind, body, recorded_at)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int4[], $4::text[], $5::text[], $6::timestamptz[])""",
        [e.id for e in entries],
        [e.round_id for e in entries],
        [e.seq for e in entries],
        [e.kind for e in entries],
        [e.body for e in entries],
        [e.recorded_at for e in entries],
    )


async def seal(connection: Any, now: datetime, *, batch: int = SEAL_BATCH) -> int:
    """Append the unsealed entries of finished transactions to the chain; return how many were sealed."""
    sealed = 0
    while True:
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _SEAL_LOCK)
            head = await connection.fetchrow(
                "SELECT position, chain_hash, entry_txid::text AS txid, entry_id FROM games.audit_chain "
                "ORDER BY position DESC LIMIT 1"
            )
            position = -1 if head is None else head["position"]
            previous = GENESIS if head is None else head["chain_hash"]
            rows = await connection.fetch(
                # ORDER BY the xid8 column, not the text output column of the same name ('1000' < '999').
                """SELECT l.id, l.txid::text AS txid, l.body FROM games.audit_log l
                   WHERE (l.txid, l.id) > ($1::text::xid8, $2::uuid)
                     AND l.txid < pg_snapshot_xmin(pg_current_snapshot())
                   ORDER BY l.txid, l.id LIMIT $3""",
                "0" if head is None else head["txid"],
                UUID(int=0) if head is None else head["entry_id"],
                batch,
            )
            if not rows:
                return sealed
            positions, ids, txids, hashes, chain = [], [], [], [], []
            for row in rows:
                position += 1
                entry_hash = sha256_hex(row["body"])
                previous = link(previous, entry_hash)
                positions.append(position)
                ids.append(row["id"])
                txids.append(row["txid"])
                hashes.append(entry_hash)
                chain.append(previous)
            await connection.execute(
                """INSERT INTO games.audit_chain (position, entry_id, entry_txid, entry_hash, chain_hash, sealed_at)
                   SELECT p, i, t::xid8, e, c, $6
                   FROM unnest($1::int8[], $2::uuid[], $3::text[], $4::text[], $5::text[]) AS u(p, i, t, e, c)""",
                positions,
                ids,
                txids,
                hashes,
                chain,
                now,
            )
            sealed += len(rows)
        if len(rows) < batch:
            return sealed


@dataclass
class ChainReport:
    entries: int = 0  # audit log entries
    sealed: int = 0  # chain links checked
    unsealed: int = 0  # entries of recent transactions not sealed yet (checked for form only)
    head_position: int | None = None
    head_hash: str = GENESIS
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "sealed": self.sealed,
            "unsealed": self.unsealed,
            "head": {"position": self.head_position, "chain_hash": self.head_hash},
            "problems": self.problems,
        }


async def verify(connection: Any, *, page: int = 10_000) -> ChainReport:
    """Walk the whole chain against the log; report every discrepancy (read-only, one snapshot)."""
    report = ChainReport()
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        previous = GENESIS
        expected_position = 0
        order: tuple[int, UUID] | None = None
        after = -1
        while True:
            rows = await connection.fetch(
                """SELECT c.position, c.entry_id, c.entry_txid::text AS chain_txid, c.entry_hash, c.chain_hash,
                          l.id AS log_id, l.round_id, l.seq, l.kind, l.body, l.txid::text AS log_txid
                   FROM games.audit_chain c LEFT JOIN games.audit_log l ON l.id = c.entry_id
                   WHERE c.position > $1 ORDER BY c.position LIMIT $2""",
                after,
                page,
            )
            for row in rows:
                position = row["position"]
                if position != expected_position:
                    report.problems.append(
                        {"problem": "chain_gap", "position": expected_position, "detail": f"next link is {position}"}
                    )
                expected_position = position + 1
                key = (int(row["chain_txid"]), row["entry_id"])
                if order is not None and key <= order:  # the sealer appends in (txid, id) order, always
                    report.problems.append(
                        {"problem": "chain_out_of_order", "position": position, "entry_id": str(row["entry_id"])}
                    )
                order = key
                if row["log_id"] is None:
                    report.problems.append(
                        {"problem": "entry_deleted", "position": position, "entry_id": str(row["entry_id"])}
                    )
                else:
                    entry_hash = sha256_hex(row["body"])
                    if entry_hash != row["entry_hash"]:
                        report.problems.append(
                            {"problem": "entry_modified", "position": position, "entry_id": str(row["entry_id"])}
                        )
                    elif row["log_txid"] != row["chain_txid"]:
                        report.problems.append(
                            {"problem": "entry_moved", "position": position, "entry_id": str(row["entry_id"])}
                        )
                    mismatch = _columns_mismatch(row)
                    if mismatch:
                        report.problems.append(
                            {
                                "problem": "entry_columns_modified",
                                "position": position,
                                "entry_id": str(row["entry_id"]),
                                "detail": mismatch,
                            }
                        )
                if link(previous, row["entry_hash"]) != row["chain_hash"]:
                    report.problems.append(
                        {"problem": "chain_link_modified", "position": position, "entry_id": str(row["entry_id"])}
                    )
                previous = row["chain_hash"]
                report.sealed += 1
                report.head_position = position
                report.head_hash = row["chain_hash"]
            if len(rows) < page:
                break
            after = rows[-1]["position"]
        report.entries = await connection.fetchval("SELECT count(*) FROM games.audit_log")
        head_txid = await connection.fetchval(
            "SELECT entry_txid::text FROM games.audit_chain ORDER BY position DESC LIMIT 1"
        )
        head_id = await connection.fetchval("SELECT entry_id FROM games.audit_chain ORDER BY position DESC LIMIT 1")
        # Entries the chain does not hold: legitimately unsealed only if they sort after the head.
        unsealed_rows = await connection.fetch(
            """SELECT l.id, l.txid::text AS txid, (l.txid, l.id) > ($1::text::xid8, $2::uuid) AS after_head,
                      l.round_id, l.seq, l.kind, l.body
               FROM games.audit_log l LEFT JOIN games.audit_chain c ON c.entry_id = l.id
               WHERE c.entry_id IS NULL""",
            head_txid or "0",
            head_id or UUID(int=0),
        )
        for row in unsealed_rows:
            if row["after_head"]:
                report.unsealed += 1
                mismatch = _columns_mismatch(row)
                if mismatch:
                    report.problems.append(
                        {"problem": "entry_columns_modified", "entry_id": str(row["id"]), "detail": mismatch}
                    )
            else:
                report.problems.append({"problem": "entry_not_in_chain", "entry_id": str(row["id"])})
    return report


def _columns_mismatch(row: Any) -> str:
    try:
        body = orjson.loads(row["body"])
    except orjson.JSONDecodeError:
        return "body is not JSON"
    if not isinstance(body, dict):
        return "body is not a JSON object"
    round_id = None if row["round_id"] is None else str(row["round_id"])
    differences = [
        name
        for name, column in (("round_id", round_id), ("seq", row["seq"]), ("kind", row["kind"]))
        if body.get(name) != column
    ]
    return ", ".join(differences)
