"""What players control (and back-office users read): limits with cooling-off, time-outs and self-exclusions,
reality checks. Every change raises the player's rules version in its own transaction, so the gate's cache can
never outlive it (docs/adr/0006-compliance-gate-cache-and-activity.md), and writes its event to the outbox.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from croupier.compliance import repository, rules
from croupier.compliance.errors import ExclusionNotAllowed, LimitNotValid, PlayerUnknown
from croupier.compliance.ports import PlayerDirectory, PlayerFacts
from croupier.kit.clock import Clock
from croupier.kit.db import Database
from croupier.kit.ids import uuid7
from croupier.kit.outbox import Event
from croupier.kit.tracing import current_trace_id
from croupier.wallet.client import WalletClient


class PlayerControls:
    """The player's own settings. The gate (ComplianceService) extends it with decisions and their log."""

    db: Database
    directory: PlayerDirectory
    clock: Clock
    _wallet: WalletClient

    def _evict(self, player_id: str) -> None:
        """Drop the player's cached rules (the gate caches them)."""

    # -- limits ---------------------------------------------------------------------------------------------------

    async def get_limits(self, player_id: str) -> list[dict[str, Any]]:
        now = self.clock()
        async with self.db.connection() as connection:
            limits = await repository.load_limits(connection, player_id)
        return [limit_out(limit, now) for limit in limits]

    async def set_limit(self, player_id: str, kind: str, period: str, amount: int | None) -> dict[str, Any]:
        """Set (amount) or remove (None) a limit. Lowering applies at once; raising or removing after cooling-off."""
        if kind not in rules.LIMIT_KINDS:
            raise LimitNotValid(f"unknown limit kind {kind!r}", kind=kind)
        if (kind == "session_time") != (period == "session") or (
            period not in rules.MONEY_PERIODS and period != "session"
        ):
            raise LimitNotValid(
                "session_time limits have period 'session'; money limits have day, week or month", period=period
            )
        if amount is not None and amount <= 0:
            raise LimitNotValid("a limit must be a positive amount (or removed)", amount=amount)
        player = await self._player(player_id)
        brand = await self.directory.brand(player.brand_id)
        cooling_off = timedelta(hours=brand.cooling_off_hours if brand else 24)
        now = self.clock()
        async with self.db.transaction() as connection:
            record = await repository.lock_limit(connection, player_id, kind, period)
            current = (
                rules.Limit(kind, period, *record).effective(now) if record is not None else None
            )  # what is in force now
            tighter = amount is not None and (current is None or amount <= current)
            values: dict[str, Any] = {
                "player_id": player_id,
                "brand_id": player.brand_id,
                "kind": kind,
                "period": period,
                "currency": None if kind == "session_time" else player.currency,
                "updated_at": now,
            }
            if tighter:
                values.update(amount=amount, pending_amount=None, pending_removal=False, pending_effective_at=None)
                effective_at = now
            elif current is None:  # removing a limit that is not in force: nothing to wait for
                values.update(amount=None, pending_amount=None, pending_removal=False, pending_effective_at=None)
                effective_at = now
            else:
                effective_at = now + cooling_off
                values.update(
                    amount=current,
                    pending_amount=amount,
                    pending_removal=amount is None,
                    pending_effective_at=effective_at,
                )
            if values["amount"] is None and not values["pending_removal"]:
                await repository.delete_limit(connection, player_id, kind, period)
            else:
                await repository.save_limit(connection, values)
            await repository.record_limit_change(
                connection,
                {
                    "id": uuid7(),
                    "player_id": player_id,
                    "kind": kind,
                    "period": period,
                    "old_amount": current,
                    "new_amount": amount,
                    "effective_at": effective_at,
                    "immediate": effective_at == now,
                    "requested_at": now,
                },
            )
            result = {
                "kind": kind,
                "period": period,
                "requested": amount,
                "in_force": values["amount"],
                "effective_at": effective_at,
                "immediate": effective_at == now,
            }
            await repository.write_compliance_events(
                connection,
                [
                    Event(
                        "compliance.limit.changed",
                        {"player_id": player_id, **result, "effective_at": effective_at.isoformat()},
                        now,
                        brand_id=player.brand_id,
                        trace_id=current_trace_id.get(),
                    )
                ],
            )
            await repository.bump_player_version(connection, player_id)
        self._evict(player_id)
        return result

    # -- time-outs and self-exclusions ------------------------------------------------------------------------------

    async def exclude(
        self,
        player_id: str,
        kind: str,
        *,
        hours: int | None = None,
        months: int | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        now = self.clock()
        if kind == "timeout":
            if hours is None or not rules.TIMEOUT_MIN <= timedelta(hours=hours) <= rules.TIMEOUT_MAX:
                raise ExclusionNotAllowed("a time-out lasts from 24 hours to 6 weeks (24 to 1008 hours)", hours=hours)
            ends_at = now + timedelta(hours=hours)
        elif kind == "self_exclusion":
            if months is None or not rules.SELF_EXCLUSION_MIN_MONTHS <= months <= rules.SELF_EXCLUSION_MAX_MONTHS:
                raise ExclusionNotAllowed("a self-exclusion lasts from 6 months to 5 years (6 to 60 months)")
            ends_at = rules.months_later(now, months)
        else:
            raise ExclusionNotAllowed(f"unknown exclusion kind {kind!r}")
        player = await self._player(player_id)
        exclusion_id = uuid7()
        async with self.db.transaction() as connection:
            await repository.insert_exclusion(
                connection,
                {
                    "id": exclusion_id,
                    "player_id": player_id,
                    "brand_id": player.brand_id,
                    "kind": kind,
                    "starts_at": now,
                    "ends_at": ends_at,
                    "reason": reason,
                    "created_at": now,
                },
            )
            await repository.write_compliance_events(
                connection,
                [
                    Event(
                        "compliance.exclusion.started",
                        {
                            "player_id": player_id,
                            "kind": kind,
                            "starts_at": now.isoformat(),
                            "ends_at": ends_at.isoformat(),
                        },
                        now,
                        brand_id=player.brand_id,
                        trace_id=current_trace_id.get(),
                    )
                ],
            )
            await repository.bump_player_version(connection, player_id)
        self._evict(player_id)
        return {"id": exclusion_id, "kind": kind, "starts_at": now, "ends_at": ends_at}

    async def get_exclusions(self, player_id: str) -> list[dict[str, Any]]:
        now = self.clock()
        async with self.db.connection() as connection:
            exclusions = await repository.load_exclusions(connection, player_id)
        return [
            {"kind": e.kind, "starts_at": e.starts_at, "ends_at": e.ends_at, "active": e.active(now)}
            for e in exclusions
        ]

    # -- reality checks -------------------------------------------------------------------------------------------

    async def set_reality_check(self, player_id: str, minutes: int) -> dict[str, Any]:
        if not 5 <= minutes <= 1440:
            raise LimitNotValid("a reality-check interval is 5 to 1440 minutes", interval_minutes=minutes)
        await self._player(player_id)
        async with self.db.connection() as connection:
            await repository.set_reality_check_interval(connection, player_id, minutes, self.clock())
        return {"interval_minutes": minutes}

    async def reality_check(self, player_id: str, session_started_at: datetime) -> dict[str, Any]:
        """When the next reminder is due and what it shows: time played and net result of this session."""
        player = await self._player(player_id)
        brand = await self.directory.brand(player.brand_id)
        async with self.db.connection() as connection:
            interval = await repository.reality_check_interval(connection, player_id)
        minutes = interval if interval is not None else (brand.reality_check_minutes if brand else 60)
        now = self.clock()
        played = max(now - session_started_at, timedelta(0))
        due = None
        if minutes > 0:  # a brand may have no reality checks (0); a player's own interval is at least 5 minutes
            step = timedelta(minutes=minutes)
            due = session_started_at + step * (int(played / step) + 1)
        wagered = won = 0
        if player.wallet_account_id:
            wagered, won = await self._session_result(player.wallet_account_id, session_started_at)
        return {
            "interval_minutes": minutes,
            "session_started_at": session_started_at,
            "next_due_at": due,
            "time_played_seconds": int(played.total_seconds()),
            "wagered": wagered,
            "won": won,
            "net_result": won - wagered,
            "currency": player.currency,
        }

    async def _session_result(self, account_id: str, since: datetime) -> tuple[int, int]:
        """Wagered and won on the player's account since `since`, from the wallet (not from the client).

        A reversed bet or win does not count (the stake came back, the win was taken back).
        """
        wagered = won = 0
        account = UUID(account_id)
        reversed_ids: set[UUID] = set()
        seen: list[Any] = []
        cursor = None
        for _ in range(50):  # at most 50 pages of 500 transfers: a very long session is summarised approximately
            page = await self._wallet.list_transfers(account_id=account, cursor=cursor, limit=500)
            done = False
            for transfer in page.items:  # newest first: a reversal comes before what it reverses
                if transfer.reverses_id is not None:
                    reversed_ids.add(transfer.reverses_id)
                if transfer.created_at < since:
                    done = True
                    break
                seen.append(transfer)
            if done or page.next_cursor is None:
                break
            cursor = page.next_cursor
        for transfer in seen:
            if transfer.id in reversed_ids or transfer.reverses_id is not None:
                continue
            if transfer.type == "bet" and transfer.debit_account_id == account:
                wagered += transfer.amount
            elif transfer.type == "win" and transfer.credit_account_id == account:
                won += transfer.amount
        return wagered, won

    async def _player(self, player_id: str) -> PlayerFacts:
        player = await self.directory.player(player_id)
        if player is None:
            raise PlayerUnknown(f"no player {player_id}", player_id=player_id)
        return player


def limit_out(limit: rules.Limit, now: datetime) -> dict[str, Any]:
    pending = limit.pending_effective_at is not None and limit.pending_effective_at > now
    return {
        "kind": limit.kind,
        "period": limit.period,
        "amount": limit.effective(now),
        "pending_amount": limit.pending_amount if pending else None,
        "pending_removal": limit.pending_removal if pending else False,
        "pending_effective_at": limit.pending_effective_at if pending else None,
    }
