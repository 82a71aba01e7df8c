"""Brands (tenants): per-brand rules for registration, KYC gates, responsible-gambling defaults."""

from typing import Any

from croupier.identity import events, repository
from croupier.identity.cache import ReadCache
from croupier.identity.errors import BrandExists, BrandNotFound
from croupier.identity.schemas import BrandOut, CreateBrandRequest, UpdateBrandRequest
from croupier.kit.clock import Clock
from croupier.kit.db import Database
from croupier.kit.errors import UnknownCurrency, ValidationFailed
from croupier.kit.money import CurrencyRegistry
from croupier.kit.outbox import Event
from croupier.kit.tracing import current_trace_id


class BrandCatalog:
    def __init__(self, db: Database, currencies: CurrencyRegistry, clock: Clock) -> None:
        self._db = db
        self._currencies = currencies
        self._clock = clock
        self._cache: ReadCache[str, BrandOut] = ReadCache()

    async def create(self, request: CreateBrandRequest) -> BrandOut:
        settings = request.model_dump(exclude={"id"}, exclude_none=True)
        self._check(settings, None)
        now = self._clock()
        async with self._db.transaction() as connection:
            row = await repository.insert_brand(connection, request.id, settings, now)
            if row is None:
                raise BrandExists(f"brand {request.id!r} already exists", brand_id=request.id)
            brand = BrandOut.model_validate(dict(row))
            await repository.outbox(connection, [_brand_event(brand, created=True)])
        self._cache.invalidate(brand.id)
        return brand

    async def update(self, brand_id: str, request: UpdateBrandRequest) -> BrandOut:
        settings = request.model_dump(exclude={"clear_kyc_deposit_threshold"}, exclude_none=True)
        if request.clear_kyc_deposit_threshold:
            settings["kyc_deposit_threshold"] = None
        now = self._clock()
        async with self._db.transaction() as connection:
            current = await repository.get_brand(connection, brand_id)
            if current is None:
                raise BrandNotFound(f"no brand {brand_id!r}", brand_id=brand_id)
            self._check(settings, dict(current))
            row = await repository.update_brand(connection, brand_id, settings, now)
            assert row is not None
            brand = BrandOut.model_validate(dict(row))
            await repository.outbox(connection, [_brand_event(brand, created=False)])
        self._cache.invalidate(brand_id)
        return brand

    async def get(self, brand_id: str) -> BrandOut:
        cached = self._cache.get(brand_id)
        if cached is not None:
            return cached
        async with self._db.connection() as connection:
            row = await repository.get_brand(connection, brand_id)
        if row is None:
            raise BrandNotFound(f"no brand {brand_id!r}", brand_id=brand_id)
        brand = BrandOut.model_validate(dict(row))
        self._cache.put(brand_id, brand)
        return brand

    async def list(self) -> list[BrandOut]:
        async with self._db.connection() as connection:
            rows = await repository.list_brands(connection)
        return [BrandOut.model_validate(dict(row)) for row in rows]

    def _check(self, settings: dict[str, Any], current: dict[str, Any] | None) -> None:
        for code in settings.get("allowed_currencies", ()):
            if code not in self._currencies:
                raise UnknownCurrency(f"{code} is not a currency the wallet knows", currency=code)
        merged = {**(current or {}), **settings}
        both = set(merged.get("allowed_countries", ())) & set(merged.get("denied_countries", ()))
        if both:
            raise ValidationFailed(f"countries both allowed and denied: {sorted(both)}", countries=sorted(both))


def _brand_event(brand: BrandOut, *, created: bool) -> Event:
    payload = events.BrandUpdated(brand=brand.model_dump(mode="json"), created=created)
    return Event(
        type=events.BRAND_UPDATED,
        payload=payload.model_dump(mode="json"),
        occurred_at=brand.updated_at,
        brand_id=brand.id,
        trace_id=current_trace_id.get(),
    )
