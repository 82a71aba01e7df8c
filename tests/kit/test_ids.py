"""UUIDv7 minted for a given instant, and the bound of an instant's ids (what a time window of ids relies on)."""

from datetime import UTC, datetime, timedelta

from croupier.kit.ids import unix_ms, uuid7_at, uuid7_floor, uuid7_run_at

MOMENT = datetime(2026, 1, 10, 10, 0, 0, 123_456, tzinfo=UTC)


def test_uuid7_at_when_minted_carries_the_instants_millisecond_and_is_version_7() -> None:
    value = uuid7_at(MOMENT)
    assert value.int >> 80 == unix_ms(MOMENT) == 1_768_039_200_123
    assert (value.version, value.variant) == (7, "specified in RFC 4122")


def test_uuid7_at_when_minted_in_one_millisecond_increases_in_call_order() -> None:
    ids = [uuid7_at(MOMENT) for _ in range(100)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 100


def test_uuid7_at_when_instant_goes_back_keeps_the_earlier_instant() -> None:
    uuid7_at(MOMENT + timedelta(days=1))
    assert uuid7_at(MOMENT).int >> 80 == unix_ms(MOMENT)


def test_uuid7_run_at_when_minted_continues_the_instants_ids_in_order() -> None:
    """A run of ids takes its counter values in one step: with single ids before and after it, all increase."""
    before = uuid7_at(MOMENT)
    run = uuid7_run_at(MOMENT, 300)
    after = uuid7_at(MOMENT)
    ids = [before, *run, after]
    assert ids == sorted(ids)
    assert len(set(ids)) == 302
    assert {(value.int >> 80, value.version, value.variant) for value in run} == {
        (unix_ms(MOMENT), 7, "specified in RFC 4122")
    }
    assert uuid7_run_at(MOMENT, 0) == []
    longer = uuid7_run_at(MOMENT, 2_000)  # more random tails than one buffer read holds
    assert longer == sorted(longer)
    assert len({value.int & 0x3FFF_FFFF_FFFF_FFFF for value in longer}) == 2_000


def test_uuid7_run_at_when_minted_for_a_new_instant_carries_that_instant() -> None:
    later = MOMENT + timedelta(milliseconds=7)
    run = uuid7_run_at(later, 3)
    assert [value.int >> 80 for value in run] == [unix_ms(later)] * 3
    assert run == sorted(run)


def test_uuid7_floor_when_compared_separates_earlier_instants_from_this_one_and_later() -> None:
    floor = uuid7_floor(MOMENT)
    assert (
        uuid7_at(MOMENT - timedelta(milliseconds=1))
        < floor
        <= uuid7_at(MOMENT)
        < uuid7_floor(MOMENT + timedelta(milliseconds=1))
    )


def _random_tails() -> tuple[int, int]:
    from croupier.kit.ids import uuid7

    tail = 0x3FFF_FFFF_FFFF_FFFF
    return uuid7().int & tail, uuid7_at(MOMENT).int & tail


def test_ids_minted_after_a_fork_differ_between_parent_and_child() -> None:
    """The random tails come from a buffer of os.urandom bytes: a forked child must not reuse the parent's."""
    import os

    _random_tails()  # both buffers hold unread random bytes now
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, repr(_random_tails()).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_tails = pipe.read()
    os.waitpid(child, 0)
    parent_plain, parent_at = _random_tails()
    child_plain, child_at = (int(part) for part in child_tails.strip("()").split(","))
    assert child_plain != parent_plain
    assert child_at != parent_at
