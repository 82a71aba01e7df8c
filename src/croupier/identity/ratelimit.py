"""Per-IP attempt limits: a sliding window log kept in memory (per process; each process counts its own traffic).

Defaults (constructor arguments of IdentityService, documented in docs/identity.md):
  LOGIN_LIMIT login attempts per LOGIN_WINDOW per IP, REGISTRATION_LIMIT registrations per REGISTRATION_WINDOW per IP.
"""

import math
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from croupier.identity.errors import RateLimited
from croupier.kit.clock import Clock

LOGIN_LIMIT = 20
LOGIN_WINDOW = timedelta(minutes=1)
REGISTRATION_LIMIT = 10
REGISTRATION_WINDOW = timedelta(hours=1)
#: Most distinct keys tracked; the least recently used are forgotten first (bounds memory under a spray of IPs).
MAX_KEYS = 100_000


class SlidingWindowLimiter:
    def __init__(self, limit: int, window: timedelta, clock: Clock, *, what: str, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._what = what
        self._max_keys = max_keys
        self._hits: OrderedDict[str, deque[datetime]] = OrderedDict()

    def hit(self, key: str) -> None:
        """Count one attempt for `key`, or raise RateLimited (with the seconds until one slot frees up)."""
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            if len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        horizon = now - self.window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if len(hits) >= self.limit:
            retry_after = max(1, math.ceil((hits[0] + self.window - now).total_seconds()))
            raise RateLimited(
                f"too many {self._what} attempts from this address; retry in {retry_after} s", retry_after=retry_after
            )
        hits.append(now)
