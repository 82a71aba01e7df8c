"""`croupier rng ...` (test-lab export) and `croupier fair ...` (provably fair verification)."""

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from croupier.games.rng import certified_v1, stake_v1
from croupier.games.rng.export import outcome_lines, raw_stream, write_raw
from croupier.games.rng.outcomes import outcome_json
from croupier.games.rng.seeds import BetSeeds, ServerSeed, commitment
from croupier.games.rng.versions import GAMES, RNG_VERSIONS, CertifiedSeed, GameParams, rng_version

rng_app = typer.Typer(no_args_is_help=True, help="RNG versions: raw output and outcomes for test labs.")
fair_app = typer.Typer(no_args_is_help=True, help="Provably fair (stake-v1) verification (docs/provably-fair.md).")

Version = Annotated[str, typer.Option("--version", help=f"RNG version: {', '.join(RNG_VERSIONS)}.")]
Game = Annotated[str, typer.Option("--game", help=f"Game: {', '.join(GAMES)}.")]
Seed = Annotated[
    str | None, typer.Option("--seed", help="certified-v1 seed, 64 hex characters (default: random, printed).")
]
ServerSeedOption = Annotated[
    str | None, typer.Option("--server-seed", help="stake-v1 server seed (default: random, printed).")
]
ClientSeedOption = Annotated[str, typer.Option("--client-seed", help="stake-v1 client seed.")]
Out = Annotated[Path, typer.Option("--out", help="File to write; - for stdout.")]
Rows = Annotated[int, typer.Option("--rows", help="Plinko rows (8..16).")]
Mines = Annotated[int, typer.Option("--mines", help="Mines on the 25 tiles (1..24).")]
Cards = Annotated[int, typer.Option("--cards", help="Cards dealt (cards, hilo, blackjack).")]


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(2)


def _check(version: str, game: str | None = None) -> None:
    try:
        rng_version(version)
    except ValueError as error:
        raise _fail(str(error)) from None
    if game is not None and game not in GAMES:
        raise _fail(f"unknown game {game!r}; known: {', '.join(GAMES)}")


def _seed_material(version: str, seed: str | None, server_seed: str | None) -> tuple[bytes, str]:
    """The certified seed or the stake-v1 server seed; a random one is printed to stderr so the run reproduces."""
    if version == certified_v1.NAME:
        if seed is None:
            seed = secrets.token_hex(certified_v1.SEED_BYTES)
            sys.stderr.write(f"seed {seed}\n")
        try:
            return certified_v1.parse_seed(seed), ""
        except ValueError as error:
            raise _fail(str(error)) from None
    if server_seed is None:
        server_seed = ServerSeed.generate().reveal()
        sys.stderr.write(f"server seed {server_seed}\n")
    return b"", server_seed


def _open(out: Path) -> BinaryIO:
    return sys.stdout.buffer if str(out) == "-" else out.open("wb")


@rng_app.command("export")
def rng_export(
    version: Version,
    out: Out,
    nbytes: Annotated[int, typer.Option("--bytes", min=0, help="Bytes to write; 0 streams without end.")],
    seed: Seed = None,
    server_seed: ServerSeedOption = None,
    client_seed: ClientSeedOption = "croupier-export",
) -> None:
    """Write the raw RNG output of a version (binary), e.g. for dieharder -g 200."""
    _check(version)
    seed_bytes, server = _seed_material(version, seed, server_seed)
    stream = raw_stream(version, seed=seed_bytes, server_seed=server, client_seed=client_seed)
    target = _open(out)
    try:
        write_raw(target, stream, nbytes or None)
    except BrokenPipeError:
        # The reader (dieharder) had enough: point stdout at /dev/null so the exit flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        if target is not sys.stdout.buffer:
            target.close()


@rng_app.command("outcomes")
def rng_outcomes(
    version: Version,
    game: Game,
    count: Annotated[int, typer.Option("--count", min=1, help="Rounds.")],
    out: Out,
    seed: Seed = None,
    server_seed: ServerSeedOption = None,
    client_seed: ClientSeedOption = "croupier-export",
    rows: Rows = 16,
    mines: Mines = 3,
    cards: Cards = 52,
) -> None:
    """Write the scaled outcomes of `count` rounds as `round,outcome` lines (outcome numbers space-separated)."""
    _check(version, game)
    seed_bytes, server = _seed_material(version, seed, server_seed)
    params = GameParams(rows=rows, mines=mines, cards=cards)
    lines = outcome_lines(version, game, count, params, seed=seed_bytes, server_seed=server, client_seed=client_seed)
    target = _open(out)
    try:
        for line in lines:
            target.write(line.encode() + b"\n")
    except ValueError as error:
        raise _fail(str(error)) from None
    finally:
        if target is not sys.stdout.buffer:
            target.close()


