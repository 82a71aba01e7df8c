"""The games service. This part: provably-fair seed pairs as players see and manage them.

- A player's active pair is created at first use: a server seed from the OS CSPRNG (shown only as its SHA-256),
  a random default client seed, nonce 0.
- `take_bet_seeds` hands the round lifecycle the seeds of the next bet and increments the nonce in the same
  statement, so two bets never share a nonce.
- Rotation (or a new client seed) reveals the current server seed and starts a new pair; the revealed seed lets the
  player recompute every past bet of that pair (`croupier fair verify`, or any third-party stake-v1 verifier).
- The server seed of an active pair is never returned, logged or put in an error (it lives in `ServerSeed`, which
  shows only its hash, until `reveal()` at rotation).
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from croupier.games import repository
from croupier.games.rng.seeds import ServerSeed, check_client_seed, default_client_seed
from croupier.kit.clock import Clock, system_clock
from croupier.kit.db import Database
from croupier.kit.errors import ValidationFailed
from croupier.kit.ids import uuid7
from croupier.kit.outbox import Event, write_events
from croupier.kit.tracing import current_trace_id


@dataclass(frozen=True, slots=True)
class BetSeedMaterial:
    """What a stake-v1 round needs and stores: the pair, its commitment, the client seed and this bet's nonce."""

    pair_id: UUID
    server_seed: ServerSeed
    client_seed: str
    nonce: int


class GamesService:
    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

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
