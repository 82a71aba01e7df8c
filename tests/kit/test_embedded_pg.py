"""The embedded PostgreSQL: one owner per data directory."""

import pytest

from croupier.kit.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError


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
