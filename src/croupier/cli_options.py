"""Options the `croupier` commands share (the main CLI and the services' own command groups)."""

from pathlib import Path
from typing import Annotated

import typer

from croupier.kit.config import Settings

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Embedded PostgreSQL data directory (env CROUPIER_DATA_DIR).")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Use this PostgreSQL instead of the embedded one (env CROUPIER_DATABASE_URL)."),
]


def settings_from_options(
    data_dir: Path | None = None, database_url: str | None = None, **overrides: object
) -> Settings:
    """Settings from the environment, with the options given on the command line on top."""
    values: dict[str, object] = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    if database_url is not None:
        values["database_url"] = database_url
    return Settings(**values)  # type: ignore[arg-type]
