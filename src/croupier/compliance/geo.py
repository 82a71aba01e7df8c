"""Resolve a client IP address to a country from a local IP-range database.

The data comes from the five Regional Internet Registries' "delegated-extended" statistics files: the country a
block is *registered* to, not where the device is (see docs/geo.md for the accuracy limits and the update
procedure). `croupier geo build` turns those files into the project's compact database; `IpCountryDatabase` loads it
and answers `country(ip)` with a binary search over sorted range starts.

The database format (gzip'd UTF-8 text, one record per line):

    # croupier-ip-country 1
    # built_at: 2026-11-22T05:30:00+00:00
    # source: delegated-ripencc-extended-latest (ripencc 20261121)
    4,1000000,10000ff,AU
    6,24000000000000000000000000000000,2400000fffffffffffffffffffffffff,JP

Lines starting with `#` are the header (`key: value`; `source` may repeat). A record is the address family (4 or
6), the first and the last address of the range as lowercase hexadecimal integers, and the ISO 3166-1 alpha-2
code. Records are sorted by family then start, never overlap, and adjacent ranges of the same country are merged.
"""

from __future__ import annotations

import bisect
import gzip
import ipaddress
import socket
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import IO, Literal, NamedTuple

FORMAT_NAME = "croupier-ip-country"
FORMAT_VERSION = 1
#: The database shipped in the package (see docs/geo.md for how it was produced).
SHIPPED_DATABASE = "ip-country.csv.gz"

Family = Literal[4, 6]
KEPT_STATUSES = frozenset({"allocated", "assigned"})
_IPV4_MAX = (1 << 32) - 1
_IPV6_MAX = (1 << 128) - 1


class IpRange(NamedTuple):
    family: Family
    start: int  # first address, as an integer
    end: int  # last address, inclusive
    country: str  # ISO 3166-1 alpha-2, upper case


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """One delegated-extended file that went into a database."""

    name: str  # the file name, e.g. delegated-ripencc-extended-latest
    registry: str = ""  # from the file's version line, e.g. ripencc
    serial: str = ""  # the file's serial / end date, e.g. 20261121

    def __str__(self) -> str:
        if not self.registry:
            return self.name
        return f"{self.name} ({self.registry} {self.serial})".replace(" )", ")")


@dataclass(frozen=True, slots=True)
class GeoMetadata:
    """What a database file says about itself."""

    format_version: int
    built_at: str
    sources: tuple[str, ...]
    ipv4_ranges: int
    ipv6_ranges: int
    path: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # any other header keys (e.g. method, iptocc_version)

    def as_dict(self) -> dict[str, object]:
        return {
            "format_version": self.format_version,
            "built_at": self.built_at,
            "sources": list(self.sources),
            "ipv4_ranges": self.ipv4_ranges,
            "ipv6_ranges": self.ipv6_ranges,
            "path": self.path,
            **self.extra,
        }


class GeoDatabaseError(ValueError):
    """A database or delegated file that cannot be read."""


# --- Parsing the RIRs' delegated-extended files -------------------------------------------------------------------


def parse_delegated(lines: Iterable[str], source: str = "<delegated>") -> tuple[SourceInfo, list[IpRange]]:
    """Parse one delegated(-extended) statistics file into address ranges.

    Keeps ipv4/ipv6 records whose status is allocated or assigned; skips comments, the version line, summary lines,
    ASN records and available/reserved space. `source` names the file in error messages and the header.
    """
    registry = serial = ""
    ranges: list[IpRange] = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("|")
        if parts[0][:1].isdigit():  # version line: version|registry|serial|records|startdate|enddate|UTCoffset
            if len(parts) >= 3:
                registry, serial = parts[1], parts[2]
            continue
        if len(parts) >= 6 and parts[-1] == "summary":
            continue
        if len(parts) < 7:
            raise GeoDatabaseError(f"{source}:{number}: expected registry|cc|type|start|value|date|status: {line!r}")
        _, cc, kind, start_text, value_text, _, status = parts[:7]
        if kind not in ("ipv4", "ipv6") or status.lower() not in KEPT_STATUSES:
            continue
        cc = cc.strip().upper()
        if len(cc) != 2 or not cc.isalpha() or cc == "ZZ":
            continue
        try:
            if kind == "ipv4":
                start = int(ipaddress.IPv4Address(start_text))
                end = start + int(value_text) - 1
                family: Family = 4
                limit = _IPV4_MAX
            else:
                start = int(ipaddress.IPv6Address(start_text))
                prefix = int(value_text)
                if not 0 <= prefix <= 128:
                    raise ValueError(f"prefix length {prefix}")
                end = start + (1 << (128 - prefix)) - 1
                family = 6
                limit = _IPV6_MAX
        except ValueError as error:
            raise GeoDatabaseError(f"{source}:{number}: {error}: {line!r}") from None
        if end < start or end > limit:
            raise GeoDatabaseError(f"{source}:{number}: range outside the address space: {line!r}")
        ranges.append(IpRange(family, start, end, cc))
    return SourceInfo(Path(source).name.removesuffix(".gz"), registry, serial), ranges


