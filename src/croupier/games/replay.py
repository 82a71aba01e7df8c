"""Replay a stored round from its audit log alone and say whether the recomputation matches what was recorded.

What a round is recomputed from: the `opened` entry (game, stake, parameters, brand settings, max win, RNG version
and seed material), the `action` entries (the player's steps, and steps the recovery worker took for an abandoned
round), and for stake-v1 the server seed. A revealed seed comes from the log's `seed_revealed` entry; a seed not
revealed yet is read from the seed pair (this tool runs with database access) and checked against the commitment
the round logged. The recomputed outcome, stake total and payout (after the max-win cap) must equal the `settled`
entry; rounds without an outcome (voided, rejected, or still open) are checked only for well-formed inputs.
"""

from typing import Any
from uuid import UUID

import orjson

from croupier.games import repository
from croupier.games.engine import InvalidGameInput
from croupier.games.engines import engine as engine_named
from croupier.games.rng.seeds import BetSeeds, ServerSeed, commitment
from croupier.games.rng.versions import CertifiedSeed, rng_version

#: The JSON document of `croupier round replay --json` (keys are stable; see docs/games.md).
FINAL_KINDS = ("paid", "refunded", "cancelled", "rejected")


class ReplayError(Exception):
    """The round cannot be replayed at all (unknown id, a log without its opening entry)."""


async def replay_round(connection: Any, round_id: UUID) -> dict[str, Any]:
    rows = await repository.round_entries(connection, round_id)
    if not rows:
        raise ReplayError(f"round {round_id} has no audit entries")
    entries = [orjson.loads(row["body"]) for row in rows]
    problems: list[str] = []
    if [e.get("seq") for e in entries] != list(range(len(entries))):
        problems.append("the round's entries are not numbered 0, 1, 2, ... (an entry is missing)")
    opened = entries[0]
    if opened.get("kind") != "opened":
        raise ReplayError(f"round {round_id} does not start with an 'opened' entry")
    kinds = [e["kind"] for e in entries]
    status = _status(kinds)
    seeds, seed_source = await _seeds(connection, opened, problems)
    actions = [e["action"] for e in entries if e["kind"] == "action"]
    recorded_stakes = sum(e.get("stake", 0) for e in entries if e["kind"] in ("staked", "action"))
    settled = next((e for e in entries if e["kind"] == "settled"), None)
    recomputed: dict[str, Any] | None = None
    if seeds is not None:
        try:
            engine = engine_named(opened["game"])
            rng = rng_version(opened["rng_version"])
            progress = engine.play(rng, seeds, opened["params"], opened["settings"], opened["stake"], actions)
        except (InvalidGameInput, ValueError) as error:
            problems.append(f"the recorded inputs do not replay: {error}")
        else:
            recomputed = {
                "settled": progress.settled,
                "outcome": _plain(progress.outcome),
                "staked": progress.staked,
                "payout": None if progress.payout is None else min(progress.payout, opened["max_win"]),
            }
            if settled is not None:
                if not progress.settled:
                    problems.append("the log says settled, the replay does not settle")
                if recomputed["outcome"] != _plain(settled["outcome"]):
                    problems.append("outcome differs")
                if recomputed["payout"] != settled["payout"]:
                    problems.append(f"payout differs: recorded {settled['payout']}, recomputed {recomputed['payout']}")
                if recomputed["staked"] != settled["staked"]:
                    problems.append(f"stake differs: recorded {settled['staked']}, recomputed {recomputed['staked']}")
            elif progress.settled and "staked" in kinds:
                problems.append("the replay settles but the log has no settlement")
            if "staked" in kinds and recorded_stakes != progress.staked:
                problems.append(f"stakes taken ({recorded_stakes}) differ from the game's stake ({progress.staked})")
    paid = next((e for e in entries if e["kind"] == "paid"), None)
    if paid is not None and settled is not None and paid["amount"] != settled["payout"]:
        problems.append("the amount paid differs from the settled payout")
    return {
        "round_id": str(round_id),
        "game": opened["game"],
        "status": status,
        "rng_version": opened["rng_version"],
        "seed_source": seed_source,
        "actions": actions,
        "recorded": None
        if settled is None
        else {"outcome": settled["outcome"], "staked": settled["staked"], "payout": settled["payout"]},
        "recomputed": recomputed,
        "matches": not problems,
        "problems": problems,
    }


def _status(kinds: list[str]) -> str:
    for kind in reversed(kinds):
        if kind in FINAL_KINDS:
            return "closed" if kind == "paid" else kind
    if "settled" in kinds:
        return "settling"
    if "staked" in kinds:
        return "active"
    return "open"


async def _seeds(connection: Any, opened: dict[str, Any], problems: list[str]) -> tuple[Any, str]:
    material = opened["seeds"]
    if opened["rng_version"] == "certified-v1":
        return CertifiedSeed.from_hex(material["certified_seed"]), "log"
    pair_id = UUID(material["pair_id"])
    revealed = await repository.revealed_seed_entry(connection, pair_id)
    if revealed is not None:
        server_seed, source = orjson.loads(revealed["body"])["server_seed"], "revealed"
    else:
        pair = await repository.pair_for_round(connection, pair_id)
        if pair is None:
            problems.append(f"seed pair {pair_id} is missing")
            return None, "missing"
        server_seed, source = pair["server_seed"], "database (not revealed yet)"
    if commitment(server_seed) != material["server_seed_hash"]:
        problems.append("the server seed does not match the commitment the round logged")
        return None, source
    return BetSeeds(ServerSeed(server_seed), material["client_seed"], material["nonce"]), source


def _plain(value: Any) -> Any:
    """The JSON value as stored (tuples become lists, key order does not matter)."""
    return None if value is None else orjson.loads(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
