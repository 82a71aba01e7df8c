"""`croupier admin create`: bootstraps the first back-office user."""

import asyncio

import asyncpg
import pytest
from typer.testing import CliRunner

from croupier.bootstrap import DEFAULT_SERVICES, bootstrap, missing_services
from croupier.cli import app
from croupier.kit.config import Settings

runner = CliRunner()


def _admin(url: str, email: str) -> asyncpg.Record | None:
    async def fetch() -> asyncpg.Record | None:
        connection = await asyncpg.connect(url)
        try:
            return await connection.fetchrow(
                "SELECT email, roles, password_hash FROM identity.admins WHERE email = $1", email
            )
        finally:
            await connection.close()

    return asyncio.run(fetch())


def test_admin_create_when_password_on_stdin_creates_an_admin_with_argon2id(database_url: str) -> None:
    result = runner.invoke(
        app,
        [
            "admin",
            "create",
            "--email",
            "Root@Example.com",
            "--password-stdin",
            "--role",
            "admin",
            "--database-url",
            database_url,
        ],
        input="a very long password\n",
    )
    assert result.exit_code == 0, result.output
    row = _admin(database_url, "root@example.com")
    assert row is not None
    assert row["roles"] == ["admin"]
    assert row["password_hash"].startswith("$argon2id$")


def test_admin_create_when_roles_repeated_stores_them_all(database_url: str) -> None:
    args = ["admin", "create", "--email", "ops@example.com", "--password", "a very long password"]
    result = runner.invoke(app, [*args, "--role", "risk", "--role", "support", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    row = _admin(database_url, "ops@example.com")
    assert row is not None
    assert row["roles"] == ["risk", "support"]


def test_admin_create_when_email_exists_exits_1(database_url: str) -> None:
    args = [
        "admin",
        "create",
        "--email",
        "dup@example.com",
        "--password",
        "a very long password",
        "--database-url",
        database_url,
    ]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "admin_exists" in again.output


def test_admin_create_when_password_short_or_role_unknown_exits_2(database_url: str) -> None:
    short = runner.invoke(
        app, ["admin", "create", "--email", "a@example.com", "--password", "short", "--database-url", database_url]
    )
    assert short.exit_code == 2
    unknown = runner.invoke(
        app,
        [
            "admin",
            "create",
            "--email",
            "a@example.com",
            "--password",
            "long enough pw",
            "--role",
            "god",
            "--database-url",
            database_url,
        ],
    )
    assert unknown.exit_code == 2
    assert _admin(database_url, "a@example.com") is None


def test_serve_when_identity_without_wallet_exits_2() -> None:
    result = runner.invoke(app, ["serve", "--service", "identity", "--database-url", "postgresql://unused/db"])
    assert result.exit_code == 2
    assert "--service wallet" in result.output


@pytest.mark.parametrize(
    ("services", "missing"),
    [
        (["compliance", "wallet"], "identity"),
        (["games", "wallet", "identity"], "compliance"),
        (["games", "wallet", "compliance"], "identity"),  # needed through compliance, named all the same
        (["games"], "compliance, identity, wallet"),
        (["cashier", "wallet"], "compliance, identity"),
    ],
)
def test_serve_when_a_service_lacks_one_it_calls_in_process_exits_2_naming_it(
    services: list[str], missing: str
) -> None:
    flags = [option for service in services for option in ("--service", service)]
    result = runner.invoke(app, ["serve", *flags, "--database-url", "postgresql://unused/db"])
    assert result.exit_code == 2, result.output
    assert f"together with {missing}" in result.output, result.output


def test_every_service_runs_with_what_it_calls_in_process() -> None:
    assert missing_services(DEFAULT_SERVICES) is None
    assert missing_services(("wallet",)) is None
    assert missing_services(("wallet", "identity", "compliance", "games")) is None


@pytest.mark.parametrize("services", [("games",), ("compliance", "wallet"), ("cashier", "wallet", "identity")])
async def test_bootstrap_refuses_services_without_what_they_call_in_process_before_touching_the_database(
    services: tuple[str, ...],
) -> None:
    with pytest.raises(ValueError, match="together with"):
        await bootstrap(Settings(), "postgresql://nobody:x@127.0.0.1:1/none", services)
