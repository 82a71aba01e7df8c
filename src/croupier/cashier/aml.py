"""Anti-money-laundering checks on a withdrawal. Each rule's verdict (pass or review) is logged in
cashier.aml_checks; any `review` sends the withdrawal to the manual approval queue, whatever its amount.

Rules (thresholds per brand would come from the brand's AML policy; these are the common defaults):
- `low_turnover`: the player wagered less than the deposits of the last 30 days (deposit, barely play, withdraw
  is the classic way to launder money through a casino).
- `velocity`: more than 3 withdrawals in 24 hours.
- `cumulative_deposits`: 30-day deposits at or over the enhanced-due-diligence threshold (EUR 2,000 equivalent
  by default) while the player's identity is not verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from croupier.cashier import repository
from croupier.cashier.core import Context
from croupier.kit.ids import uuid7

WINDOW = timedelta(days=30)
VELOCITY_WINDOW, VELOCITY_LIMIT = timedelta(hours=24), 3
#: Enhanced due diligence threshold per currency (minor units); other currencies use none.
EDD_THRESHOLDS = {"EUR": 200_000, "GBP": 200_000, "USD": 200_000, "CAD": 300_000, "AUD": 300_000, "BRL": 1_200_000}
MAX_PAGES = 20


@dataclass(frozen=True, slots=True)
class AmlVerdict:
    rule: str
    verdict: str  # pass | review
    facts: dict[str, Any]


async def check_withdrawal(context: Context, payment: dict[str, Any], kyc_status: str) -> list[AmlVerdict]:
    now = context.clock()
    deposited, wagered = await _activity(context, payment["wallet_account_id"], now - WINDOW)
    verdicts = [
        AmlVerdict(
            "low_turnover",
            "review" if deposited > 0 and wagered < deposited else "pass",
            {"deposited_30d": deposited, "wagered_30d": wagered},
        )
    ]
    async with context.db.connection() as connection:
        recent = await repository.recent_withdrawals(connection, payment["player_id"], now - VELOCITY_WINDOW)
    verdicts.append(
        AmlVerdict("velocity", "review" if recent > VELOCITY_LIMIT else "pass", {"withdrawals_24h": recent, "limit": 3})
    )
    threshold = EDD_THRESHOLDS.get(payment["wallet_currency"])
    over = threshold is not None and deposited >= threshold and kyc_status != "verified"
    verdicts.append(
        AmlVerdict(
            "cumulative_deposits",
            "review" if over else "pass",
            {"deposited_30d": deposited, "threshold": threshold, "kyc_status": kyc_status},
        )
    )
    async with context.db.connection() as connection:
        await repository.log_aml(
            connection, [(uuid7(), payment["id"], v.rule, v.verdict, v.facts, now) for v in verdicts]
        )
    return verdicts


async def _activity(context: Context, account_id: UUID, since: datetime) -> tuple[int, int]:
    """Deposits credited to and bets debited from the player's account since `since`, read from the ledger."""
    deposited = wagered = 0
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await context.wallet.list_transfers(account_id=account_id, cursor=cursor, limit=500)
        for transfer in page.items:
            if transfer.created_at < since:
                return deposited, wagered
            if transfer.type == "deposit" and transfer.credit_account_id == account_id:
                deposited += transfer.amount
            elif transfer.type == "bet" and transfer.debit_account_id == account_id and transfer.kind == "transfer":
                wagered += transfer.amount
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return deposited, wagered