def verification(game: str, seeds: BetSeeds, params: GameParams, risk: str | None) -> dict[str, Any]:
    """The `croupier fair verify` JSON document (schema in docs/provably-fair.md)."""
    outcome = RNG_VERSIONS[stake_v1.NAME].play(game, seeds, params)
    used = {"plinko": params.rows, "keno": 10, "mines": 24, "cards": params.cards, "hilo": params.cards}
    floats_used = used.get(game, max(params.cards, 4) if game == "blackjack" else 1)
    game_params: dict[str, Any] = {}
    if game == "plinko":
        game_params = {"rows": params.rows, "risk": risk}
    elif game == "mines":
        game_params = {"mines": params.mines}
    elif game in ("cards", "hilo", "blackjack"):
        game_params = {"cards": params.cards}
    floats = stake_v1.floats(seeds.server_seed.reveal(), seeds.client_seed, seeds.nonce, floats_used)
    return {
        "version": stake_v1.NAME,
        "game": game,
        "server_seed": seeds.server_seed.reveal(),
        "server_seed_hash": seeds.server_seed.sha256,
        "client_seed": seeds.client_seed,
        "nonce": seeds.nonce,
        "params": game_params,
        "floats": floats,
        "outcome": outcome_json(game, outcome),
    }


@fair_app.command("verify")
def fair_verify(
    game: Game,
    server_seed: Annotated[str, typer.Option("--server-seed", help="The revealed server seed.")],
    client_seed: Annotated[str, typer.Option("--client-seed", help="Your client seed.")],
    nonce: Annotated[int, typer.Option("--nonce", min=0, help="The bet's nonce (0 for the pair's first bet).")],
    rows: Rows = 16,
    risk: Annotated[str | None, typer.Option("--risk", help="Plinko risk (pay table only; echoed).")] = None,
    mines: Mines = 3,
    cards: Cards = 52,
    server_seed_hash: Annotated[
        str | None, typer.Option("--server-seed-hash", help="The commitment shown before the bets: exit 1 if unequal.")
    ] = None,
) -> None:
    """Recompute a stake-v1 bet from its seeds and print the outcome as JSON."""
    _check(stake_v1.NAME, game)
    try:
        document = verification(
            game, BetSeeds(ServerSeed(server_seed), client_seed, nonce), GameParams(rows, mines, cards), risk
        )
    except ValueError as error:
        raise _fail(str(error)) from None
    matches = server_seed_hash is None or server_seed_hash.lower() == commitment(server_seed)
    if server_seed_hash is not None:
        document["commitment_matches"] = matches
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    if not matches:
        raise typer.Exit(1)


@rng_app.command("replay")
def rng_replay(
    version: Version,
    game: Game,
    seed: Seed = None,
    server_seed: ServerSeedOption = None,
    client_seed: ClientSeedOption = "",
    nonce: Annotated[int, typer.Option("--nonce", min=0, help="stake-v1 nonce.")] = 0,
    rows: Rows = 16,
    mines: Mines = 3,
    cards: Cards = 52,
) -> None:
    """Replay one round of any version from its logged seed material and print the outcome as JSON."""
    _check(version, game)
    params = GameParams(rows, mines, cards)
    seeds: object
    if version == certified_v1.NAME:
        if seed is None:
            raise _fail("certified-v1 replays need --seed (the round log's seed)")
        seed_bytes, _ = _seed_material(version, seed, None)
        seeds = CertifiedSeed(seed_bytes)
        material: dict[str, Any] = {"seed": seed}
    else:
        if server_seed is None:
            raise _fail("stake-v1 replays need --server-seed, --client-seed and --nonce")
        seeds = BetSeeds(ServerSeed(server_seed), client_seed, nonce)
        material = {"server_seed_hash": commitment(server_seed), "client_seed": client_seed, "nonce": nonce}
    try:
        outcome = rng_version(version).play(game, seeds, params)
    except ValueError as error:
        raise _fail(str(error)) from None
    document = {"version": version, "game": game, **material, "outcome": outcome_json(game, outcome)}
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