def read_delegated_file(path: Path) -> tuple[SourceInfo, list[IpRange]]:
    """Parse a delegated-extended file, plain or gzip'd."""
    with _open_text(path) as handle:
        return parse_delegated(handle, str(path))


def merge_ranges(ranges: Iterable[IpRange]) -> list[IpRange]:
    """Sort, resolve overlaps (the range that starts first keeps the overlap), merge adjacent same-country ranges."""
    merged: list[IpRange] = []
    for item in sorted(ranges):
        if merged and merged[-1].family == item.family:
            last = merged[-1]
            if item.end <= last.end:
                continue  # inside the previous range (duplicate or nested record)
            if item.start <= last.end:
                item = item._replace(start=last.end + 1)
            if item.start == last.end + 1 and item.country == last.country:
                merged[-1] = last._replace(end=item.end)
                continue
        merged.append(item)
    return merged


# --- The database file ---------------------------------------------------------------------------------------------


def write_database(
    path: Path,
    ranges: Iterable[IpRange],
    sources: Iterable[str],
    *,
    built_at: datetime | None = None,
    extra: dict[str, str] | None = None,
) -> GeoMetadata:
    """Write ranges (merged here) as a database file; gzip'd when `path` ends in .gz. Returns its metadata."""
    merged = merge_ranges(ranges)
    stamp = (built_at or datetime.now(UTC)).replace(microsecond=0).isoformat()
    source_list = tuple(sources)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {FORMAT_NAME} {FORMAT_VERSION}", f"# built_at: {stamp}"]
    lines += [f"# source: {source}" for source in source_list]
    lines += [f"# {key}: {value}" for key, value in (extra or {}).items()]
    lines += [f"{r.family},{r.start:x},{r.end:x},{r.country}" for r in merged]
    data = ("\n".join(lines) + "\n").encode()
    temporary = path.with_name(path.name + ".tmp")
    if path.suffix == ".gz":
        # mtime=0 keeps the bytes identical for identical content (reviewable, reproducible builds)
        with gzip.GzipFile(temporary, "wb", compresslevel=9, mtime=0) as compressed:
            compressed.write(data)
    else:
        temporary.write_bytes(data)
    temporary.replace(path)
    return GeoMetadata(
        format_version=FORMAT_VERSION,
        built_at=stamp,
        sources=source_list,
        ipv4_ranges=sum(1 for r in merged if r.family == 4),
        ipv6_ranges=sum(1 for r in merged if r.family == 6),
        path=str(path),
        extra=dict(extra or {}),
    )


def build_database(files: Iterable[Path], out: Path, *, built_at: datetime | None = None) -> GeoMetadata:
    """`croupier geo build`: parse delegated-extended files (plain or .gz) and write the database to `out`."""
    sources: list[str] = []
    ranges: list[IpRange] = []
    for path in files:
        info, found = read_delegated_file(path)
        sources.append(str(info))
        ranges.extend(found)
    return write_database(out, ranges, sources, built_at=built_at, extra={"method": "croupier geo build"})


def _open_text(path: Path) -> IO[str]:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


class _FamilyTable:
    """Sorted, non-overlapping ranges of one address family, searched with bisect."""

    __slots__ = ("codes", "ends", "starts")

    def __init__(self, starts: list[int] | array[int], ends: list[int] | array[int], codes: array[int]) -> None:
        self.starts = starts
        self.ends = ends
        self.codes = codes  # index into IpCountryDatabase._countries

    def find(self, address: int) -> int | None:
        index = bisect.bisect_right(self.starts, address) - 1
        if index >= 0 and address <= self.ends[index]:
            return self.codes[index]
        return None

    def __len__(self) -> int:
        return len(self.starts)


