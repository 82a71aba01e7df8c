"""IP → country: parsing the RIRs' delegated-extended files, the database file, lookups, the shipped data, the CLI."""

import gzip
import ipaddress
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from croupier.cli import app
from croupier.compliance.geo import (
    GeoDatabaseError,
    IpCountryDatabase,
    IpRange,
    build_database,
    merge_ranges,
    parse_delegated,
)

SAMPLE = """\
2|apnic|20261121|6|19830613|20261120|+1000
# a comment
apnic|*|ipv4|*|5|summary
apnic|*|ipv6|*|3|summary
apnic|*|asn|*|1|summary
apnic|JP|asn|173|1|20020801|allocated|A91A7381
apnic|AU|ipv4|1.0.0.0|256|20110811|assigned|A91872ED
apnic|AU|ipv4|1.0.1.0|256|20110414|allocated|A92E1062
apnic|CN|ipv4|1.0.2.0|512|20110414|allocated|A92E1062
apnic||ipv4|1.0.4.0|1024||available|
apnic|JP|ipv4|1.0.16.0|4096|20110412|allocated|A92D9378
apnic|ZZ|ipv4|1.0.32.0|256||reserved|
apnic|JP|ipv6|2001:200::|35|19990813|allocated|A91A7381
apnic|JP|ipv6|2001:200:2000::|35|20030423|allocated|A91A7381
apnic|AU|ipv6|2001:df0:1::|48|20090720|assigned|A91CD1D6
apnic|AP|ipv6|2001:df0:2::|48||reserved|
"""


def ip(text: str) -> int:
    return int(ipaddress.ip_address(text))


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    path = tmp_path / "delegated-apnic-extended-latest"
    path.write_text(SAMPLE)
    return path


@pytest.fixture
def sample_db(sample_file: Path, tmp_path: Path) -> IpCountryDatabase:
    out = tmp_path / "geo.csv.gz"
    build_database([sample_file], out, built_at=datetime(2026, 11, 22, tzinfo=UTC))
    return IpCountryDatabase.load(out)


@pytest.fixture(scope="module")
def shipped() -> IpCountryDatabase:
    return IpCountryDatabase.load()


def test_parse_delegated_keeps_allocated_and_assigned_ip_records_only():
    info, ranges = parse_delegated(SAMPLE.splitlines(), "delegated-apnic-extended-latest")
    assert (info.registry, info.serial) == ("apnic", "20261121")
    assert ranges == [
        IpRange(4, ip("1.0.0.0"), ip("1.0.0.255"), "AU"),
        IpRange(4, ip("1.0.1.0"), ip("1.0.1.255"), "AU"),
        IpRange(4, ip("1.0.2.0"), ip("1.0.3.255"), "CN"),
        IpRange(4, ip("1.0.16.0"), ip("1.0.31.255"), "JP"),
        IpRange(6, ip("2001:200::"), ip("2001:200:1fff:ffff:ffff:ffff:ffff:ffff"), "JP"),
        IpRange(6, ip("2001:200:2000::"), ip("2001:200:3fff:ffff:ffff:ffff:ffff:ffff"), "JP"),
        IpRange(6, ip("2001:df0:1::"), ip("2001:df0:1:ffff:ffff:ffff:ffff:ffff"), "AU"),
    ]


def test_parse_delegated_rejects_a_truncated_record_with_its_line_number():
    with pytest.raises(GeoDatabaseError, match=r"bad-file:2"):
        parse_delegated(["2|ripencc|20261121|1|0|0|+0000", "ripencc|FR|ipv4|2.0.0.0"], "bad-file")


def test_merge_joins_adjacent_ranges_of_the_same_country_only():
    _, ranges = parse_delegated(SAMPLE.splitlines())
    merged = merge_ranges(ranges)
    assert merged[:3] == [
        IpRange(4, ip("1.0.0.0"), ip("1.0.1.255"), "AU"),
        IpRange(4, ip("1.0.2.0"), ip("1.0.3.255"), "CN"),
        IpRange(4, ip("1.0.16.0"), ip("1.0.31.255"), "JP"),
    ]
    assert merged[3] == IpRange(6, ip("2001:200::"), ip("2001:200:3fff:ffff:ffff:ffff:ffff:ffff"), "JP")
    assert len(merged) == 5


def test_merge_resolves_overlaps_in_favour_of_the_earlier_range():
    merged = merge_ranges([IpRange(4, 100, 199, "FR"), IpRange(4, 150, 299, "DE"), IpRange(4, 120, 130, "IT")])
    assert merged == [IpRange(4, 100, 199, "FR"), IpRange(4, 200, 299, "DE")]


def test_build_writes_a_sorted_gzip_file_with_header(sample_file: Path, tmp_path: Path):
    out = tmp_path / "geo.csv.gz"
    metadata = build_database([sample_file], out, built_at=datetime(2026, 11, 22, tzinfo=UTC))
    lines = gzip.decompress(out.read_bytes()).decode().splitlines()
    assert lines[0] == "# croupier-ip-country 1"
    assert "# built_at: 2026-11-22T00:00:00+00:00" in lines
    assert "# source: delegated-apnic-extended-latest (apnic 20261121)" in lines
    assert [line for line in lines if not line.startswith("#")][:2] == ["4,1000000,10001ff,AU", "4,1000200,10003ff,CN"]
    assert (metadata.ipv4_ranges, metadata.ipv6_ranges) == (3, 2)


