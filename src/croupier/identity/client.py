"""The identity service's public interface for other services, with two transports that behave the same.

- `InProcessIdentityClient` calls the service object directly (all-in-one process). `get_brand` and `get_player` are
  served from a small in-memory cache (entries expire after a few seconds and are dropped at once on any change made
  through the service in this process), so the compliance gate can call them on every bet.
- `HttpIdentityClient` calls the identity HTTP API's back-office reads (split deployment) with a back-office access
  token (roles support or risk, or admin, read everything it needs) and turns problem+json back into the same
  exceptions.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

import httpx

from croupier.identity.errors import IDENTITY_ERRORS, BrandNotFound, PlayerNotFound, SessionNotFound
from croupier.identity.schemas import BrandOut, PlayerOut, SessionOut
from croupier.kit.auth import Forbidden, Unauthenticated
from croupier.kit.errors import DomainError, NotFound, ServiceUnavailable, ValidationFailed
from croupier.kit.remote_errors import errors_by_code
from croupier.kit.service_http import ServiceHttp

if TYPE_CHECKING:
    from croupier.identity.service import IdentityService

__all__ = [
    "BrandNotFound",
    "BrandOut",
    "HttpIdentityClient",
    "IdentityClient",
    "InProcessIdentityClient",
    "PlayerNotFound",
    "PlayerOut",
    "SessionNotFound",
    "SessionOut",
]


class IdentityClient(Protocol):
    async def get_player(self, player_id: UUID) -> PlayerOut:
        """The player (brand, country, currency, KYC status, status, wallet account). Raises PlayerNotFound."""
        ...

    async def get_brand(self, brand_id: str) -> BrandOut:
        """Every setting of the brand (countries, currencies, age, KYC gates, RG defaults). Raises BrandNotFound."""
        ...

    async def get_session(self, session_id: UUID) -> SessionOut:
        """A login session (revoked_at, restricted). Raises SessionNotFound."""
        ...


class InProcessIdentityClient:
    """Calls the identity service in this process."""

    def __init__(self, service: "IdentityService") -> None:
        self._service = service

    async def get_player(self, player_id: UUID) -> PlayerOut:
        return await self._service.get_player(player_id)

    async def get_brand(self, brand_id: str) -> BrandOut:
        return await self._service.brands.get(brand_id)

    async def get_session(self, session_id: UUID) -> SessionOut:
        return await self._service.get_session(session_id)


_KNOWN_ERRORS: tuple[type[DomainError], ...] = (
    *IDENTITY_ERRORS,
    Unauthenticated,
    Forbidden,
    NotFound,
    ValidationFailed,
    ServiceUnavailable,
)
_ERRORS_BY_CODE = errors_by_code(_KNOWN_ERRORS)


class HttpIdentityClient:
    """Calls identity over HTTP. `token` is a back-office access token, or a callable returning a fresh one."""

    def __init__(
        self,
        base_url: str,
        token: str | Callable[[], str],
        *,
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._api = ServiceHttp(
            base_url,
            service="identity",
            prefix="/v1/identity",
            errors=_ERRORS_BY_CODE,
            token=token,
            timeout=timeout,
            http=http,
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    async def _get(self, path: str) -> Any:
        return await self._api.request("GET", path)

    async def get_player(self, player_id: UUID) -> PlayerOut:
        return PlayerOut.model_validate(await self._get(f"/admin/players/{player_id}"))

    async def get_brand(self, brand_id: str) -> BrandOut:
        return BrandOut.model_validate(await self._get(f"/admin/brands/{brand_id}"))

    async def get_session(self, session_id: UUID) -> SessionOut:
        return SessionOut.model_validate(await self._get(f"/admin/sessions/{session_id}"))
