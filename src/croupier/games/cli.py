"""`croupier audit verify` and `croupier round replay`: what auditors run against the games schema.

Both are read-only and print stable JSON with `--json` (documented in docs/games.md). Exit codes: 0 clean or
matching, 1 a discrepancy or mismatch, 2 the check could not run.
"""

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
import typer
from rich.console import Console

from croupier.cli_options import DatabaseUrl, DataDir, settings_from_options
from croupier.games.audit import ChainReport, verify
from croupier.games.replay import ReplayError, replay_round

audit_app = typer.Typer(no_args_is_help=True, help="The round audit chain.")
round_app = typer.Typer(no_args_is_help=True, help="Stored rounds.")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _with_connection(
    data_dir: Path | None, database_url_: str | None, work: Callable[[Any], Awaitable[T]], what: str
) -> T:
    from croupier.bootstrap import database_url

    settings = settings_from_options(data_dir, database_url_)

    async def run(url: str) -> T:
        connection = await asyncpg.connect(url)
        try:
            return await work(connection)
        finally:
            await connection.close()

    try:
        with database_url(settings, attach_to_running=True) as (url, _):
            return asyncio.run(run(url))
    except ReplayError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    except Exception as error:
        err.print(f"[red]could not {what}: {error}[/red]")
        raise typer.Exit(2) from error


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None, database_url_: DatabaseUrl = None, as_json: AsJson = False) -> None:
    """Check the hash chain of the round audit log; exit 1 on any edited, deleted or smuggled entry."""
    report: ChainReport = _with_connection(data_dir, database_url_, verify, "verify the audit chain")
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2) + "\n")
    else:
        console.print(
            f"{report.entries} audit entries, {report.sealed} sealed, {report.unsealed} not sealed yet; "
            f"head {report.head_position}: {report.head_hash}"
        )
        for problem in report.problems:
            console.print(f"[red]{problem['problem']}[/red] {json.dumps(problem)}")
        console.print("[green]clean[/green]" if report.ok else f"[red]{len(report.problems)} problems[/red]")
    if not report.ok:
        raise typer.Exit(1)


@round_app.command("replay")
def round_replay(
    round_id: Annotated[UUID, typer.Argument(help="The round's id.")],
    data_dir: DataDir = None,
    database_url_: DatabaseUrl = None,
    as_json: AsJson = False,
) -> None:
    """Recompute a stored round from its audit log; exit 1 if it does not match what was recorded."""

    async def work(connection: Any) -> dict[str, Any]:
        return await replay_round(connection, round_id)

    result = _with_connection(data_dir, database_url_, work, "replay the round")
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    else:
        console.print(f"round {result['round_id']} ({result['game']}, {result['rng_version']}): {result['status']}")
        if result["recomputed"] is not None:
            recomputed = result["recomputed"]
            console.print(f"recomputed: payout {recomputed['payout']}, staked {recomputed['staked']}")
        for problem in result["problems"]:
            console.print(f"[red]{problem}[/red]")
        console.print("[green]matches[/green]" if result["matches"] else "[red]does not match[/red]")
    if not result["matches"]:
        raise typer.Exit(1)
