"""The round lifecycle across the wallet boundary, and the recovery worker that finishes what a fault interrupted.

    open round -> compliance gate -> wallet debit (keyed by the round) -> outcome -> wallet credit -> close

Every change of a round is written to `games.rounds` together with its audit entries, in one transaction, and only
if the round is still in the status and version the writer read (the fence). The live request, a client retrying
with the same request key and the recovery worker can therefore race freely: exactly one of them moves the round
on, and every wallet call is idempotent by a key derived from the round id.

The rule for an interrupted round (docs/games.md, "Recovery"):
- before its outcome was fixed (status open), it is voided: the stake's key is reversed in the wallet, which either
  refunds a stake that was taken (refunded) or tombstones one that never arrived, so it can never be taken later
  (cancelled);
- once its outcome is fixed (status settling), it is finished: the win is paid with the round's win key;
- a multi-step round the player left (status active, idle longer than `abandon_after`) is finished the way the
  game's rules say (mines cash out, blackjack stands).
A round is thus finished or refunded, never both, and paid at most once.

Extra stakes of multi-step games (blackjack doubles, splits, insurance) are debited before the step is recorded.
Their keys are noted in `pending_stakes` first; when the round settles, any noted key the round did not apply
(a step whose debit went through but which lost the race, or whose process died) is reversed.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from croupier.compliance.client import ComplianceGate, require_allowed
from croupier.games import audit, repository
from croupier.games.config import BrandConfigs
from croupier.games.engine import GameEngine, InvalidGameInput, Progress
from croupier.games.engines import engine as engine_named
from croupier.games.errors import (
    GameUnavailable,
    InvalidGameRequest,
    NoPlayerAccount,
    RoundInterrupted,
    RoundNotActive,
    RoundNotFound,
    RoundRequestConflict,
    StakeOutOfLimits,
    StepConflict,
)
from croupier.games.math.limits import BetLimitError
from croupier.games.rng.seeds import BetSeeds, ServerSeed
from croupier.games.rng.versions import CertifiedSeed, rng_version
from croupier.kit.clock import Clock, system_clock
from croupier.kit.db import Database
from croupier.kit.errors import DomainError
from croupier.kit.ids import uuid7
from croupier.kit.money import CurrencyRegistry
from croupier.wallet.client import (
    AccountNotFound,
    CreateTransferRequest,
    CurrencyMismatch,
    InsufficientFunds,
    OpenAccountRequest,
    ReverseTransferRequest,
    TransferTombstoned,
    WalletClient,
)

logger = logging.getLogger(__name__)

#: Wallet refusals that mean "nothing moved, and nothing will": the round is rejected.
DEFINITE_REFUSALS = (InsufficientFunds, CurrencyMismatch, AccountNotFound)
HOUSE_OWNER, HOUSE_KIND, HOUSE_LABEL = "house", "bankroll", "games"


@dataclass(frozen=True, slots=True)
class PlayerRef:
    player_id: str
    brand_id: str
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class PlayerAccount:
    account_id: UUID
    currency: str


def stake_key(round_id: UUID, step: int | None = None) -> str:
    """The wallet key of the initial stake (step None) or of the extra stake taken by action number `step`."""
    return f"games:round:{round_id}:stake" + ("" if step is None else f":{step}")


def win_key(round_id: UUID) -> str:
    return f"games:round:{round_id}:win"


def void_key(key: str) -> str:
    return f"{key}:void"


class RoundLifecycle:
    def __init__(
        self,
        db: Database,
        wallet: WalletClient,
        gate: ComplianceGate,
        currencies: CurrencyRegistry,
        configs: BrandConfigs,
        ensure_pair: Any,
        *,
        clock: Clock = system_clock,
        stale_after: timedelta = timedelta(seconds=30),
        abandon_after: timedelta = timedelta(hours=24),
    ) -> None:
        self.db = db
        self.wallet = wallet
        self.gate = gate
        self.currencies = currencies
        self.configs = configs
        self._ensure_pair = ensure_pair  # async (player_id, brand_id) -> active pair record
        self.clock = clock
        self.stale_after = stale_after
        self.abandon_after = abandon_after
        self._accounts: dict[str, PlayerAccount] = {}
        self._houses: dict[tuple[str, str], UUID] = {}

    # -- playing ----------------------------------------------------------------------------------------------------

    async def play(
        self, player: PlayerRef, game: str, stake: int, params: dict[str, Any], request_key: str
    ) -> dict[str, Any]:
        """Play a round (single-step games settle at once; multi-step games return the first state)."""
        engine = _engine(game)
        config = await self.configs.get(player.brand_id)
        offered = config.game(game)
        if not offered.enabled:
            raise GameUnavailable(f"{game} is not offered by this brand", game=game)
        settings = config.normalised.get(game)
        if settings is None:  # validated once per configuration load, not per round
            settings = config.normalised[game] = _checked(lambda: engine.check_settings(offered.settings or {}))
        account = await self.player_account(player)
        currency = self.currencies.get(account.currency)
        limits = config.limits_for(game, currency)
        try:
            limits.check_stake(stake)
        except BetLimitError as error:
            raise StakeOutOfLimits(
                str(error), min_stake=limits.min_stake, max_stake=limits.max_stake, currency=currency.code
            ) from None
        normalised = _checked(lambda: engine.check_params(params, stake, settings))

        existing = await self._by_request(player.player_id, request_key)
        if existing is not None:
            return await self._replayed(existing, game, stake, normalised)

        round_id = uuid7()
        verdict = await require_allowed(
            self.gate,
            player.player_id,
            "bet",
            stake,
            {"ip": player.ip, "game": game, "round_id": str(round_id), "currency": currency.code},
        )
        house = await self._house(player.brand_id, currency.code)
        round_ = {
            "id": round_id,
            "player_id": player.player_id,
            "brand_id": player.brand_id,
            "request_key": request_key,
            "game": game,
            "currency": currency.code,
            "stake": stake,
            "params": normalised,
            "settings": settings,
            "max_win": limits.max_win,
            "rng_version": config.rng_version,
            "player_account_id": account.account_id,
            "house_account_id": house,
        }
        record = await self._open(round_, verdict.decision_id)
        if record is None:  # the same request key won a race with this request
            existing = await self._by_request(player.player_id, request_key)
            assert existing is not None
            return await self._replayed(existing, game, stake, normalised)
        return await self._drive(record[0], engine, record[1])

    async def step(self, player: PlayerRef, round_id: UUID, step: int, action: dict[str, Any]) -> dict[str, Any]:
        """Take the player's action number `step` (0 for the first) in a multi-step round."""
        record = await self._own_round(player, round_id)
        engine = _engine(record["game"])
        actions: list[dict[str, Any]] = list(record["actions"])
        if step < len(actions):  # a retry of a step already taken: answer it again, or refuse a different one
            if actions[step] == action:
                return round_out(record)
            raise StepConflict(f"step {step} of this round was already taken with another action", step=step)
        if step > len(actions):
            raise StepConflict(f"this round is at step {len(actions)}, not {step}", step=len(actions))
        if record["status"] != "active":
            raise RoundNotActive(f"the round is {record['status']}", round_status=record["status"])
        seeds = await self._seeds(record)
        rng = rng_version(record["rng_version"])
        progress = _checked(
            lambda: engine.play(rng, seeds, record["params"], record["settings"], record["stake"], [*actions, action])
        )
        stakes = list(record["stakes"])
        extra = progress.staked - record["staked"]
        if extra > 0:
            key = stake_key(round_id, step + 1)
            await require_allowed(
                self.gate,
                player.player_id,
                "bet",
                extra,
                {"ip": player.ip, "game": record["game"], "round_id": str(round_id), "currency": record["currency"]},
            )
            async with self.db.connection() as connection:
                noted = await repository.add_pending_stake(connection, round_id, record["version"], key)
            if not noted:
                return await self._lost_step_race(player, round_id, step, action)
            transfer = await self._debit(record, key, extra, {"step": step + 1})
            stakes.append({"key": key, "transfer_id": str(transfer), "amount": extra})
        now = self.clock()
        version = record["version"]
        entries = [
            audit.entry(
                "action",
                now,
                round_id,
                version,
                index=step,
                action=action,
                auto=False,
                stake_transfer_id=stakes[-1]["transfer_id"] if extra > 0 else None,
                stake=extra if extra > 0 else 0,
                staked=progress.staked,
            )
        ]
        changes = {"actions": [*actions, action], "stakes": stakes, "staked": progress.staked}
        updated = await self._advance(record, "active", entries, changes, progress)
        if updated is None:
            return await self._lost_step_race(player, round_id, step, action)
        if updated["status"] == "settling":
            return await self._pay(updated)
        return round_out(updated)

    async def get(self, player: PlayerRef, round_id: UUID) -> dict[str, Any]:
        return round_out(await self._own_round(player, round_id))

    async def history(
        self, player: PlayerRef, *, before: UUID | None = None, limit: int = 50, game: str | None = None
    ) -> list[dict[str, Any]]:
        async with self.db.connection() as connection:
            rows = await repository.player_rounds(connection, player.player_id, before, limit, game)
        return [round_out(row) for row in rows]

    # -- recovery ---------------------------------------------------------------------------------------------------

    async def recover(self, *, limit: int = 200) -> dict[str, int]:
        """Finish or void interrupted rounds, and finish abandoned multi-step rounds; return what was done."""
        now = self.clock()
        async with self.db.connection() as connection:
            rows = await repository.unfinished_rounds(
                connection, now - self.stale_after, now - self.abandon_after, limit
            )
        done = {"voided": 0, "paid": 0, "finished": 0, "failed": 0}
        for record in rows:
            try:
                outcome = await self._recover_one(record)
            except (DomainError, OSError) as error:
                logger.warning("recovery of round %s failed, will retry: %s", record["id"], error)
                done["failed"] += 1
                continue
            if outcome:
                done[outcome] += 1
        return done

    async def _recover_one(self, record: Any) -> str | None:
        status = record["status"]
        if status == "open":
            voiding = await self._transition(
                record,
                "open",
                [audit.entry("voiding", self.clock(), record["id"], record["version"], reason="interrupted")],
                {"status": "voiding"},
            )
            if voiding is None:
                return None
            await self._void(voiding)
            return "voided"
        if status == "voiding":
            await self._void(record)
            return "voided"
        if status == "settling":
            await self._pay(record)
            return "paid"
        if status == "active":
            engine = _engine(record["game"])
            seeds = await self._seeds(record)
            rng = rng_version(record["rng_version"])
            actions = list(record["actions"])
            auto, progress = engine.finish(rng, seeds, record["params"], record["settings"], record["stake"], actions)
            now = self.clock()
            entries = [
                audit.entry(
                    "action",
                    now,
                    record["id"],
                    record["version"] + i,
                    index=len(actions) + i,
                    action=dict(a),
                    auto=True,
                    stake_transfer_id=None,
                    stake=0,
                    staked=progress.staked,
                )
                for i, a in enumerate(auto)
            ]
            changes = {"actions": [*actions, *map(dict, auto)], "staked": progress.staked}
            updated = await self._advance(record, "active", entries, changes, progress)
            if updated is None:
                return None
            if updated["status"] == "settling":
                await self._pay(updated)
            return "finished"
        return None

    # -- the steps of a round ---------------------------------------------------------------------------------------

    async def _open(self, round_: dict[str, Any], decision_id: UUID) -> tuple[Any, Any] | None:
        """Store the round with its seeds; (round, seed material), or None if its request key exists already."""
        for _ in range(3):
            try:
                opened = await self._insert_opened(round_, decision_id)
            except _DuplicateRequest:
                return None
            if opened is not None:
                return opened
            await self._ensure_pair(round_["player_id"], round_["brand_id"])  # first bet: create the pair, retry
        raise RoundInterrupted("no active seed pair could be taken; retry")

    async def _insert_opened(self, round_: dict[str, Any], decision_id: UUID) -> tuple[Any, Any] | None:
        """Take the nonce, store the round and its first audit entry in one transaction (None: no active pair)."""
        now = self.clock()
        async with self.db.transaction() as connection:
            seeds: dict[str, Any]
            material: Any
            if round_["rng_version"] == "stake-v1":
                pair = await repository.take_nonce_of_active(connection, round_["player_id"])
                if pair is None:
                    return None
                seeds = {
                    "pair_id": pair["id"],
                    "nonce": pair["nonce"],
                    "server_seed_hash": pair["server_seed_hash"],
                    "client_seed": pair["client_seed"],
                }
                material = BetSeeds(ServerSeed(pair["server_seed"]), pair["client_seed"], pair["nonce"])
            else:
                material = CertifiedSeed.new()
                seeds = {"certified_seed": material.hex}
            record = await repository.insert_round(
                connection,
                {
                    **round_,
                    **seeds,
                    "status": "open",
                    "version": 1,
                    "actions": [],
                    "stakes": [],
                    "pending_stakes": [],
                    "staked": 0,
                    "view": {},
                    "created_at": now,
                    "updated_at": now,
                },
            )
            if record is None:
                raise _DuplicateRequest
            accounts = ("player_account_id", "house_account_id")
            logged = {name: value for name, value in round_.items() if name != "id" and name not in accounts}
            await audit.append(
                connection,
                [
                    audit.entry(
                        "opened",
                        now,
                        round_["id"],
                        0,
                        **logged,
                        player_account_id=str(round_["player_account_id"]),
                        house_account_id=str(round_["house_account_id"]),
                        seeds={k: str(v) if isinstance(v, UUID) else v for k, v in seeds.items()},
                        compliance_decision_id=str(decision_id),
                    )
                ],
            )
        return record, material

    async def _drive(self, record: Any, engine: GameEngine, seeds: Any = None) -> dict[str, Any]:
        """Take the initial stake of an open round, fix its outcome (or first state), pay it."""
        try:
            transfer = await self._debit(record, stake_key(record["id"]), record["stake"], {})
        except DEFINITE_REFUSALS as refusal:
            await self._transition(
                record,
                "open",
                [
                    audit.entry(
                        "rejected",
                        self.clock(),
                        record["id"],
                        record["version"],
                        reason=refusal.code,
                        detail=refusal.detail,
                    )
                ],
                {"status": "rejected", "closed_at": self.clock()},
            )
            raise
        except TransferTombstoned:
            raise RoundInterrupted("the round was voided by the recovery worker") from None
        if seeds is None:  # a retry or recovery: read the seeds the round was opened with
            seeds = await self._seeds(record)
        rng = rng_version(record["rng_version"])
        progress = engine.play(rng, seeds, record["params"], record["settings"], record["stake"], ())
        stakes = [{"key": stake_key(record["id"]), "transfer_id": str(transfer), "amount": record["stake"]}]
        entries = [
            audit.entry(
                "staked",
                self.clock(),
                record["id"],
                record["version"],
                stake_transfer_id=str(transfer),
                stake=record["stake"],
            )
        ]
        updated = await self._advance(record, "open", entries, {"stakes": stakes, "staked": progress.staked}, progress)
        if updated is None:  # voided by the recovery worker meanwhile (it refunds the stake)
            current = await self._round(record["id"])
            if current["status"] in ("active", "settling", "closed"):
                return round_out(current)  # a retry of the same request got there first
            raise RoundInterrupted("the round was voided by the recovery worker", round_status=current["status"])
        if updated["status"] == "settling":
            return await self._pay(updated)
        return round_out(updated)

    async def _advance(
        self, record: Any, expected: str, entries: list[audit.Entry], changes: dict[str, Any], progress: Progress
    ) -> Any:
        """Record progress (and the settlement, if the round settled) under the fence."""
        now = self.clock()
        changes = {**changes, "view": _view(progress)}
        if progress.settled:
            assert progress.payout is not None
            assert progress.outcome is not None
            payout = min(progress.payout, record["max_win"])
            stakes = changes.get("stakes", record["stakes"])
            applied = {s["key"] for s in stakes}
            orphans = [k for k in record["pending_stakes"] if k not in applied]
            entries.append(
                audit.entry(
                    "settled",
                    now,
                    record["id"],
                    record["version"] + len(entries),
                    outcome=progress.outcome,
                    staked=progress.staked,
                    payout=payout,
                    payout_before_cap=progress.payout,
                    detail=progress.detail,
                )
            )
            closed = payout == 0 and not orphans
            changes.update(
                status="closed" if closed else "settling",
                payout=payout,
                outcome=progress.outcome,
                closed_at=now if closed else None,
            )
        else:
            changes["status"] = "active"
        return await self._transition(record, expected, entries, changes)

    async def _pay(self, record: Any) -> dict[str, Any]:
        """Pay a settled round: void stakes it did not apply, credit the win, close it. Idempotent throughout."""
        try:
            applied = {s["key"] for s in record["stakes"]}
            voided = []
            for key in record["pending_stakes"]:
                if key not in applied:
                    reversal = await self.wallet.reverse(
                        ReverseTransferRequest(
                            idempotency_key=void_key(key),
                            original_idempotency_key=key,
                            type="rollback",
                            metadata={"round_id": str(record["id"]), "game": record["game"]},
                        )
                    )
                    voided.append(
                        {"key": key, "status": reversal.status, "transfer_ids": [str(t.id) for t in reversal.transfers]}
                    )
            win_transfer = None
            if record["payout"] > 0:
                result = await self.wallet.transfer(
                    CreateTransferRequest(
                        idempotency_key=win_key(record["id"]),
                        debit_account_id=record["house_account_id"],
                        credit_account_id=record["player_account_id"],
                        amount=record["payout"],
                        currency=record["currency"],
                        type="win",
                        metadata={"round_id": str(record["id"]), "game": record["game"]},
                    )
                )
                win_transfer = result.transfer.id
        except DomainError as error:
            if error.status < 500:
                raise
            logger.warning("paying round %s was interrupted (recovery finishes it): %s", record["id"], error)
            return round_out(record)
        now = self.clock()
        closed = await self._transition(
            record,
            "settling",
            [
                audit.entry(
                    "paid",
                    now,
                    record["id"],
                    record["version"],
                    win_transfer_id=None if win_transfer is None else str(win_transfer),
                    amount=record["payout"],
                    voided_stakes=voided,
                )
            ],
            {"status": "closed", "win_transfer_id": win_transfer, "closed_at": now},
        )
        return round_out(closed if closed is not None else await self._round(record["id"]))

    async def _void(self, record: Any) -> None:
        """Reverse (or tombstone) the initial stake of a round voided before its outcome was fixed."""
        reversal = await self.wallet.reverse(
            ReverseTransferRequest(
                idempotency_key=void_key(stake_key(record["id"])),
                original_idempotency_key=stake_key(record["id"]),
                type="rollback",
                metadata={"round_id": str(record["id"]), "game": record["game"]},
            )
        )
        status = "refunded" if reversal.status == "reversed" else "cancelled"
        now = self.clock()
        await self._transition(
            record,
            "voiding",
            [
                audit.entry(
                    status,
                    now,
                    record["id"],
                    record["version"],
                    reversal_transfer_ids=[str(t.id) for t in reversal.transfers],
                )
            ],
            {"status": status, "closed_at": now},
        )

    async def _transition(self, record: Any, expected: str, entries: list[audit.Entry], changes: dict[str, Any]) -> Any:
        changes = {**changes, "version": record["version"] + len(entries), "updated_at": self.clock()}
        async with self.db.transaction() as connection:
            updated = await repository.update_round(connection, record["id"], expected, record["version"], changes)
            if updated is None:
                return None
            await audit.append(connection, entries)
        return updated

    async def _debit(self, record: Any, key: str, amount: int, extra_metadata: dict[str, Any]) -> UUID:
        try:
            result = await self.wallet.transfer(
                CreateTransferRequest(
                    idempotency_key=key,
                    debit_account_id=record["player_account_id"],
                    credit_account_id=record["house_account_id"],
                    amount=amount,
                    currency=record["currency"],
                    type="bet",
                    metadata={"round_id": str(record["id"]), "game": record["game"], **extra_metadata},
                )
            )
        except DomainError as error:  # refusals (4xx) as they are; anything else leaves the stake unconfirmed
            if error.status < 500:
                raise
            raise RoundInterrupted(
                "the stake could not be confirmed; retry with the same request (the round is finished or refunded "
                "automatically otherwise)",
                round_id=str(record["id"]),
            ) from error
        return result.transfer.id

    async def _lost_step_race(
        self, player: PlayerRef, round_id: UUID, step: int, action: dict[str, Any]
    ) -> dict[str, Any]:
        current = await self._own_round(player, round_id)
        actions = list(current["actions"])
        if step < len(actions) and actions[step] == action:
            return round_out(current)  # the same step, taken by a concurrent copy of this request
        if current["status"] != "active":
            raise RoundNotActive(f"the round is {current['status']}", round_status=current["status"])
        raise StepConflict("another step was taken at the same time; reload the round", step=len(actions))

    # -- lookups ----------------------------------------------------------------------------------------------------

    async def _replayed(self, existing: Any, game: str, stake: int, params: dict[str, Any]) -> dict[str, Any]:
        if (existing["game"], existing["stake"], existing["params"]) != (game, stake, params):
            raise RoundRequestConflict(
                "this request key was used for another round request", round_id=str(existing["id"])
            )
        if existing["status"] == "open":
            return await self._drive(existing, _engine(game))
        if existing["status"] == "rejected":
            raise RoundNotActive(
                "this round request was rejected", round_status="rejected", round_id=str(existing["id"])
            )
        return round_out(existing)

    async def _by_request(self, player_id: str, request_key: str) -> Any:
        async with self.db.connection() as connection:
            return await repository.round_by_request(connection, player_id, request_key)

    async def _round(self, round_id: UUID) -> Any:
        async with self.db.connection() as connection:
            record = await repository.round_by_id(connection, round_id)
        if record is None:
            raise RoundNotFound(f"round {round_id} not found")
        return record

    async def _own_round(self, player: PlayerRef, round_id: UUID) -> Any:
        async with self.db.connection() as connection:
            record = await repository.round_by_id(connection, round_id)
        if record is None or record["player_id"] != player.player_id:
            raise RoundNotFound(f"round {round_id} not found")  # another player's round looks the same as none
        return record

    async def _seeds(self, record: Any) -> Any:
        if record["rng_version"] == "certified-v1":
            return CertifiedSeed.from_hex(record["certified_seed"])
        async with self.db.connection() as connection:
            pair = await repository.pair_for_round(connection, record["pair_id"])
        assert pair is not None
        return BetSeeds(ServerSeed(pair["server_seed"]), pair["client_seed"], record["nonce"])

    async def player_account(self, player: PlayerRef) -> PlayerAccount:
        cached = self._accounts.get(player.player_id)
        if cached is not None:
            return cached
        page = await self.wallet.list_accounts(brand_id=player.brand_id, owner_type="player", owner_id=player.player_id)
        cash = [account for account in page.items if account.kind == "cash"]
        if not cash:
            raise NoPlayerAccount("the player has no cash account in this brand")
        account = PlayerAccount(cash[0].id, cash[0].currency)
        self._accounts[player.player_id] = account
        return account

    async def _house(self, brand_id: str, currency: str) -> UUID:
        cached = self._houses.get((brand_id, currency))
        if cached is not None:
            return cached
        account = await self.wallet.open_account(
            OpenAccountRequest(
                brand_id=brand_id,
                owner_type="house",
                owner_id=HOUSE_OWNER,
                kind=HOUSE_KIND,
                label=HOUSE_LABEL,
                currency=currency,
                allow_negative=True,
            )
        )
        self._houses[(brand_id, currency)] = account.id
        return account.id


