"""Process-wide settings of a long-running Croupier process (`croupier up`, `croupier serve`, in-process benches)."""

import gc

#: Allocations (minus deallocations) between two collections of the youngest generation; CPython's default is 700.
YOUNG_COLLECTION_EVERY = 50_000


def tune_garbage_collector() -> None:
    """Run CPython's cyclic garbage collector less often, and never again over what exists when serving starts.

    Why: every transfer, bet or request allocates many short-lived objects (dicts, futures, models) that reference
    counting frees at once, yet with the default thresholds the cyclic collector still ran every 700 allocations and
    its older generations walked every module, class and function loaded at import. Moving what exists at startup to
    the permanent generation (`gc.freeze`) takes it out of every later collection, and a higher first threshold makes
    the young collections rarer; reference cycles are still collected, a little later. Measured on the in-process
    wallet bench (docs/benchmarks.md, session 5): about 10 % less CPU per transfer in the wallet's process.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)
