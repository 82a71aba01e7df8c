"""One trace id per request, carried from the edge through events to consumers (W3C traceparent compatible)."""

import contextvars
import os
import re

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")

current_trace_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("croupier_trace_id", default=None)


def new_trace_id() -> str:
    return os.urandom(16).hex()


def trace_id_from_traceparent(header: str | None) -> str | None:
    """The trace id of a W3C `traceparent` header, or None when the header is missing or malformed."""
    if not header:
        return None
    match = _TRACEPARENT.match(header.strip().lower())
    if match is None or match.group(1) == "0" * 32:
        return None
    return match.group(1)
