"""The serving process's garbage collector: startup objects frozen, young collections rarer, cycles still freed."""

import gc
from collections.abc import Iterator

import pytest

from croupier.kit.runtime import YOUNG_COLLECTION_EVERY, tune_garbage_collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_tuning_freezes_what_exists_and_raises_only_the_young_threshold() -> None:
    _, middle, old = gc.get_threshold()

    tune_garbage_collector()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_COLLECTION_EVERY, middle, old)


@pytest.mark.usefixtures("restored_collector")
def test_after_tuning_a_reference_cycle_is_still_collected() -> None:
    tune_garbage_collector()

    class Node:
        partner: "Node"

    first, second = Node(), Node()
    first.partner, second.partner = second, first
    alive = id(first)
    del first, second

    assert gc.collect() >= 2
    assert all(id(obj) != alive for obj in gc.get_objects() if isinstance(obj, Node))