def test_build_reads_gzip_input(tmp_path: Path):
    path = tmp_path / "delegated-apnic-extended-latest.gz"
    path.write_bytes(gzip.compress(SAMPLE.encode()))
    metadata = build_database([path], tmp_path / "out.csv.gz")
    assert metadata.sources == ("delegated-apnic-extended-latest (apnic 20261121)",)
    assert IpCountryDatabase.load(tmp_path / "out.csv.gz").country("1.0.16.1") == "JP"


@pytest.mark.parametrize(
    ("address", "country"),
    [
        ("1.0.0.0", "AU"),  # first address of the first range
        ("1.0.1.255", "AU"),  # last address of the merged AU range
        ("1.0.2.0", "CN"),  # first address after a country change
        ("1.0.3.255", "CN"),
        ("1.0.4.0", None),  # available space
        ("1.0.15.255", None),  # the gap's last address
        ("1.0.16.0", "JP"),
        ("1.0.31.255", "JP"),
        ("1.0.32.0", None),  # reserved
        ("0.255.255.255", None),  # before every range
        ("255.255.255.255", None),  # after every range
        ("2001:200::", "JP"),
        ("2001:200:3fff:ffff:ffff:ffff:ffff:ffff", "JP"),
        ("2001:200:4000::", None),
        ("2001:df0:1::1", "AU"),
        ("2001:df0:2::1", None),
        ("::", None),
    ],
)
def test_lookup_at_range_boundaries(sample_db: IpCountryDatabase, address: str, country: str | None):
    assert sample_db.country(address) == country


def test_lookup_of_ipv4_mapped_ipv6_uses_the_ipv4_address(sample_db: IpCountryDatabase):
    assert sample_db.country("::ffff:1.0.2.1") == "CN"
    assert sample_db.country("::ffff:0100:0201") == "CN"


def test_lookup_accepts_ipaddress_objects(sample_db: IpCountryDatabase):
    assert sample_db.country(ipaddress.ip_address("1.0.16.9")) == "JP"
    assert sample_db.country(ipaddress.ip_address("::ffff:1.0.0.1")) == "AU"


@pytest.mark.parametrize("bad", ["", "not-an-ip", "1.2.3", "256.1.1.1", "1.2.3.4/24", "2001:::1"])
def test_lookup_of_invalid_address_raises_value_error(sample_db: IpCountryDatabase, bad: str):
    with pytest.raises(ValueError, match="not an IP address"):
        sample_db.country(bad)


def test_load_rejects_a_file_of_another_format(tmp_path: Path):
    path = tmp_path / "other.csv"
    path.write_text("start,end,cc\n1,2,FR\n")
    with pytest.raises(GeoDatabaseError, match="not a croupier-ip-country file"):
        IpCountryDatabase.load(path)


def test_metadata_names_sources_and_counts(sample_db: IpCountryDatabase):
    metadata = sample_db.metadata
    assert metadata.built_at == "2026-11-22T00:00:00+00:00"
    assert metadata.sources == ("delegated-apnic-extended-latest (apnic 20261121)",)
    assert (metadata.ipv4_ranges, metadata.ipv6_ranges) == (3, 2)
    assert metadata.extra["method"] == "croupier geo build"


@pytest.mark.parametrize(
    ("address", "country"),
    [
        ("8.8.8.8", "US"),
        ("1.0.16.1", "JP"),
        ("193.0.6.139", "NL"),  # RIPE NCC
        ("2001:db8::1", None),  # documentation
        ("127.0.0.1", None),  # loopback
        ("10.1.2.3", None),  # private
        ("192.168.1.1", None),
        ("::1", None),
        ("fe80::1", None),
        ("::ffff:8.8.8.8", "US"),
        ("2001:200::1", "JP"),  # WIDE project, APNIC
        ("2a00:1450:4001::1", "IE"),  # Google Ireland, RIPE NCC
    ],
)
def test_shipped_database_resolves_well_known_addresses(shipped: IpCountryDatabase, address: str, country: str | None):
    assert shipped.country(address) == country


def test_shipped_database_documents_its_source(shipped: IpCountryDatabase):
    assert shipped.metadata.built_at
    assert any("iptocc" in source or "delegated" in source for source in shipped.metadata.sources)
    assert shipped.metadata.ipv4_ranges > 50_000
    assert shipped.metadata.ipv6_ranges > 10_000


runner = CliRunner()


def test_cli_build_then_lookup_json(sample_file: Path, tmp_path: Path):
    out = tmp_path / "built.csv.gz"
    result = runner.invoke(app, ["geo", "build", str(sample_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()
    result = runner.invoke(app, ["geo", "lookup", "1.0.16.1", "--db", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"ip": "1.0.16.1", "country": "JP"}


def test_cli_lookup_prints_the_country_from_the_shipped_database():
    result = runner.invoke(app, ["geo", "lookup", "8.8.8.8"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "US"


def test_cli_lookup_of_unknown_address_exits_1():
    result = runner.invoke(app, ["geo", "lookup", "127.0.0.1", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"ip": "127.0.0.1", "country": None}


def test_cli_lookup_of_invalid_address_exits_2():
    result = runner.invoke(app, ["geo", "lookup", "nope"])
    assert result.exit_code == 2
    assert "not an IP address" in result.output


def test_cli_build_of_missing_file_exits_2(tmp_path: Path):
    result = runner.invoke(app, ["geo", "build", str(tmp_path / "missing"), "--out", str(tmp_path / "o.gz")])
    assert result.exit_code == 2
