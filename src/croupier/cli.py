"""The `croupier` command."""

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

import croupier
from croupier.bench.cli import bench_app
from croupier.bootstrap import DEFAULT_SERVICES, SERVICES, database_url, migrate, missing_services
from croupier.cashier.cli import cashier_app
from croupier.cli_options import DatabaseUrl, DataDir, settings_from_options
from croupier.games.cli import audit_app, round_app
from croupier.games.rng.cli import fair_app, rng_app
from croupier.kit.config import Settings
from croupier.kit.db import Database
from croupier.kit.embedded_pg import find_free_port
from croupier.kit.runtime import tune_garbage_collector
from croupier.serving import run_until_signalled, server_config

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Croupier: the platform layer of an online casino.")
wallet_app = typer.Typer(no_args_is_help=True, help="Wallet ledger tools.")
admin_app = typer.Typer(no_args_is_help=True, help="Back-office users.")
app.add_typer(wallet_app, name="wallet")
app.add_typer(admin_app, name="admin")
app.add_typer(bench_app, name="bench")

console = Console()
err = Console(stderr=True)


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def up(
    data_dir: DataDir = None,
    database_url_: DatabaseUrl = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (env CROUPIER_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (env CROUPIER_PORT); 0 picks a free one.")] = None,
    pg_port: Annotated[int | None, typer.Option(help="Embedded PostgreSQL port (env CROUPIER_PG_PORT).")] = None,
) -> None:
    """Run the whole platform in one process: embedded PostgreSQL, migrations, every service's HTTP API."""
    settings = settings_from_options(data_dir, database_url_, host=host, port=port, pg_port=pg_port)
    _serve(settings, DEFAULT_SERVICES)


@app.command()
def serve(
    service: Annotated[
        list[str],
        typer.Option("--service", help="Service to run (repeatable): wallet, identity, compliance, games, cashier."),
    ],
    database_url_: DatabaseUrl = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port.")] = None,
) -> None:
    """Run some services in this process against an existing PostgreSQL (the split deployment)."""
    known = {schema for schema, _ in SERVICES}
    unknown = sorted(set(service) - known)
    if unknown:
        err.print(f"[red]unknown service(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}[/red]")
        raise typer.Exit(2)
    problem = missing_services(tuple(service))
    if problem is not None:
        err.print(problem, style="red", markup=False, soft_wrap=True)  # one line, whatever the terminal's width
        raise typer.Exit(2)
    settings = settings_from_options(None, database_url_, host=host, port=port)
    if not settings.database_url:
        err.print("[red]croupier serve needs --database-url or CROUPIER_DATABASE_URL[/red]")
        raise typer.Exit(2)
    _serve(settings, tuple(service))


def _serve(settings: Settings, services: tuple[str, ...]) -> None:
    from croupier.app import build_app

    _logging(settings.log_level)
    with database_url(settings) as (url, server):
        if server is not None:
            console.print(
                f"PostgreSQL {server.pgdata} listening on 127.0.0.1:{server.port} (password in {server.password_file})"
            )
        port = settings.port or find_free_port(settings.host)
        app = build_app(settings=settings, url=url, services=services)
        config = server_config(app, settings, port)
        console.print(f"Croupier {croupier.__version__} serving {', '.join(services)} on http://{settings.host}:{port}")
        console.print(
            f"API docs: http://{settings.host}:{port}/docs   OpenAPI: http://{settings.host}:{port}/openapi.json"
        )
        tune_garbage_collector()
        run_until_signalled(uvicorn.Server(config))
    console.print("stopped")


@app.command("migrate")
def migrate_command(data_dir: DataDir = None, database_url_: DatabaseUrl = None) -> None:
    """Apply every service's pending migrations (one history per service schema)."""
    settings = settings_from_options(data_dir, database_url_)
    with database_url(settings) as (url, _):
        applied = asyncio.run(migrate(url))
    for schema, migrations in applied.items():
        if migrations:
            for migration in migrations:
                console.print(f"{schema}: applied {migration.version:04d}_{migration.name}")
        else:
            console.print(f"{schema}: up to date")


@wallet_app.command("verify")
def wallet_verify(
    data_dir: DataDir = None,
    database_url_: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute every balance from the transfers; exit 1 on any discrepancy, 2 if it could not verify."""
    from croupier.wallet.verify import VerifyReport, verify_ledger

    settings = settings_from_options(data_dir, database_url_)

    async def run(url: str) -> VerifyReport:
        db = Database(url, min_size=1, max_size=2)
        await db.connect()
        try:
            return await verify_ledger(db)
        finally:
            await db.close()

    try:
        with database_url(settings, attach_to_running=True) as (url, _):
            report = asyncio.run(run(url))
    except Exception as error:  # exit 2: could not verify (exit 1 is reserved for discrepancies)
        err.print(f"[red]could not verify the ledger: {error}[/red]")
        raise typer.Exit(2) from error
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        table = Table(title="Wallet ledger by currency")
        for column in ("currency", "transfers", "moved", "debits posted", "credits posted", "pending"):
            table.add_column(column, justify="right")
        for code, totals in sorted(report.currencies.items()):
            table.add_row(
                code,
                str(totals.get("transfers", 0)),
                str(totals.get("moved", 0)),
                str(totals.get("debits_posted", 0)),
                str(totals.get("credits_posted", 0)),
                str(totals.get("debits_pending", 0)),
            )
        console.print(table)
        console.print(f"{report.accounts} accounts, {report.transfers} transfers checked")
        for problem in report.discrepancies:
            console.print(f"[red]DISCREPANCY[/red] {problem.check} {problem.subject}: {problem.detail}")
        console.print(
            "[green]clean[/green]" if report.clean else f"[red]{len(report.discrepancies)} discrepancies[/red]"
        )
    if not report.clean:
        raise typer.Exit(1)


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The back-office user's email (their login).")],
    role: Annotated[
        list[str] | None, typer.Option("--role", help="Role (repeatable): support, risk, finance, admin [admin].")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="The password (visible in the shell history: prefer --password-stdin).")
    ] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    data_dir: DataDir = None,
    database_url_: DatabaseUrl = None,
) -> None:
    """Create a back-office user (the first admin of a fresh platform); applies pending migrations first."""
    from pydantic import ValidationError

    from croupier.identity.admins import AdminDirectory
    from croupier.identity.schemas import CreateAdminRequest
    from croupier.kit.clock import system_clock
    from croupier.kit.errors import DomainError

    if password_stdin == (password is not None):
        err.print("[red]give the password with exactly one of --password-stdin or --password[/red]")
        raise typer.Exit(2)
    roles = role or ["admin"]
    secret = sys.stdin.readline().rstrip("\r\n") if password_stdin else password
    try:
        request = CreateAdminRequest.model_validate({"email": email, "password": secret, "roles": roles})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        err.print(f"[red]{problems}[/red]")
        raise typer.Exit(2) from None
    settings = settings_from_options(data_dir, database_url_)

    async def run(url: str) -> str:
        await migrate(url)
        db = Database(url, min_size=1, max_size=2)
        await db.connect()
        try:
            admin = await AdminDirectory(db, system_clock, None).create(request)
        finally:
            await db.close()
        return f"created back-office user {admin.email} ({admin.id}) with roles {', '.join(admin.roles)}"

    try:
        with database_url(settings, attach_to_running=True) as (url, _):
            message = asyncio.run(run(url))
    except DomainError as error:
        err.print(f"[red]{error.code}: {error.detail}[/red]")
        raise typer.Exit(1) from None
    console.print(message)


geo_app = typer.Typer(no_args_is_help=True, help="IP address to country database (docs/geo.md).")
simulate_app = typer.Typer(no_args_is_help=True, help="Simulators of outside parties, served over real HTTP.")
app.add_typer(geo_app, name="geo")
app.add_typer(simulate_app, name="simulate")
app.add_typer(rng_app, name="rng")
app.add_typer(fair_app, name="fair")
app.add_typer(audit_app, name="audit")
app.add_typer(round_app, name="round")
app.add_typer(cashier_app, name="cashier")


@geo_app.command("build")
def geo_build(
    files: Annotated[list[Path], typer.Argument(help="RIR delegated-extended files, plain or .gz.")],
    out: Annotated[Path, typer.Option("--out", help="Database file to write (gzip'd when it ends in .gz).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the database's metadata as JSON.")] = False,
) -> None:
    """Build the IP-to-country database from the five RIRs' delegated-extended statistics files."""
    from croupier.compliance.geo import GeoDatabaseError, build_database

    try:
        metadata = build_database(files, out)
    except (OSError, GeoDatabaseError) as error:
        err.print(f"[red]geo build failed: {error}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(metadata.as_dict(), indent=2) + "\n")
    else:
        console.print(f"wrote {out}: {metadata.ipv4_ranges} IPv4 and {metadata.ipv6_ranges} IPv6 ranges")


@geo_app.command("lookup")
def geo_lookup(
    ip: Annotated[str, typer.Argument(help="IPv4 or IPv6 address.")],
    db: Annotated[Path | None, typer.Option("--db", help="Database file (default: the shipped one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {ip, country} as JSON.")] = False,
) -> None:
    """Print the country an address is registered to; exit 1 if no delegation covers it, 2 if it is not an IP."""
    from croupier.compliance.geo import GeoDatabaseError, IpCountryDatabase

    try:
        country = IpCountryDatabase.load(db).country(ip)
    except GeoDatabaseError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    except ValueError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps({"ip": ip, "country": country}) + "\n")
    else:
        sys.stdout.write(f"{country or 'unknown'}\n")
    if country is None:
        raise typer.Exit(1)


@geo_app.command("info")
def geo_info(
    db: Annotated[Path | None, typer.Option("--db", help="Database file (default: the shipped one).")] = None,
) -> None:
    """Print a database's metadata (sources, build date, range counts) as JSON."""
    from croupier.compliance.geo import IpCountryDatabase

    sys.stdout.write(json.dumps(IpCountryDatabase.load(db).metadata.as_dict(), indent=2) + "\n")


@simulate_app.command("self-exclusion-register")
def simulate_self_exclusion_register(
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8099,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    api_key: Annotated[
        list[str] | None, typer.Option("--api-key", help="Accepted X-API-Key (repeatable; default simulator-key).")
    ] = None,
) -> None:
    """Serve a GAMSTOP-style self-exclusion register with admin and fault-injection endpoints."""
    from croupier.simulators.self_exclusion_register import DEFAULT_API_KEY, serve

    keys = tuple(api_key or [DEFAULT_API_KEY])
    console.print(f"self-exclusion register simulator on http://{host}:{port} (API keys: {', '.join(keys)})")
    serve(host=host, port=port, api_keys=keys)


@simulate_app.command("psp")
def simulate_psp(
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8098,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    webhook_base: Annotated[
        str | None,
        typer.Option(help="Each provider posts its webhooks to <webhook-base>/<name> (the cashier's endpoints)."),
    ] = "http://127.0.0.1:8000/v1/cashier/webhooks",
) -> None:
    """Serve simulated payment providers (cards, Pix, UPI, iDEAL, e-wallets, M-Pesa, crypto) with fault injection."""
    from croupier.simulators.psp.app import serve

    console.print(f"payment-provider simulator on http://{host}:{port} (webhooks to {webhook_base}/<provider>)")
    serve(host=host, port=port, webhook_base=webhook_base)


@app.command("token")
def token_command(
    service: Annotated[
        str, typer.Option("--service", help="Name of the calling service or script (the token's subject).")
    ],
    data_dir: DataDir = None,
) -> None:
    """Print a service token (valid for CROUPIER_ACCESS_TOKEN_MINUTES) for the internal APIs, such as the wallet's.

    It is signed with the deployment's key: CROUPIER_AUTH_SECRET, or the key `croupier up` keeps in the data
    directory. Use it as `Authorization: Bearer <token>`.
    """
    from croupier.bootstrap import token_signer
    from croupier.kit.auth import Principal

    settings = settings_from_options(data_dir)
    if settings.auth_secret is None and not (settings.data_dir.expanduser() / "auth-secret").exists():
        err.print(
            f"[red]no token key: set CROUPIER_AUTH_SECRET, or start croupier up in {settings.data_dir} first[/red]"
        )
        raise typer.Exit(1)
    token, _ = token_signer(settings).issue(Principal("service", service))
    sys.stdout.write(token + "\n")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(croupier.__version__)


slots_app = typer.Typer(no_args_is_help=True, help="Reel slot definitions (docs/slots.md).")
app.add_typer(slots_app, name="slots")


@slots_app.command("rtp")
def slots_rtp(
    file: Annotated[Path, typer.Argument(help="Slot definition (JSON), e.g. src/croupier/games/data/slots/*.json.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print every part as {fraction, decimal} in JSON.")] = False,
) -> None:
    """Print the exact RTP of a slot definition: line part, scatter part, free spins part and total."""
    from croupier.games.slots.definition import InvalidSlotDefinition, load_definition
    from croupier.games.slots.report import format_rtp_report, rtp_report

    try:
        report = rtp_report(load_definition(file))
    except (OSError, InvalidSlotDefinition) as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    sys.stdout.write(json.dumps(report, indent=2) + "\n" if as_json else format_rtp_report(report))


def main() -> None:
    app()
