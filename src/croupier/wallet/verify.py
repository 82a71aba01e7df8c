"""`croupier wallet verify`: recompute the ledger from its immutable transfers and report every discrepancy.

Checks:
  1. each account's four running totals equal the sums recomputed from wallet.transfers;
  2. per currency, debits equal credits (posted and pending), over the accounts and over the transfers;
  3. no account that may not go negative (every player account) has a negative available balance;
  4. every transfer is in the currency of both its accounts, and both accounts belong to one brand;
  5. hold resolutions match their hold (accounts, amount not above it, only holds resolved);
  6. reversals mirror the transfer they reverse (accounts swapped, same amount) and reverse only money movements;
  7. every transfer belongs to an acknowledged request (an idempotency record);
  8. every account, hold and reversed transfer a transfer refers to exists;
  9. every transfer has exactly one event (in wallet.outbox, or named by wallet.transfer_events), and every event of
     a transfer names one that exists.
"""

from dataclasses import dataclass, field
from typing import Any

from croupier.kit.db import Database


@dataclass
class Discrepancy:
    check: str
    detail: str
    subject: str


@dataclass
class VerifyReport:
    accounts: int = 0
    transfers: int = 0
    currencies: dict[str, dict[str, int]] = field(default_factory=dict)
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.discrepancies

    def as_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "accounts": self.accounts,
            "transfers": self.transfers,
            "currencies": self.currencies,
            "discrepancies": [d.__dict__ for d in self.discrepancies],
        }


_RECOMPUTED = """
WITH legs AS (
    SELECT debit_account_id AS account_id, amount AS dp, 0::numeric AS cp, 0::numeric AS dq, 0::numeric AS cq
        FROM wallet.transfers WHERE kind IN ('transfer', 'hold_post')
    UNION ALL
    SELECT credit_account_id, 0, amount, 0, 0 FROM wallet.transfers WHERE kind IN ('transfer', 'hold_post')
    UNION ALL
    SELECT h.debit_account_id, 0, 0, h.amount, 0 FROM wallet.transfers h
        WHERE h.kind = 'hold' AND NOT EXISTS (SELECT 1 FROM wallet.transfers r WHERE r.hold_id = h.id)
    UNION ALL
    SELECT h.credit_account_id, 0, 0, 0, h.amount FROM wallet.transfers h
        WHERE h.kind = 'hold' AND NOT EXISTS (SELECT 1 FROM wallet.transfers r WHERE r.hold_id = h.id)
), sums AS (
    SELECT account_id, sum(dp) AS dp, sum(cp) AS cp, sum(dq) AS dq, sum(cq) AS cq FROM legs GROUP BY account_id
)
SELECT a.id, a.owner_type, a.currency, a.allow_negative,
       a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
       coalesce(s.dp, 0) AS r_dp, coalesce(s.cp, 0) AS r_cp, coalesce(s.dq, 0) AS r_dq, coalesce(s.cq, 0) AS r_cq
FROM wallet.accounts a LEFT JOIN sums s ON s.account_id = a.id
"""

_FOREIGN_ACCOUNT_OR_CURRENCY = """
SELECT t.id, t.currency, d.currency AS debit_currency, c.currency AS credit_currency,
       d.brand_id AS debit_brand, c.brand_id AS credit_brand, t.brand_id
FROM wallet.transfers t
JOIN wallet.accounts d ON d.id = t.debit_account_id
JOIN wallet.accounts c ON c.id = t.credit_account_id
WHERE t.currency <> d.currency OR t.currency <> c.currency OR d.brand_id <> c.brand_id OR t.brand_id <> d.brand_id
"""

_BAD_RESOLUTIONS = """
SELECT r.id, r.kind, r.amount, h.id AS hold_id, h.kind AS hold_kind, h.amount AS hold_amount
FROM wallet.transfers r JOIN wallet.transfers h ON h.id = r.hold_id
WHERE h.kind <> 'hold'
   OR r.debit_account_id <> h.debit_account_id OR r.credit_account_id <> h.credit_account_id
   OR r.currency <> h.currency
   OR (r.kind = 'hold_post' AND r.amount > h.amount)
   OR (r.kind IN ('hold_void', 'hold_expiry') AND r.amount <> h.amount)
"""

_BAD_REVERSALS = """
SELECT v.id, o.id AS original_id, o.kind AS original_kind
FROM wallet.transfers v JOIN wallet.transfers o ON o.id = v.reverses_id
WHERE o.kind NOT IN ('transfer', 'hold_post') OR o.reverses_id IS NOT NULL
   OR v.debit_account_id <> o.credit_account_id OR v.credit_account_id <> o.debit_account_id
   OR v.amount <> o.amount OR v.currency <> o.currency
"""

_UNACKNOWLEDGED = """
SELECT t.id, t.request_key FROM wallet.transfers t
WHERE NOT EXISTS (SELECT 1 FROM wallet.requests q WHERE q.key = t.request_key AND q.kind <> 'tombstone')
LIMIT 1000
"""

_DANGLING_REFERENCES = """
SELECT t.id, 'account' AS missing FROM wallet.transfers t
WHERE NOT EXISTS (SELECT 1 FROM wallet.accounts a WHERE a.id = t.debit_account_id)
   OR NOT EXISTS (SELECT 1 FROM wallet.accounts a WHERE a.id = t.credit_account_id)
UNION ALL
SELECT t.id, 'hold' FROM wallet.transfers t
WHERE t.hold_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM wallet.transfers h WHERE h.id = t.hold_id)
UNION ALL
SELECT t.id, 'reversed transfer' FROM wallet.transfers t
WHERE t.reverses_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM wallet.transfers o WHERE o.id = t.reverses_id)
LIMIT 1000
"""

