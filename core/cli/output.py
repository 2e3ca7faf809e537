"""How the CLI reports: errors as the contract says (then exit), tables, paths.

Exit codes: 0 success, 1 a run or check failed, 2 bad usage, a load error or a storage
error. With ``--json`` stdout holds exactly one JSON document; errors then also go to
stdout as ``{"error": {...}}`` (and, readable, to stderr).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from flowdev.errors import FlowdevError
from flowdev.paths import shown_path
from flowdev.project.project import Project, describe_error

if TYPE_CHECKING:
    from flowdev.project.loader import LoadError


def fail(error: FlowdevError, as_json: bool, code: int = 2) -> NoReturn:
    """Report ``error`` as the CLI contract says and exit with ``code``."""
    typer.echo(f"error: {error}", err=True)
    if as_json:
        typer.echo(json.dumps({"error": describe_error(error)}))
    raise typer.Exit(code)


def fail_load(error: LoadError, project: Project, as_json: bool) -> NoReturn:
    """Report a failed load (one paragraph, then the user's traceback) and exit 2."""
    typer.echo(f"error: {error.describe()}", err=True)
    details = error.traceback if error.kind in _CODE_ERRORS else error.output
    if details.strip():
        typer.echo(_indented(details), err=True)
    if as_json:
        typer.echo(json.dumps({"error": load_error_json(error)}))
    raise typer.Exit(2)


# Load errors raised by the user's code (the others: a timeout, a crash, no definitions).
_CODE_ERRORS = ("syntax_error", "import_error", "module_error", "definitions_error")


def load_error_json(error: LoadError) -> dict[str, Any]:
    """The ``{"error": ...}`` document of a failed load."""
    # Flowdev's own validation errors keep their class name, as `describe_error` gives.
    kind = error.exception_type if error.kind == "definitions_error" else "ProjectError"
    return {"kind": kind, "message": error.describe(), "file": error.file, "line": error.line}


def _indented(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def relative_path(project: Project, filename: str) -> str:
    """``filename`` relative to the project's root, or as it is when outside it."""
    return shown_path(filename, project.root)


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """Columns padded to their widest cell, headers first."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
