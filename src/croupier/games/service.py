"""The games service: provably-fair seed pairs, rounds (croupier.games.rounds), the audit chain and its workers.

- A player's active pair is created at first use: a server seed from the OS CSPRNG (shown only as its SHA-256),
  a random default client seed, nonce 0.
- `take_bet_seeds` hands the round lifecycle the seeds of the next bet and increments the nonce in the same
  statement, so two bets never share a nonce.
- Rotation (or a new client seed) reveals the current server seed and starts a new pair; the revealed seed lets the
  player recompute every past bet of that pair (`croupier fair verify`, or any third-party stake-v1 verifier).
- The server seed of an active pair is never returned, logged or put in an error (it lives in `ServerSeed`, which
  shows only its hash, until `reveal()` at rotation).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import orjson

from croupier.compliance.client import ComplianceGate
from croupier.games import audit, repository
from croupier.games.config import BrandConfigs, load
from croupier.games.engine import InvalidGameInput
from croupier.games.engines import ENGINES
from croupier.games.errors import GameUnavailable, InvalidGameRequest, LimitsNotValid, RoundNotFound
from croupier.games.math.limits import BetLimits
from croupier.games.replay import replay_round
from croupier.games.rng.seeds import ServerSeed, check_client_seed, default_client_seed
from croupier.games.rounds import RoundLifecycle, round_out
from croupier.kit.clock import Clock, system_clock
from croupier.kit.db import Database
from croupier.kit.errors import ValidationFailed
from croupier.kit.ids import uuid7
from croupier.kit.money import CurrencyRegistry
from croupier.kit.outbox import Event, write_events
from croupier.kit.tracing import current_trace_id
from croupier.wallet.client import WalletClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BetSeedMaterial:
    """What a stake-v1 round needs and stores: the pair, its commitment, the client seed and this bet's nonce."""

    pair_id: UUID
    server_seed: ServerSeed
    client_seed: str
    nonce: int


