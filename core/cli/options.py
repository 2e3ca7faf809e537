"""The options and arguments several `flowdev` commands share, as Typer annotations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ProjectOption = Annotated[
    Path, typer.Option("--project", "-p", help="The project directory.", show_default=False)
]
ModuleOption = Annotated[
    str | None, typer.Option("--module", "-m", help="Import the definitions from this module.")
]
FileOption = Annotated[
    str | None, typer.Option("--file", "-f", help="Load the definitions from this Python file.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
LoadTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--load-timeout",
        min=0.1,
        help="Seconds the definitions may take to import (default: [tool.flowdev]"
        " load_timeout, else 30).",
        show_default=False,
    ),
]
SelectOption = Annotated[
    str | None,
    typer.Option("--select", "-s", help="An asset selection, e.g. 'group:ingest+' or 'orders*'."),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Run config: a JSON, YAML or TOML file.", exists=False),
]
RunIdArgument = Annotated[str, typer.Argument(help="A run id (a unique prefix is enough).")]
ExecutorOption = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="How the run's steps execute: in_process, multiprocess[=N] (N at once) or "
        "dask[=ADDRESS]. Default: the project's executor, else multiprocess.",
        show_default=False,
    ),
]