class _DuplicateRequest(Exception):
    """Rolls back the opening transaction (and the nonce it took) when the request key already exists."""


def _engine(game: str) -> GameEngine:
    try:
        return engine_named(game)
    except InvalidGameInput:
        raise GameUnavailable(f"there is no game {game!r}", game=game) from None


def _checked(compute: Any) -> Any:
    try:
        return compute()
    except InvalidGameInput as error:
        raise InvalidGameRequest(str(error)) from None


def _view(progress: Progress) -> dict[str, Any]:
    return {**progress.view, "allowed_actions": list(progress.allowed_actions)}


def round_out(record: Any) -> dict[str, Any]:
    """A round as its player sees it (never a server seed that has not been revealed)."""
    fairness: dict[str, Any] = {"rng_version": record["rng_version"]}
    if record["rng_version"] == "stake-v1":
        fairness.update(
            pair_id=record["pair_id"],
            server_seed_hash=record["server_seed_hash"],
            client_seed=record["client_seed"],
            nonce=record["nonce"],
        )
    view = dict(record["view"])
    allowed = view.pop("allowed_actions", [])
    return {
        "round_id": record["id"],
        "game": record["game"],
        "status": record["status"],
        "currency": record["currency"],
        "stake": record["stake"],
        "staked": record["staked"],
        "payout": record["payout"],
        "params": record["params"],
        "actions": record["actions"],
        "next_step": len(record["actions"]),
        "allowed_actions": allowed,
        "view": view,
        "outcome": record["outcome"],
        "fairness": fairness,
        "stake_transfer_ids": [s["transfer_id"] for s in record["stakes"]],
        "win_transfer_id": record["win_transfer_id"],
        "created_at": record["created_at"],
        "closed_at": record["closed_at"],
    }