class GamesService:
    def __init__(
        self,
        db: Database,
        wallet: WalletClient,
        gate: ComplianceGate,
        currencies: CurrencyRegistry,
        *,
        clock: Clock = system_clock,
        recovery_seconds: float = 5.0,
        stale_after: timedelta = timedelta(seconds=30),
        abandon_after: timedelta = timedelta(hours=24),
        seal_seconds: float = audit.SEAL_INTERVAL,
        session_revoked: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.db = db
        # Whether a player's session was logged out or revoked (asked of identity); None: tokens alone decide.
        self.session_revoked = session_revoked
        self.clock = clock
        self.configs = BrandConfigs(db)
        self.rounds = RoundLifecycle(
            db,
            wallet,
            gate,
            currencies,
            self.configs,
            self._active,
            clock=clock,
            stale_after=stale_after,
            abandon_after=abandon_after,
        )
        self.catalog = GamesCatalog(db, self.configs, currencies, clock)
        self._recovery_seconds = recovery_seconds
        self._seal_seconds = seal_seconds
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the workers: the sealer of the audit chain and the recovery of interrupted rounds."""
        self._tasks = [
            asyncio.create_task(self._every(self._seal_seconds, self.seal, "sealing the round audit")),
            asyncio.create_task(self._every(self._recovery_seconds, self.rounds.recover, "recovering rounds")),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def seal(self) -> int:
        async with self.db.connection() as connection:
            return await audit.seal(connection, self.clock())

    async def _every(self, seconds: float, work: Any, what: str) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:  # a worker survives a database restart: it logs and tries again next time
                logger.exception("games: %s failed; retrying in %.1f s", what, seconds)

    # -- fairness ---------------------------------------------------------------------------------------------------

    async def fairness(self, player_id: str, brand_id: str) -> dict[str, Any]:
        """The player's active pair as the player may see it: commitment, client seed, next nonce."""
        return _public(await self._active(player_id, brand_id))

    async def rotate(self, player_id: str, brand_id: str, client_seed: str | None = None) -> dict[str, Any]:
        """Reveal the active pair's server seed and start a new pair (with `client_seed`, or a random one)."""
        new_client_seed = _client_seed(client_seed) if client_seed is not None else default_client_seed()
        now = self.clock()
        await self._active(player_id, brand_id)  # a player without a pair gets one first, then rotates it
        async with self.db.transaction() as connection:
            current = await repository.active_pair(connection, player_id, lock=True)
            assert current is not None
            revealed = await repository.reveal_pair(connection, current["id"], now)
            seed = ServerSeed.generate()
            fresh = await repository.insert_pair(
                connection,
                {
                    "id": uuid7(),
                    "player_id": player_id,
                    "brand_id": brand_id,
                    "server_seed": seed.reveal(),
                    "server_seed_hash": seed.sha256,
                    "client_seed": new_client_seed,
                    "created_at": now,
                },
            )
            assert fresh is not None  # the old pair was revealed under its row lock, in this transaction
            await audit.append(
                connection,
                [
                    audit.entry(
                        "seed_revealed",
                        now,
                        None,
                        None,
                        pair_id=str(revealed["id"]),
                        player_id=player_id,
                        server_seed=revealed["server_seed"],
                        server_seed_hash=revealed["server_seed_hash"],
                        client_seed=revealed["client_seed"],
                        bets=revealed["next_nonce"],
                    )
                ],
            )
            await write_events(
                connection,  # type: ignore[arg-type]
                "games",
                [
                    Event(
                        "games.seeds.rotated",
                        {
                            "player_id": player_id,
                            "revealed_pair_id": str(revealed["id"]),
                            "server_seed_hash": revealed["server_seed_hash"],
                            "new_pair_id": str(fresh["id"]),
                            "new_server_seed_hash": fresh["server_seed_hash"],
                        },
                        now,
                        brand_id=brand_id,
                        trace_id=current_trace_id.get(),
                    )
                ],
            )
        return {"revealed": _revealed(revealed), "active": _public(fresh)}

    async def history(self, player_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """Revealed pairs, newest first, with their server seeds: what the player needs to verify past bets."""
        if not 1 <= limit <= 500:
            raise ValidationFailed("limit is 1 to 500")
        async with self.db.connection() as connection:
            rows = await repository.revealed_pairs(connection, player_id, limit)
        return [_revealed(row) for row in rows]

    async def take_bet_seeds(self, player_id: str, brand_id: str) -> BetSeedMaterial:
        """The seeds of the player's next bet; the nonce is taken (incremented) at once."""
        pair = await self._active(player_id, brand_id)
        async with self.db.connection() as connection:
            nonce = await repository.take_nonce(connection, pair["id"])
        if nonce is None:  # rotated between the two statements: take one from the new pair
            return await self.take_bet_seeds(player_id, brand_id)
        return BetSeedMaterial(pair["id"], ServerSeed(pair["server_seed"]), pair["client_seed"], nonce)

    async def _active(self, player_id: str, brand_id: str) -> Any:
        async with self.db.connection() as connection:
            pair = await repository.active_pair(connection, player_id)
            if pair is not None:
                return pair
            seed = ServerSeed.generate()
            created = await repository.insert_pair(
                connection,
                {
                    "id": uuid7(),
                    "player_id": player_id,
                    "brand_id": brand_id,
                    "server_seed": seed.reveal(),
                    "server_seed_hash": seed.sha256,
                    "client_seed": default_client_seed(),
                    "created_at": self.clock(),
                },
            )
            if created is not None:
                return created
            pair = await repository.active_pair(connection, player_id)  # created concurrently
            assert pair is not None
            return pair


def _client_seed(value: str) -> str:
    try:
        return check_client_seed(value)
    except ValueError as error:
        raise ValidationFailed(str(error)) from None


def _public(pair: Any) -> dict[str, Any]:
    return {
        "pair_id": pair["id"],
        "server_seed_hash": pair["server_seed_hash"],
        "client_seed": pair["client_seed"],
        "next_nonce": pair["next_nonce"],
        "created_at": pair["created_at"],
    }


def _revealed(pair: Any) -> dict[str, Any]:
    return {
        "pair_id": pair["id"],
        "server_seed": pair["server_seed"],
        "server_seed_hash": pair["server_seed_hash"],
        "client_seed": pair["client_seed"],
        "bets": pair["next_nonce"],
        "created_at": pair["created_at"],
        "revealed_at": pair["revealed_at"],
    }


class GamesCatalog:
    """What a brand offers, and the operator's settings of it (the back-office side of croupier.games.config)."""

    def __init__(self, db: Database, configs: BrandConfigs, currencies: CurrencyRegistry, clock: Clock) -> None:
        self.db = db
        self.configs = configs
        self.currencies = currencies
        self.clock = clock

    async def offered(self, brand_id: str, currency: str) -> list[dict[str, Any]]:
        config = await self.configs.get(brand_id)
        money = self.currencies.get(currency)
        games = []
        for name, engine in ENGINES.items():
            offered = config.game(name)
            if not offered.enabled:
                continue
            settings = engine.check_settings(offered.settings or {})
            limits = config.limits_for(name, money)
            games.append(
                {
                    "game": name,
                    "multi_step": engine.multi_step,
                    "rng_version": config.rng_version,
                    "currency": currency,
                    "limits": {"min_stake": limits.min_stake, "max_stake": limits.max_stake, "max_win": limits.max_win},
                    "config": engine.describe(settings),
                }
            )
        return games

    async def brand(self, brand_id: str) -> dict[str, Any]:
        async with self.db.connection() as connection:
            config = await load(connection, brand_id)
            limit_rows = await repository.bet_limits(connection, brand_id)
        return {
            "brand_id": brand_id,
            "rng_version": config.rng_version,
            "games": {
                name: {
                    "enabled": config.game(name).enabled,
                    "settings": engine.check_settings(config.game(name).settings or {}),
                }
                for name, engine in ENGINES.items()
            },
            "limits": [dict(row) for row in limit_rows],
        }

    async def set_rng_version(self, brand_id: str, rng_version: str) -> dict[str, Any]:
        async with self.db.transaction() as connection:
            await repository.put_brand_settings(connection, brand_id, rng_version, self.clock())
        self.configs.forget(brand_id)
        return await self.brand(brand_id)

    async def set_game(self, brand_id: str, game: str, enabled: bool, settings: dict[str, Any]) -> dict[str, Any]:
        engine = ENGINES.get(game)
        if engine is None:
            raise GameUnavailable(f"there is no game {game!r}", game=game)
        try:
            checked = engine.check_settings(settings)
        except InvalidGameInput as error:
            raise InvalidGameRequest(str(error)) from None
        async with self.db.transaction() as connection:
            await repository.put_game_settings(connection, brand_id, game, enabled, checked, self.clock())
        self.configs.forget(brand_id)
        return await self.brand(brand_id)

    async def set_limits(
        self, brand_id: str, game: str, currency: str, min_stake: int, max_stake: int, max_win: int
    ) -> dict[str, Any]:
        if game not in ENGINES:
            raise GameUnavailable(f"there is no game {game!r}", game=game)
        self.currencies.get(currency)
        try:
            BetLimits(min_stake, max_stake, max_win)
        except ValueError as error:
            raise LimitsNotValid(str(error)) from None
        async with self.db.transaction() as connection:
            await repository.put_bet_limits(
                connection, brand_id, game, currency, (min_stake, max_stake, max_win), self.clock()
            )
        self.configs.forget(brand_id)
        return await self.brand(brand_id)


async def player_verification(db: Database, player_id: str, round_id: UUID) -> dict[str, Any]:
    """A past round of this player recomputed, once its server seed is public (certified-v1 rounds: always)."""
    async with db.connection() as connection:
        record = await repository.round_by_id(connection, round_id)
        if record is None or record["player_id"] != player_id:
            raise RoundNotFound(f"round {round_id} not found")
        revealed = None
        if record["rng_version"] == "stake-v1":
            pair = await repository.pair_for_round(connection, record["pair_id"])
            revealed = pair["server_seed"] if pair is not None and pair["revealed_at"] is not None else None
        verifiable = record["rng_version"] != "stake-v1" or revealed is not None
        # Not replayed while the seed is secret: the player could not check the answer anyway.
        result = await replay_round(connection, round_id) if verifiable else None
    settled = None if record["outcome"] is None else {k: record[k] for k in ("outcome", "staked", "payout")}
    return {
        "round_id": round_id,
        "verifiable": verifiable,
        "matches": None if result is None else result["matches"],
        "rng_version": record["rng_version"],
        "server_seed": revealed,
        "server_seed_hash": record["server_seed_hash"],
        "client_seed": record["client_seed"],
        "nonce": record["nonce"],
        "recorded": settled if result is None else result["recorded"],
        "recomputed": None if result is None else result["recomputed"],
        "problems": [] if result is None else result["problems"],
    }


async def admin_round(db: Database, round_id: UUID) -> dict[str, Any]:
    """A round with its whole audit log and a replay, for support and auditors."""
    async with db.connection() as connection:
        record = await repository.round_by_id(connection, round_id)
        if record is None:
            raise RoundNotFound(f"round {round_id} not found")
        entries = await repository.round_entries(connection, round_id)
        replay = await replay_round(connection, round_id)
    return {
        "round": round_out(record),
        "player_id": record["player_id"],
        "brand_id": record["brand_id"],
        "entries": [
            {"seq": e["seq"], "kind": e["kind"], "recorded_at": e["recorded_at"], "body": orjson.loads(e["body"])}
            for e in entries
        ],
        "replay": replay,
    }
