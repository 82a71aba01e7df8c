"""The compliance service: the gate (every verdict logged), limits with cooling-off, time-outs and self-exclusions,
reality checks, and the decision log's queries.

Caching (docs/adr/0006-compliance-gate-cache-and-activity.md): a player's limits and exclusions are kept in memory,
because the gate reads them on every bet, together with the player's version counter as it was when they were read.
Every change raises the counter in its own transaction, and the gate writes its decision only if the counter is
still the one its cached rules were read at (in the decision's INSERT itself). If it changed, nothing is written, the
entry is dropped and the gate decides again from the database. So a cached entry can never make the gate allow what
the database would deny, in this process or any other, and the check costs no extra round trip. Time-dependent rules
(a pending raise reaching its effective time, an exclusion ending) are evaluated at decision time, never cached.
Activity sums are not cached: they are read after catching up with the wallet's event feed.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from croupier.compliance import repository, rules
from croupier.compliance.activity import ActivityProjector, hour_of
from croupier.compliance.client import ACTIONS, REASONS, Action, RegistrationFacts, Verdict
from croupier.compliance.controls import PlayerControls
from croupier.compliance.ports import (
    CountryResolver,
    ExclusionRegister,
    NoExclusionRegister,
    PlayerDirectory,
    PlayerFacts,
)
from croupier.kit.clock import Clock, system_clock
from croupier.kit.db import Database
from croupier.kit.ids import uuid7
from croupier.wallet.client import WalletClient

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Cached:
    limits: list[rules.Limit]
    exclusions: list[rules.Exclusion]
    version: int
    loaded_at: float


class ComplianceService(PlayerControls):
    def __init__(
        self,
        db: Database,
        directory: PlayerDirectory,
        wallet: WalletClient,
        *,
        clock: Clock = system_clock,
        country_of: CountryResolver | None = None,
        register: ExclusionRegister | None = None,
        cache_seconds: float = 30.0,
    ) -> None:
        self.db = db
        self.directory = directory
        self.clock = clock
        self.country_of = country_of
        self.register: ExclusionRegister = register or NoExclusionRegister()
        self.activity = ActivityProjector(db, wallet, clock)
        self._wallet = wallet
        self._cache: dict[str, _Cached] = {}
        self._cache_seconds = cache_seconds
        self.cache_hits = 0
        self.stale_retries = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._cache.clear()
        close = getattr(self.register, "aclose", None)
        if close is not None:
            await close()

    # -- the gate -------------------------------------------------------------------------------------------------

    async def check(
        self,
        player_id: str | None,
        action: Action,
        amount: int | None = None,
        context: dict[str, Any] | None = None,
        *,
        registration: RegistrationFacts | None = None,
    ) -> Verdict:
        """Decide an action and log the verdict. Fails closed: if anything is unavailable, deny gate_unavailable."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        context = dict(context or {})
        for attempt in range(3):
            # The last attempt reads fresh rules and logs whatever they say (a change racing it is concurrent).
            verdict, logged = await self._check_once(
                player_id, action, amount, context, registration, fresh=attempt > 0, last=attempt == 2
            )
            if logged is not False:
                return verdict
            self.stale_retries += 1  # the player's rules changed since they were cached: decide again, from the DB
        raise AssertionError("unreachable: the last attempt always logs")

    async def _check_once(
        self,
        player_id: str | None,
        action: Action,
        amount: int | None,
        context: dict[str, Any],
        registration: RegistrationFacts | None,
        *,
        fresh: bool,
        last: bool,
    ) -> tuple[Verdict, bool | None]:
        """One decision and its log entry. Second value: False if the cached rules were stale (nothing logged)."""
        now = self.clock()
        inputs: dict[str, Any] = {"context": context}
        brand_id = registration.brand_id if registration else ""
        seen_version: int | None = None
        try:
            if fresh and player_id is not None:
                self._evict(player_id)
            denial, brand_id, seen_version = await self._decide(
                player_id, action, amount, context, registration, now, inputs
            )
        except Exception as error:  # the gate cannot decide: never allow money to move on a guess
            logger.exception("compliance gate could not decide %s for %s", action, player_id)
            inputs["error"] = type(error).__name__
            denial = rules.Denial("gate_unavailable", "availability", "the compliance gate could not decide")
            seen_version = None
        verdict = Verdict(
            allowed=denial is None,
            reason="allowed" if denial is None else denial.reason,
            decision_id=uuid7(),
            rule="all" if denial is None else denial.rule,
            rule_version=1 if denial is None else rules.RULE_VERSIONS[denial.rule],
            detail=REASONS["allowed"] if denial is None else denial.detail,
            facts={} if denial is None else denial.facts,
        )
        try:
            async with self.db.connection() as connection:
                logged = await repository.insert_decision(
                    connection,
                    {
                        "id": verdict.decision_id,
                        "player_id": player_id,
                        "brand_id": brand_id,
                        "action": action,
                        "amount": amount,
                        "allowed": verdict.allowed,
                        "reason": verdict.reason,
                        "rule": verdict.rule,
                        "rule_version": verdict.rule_version,
                        "inputs": {**inputs, "facts": verdict.facts, "detail": verdict.detail},
                        "decided_at": now,
                    },
                    None if last else seen_version,
                )
        except Exception:
            # A verdict that is not in the log did not happen: an allow becomes a deny.
            logger.exception("compliance decision %s could not be logged", verdict.decision_id)
            unavailable = Verdict(
                False,
                "gate_unavailable",
                verdict.decision_id,
                "availability",
                rules.RULE_VERSIONS["availability"],
                "the decision could not be recorded, so the action is refused",
            )
            return (unavailable if verdict.allowed else verdict), None
        return verdict, logged

    async def _decide(
        self,
        player_id: str | None,
        action: Action,
        amount: int | None,
        context: dict[str, Any],
        registration: RegistrationFacts | None,
        now: datetime,
        inputs: dict[str, Any],
    ) -> tuple[rules.Denial | None, str, int | None]:
        """The first rule that denies (None: allowed), the brand, and the rules' version the decision rests on."""
        denial, brand_id, version = await self._decide_inner(
            player_id, action, amount, context, registration, now, inputs
        )
        return denial, brand_id, version

    async def _decide_inner(
        self,
        player_id: str | None,
        action: Action,
        amount: int | None,
        context: dict[str, Any],
        registration: RegistrationFacts | None,
        now: datetime,
        inputs: dict[str, Any],
    ) -> tuple[rules.Denial | None, str, int | None]:
        ip_country = self._ip_country(context.get("ip"))
        inputs["ip_country"] = ip_country
        if action == "register":
            if registration is None:
                raise ValueError("register needs the registration facts")
            return await self._decide_registration(registration, ip_country, now, inputs), registration.brand_id, None
        if player_id is None:
            raise ValueError(f"{action} needs a player")
        player = await self.directory.player(player_id)
        if player is None:
            return rules.Denial("player_not_found", "player_status", f"no player {player_id}"), "", None
        brand = await self.directory.brand(player.brand_id)
        if brand is None:
            raise LookupError(f"brand {player.brand_id} of player {player_id} not found")
        inputs["player"] = {"kyc_status": player.kyc_status, "status": player.status, "country": player.country}
        if player.status != "active":
            blocked = rules.Denial("player_blocked", "player_status", f"the player's account is {player.status}")
            return blocked, brand.id, None
        cached = await self._player_rules(player_id)
        version = cached.version
        inputs["rules_version"] = version
        if action == "login":
            denial = rules.check_exclusion(cached.exclusions, now)
            if denial is None:
                denial = await self._external_register(player, brand.register_unreachable_policy_login, inputs)
            return denial, brand.id, version
        if action == "withdraw":  # exclusions and geo never stop a player taking their money out
            return (
                rules.check_kyc(
                    "withdraw",
                    player.kyc_status,
                    amount,
                    required_for_deposit=brand.kyc_required_for_deposit,
                    deposit_threshold=brand.kyc_deposit_threshold,
                    required_for_withdrawal=brand.kyc_required_for_withdrawal,
                ),
                brand.id,
                version,
            )
        # deposit and bet
        if amount is None or amount <= 0:
            raise ValueError(f"{action} needs a positive amount")
        denial = (
            rules.check_exclusion(cached.exclusions, now)
            or rules.check_country(player.country, brand.allowed_countries, brand.denied_countries, source="declared")
            or rules.check_country(ip_country, brand.allowed_countries, brand.denied_countries, source="ip")
        )
        if denial is None and action == "deposit":
            denial = rules.check_kyc(
                "deposit",
                player.kyc_status,
                amount,
                required_for_deposit=brand.kyc_required_for_deposit,
                deposit_threshold=brand.kyc_deposit_threshold,
                required_for_withdrawal=brand.kyc_required_for_withdrawal,
            )
        if denial is not None:
            return denial, brand.id, version
        if action == "bet":
            session_id = context.get("session_id")
            started = await self.directory.session_started_at(str(session_id)) if session_id else None
            denial = rules.check_session_time(cached.limits, started, now)
            if denial is not None:
                return denial, brand.id, version
        if not any(limit.kind in ("deposit", "wager", "loss") for limit in cached.limits):
            return None, brand.id, version
        await self.activity.catch_up()
        async with self.db.connection() as connection:
            windows = await repository.activity_windows(connection, player_id, window_starts(now))
        inputs["activity"] = {period: vars_of(activity) for period, activity in windows.items()}
        inputs["limits"] = [vars_of(limit) for limit in cached.limits]
        if action == "deposit":
            return rules.check_money_limits("deposit", cached.limits, windows, amount, now), brand.id, version
        denial = rules.check_money_limits("wager", cached.limits, windows, amount, now) or rules.check_money_limits(
            "loss", cached.limits, windows, amount, now
        )
        return denial, brand.id, version

    async def _decide_registration(
        self, facts: RegistrationFacts, ip_country: str | None, now: datetime, inputs: dict[str, Any]
    ) -> rules.Denial | None:
        brand = await self.directory.brand(facts.brand_id)
        if brand is None:
            return rules.Denial("player_not_found", "player_status", f"no brand {facts.brand_id}")
        inputs["registration"] = {
            "country": facts.country,
            "currency": facts.currency,
            "date_of_birth": facts.date_of_birth.isoformat(),
        }
        denial = (
            rules.check_age(facts.date_of_birth, now.date(), brand.min_age)
            or rules.check_country(facts.country, brand.allowed_countries, brand.denied_countries, source="declared")
            or rules.check_country(ip_country, brand.allowed_countries, brand.denied_countries, source="ip")
        )
        if denial is None and brand.allowed_currencies and facts.currency not in brand.allowed_currencies:
            denial = rules.Denial("currency_not_allowed", "currency", f"this brand does not offer {facts.currency}")
        if denial is None:
            denial = await self._external_register(facts, brand.register_unreachable_policy_registration, inputs)
        return denial

    async def _external_register(
        self, person: RegistrationFacts | PlayerFacts, policy: str, inputs: dict[str, Any]
    ) -> rules.Denial | None:
        status, detail = await self.register.status(person)
        inputs["register"] = {"status": status, "detail": detail, "policy_when_unavailable": policy}
        if status == "excluded":
            return rules.Denial(
                "external_self_exclusion", "external_register", "the national self-exclusion register lists them"
            )
        if status == "unavailable" and policy == "deny":
            return rules.Denial(
                "register_unavailable",
                "external_register",
                f"the self-exclusion register could not be reached ({detail}); this brand fails closed",
            )
        return None

    def _ip_country(self, ip: Any) -> str | None:
        if not ip or self.country_of is None:
            return None
        try:
            return self.country_of(str(ip))
        except ValueError:
            return None

    # -- the cache ------------------------------------------------------------------------------------------------

    async def _player_rules(self, player_id: str) -> _Cached:
        cached = self._cache.get(player_id)
        if cached is not None and time.monotonic() - cached.loaded_at < self._cache_seconds:
            self.cache_hits += 1
            return cached
        async with self.db.connection() as connection, connection.transaction(isolation="repeatable_read"):
            # One snapshot: the version counter matches the rows read with it.
            version = await repository.player_version(connection, player_id)
            limits = await repository.load_limits(connection, player_id)
            exclusions = await repository.load_exclusions(connection, player_id)
        fresh = _Cached(limits, exclusions, version, time.monotonic())
        self._cache[player_id] = fresh
        return fresh

    def _evict(self, player_id: str) -> None:
        self._cache.pop(player_id, None)

    # -- the decision log -----------------------------------------------------------------------------------------

    async def decisions(
        self,
        *,
        player_id: str | None,
        since: datetime | None,
        until: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> dict[str, Any]:
        before = decode_decision_cursor(cursor)
        async with self.db.connection() as connection:
            rows = await repository.list_decisions(
                connection, player_id=player_id, since=since, until=until, before=before, limit=limit + 1
            )
        items = [dict(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = f"{last['decided_at'].isoformat()}|{last['id']}"
        return {"items": items, "next_cursor": next_cursor}


def window_starts(now: datetime) -> dict[str, datetime]:
    """Each window starts at the hour that contains `now - period`: never shorter than the period (never lenient)."""
    return {period: hour_of(now - timedelta(hours=hours)) for period, hours in rules.PERIOD_HOURS.items()}


def vars_of(value: Any) -> dict[str, Any]:
    out = {}
    for name in value.__slots__:
        item = getattr(value, name)
        out[name] = item.isoformat() if isinstance(item, datetime) else item
    return out


def decode_decision_cursor(cursor: str | None) -> tuple[datetime, Any] | None:
    if not cursor:
        return None

    from croupier.kit.errors import ValidationFailed

    try:
        moment, _, decision_id = cursor.partition("|")
        return datetime.fromisoformat(moment), UUID(decision_id)
    except ValueError as error:
        raise ValidationFailed("cursor is not one this API returned") from error
