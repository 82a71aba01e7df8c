"""Regenerate the shipped IP → country database by probing the `iptocc` package (maintainer script).

Not part of the croupier package and `iptocc` is not a runtime dependency: install it next to croupier only to run
this script (`pip install iptocc`). The preferred update is `croupier geo build` from the RIRs' own delegated-extended
files (docs/geo.md); this script exists because the project's build machine could not download them, while iptocc
embeds the same RIR data.

What it probes:
- IPv4: the first and the last address of every /24 (RIRs delegate IPv4 in blocks of at least 256 addresses); a /24
  whose two ends disagree is probed address by address.
- IPv6: every /20 of 2000::/3 to discover which parts of the global unicast space carry any delegation (reported),
  then the first address of every /32 in the RIR-managed blocks, plus its last address and two pseudo-random /48s
  inside it. A /32 whose samples disagree holds several delegations (RIRs assign down to /48) and is probed at every
  /48. Everything else is taken at /32 granularity.

Usage: python scripts/geo_from_iptocc.py [--out src/croupier/compliance/data/ip-country.csv.gz]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from ipaddress import IPv6Network
from pathlib import Path

from iptocc import country_code

from croupier.compliance.geo import SHIPPED_DATABASE, IpRange, write_database

BATCH = 1 << 16
# The blocks IANA delegated to the RIRs (https://www.iana.org/assignments/ipv6-unicast-address-assignments).
RIR_IPV6_BLOCKS = [
    "2001::/16",
    "2003::/18",
    "2400::/12",
    "2600::/12",
    "2610::/23",
    "2620::/23",
    "2800::/12",
    "2a00::/12",
    "2c00::/12",
]
Lookup = Callable[[list[str]], list[str | None]]


def lookup(addresses: list[str]) -> list[str | None]:
    return [code.upper() if code else None for code in country_code(addresses)]


class RangeCollector:
    """Appends cells in ascending order and merges adjacent cells of the same country on the fly."""

    def __init__(self) -> None:
        self.ranges: list[IpRange] = []

    def add(self, family: int, start: int, end: int, country: str | None) -> None:
        if country is None:
            return
        if self.ranges:
            last = self.ranges[-1]
            if last.family == family and last.country == country and last.end + 1 == start:
                self.ranges[-1] = last._replace(end=end)
                return
        self.ranges.append(IpRange(family, start, end, country))  # type: ignore[arg-type]


def probe_ipv4(collector: RangeCollector, lookup: Lookup) -> dict[str, int]:
    suffixes = [f"{b}.{c}." for b in range(256) for c in range(256)]
    split = 0
    for a in range(256):
        prefix = f"{a}."
        firsts = lookup([prefix + s + "0" for s in suffixes])
        lasts = lookup([prefix + s + "255" for s in suffixes])
        for index, (first, last) in enumerate(zip(firsts, lasts, strict=True)):
            base = (a << 24) | (index << 8)
            if first == last:
                collector.add(4, base, base + 255, first)
                continue
            split += 1
            head = f"{prefix}{suffixes[index]}"
            for offset, code in enumerate(lookup([f"{head}{d}" for d in range(256)])):
                collector.add(4, base + offset, base + offset, code)
    return {"ipv4_probes": 2 * (1 << 24) + split * 256, "ipv4_split_24s": split}


def _v6(value: int) -> str:
    """Full (uncompressed) IPv6 text form."""
    groups = [(value >> shift) & 0xFFFF for shift in range(112, -1, -16)]
    return ":".join(f"{g:x}" for g in groups)


def _prefix_cells(cidr: str, length: int) -> range:
    network = IPv6Network(cidr)
    start = int(network.network_address) >> (128 - length)
    return range(start, start + (1 << (length - network.prefixlen)))


def _batched(items: list[int], size: int = BATCH) -> Iterator[list[int]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


def discover_ipv6(lookup: Lookup) -> list[str]:
    """Which /20s of 2000::/3 have a delegation at their first address (a coarse map, for the report)."""
    cells = list(_prefix_cells("2000::/3", 20))
    found: list[str] = []
    for batch in _batched(cells):
        for cell, code in zip(batch, lookup([_v6(c << 108) for c in batch]), strict=True):
            if code is not None:
                found.append(str(IPv6Network((cell << 108, 20))))
    return found


def probe_ipv6(collector: RangeCollector, lookup: Lookup, rng: random.Random, blocks: list[str]) -> dict[str, int]:
    cells = sorted({cell for block in blocks for cell in _prefix_cells(block, 32)})
    # Strings are built by concatenation (like the IPv4 pass): formatting 128-bit integers is the slow part.
    group = [f"{g:x}" for g in range(1 << 16)]
    slash48_suffixes = [f"{g}::" for g in group]
    probes = 0
    mixed: set[int] = set()
    first_codes: dict[int, str | None] = {}
    for number, batch in enumerate(_batched(cells)):
        heads = [f"{group[c >> 16]}:{group[c & 0xFFFF]}:" for c in batch]
        samples = [rng.randrange(1, 1 << 16) for _ in range(2 * len(batch))]
        firsts = lookup([head + ":" for head in heads])
        lasts = lookup([head + "ffff:ffff:ffff:ffff:ffff:ffff" for head in heads])
        mids_a = lookup([head + slash48_suffixes[samples[2 * i]] for i, head in enumerate(heads)])
        mids_b = lookup([head + slash48_suffixes[samples[2 * i + 1]] for i, head in enumerate(heads)])
        probes += 4 * len(batch)
        for cell, first, last, mid_a, mid_b in zip(batch, firsts, lasts, mids_a, mids_b, strict=True):
            first_codes[cell] = first
            if not first == last == mid_a == mid_b:
                mixed.add(cell)
        if number % 16 == 0:
            print(f"  /32 pass: {number * BATCH}/{len(cells)}, mixed so far {len(mixed)}", file=sys.stderr)
    print(f"  {len(mixed)} mixed /32s to probe at /48", file=sys.stderr)
    for cell in cells:
        base = cell << 96
        if cell not in mixed:
            collector.add(6, base, base | ((1 << 96) - 1), first_codes[cell])
            continue
        head = f"{group[cell >> 16]}:{group[cell & 0xFFFF]}:"
        codes = lookup([head + suffix for suffix in slash48_suffixes])
        probes += len(codes)
        for sub, code in enumerate(codes):
            start = base | (sub << 80)
            collector.add(6, start, start | ((1 << 80) - 1), code)
    return {"ipv6_probes": probes, "ipv6_slash32s": len(cells), "ipv6_mixed_slash32s": len(mixed)}


def main() -> int:
    default_out = Path(__file__).resolve().parent.parent / "src/croupier/compliance/data" / SHIPPED_DATABASE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--seed", type=int, default=20261122, help="seed of the /48 samples (reproducible runs)")
    args = parser.parse_args()

    started = time.process_time()
    collector = RangeCollector()
    stats: dict[str, int] = {}
    stats |= probe_ipv4(collector, lookup)
    print(f"ipv4 done: {stats} ({time.process_time() - started:.0f}s CPU)", file=sys.stderr)
    found = discover_ipv6(lookup)
    # A /20 with data outside the listed blocks means IANA delegated more space to an RIR: probe its whole /12.
    extra_blocks = sorted(
        {str(IPv6Network(prefix).supernet(new_prefix=12)) for prefix in found if not _covered(prefix, RIR_IPV6_BLOCKS)}
    )
    print(f"ipv6 /20s with data: {len(found)}; /12s added to the probe: {extra_blocks}", file=sys.stderr)
    blocks = RIR_IPV6_BLOCKS + extra_blocks
    stats |= probe_ipv6(collector, lookup, random.Random(args.seed), blocks)
    cpu = time.process_time() - started
    print(f"ipv6 done: {stats} ({cpu:.0f}s CPU)", file=sys.stderr)
    iptocc_version = version("iptocc")
    metadata = write_database(
        args.out,
        collector.ranges,
        [f"iptocc {iptocc_version} (embedded RIR delegated-extended data), probed"],
        built_at=datetime.now(UTC),
        extra={
            "method": "scripts/geo_from_iptocc.py: IPv4 every /24 (split to /32 where its ends disagree); "
            "IPv6 every /32 of the RIR blocks, split to /48 where samples disagree",
            "iptocc_version": iptocc_version,
            "ipv6_blocks": " ".join(blocks),
            **{key: str(value) for key, value in stats.items()},
        },
    )
    size = args.out.stat().st_size
    print(
        f"wrote {args.out} ({size / 1e6:.2f} MB): {metadata.ipv4_ranges} IPv4 and {metadata.ipv6_ranges} IPv6 ranges, "
        f"{cpu:.0f}s CPU"
    )
    return 0


def _covered(prefix: str, blocks: list[str]) -> bool:
    """Whether a /20 overlaps one of the blocks (then the /32 pass already probes its delegated part)."""
    network = IPv6Network(prefix)
    return any(network.overlaps(IPv6Network(block)) for block in blocks)


if __name__ == "__main__":
    sys.exit(main())
