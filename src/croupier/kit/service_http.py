"""One internal service's HTTP API as its typed client calls it: a bearer token on every request, a transport failure
as ServiceUnavailable, a problem+json answer as the domain exception it was raised as (kit/remote_errors.py).

Each service's HTTP client (wallet, cashier, identity) keeps its own methods and models and calls through this.
"""

from collections.abc import Callable
from typing import Any

import httpx

from croupier.kit.errors import DomainError, ServiceUnavailable
from croupier.kit.remote_errors import error_from_problem

Token = str | Callable[[], str] | None


class ServiceHttp:
    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        prefix: str,
        errors: dict[str, type[DomainError]],
        token: Token,
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
        unreachable_hint: str = "",
    ) -> None:
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._owns_http = http is None
        self._service = service
        self._prefix = prefix
        self._errors = errors
        self._token = token
        self._unreachable_hint = unreachable_hint

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """Send one request (parameters that are None are left out); the decoded JSON answer, or the error raised."""
        try:
            token = self._token() if callable(self._token) else self._token
            response = await self._http.request(
                method,
                self._prefix + path,
                json=json,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers={"authorization": f"Bearer {token}"} if token else None,
            )
        except httpx.TransportError as error:
            raise ServiceUnavailable(f"{self._service} unreachable: {error}{self._unreachable_hint}") from error
        if response.status_code >= 400:
            raise error_from_problem(response, self._service, self._errors)
        return response.json()
