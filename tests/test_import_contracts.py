"""The import contracts cover every module of every service: a new private module is private from the start.

import-linter only checks the modules a contract names. A module added to a service and not to its contract could
be imported by any other service without `lint-imports` noticing (as `croupier.wallet.batch_state` was, once).
"""

import tomllib
from pathlib import Path

import pytest

from croupier.bootstrap import SERVICES

#: The modules other services may import (ARCHITECTURE.md): a service's client and its events.
PUBLIC = {"client", "events"}


def _protected_by_package(repo_root: Path) -> dict[str, set[str]]:
    config = tomllib.loads((repo_root / "pyproject.toml").read_text())
    protected: dict[str, set[str]] = {}
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract["type"] == "protected":
            for module in contract["protected_modules"]:
                package, _, name = module.rpartition(".")
                protected.setdefault(package, set()).add(name)
    return protected


@pytest.mark.parametrize("service", [schema for schema, _ in SERVICES])
def test_every_private_module_of_a_service_is_in_its_protected_contract(repo_root: Path, service: str) -> None:
    package = repo_root / "src" / "croupier" / service
    modules = {path.stem for path in package.glob("*.py") if path.stem != "__init__"}
    modules |= {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}
    protected = _protected_by_package(repo_root).get(f"croupier.{service}", set())
    assert sorted(modules - PUBLIC - protected) == [], f"croupier.{service}: modules missing from its contract"
    assert sorted(protected & PUBLIC) == [], f"croupier.{service}: its public modules are protected"