_TRANSFER_EVENTS = """
WITH named AS (
    SELECT unnest(transfer_ids) AS id FROM wallet.transfer_events
    UNION ALL
    SELECT (payload->>'id')::uuid FROM wallet.outbox
    WHERE type IN ('wallet.transfer.committed', 'wallet.hold.created', 'wallet.hold.posted', 'wallet.hold.voided',
                   'wallet.hold.expired')
), counted AS (
    SELECT id, count(*) AS events FROM named GROUP BY id
)
SELECT coalesce(t.id, c.id) AS id, coalesce(c.events, 0) AS events, t.id IS NULL AS no_transfer
FROM wallet.transfers t FULL JOIN counted c ON c.id = t.id
WHERE t.id IS NULL OR c.events IS DISTINCT FROM 1
LIMIT 1000
"""

_TRANSFER_TOTALS = """
SELECT currency,
       count(*) AS transfers,
       coalesce(sum(amount) FILTER (WHERE kind IN ('transfer', 'hold_post')), 0) AS moved
FROM wallet.transfers GROUP BY currency
"""


async def verify_ledger(db: Database) -> VerifyReport:
    report = VerifyReport()
    problems = report.discrepancies
    # One snapshot for every check, so a ledger in use is verified as of one instant.
    async with db.connection() as connection, connection.transaction(isolation="repeatable_read", readonly=True):
        per_currency: dict[str, dict[str, int]] = {}
        for row in await connection.fetch(_RECOMPUTED):
            report.accounts += 1
            stored = (row["debits_posted"], row["credits_posted"], row["debits_pending"], row["credits_pending"])
            recomputed = (int(row["r_dp"]), int(row["r_cp"]), int(row["r_dq"]), int(row["r_cq"]))
            if stored != recomputed:
                problems.append(
                    Discrepancy(
                        "balance_matches_transfers",
                        f"stored (debits_posted, credits_posted, debits_pending, credits_pending) = {stored}, "
                        f"recomputed from transfers = {recomputed}",
                        str(row["id"]),
                    )
                )
            available = recomputed[1] - recomputed[0] - recomputed[2]
            if not row["allow_negative"] and available < 0:
                problems.append(
                    Discrepancy(
                        "no_negative_balance",
                        f"{row['owner_type']} account may not go negative but has {available} available",
                        str(row["id"]),
                    )
                )
            totals = per_currency.setdefault(
                row["currency"],
                {"debits_posted": 0, "credits_posted": 0, "debits_pending": 0, "credits_pending": 0},
            )
            totals["debits_posted"] += stored[0]
            totals["credits_posted"] += stored[1]
            totals["debits_pending"] += stored[2]
            totals["credits_pending"] += stored[3]
        for currency, totals in sorted(per_currency.items()):
            if totals["debits_posted"] != totals["credits_posted"]:
                problems.append(
                    Discrepancy(
                        "debits_equal_credits",
                        f"posted debits {totals['debits_posted']} != posted credits {totals['credits_posted']}",
                        currency,
                    )
                )
            if totals["debits_pending"] != totals["credits_pending"]:
                problems.append(
                    Discrepancy(
                        "debits_equal_credits",
                        f"pending debits {totals['debits_pending']} != pending credits {totals['credits_pending']}",
                        currency,
                    )
                )
        for row in await connection.fetch(_TRANSFER_TOTALS):
            report.transfers += row["transfers"]
            entry = per_currency.setdefault(row["currency"], {})
            entry["transfers"] = row["transfers"]
            entry["moved"] = int(row["moved"])
            if entry.get("debits_posted", 0) != int(row["moved"]):
                problems.append(
                    Discrepancy(
                        "debits_equal_credits",
                        f"money moved by transfers {int(row['moved'])} != posted debits of the accounts "
                        f"{entry.get('debits_posted', 0)}",
                        row["currency"],
                    )
                )
        report.currencies = per_currency
        for row in await connection.fetch(_FOREIGN_ACCOUNT_OR_CURRENCY):
            problems.append(
                Discrepancy(
                    "transfer_matches_accounts",
                    f"transfer in {row['currency']} (brand {row['brand_id']}) between a {row['debit_currency']} "
                    f"account of brand {row['debit_brand']} and a {row['credit_currency']} account of brand "
                    f"{row['credit_brand']}",
                    str(row["id"]),
                )
            )
        for row in await connection.fetch(_DANGLING_REFERENCES):
            problems.append(
                Discrepancy("references_exist", f"refers to a {row['missing']} that does not exist", str(row["id"]))
            )
        for row in await connection.fetch(_BAD_RESOLUTIONS):
            problems.append(
                Discrepancy(
                    "hold_resolution_matches_hold",
                    f"{row['kind']} of {row['amount']} does not match {row['hold_kind']} {row['hold_id']} "
                    f"of {row['hold_amount']}",
                    str(row["id"]),
                )
            )
        for row in await connection.fetch(_BAD_REVERSALS):
            problems.append(
                Discrepancy(
                    "reversal_mirrors_original",
                    f"does not mirror {row['original_kind']} {row['original_id']}",
                    str(row["id"]),
                )
            )
        for row in await connection.fetch(_UNACKNOWLEDGED):
            problems.append(
                Discrepancy(
                    "transfer_has_request",
                    f"no idempotency record for key {row['request_key']!r}",
                    str(row["id"]),
                )
            )
        for row in await connection.fetch(_TRANSFER_EVENTS):
            problems.append(
                Discrepancy(
                    "transfer_has_one_event",
                    "an event names this transfer, which does not exist"
                    if row["no_transfer"]
                    else f"{row['events']} events instead of exactly one",
                    str(row["id"]),
                )
            )
    return report