class IpCountryDatabase:
    """IP address → registered country, from a croupier-ip-country file. Immutable once loaded; thread-safe."""

    def __init__(self, ranges: Iterable[IpRange], metadata: GeoMetadata | None = None) -> None:
        countries: dict[str, int] = {}
        # IPv4 bounds fit 32-bit unsigned arrays (compact: ~9 bytes a range); IPv6 bounds need Python ints.
        v4_starts, v4_ends, v4_codes = array("L"), array("L"), array("H")
        v6_starts: list[int] = []
        v6_ends: list[int] = []
        v6_codes = array("H")
        previous: tuple[int, int] = (0, -1)
        for item in ranges:
            key = (item.family, item.start)
            if key <= previous:
                raise GeoDatabaseError("ranges must be sorted by family then start and must not overlap")
            previous = (item.family, item.end)
            code = countries.setdefault(item.country, len(countries))
            if item.family == 4:
                v4_starts.append(item.start)
                v4_ends.append(item.end)
                v4_codes.append(code)
            else:
                v6_starts.append(item.start)
                v6_ends.append(item.end)
                v6_codes.append(code)
        self._countries = tuple(countries)
        self._v4 = _FamilyTable(v4_starts, v4_ends, v4_codes)
        self._v6 = _FamilyTable(v6_starts, v6_ends, v6_codes)
        self.metadata = metadata or GeoMetadata(
            format_version=FORMAT_VERSION, built_at="", sources=(), ipv4_ranges=len(self._v4), ipv6_ranges=len(self._v6)
        )

    @classmethod
    def load(cls, path: Path | str | None = None) -> IpCountryDatabase:
        """Load a database file (gzip'd or plain); without `path`, the one shipped in the package."""
        if path is None:
            shipped = resources.files("croupier.compliance").joinpath("data", SHIPPED_DATABASE)
            with resources.as_file(shipped) as real_path:
                return cls._load_file(real_path)
        return cls._load_file(Path(path))

    @classmethod
    def _load_file(cls, path: Path) -> IpCountryDatabase:
        header: dict[str, str] = {}
        sources: list[str] = []
        version = 0
        ranges: list[IpRange] = []
        try:
            with _open_text(path) as handle:
                for number, line in enumerate(handle, 1):
                    if line.startswith("#"):
                        text = line[1:].strip()
                        if number == 1:
                            name, _, version_text = text.partition(" ")
                            if name != FORMAT_NAME or not version_text.isdigit():
                                raise GeoDatabaseError(f"{path}: not a {FORMAT_NAME} file")
                            version = int(version_text)
                            if version > FORMAT_VERSION:
                                raise GeoDatabaseError(f"{path}: format version {version} is newer than this code")
                            continue
                        key, _, value = text.partition(":")
                        if key.strip() == "source":
                            sources.append(value.strip())
                        else:
                            header[key.strip()] = value.strip()
                        continue
                    if number == 1:
                        raise GeoDatabaseError(f"{path}: not a {FORMAT_NAME} file")
                    family, start, end, country = line.rstrip("\n").split(",")
                    ranges.append(IpRange(4 if family == "4" else 6, int(start, 16), int(end, 16), country))
        except (OSError, EOFError, UnicodeDecodeError) as error:
            raise GeoDatabaseError(f"{path}: {error}") from error
        except ValueError as error:
            if isinstance(error, GeoDatabaseError):
                raise
            raise GeoDatabaseError(f"{path}: malformed record: {error}") from error
        built_at = header.pop("built_at", "")
        metadata = GeoMetadata(
            format_version=version,
            built_at=built_at,
            sources=tuple(sources),
            ipv4_ranges=sum(1 for r in ranges if r.family == 4),
            ipv6_ranges=sum(1 for r in ranges if r.family == 6),
            path=str(path),
            extra=header,
        )
        return cls(ranges, metadata)

    def country(self, ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """The ISO 3166-1 alpha-2 country the address is registered to, or None if no RIR delegation covers it
        (private, loopback, documentation, unallocated space).

        IPv4-mapped IPv6 addresses (``::ffff:1.2.3.4``) resolve as their IPv4 address. Raises ValueError when `ip`
        is not an IP address.
        """
        family, address = _parse(ip)
        code = (self._v4 if family == 4 else self._v6).find(address)
        return None if code is None else self._countries[code]

    def ranges(self) -> Iterator[IpRange]:
        """Every range, IPv4 then IPv6, sorted."""
        for family, table in ((4, self._v4), (6, self._v6)):
            for start, end, code in zip(table.starts, table.ends, table.codes, strict=True):
                yield IpRange(family, start, end, self._countries[code])  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._v4) + len(self._v6)


def _parse(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[Family, int]:
    if isinstance(ip, str):
        text = ip.strip()
        # inet_pton is several times faster than ipaddress and rejects the odd forms ("1", "1.2.3") inet_aton takes
        try:
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
        except OSError:
            pass
        try:
            address = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
        except OSError:
            try:
                parsed = ipaddress.ip_address(text)  # e.g. a scoped fe80::1%eth0
            except ValueError:
                raise ValueError(f"not an IP address: {ip!r}") from None
            return _parse(parsed)
    else:
        if ip.version == 4:
            return 4, int(ip)
        address = int(ip)
    if address >> 32 == 0xFFFF:  # ::ffff:a.b.c.d
        return 4, address & _IPV4_MAX
    return 6, address
