"""What the bench learns from the ledger after a run: how the writer batched it, and whether it is still correct.

Batching: every transfer of one ledger batch is written with the batch's single timestamp, so counting the distinct
`created_at` of a run's transfers (found by their idempotency-key prefix) counts its database transactions. This reads
the wallet's tables directly; it is instrumentation for the bench, not an interface.

Correctness: `croupier wallet verify --json` (which runs `croupier.wallet.verify.verify_ledger`) in a subprocess,
so the bench uses the wallet's public tool rather than its private modules.
"""

import asyncio
import contextlib
import sys
from typing import Any

import asyncpg
import orjson

VERIFY_TIMEOUT_SECONDS = 600.0

_BATCHES = """
SELECT count(*) AS transfers, count(DISTINCT created_at) AS batches, coalesce(max(n), 0) AS largest
FROM (SELECT created_at, count(*) OVER (PARTITION BY created_at) AS n
      FROM wallet.transfers WHERE request_key LIKE $1 || '%') AS run
"""


async def ledger_batches(url: str, key_prefix: str) -> dict[str, Any]:
    """Transfers of one run, the database transactions they were written in, mean and largest per transaction."""
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(_BATCHES, key_prefix)
    finally:
        await connection.close()
    assert row is not None
    transfers, batches = int(row["transfers"]), int(row["batches"])
    return {
        "transfers": transfers,
        "commits": batches,
        "mean": round(transfers / batches, 2) if batches else 0.0,
        "max": int(row["largest"]),
    }


async def verify(url: str) -> dict[str, Any]:
    """The report of `croupier wallet verify --json` on this database, or an `error` entry if it could not run."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "croupier",
        "wallet",
        "verify",
        "--database-url",
        url,
        "--json",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        output, errors = await asyncio.wait_for(process.communicate(), VERIFY_TIMEOUT_SECONDS)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    try:
        report: dict[str, Any] = orjson.loads(output)
    except orjson.JSONDecodeError:
        return {"clean": False, "error": f"verify exited with {process.returncode}: {errors.decode()[-500:]}"}
    return {
        "clean": report["clean"],
        "accounts": report["accounts"],
        "transfers": report["transfers"],
        "discrepancies": len(report["discrepancies"]),
        "first_discrepancies": report["discrepancies"][:5],
    }
