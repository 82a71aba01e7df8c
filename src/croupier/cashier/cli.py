"""`croupier cashier reconcile`: the daily reconciliation of one provider, as operators run it (docs/reconciliation.md).

Exit codes: 0 clean (no discrepancy), 1 discrepancies found (stored, alert raised), 2 the run could not happen
(unknown provider, bad date, provider or database unreachable).
"""

import asyncio
import json
import sys
from datetime import date
from typing import Annotated

import typer

from croupier.cashier.providers.config import ProviderConfig, build_adapter, configured_providers
from croupier.cashier.reconcile import KINDS, ReconciliationResult, reconcile
from croupier.cli_options import DatabaseUrl, DataDir, settings_from_options
from croupier.kit.config import Settings

cashier_app = typer.Typer(no_args_is_help=True, help="Cashier tools (payments, providers, reconciliation).")


async def _run(settings: Settings, url: str, config: ProviderConfig, day: date) -> ReconciliationResult:
    from croupier.bootstrap import bootstrap, migrate, shutdown

    # bootstrap(("wallet",)) migrates only the wallet; the results are stored in the cashier schema.
    await migrate(url, ("cashier",))
    platform = await bootstrap(settings, url, ("wallet",))
    adapter = build_adapter(config)
    try:
        return await reconcile(platform.db, platform.wallet_client, adapter, day)
    finally:
        await adapter.aclose()
        await shutdown(platform)


def _summary(result: ReconciliationResult) -> str:
    counts = result.counts
    lines = [
        f"reconciliation {result.id}: {result.provider} {result.day.isoformat()}",
        f"ledger entries {counts.ledger_lines}, provider lines {counts.provider_lines}, matched {counts.matched}, "
        f"discrepancies {counts.discrepancies}",
        *(f"  {kind}: {counts.by_kind.get(kind, 0)}" for kind in KINDS),
    ]
    for item in result.items:
        lines.append(
            f"{item.kind} reference={item.reference or '-'} provider_ref={item.provider_ref or '-'} "
            f"currency={item.currency or '-'} ledger={_amount(item.ledger_amount)} "
            f"provider={_amount(item.provider_amount)}: {item.detail}"
        )
    lines.append("clean" if result.clean else f"{counts.discrepancies} discrepancies")
    return "\n".join(lines) + "\n"


def _amount(value: int | None) -> str:
    return "-" if value is None else str(value)


@cashier_app.command("reconcile")
def reconcile_command(
    provider: Annotated[str, typer.Option("--provider", help="The provider instance's name, e.g. stripe.")],
    day: Annotated[str, typer.Option("--date", help="The settlement day (UTC), YYYY-MM-DD.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored result as JSON.")] = False,
    data_dir: DataDir = None,
    database_url_: DatabaseUrl = None,
) -> None:
    """Compare the provider's settlement report for a day with the ledger; store the result; exit 1 on any
    discrepancy (an alert event is raised), 0 when clean, 2 when it could not run."""
    from croupier.bootstrap import database_url

    try:
        settlement_day = date.fromisoformat(day)
    except ValueError:
        sys.stderr.write(f"--date must be YYYY-MM-DD, not {day!r}\n")
        raise typer.Exit(2) from None
    settings = settings_from_options(data_dir, database_url_)
    configs = {c.name: c for c in configured_providers(settings.cashier_providers, settings.cashier_simulator_url)}
    if provider not in configs:
        known = ", ".join(sorted(configs)) or "none (set CROUPIER_CASHIER_PROVIDERS or CROUPIER_CASHIER_SIMULATOR_URL)"
        sys.stderr.write(f"unknown provider {provider!r}; configured: {known}\n")
        raise typer.Exit(2)
    try:
        with database_url(settings, attach_to_running=True) as (url, _):
            result = asyncio.run(_run(settings, url, configs[provider], settlement_day))
    except Exception as error:
        sys.stderr.write(f"could not reconcile {provider} for {settlement_day}: {error}\n")
        raise typer.Exit(2) from error
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(_summary(result))
    if not result.clean:
        raise typer.Exit(1)
