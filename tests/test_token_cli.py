"""`croupier token`: a service token signed with the deployment's key opens the wallet API; none without a key."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from croupier.cli import app
from croupier.kit.auth import TokenSigner


def test_token_when_data_dir_has_a_key_is_signed_with_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROUPIER_AUTH_SECRET", raising=False)
    secret = "k" * 43
    (tmp_path / "auth-secret").write_text(secret)
    result = CliRunner().invoke(app, ["token", "--service", "ops-script", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    from datetime import timedelta

    principal = TokenSigner(secret, lifetime=timedelta(minutes=10)).verify(result.output.strip())
    assert (principal.kind, principal.subject) == ("service", "ops-script")


def test_token_when_no_key_exists_exits_1_without_creating_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROUPIER_AUTH_SECRET", raising=False)
    result = CliRunner().invoke(app, ["token", "--service", "x", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert not (tmp_path / "auth-secret").exists()
