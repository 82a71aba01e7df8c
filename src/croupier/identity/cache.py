"""A small in-process read cache for the hot-path reads other services make (get_brand, get_player).

Every change made through this process's IdentityService invalidates its entry at once. Entries also expire after
`ttl` seconds, which bounds how stale a read can be when another process (the split deployment) made the change.
"""

import time
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

DEFAULT_TTL_SECONDS = 5.0
DEFAULT_MAX_ENTRIES = 10_000


class ReadCache(Generic[K, V]):
    def __init__(self, *, ttl: float = DEFAULT_TTL_SECONDS, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        if time.monotonic() - stored_at > self._ttl:
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (time.monotonic(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)
