"""How `croupier up` and `croupier serve` run the HTTP server: its settings, and stopping on a signal in order."""

import signal
from typing import Any

import uvicorn

from croupier.kit.config import Settings


class _StopRequested(Exception):
    pass


def server_config(app: Any, settings: Settings, port: int) -> uvicorn.Config:
    """How the HTTP server runs the app.

    proxy_headers=False: the platform reads X-Forwarded-For itself, and only from the proxies it is configured to trust
    (`trusted_proxies`, kit/client_ip.py). uvicorn's own rewrite trusts 127.0.0.1 by default and would replace the
    TCP peer before the platform sees it.
    """
    return uvicorn.Config(
        app, host=settings.host, port=port, log_level=settings.log_level, access_log=False, proxy_headers=False
    )


def run_until_signalled(server: uvicorn.Server) -> None:
    """Serve until SIGINT/SIGTERM, then return normally so the caller stops PostgreSQL in order.

    uvicorn drains the HTTP server on the signal, then restores the previous handlers and raises the signal again.
    With the default SIGTERM handler that re-raise would kill the process before the embedded PostgreSQL is stopped,
    so the previous handlers here turn the re-raised signal into an exception that ends serving cleanly.
    """

    def stop(signum: int, frame: object) -> None:
        raise _StopRequested

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    except _StopRequested:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
