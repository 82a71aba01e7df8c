"""The embedded PostgreSQL: one owner per data directory."""

import subprocess

import pytest

from croupier.kit.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError, binaries_dir


def test_second_server_on_an_owned_data_directory_is_refused_and_the_owner_stays_recorded(
    pg_server: EmbeddedPostgres,
) -> None:
    lock = pg_server.data_dir / "croupier.lock"
    owner = lock.read_text()
    with pytest.raises(EmbeddedPostgresError, match="another Croupier process"):
        EmbeddedPostgres(pg_server.data_dir).start()
    assert lock.read_text() == owner


def test_running_url_of_an_owned_data_directory_reaches_the_owners_server(pg_server: EmbeddedPostgres) -> None:
    assert EmbeddedPostgres(pg_server.data_dir).running_url() == pg_server.url()


def test_server_log_rotates_in_a_bounded_set_of_weekday_files(pg_server: EmbeddedPostgres) -> None:
    result = subprocess.run(
        [
            str(binaries_dir() / "psql"),
            pg_server.url("postgres"),
            "-At",
            "-c",
            "SELECT current_setting('logging_collector'), current_setting('log_filename')",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "on|postgresql-%a.log"
