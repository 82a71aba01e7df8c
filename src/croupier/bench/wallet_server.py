"""Croupier as a separate server process (`croupier serve --service wallet ...`), as in the split deployment.

It runs in its own session, so a Ctrl-C in the terminal reaches only the bench, which then stops the server in order
(SIGINT: uvicorn drains, the ledger writer finishes what was submitted), falling back to SIGKILL.
"""

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import TracebackType

from croupier.bench.http_load import HttpConnection, HttpProtocolError
from croupier.kit.auth import Principal, TokenSigner
from croupier.kit.embedded_pg import find_free_port

HOST = "127.0.0.1"
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


class WalletServerError(RuntimeError):
    pass


class WalletServer:
    """`async with WalletServer(url, log_path) as server:` starts the process and waits for /health/ready.

    `services`: what the process serves (the wallet alone by default). `secret`: the deployment's token key, when the
    bench signs players' tokens with it too; by default a key of the bench's own.
    """

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *,
        services: tuple[str, ...] = ("wallet",),
        secret: str | None = None,
    ) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.services = services
        self.secret = secret
        self.host = HOST
        self.port = 0
        self.authorization: str | None = None
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> "WalletServer":
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        self.port = find_free_port(self.host)
        # The server verifies with this key; the bench signs its service token with it.
        secret = self.secret or secrets.token_urlsafe(32)
        token, _ = TokenSigner(secret, lifetime=timedelta(minutes=15)).issue(Principal("service", "bench"))
        self.authorization = f"Bearer {token}"
        environment = {**os.environ, "CROUPIER_LOG_LEVEL": "warning", "CROUPIER_AUTH_SECRET": secret}
        command = [sys.executable, "-m", "croupier", "serve"]
        for service in self.services:
            command += ["--service", service]
        command += ["--database-url", self.database_url, "--host", self.host, "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=environment,
                start_new_session=True,
            )
        await self._wait_ready()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        connection = HttpConnection(self.host, self.port, self.authorization)
        try:
            while time.monotonic() < deadline:
                if self._process is not None and self._process.returncode is not None:
                    raise WalletServerError(f"the server exited at start:\n{self.log_tail()}")
                try:
                    response = await asyncio.wait_for(connection.get("/health/ready"), timeout=2.0)
                    if response.status == 200:
                        return
                except (OSError, TimeoutError, asyncio.IncompleteReadError, HttpProtocolError):
                    await connection.close()
                await asyncio.sleep(0.1)
        finally:
            await connection.close()
        raise WalletServerError(f"the server was not ready within {READY_TIMEOUT_SECONDS}s:\n{self.log_tail()}")

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            pass
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
