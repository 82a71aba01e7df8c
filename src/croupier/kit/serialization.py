"""JSON encoding used for stored results, events and responses (orjson, plus the types asyncpg returns)."""

from typing import Any
from uuid import UUID

import orjson


def json_default(value: Any) -> Any:
    # asyncpg returns its own UUID subclass, which orjson does not recognise as a UUID.
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=json_default)


def dumps_str(value: Any) -> str:
    return orjson.dumps(value, default=json_default).decode()


loads = orjson.loads
