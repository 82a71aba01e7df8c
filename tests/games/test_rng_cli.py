"""`croupier fair verify`, `croupier rng export|outcomes|replay`."""

import hmac
import json
import math
from fractions import Fraction
from pathlib import Path

from typer.testing import CliRunner

from croupier.cli import app
from croupier.games.rng import certified_v1
from croupier.games.rng.seeds import commitment

runner = CliRunner()
SEED = "5b" * 32


def first_fraction(server: str, client: str, nonce: int) -> Fraction:
    digest = hmac.digest(server.encode(), f"{client}:{nonce}:0".encode(), "sha256")
    return Fraction(int.from_bytes(digest[:4], "big"), 2**32)


def verify(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["fair", "verify", "--server-seed", "srv", "--client-seed", "cli", *args])
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def test_fair_verify_when_dice_prints_the_roll_as_json() -> None:
    document = verify("--game", "dice", "--nonce", "3")
    roll = math.floor(first_fraction("srv", "cli", 3) * 10001)
    assert document == {
        "version": "stake-v1",
        "game": "dice",
        "server_seed": "srv",
        "server_seed_hash": commitment("srv"),
        "client_seed": "cli",
        "nonce": 3,
        "params": {},
        "floats": [float(first_fraction("srv", "cli", 3))],
        "outcome": {"roll": f"{roll // 100}.{roll % 100:02d}"},
    }


def test_fair_verify_when_each_game_prints_its_outcome_keys() -> None:
    keys = {
        "limbo": {"multiplier"},
        "roulette": {"pocket", "color"},
        "plinko": {"path", "slot"},
        "keno": {"draw"},
        "mines": {"mines", "grid"},
        "cards": {"cards"},
        "hilo": {"cards"},
        "blackjack": {"player", "dealer", "next"},
    }
    for game, expected in keys.items():
        document = verify("--game", game, "--nonce", "0")
        outcome = document["outcome"]
        assert isinstance(outcome, dict)
        assert set(outcome) == expected


def test_fair_verify_when_plinko_echoes_rows_and_risk() -> None:
    document = verify("--game", "plinko", "--nonce", "1", "--rows", "9", "--risk", "high")
    assert document["params"] == {"rows": 9, "risk": "high"}
    outcome = document["outcome"]
    assert isinstance(outcome, dict)
    assert len(outcome["path"]) == 9


def test_fair_verify_when_commitment_differs_exits_1() -> None:
    args = ["fair", "verify", "--game", "dice", "--server-seed", "srv", "--client-seed", "c", "--nonce", "0"]
    result = runner.invoke(app, [*args, "--server-seed-hash", "00" * 32])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["commitment_matches"] is False
    ok = runner.invoke(app, [*args, "--server-seed-hash", commitment("srv")])
    assert ok.exit_code == 0


def test_fair_verify_when_game_unknown_exits_2() -> None:
    result = runner.invoke(
        app, ["fair", "verify", "--game", "craps", "--server-seed", "s", "--client-seed", "c", "--nonce", "0"]
    )
    assert result.exit_code == 2


def test_rng_export_when_certified_writes_the_raw_stream(tmp_path: Path) -> None:
    out = tmp_path / "raw.bin"
    args = ["rng", "export", "--version", "certified-v1", "--bytes", "100000", "--seed", SEED, "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == certified_v1.raw_bytes(bytes.fromhex(SEED), 100000)


def test_rng_export_when_stake_writes_first_digest_per_nonce(tmp_path: Path) -> None:
    out = tmp_path / "raw.bin"
    args = ["rng", "export", "--version", "stake-v1", "--bytes", "40", "--server-seed", "s", "--client-seed", "c"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = hmac.digest(b"s", b"c:0:0", "sha256") + hmac.digest(b"s", b"c:1:0", "sha256")[:8]
    assert out.read_bytes() == expected


def test_rng_outcomes_when_roulette_writes_one_line_per_round(tmp_path: Path) -> None:
    out = tmp_path / "roulette.csv"
    args = ["rng", "outcomes", "--version", "certified-v1", "--game", "roulette", "--count", "50", "--seed", SEED]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "round,outcome"
    assert len(lines) == 51
    assert all(0 <= int(line.split(",")[1]) <= 36 for line in lines[1:])


def test_rng_outcomes_when_stake_uses_nonces_in_order(tmp_path: Path) -> None:
    out = tmp_path / "dice.csv"
    args = ["rng", "outcomes", "--version", "stake-v1", "--game", "dice", "--count", "3", "--server-seed", "srv"]
    result = runner.invoke(app, [*args, "--client-seed", "cli", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rolls = [line.split(",")[1] for line in out.read_text().splitlines()[1:]]
    assert rolls == [verify("--game", "dice", "--nonce", str(n))["outcome"]["roll"] for n in range(3)]  # type: ignore[index]


def test_rng_replay_when_certified_seed_given_prints_the_round() -> None:
    result = runner.invoke(app, ["rng", "replay", "--version", "certified-v1", "--game", "roulette", "--seed", SEED])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["outcome"]["pocket"] == certified_v1.roulette(bytes.fromhex(SEED))
