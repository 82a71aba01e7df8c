"""Time-ordered identifiers (UUIDv7, RFC 9562) so primary keys stay append-friendly in B-tree indexes."""

import os
import threading
import time
import uuid
from array import array
from datetime import UTC, datetime, timedelta


class _RandomTails:
    """62-bit random tails from os.urandom, read 4 KiB at a time (one system call per 512 ids instead of one per id)
    and held as 64-bit integers, so that a tail costs an index and a mask.

    Used under the lock of its generator. A forked child starts with an empty buffer (os.register_at_fork below):
    parent and child must never hand out the same bytes.
    """

    _SIZE = 4096
    MASK = 0x3FFF_FFFF_FFFF_FFFF

    def __init__(self) -> None:
        self._values = array("Q")
        self._index = 0

    def tail(self) -> int:
        index = self._index
        if index >= len(self._values):
            self._values, index = array("Q", os.urandom(self._SIZE)), 0
        self._index = index + 1
        return self._values[index] & self.MASK

    def take(self, count: int) -> "array[int]":
        """`count` random 64-bit values at once, not yet masked to tails (from the buffer; more than it holds, read
        on their own)."""
        index = self._index
        if index + count > len(self._values):
            if count * 8 > self._SIZE:
                return array("Q", os.urandom(8 * count))
            self._values, index = array("Q", os.urandom(self._SIZE)), 0
        self._index = index + count
        return self._values[index : index + count]

    def forget(self) -> None:
        self._values, self._index = array("Q"), 0


_lock = threading.Lock()
_last_ms = 0
_counter = 0
_random = _RandomTails()


def uuid7() -> uuid.UUID:
    """A UUIDv7: 48-bit Unix milliseconds, a 12-bit counter that keeps ids monotonic within one process, random tail."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave headroom before the counter wraps
        else:
            _counter += 1
            if _counter > 0xFFF:  # more than 4096 ids in one millisecond: borrow the next millisecond
                _last_ms += 1
                _counter = 0
        ms, counter, rand = _last_ms, _counter, _random.tail()
    return _compose(ms, counter, rand)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_at_lock = threading.Lock()
_at_ms = -1
_at_counter = 0
_at_moment: datetime | None = None  # the last moment converted, and its milliseconds (a batch mints many ids of one)
_at_moment_ms = 0
_at_high = 0  # the fixed bits of _at_ms's ids: timestamp, version, variant
_at_random = _RandomTails()


def _forget_random_tails() -> None:
    _random.forget()
    _at_random.forget()


os.register_at_fork(after_in_child=_forget_random_tails)


def unix_ms(moment: datetime) -> int:
    """Whole milliseconds since the Unix epoch of a timezone-aware datetime (rounded down)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def uuid7_at(moment: datetime) -> uuid.UUID:
    """A UUIDv7 whose timestamp is `moment` (to the millisecond), for a row that also stores `moment`: a range of
    that time is then a range of ids. Ids of one millisecond increase in call order within a process (the 12-bit
    counter, started at random); past 4096 in one millisecond the counter wraps and the random tail alone keeps them
    unique. Unlike `uuid7`, the timestamp is never moved forward, so it always equals the stored time."""
    return uuid7_run_at(moment, 1)[0]


def uuid7_run_at(moment: datetime, count: int) -> list[uuid.UUID]:
    """`count` UUIDv7s of `moment`, as `count` calls of `uuid7_at` would return them (increasing unless the 12-bit
    counter wraps within the millisecond): the counter values and the random tails are taken in one step. The
    ledger mints a batch's transfer ids this way, at about half the cost of one id at a time."""
    global _at_ms, _at_counter, _at_moment, _at_moment_ms, _at_high
    if count <= 0:
        return []
    with _at_lock:
        tails = _at_random.take(count)
        if moment is not _at_moment:
            _at_moment, _at_moment_ms = moment, unix_ms(moment)
        ms = _at_moment_ms
        if ms == _at_ms:
            first = _at_counter + 1
        else:
            _at_ms, _at_high = ms, _high_bits(ms)
            first = _at_random.tail() & 0x3FF
        _at_counter = (first + count - 1) & 0xFFF
        high = _at_high
    mask = _RandomTails.MASK
    return [_uuid(high | (first + index & 0xFFF) << 64 | tail & mask) for index, tail in enumerate(tails)]


def uuid7_floor(moment: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of `moment`'s millisecond: ids with an earlier timestamp sort below it, ids with this
    timestamp or a later one at or above it (PostgreSQL orders uuid bytewise, as this integer order)."""
    return uuid.UUID(int=(unix_ms(moment) & 0xFFFF_FFFF_FFFF) << 80)


_new = object.__new__
_set = object.__setattr__
_SAFETY_UNKNOWN = uuid.SafeUUID.unknown


def _high_bits(ms: int) -> int:
    return (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | 0b10 << 62


def _compose(ms: int, counter: int, rand: int) -> uuid.UUID:
    return _uuid(_high_bits(ms) | counter << 64 | rand)


def _uuid(value: int) -> uuid.UUID:
    # What uuid.UUID(int=value) leaves behind, without its argument checks (the value is in range by construction):
    # a quarter of the time. The ledger mints one id per transfer.
    made = _new(uuid.UUID)
    _set(made, "int", value)
    _set(made, "is_safe", _SAFETY_UNKNOWN)
    return made
