"""The `flowdev` command line.

Exit codes: 0 success, 1 a run or check failed, 2 bad usage, a load error or a storage
error. With ``--json`` stdout holds exactly one JSON document; errors then also go to
stdout as ``{"error": {...}}`` (and, readable, to stderr).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from flowdev import __version__
from flowdev.errors import FlowdevError, close_matches, did_you_mean
from flowdev.instance.run_records import RunStatus
from flowdev.instance.storage import Storage
from flowdev.project.project import Project, describe_error, find_project
from typer.core import TyperGroup

if TYPE_CHECKING:
    from collections.abc import Callable

    from flowdev.instance.status import AssetStatus
    from flowdev.keys import AssetKey
    from flowdev.project.loader import LoadError
    from flowdev.project.snapshot import AssetSnapshot, DefinitionsSnapshot
    from flowdev.project.watch import LoadFailed, Reloaded
    from typer import _click as click  # typer's own copy of click, which its classes use


class _Commands(TyperGroup):
    """flowdev's commands: a `FlowdevError` none of them answered ends as `fail` says
    (exit 2).

    `Storage` raises `StorageError` for every failure of the instance, wherever a command
    meets it (opening, the first query, the middle of a run), and a launch refuses bad
    run config or settings before it records a run; this is the one place that turns
    what escapes a command into the contract's paragraph instead of a traceback.
    """

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[_INVOKED] = (name, command, list(rest))
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlowdevError as error:
            fail(error, _wants_json(ctx))


_INVOKED = "flowdev.invoked"


def _wants_json(ctx: click.Context) -> bool:
    """Whether the command that failed was given ``--json`` (its arguments, parsed again)."""
    invoked = ctx.meta.get(_INVOKED)
    if invoked is None or invoked[1] is None:
        return False
    name, command, args = invoked
    parsed = command.make_context(name, args, parent=ctx, resilient_parsing=True)
    return bool(parsed.params.get("as_json"))


app = typer.Typer(
    cls=_Commands,
    name="flowdev",
    help="Asset-first data pipelines with a live terminal dev environment.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flowdev {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    context: typer.Context,
    project_dir: ProjectOption = Path("."),
    module: ModuleOption = None,
    file: FileOption = None,
    load_timeout: LoadTimeoutOption = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Asset-first data pipelines with a live terminal dev environment.

    Without a command, opens the app (`flowdev dev`).
    """
    if context.invoked_subcommand is None:
        dev(project_dir, module, file, load_timeout)


def fail(error: FlowdevError, as_json: bool, code: int = 2) -> NoReturn:
    """Report ``error`` as the CLI contract says and exit with ``code``."""
    typer.echo(f"error: {error}", err=True)
    if as_json:
        typer.echo(json.dumps({"error": describe_error(error)}))
    raise typer.Exit(code)


def load(
    project_dir: Path,
    module: str | None,
    file: str | None,
    as_json: bool,
    load_timeout: float | None = None,
) -> tuple[Project, DefinitionsSnapshot]:
    """Find the project and load its definitions in a child process, or exit 2."""
    from flowdev.project.loader import LoadError, load_project

    try:
        project = find_project(project_dir, module=module, file=file, load_timeout=load_timeout)
    except FlowdevError as error:
        fail(error, as_json)
    loaded = load_project(project)
    if isinstance(loaded, LoadError):
        fail_load(loaded, project, as_json)
    return project, loaded


def fail_load(error: LoadError, project: Project, as_json: bool) -> NoReturn:
    """Report a failed load (one paragraph, then the user's traceback) and exit 2."""
    typer.echo(f"error: {error.describe()}", err=True)
    details = error.traceback if error.kind in _CODE_ERRORS else error.output
    if details.strip():
        typer.echo(_indented(details), err=True)
    if as_json:
        typer.echo(json.dumps({"error": _load_error_json(error)}))
    raise typer.Exit(2)


# Load errors raised by the user's code (the others: a timeout, a crash, no definitions).
_CODE_ERRORS = ("syntax_error", "import_error", "module_error", "definitions_error")


def _load_error_json(error: LoadError) -> dict[str, Any]:
    # Flowdev's own validation errors keep their class name, as `describe_error` gives.
    kind = error.exception_type if error.kind == "definitions_error" else "ProjectError"
    return {"kind": kind, "message": error.describe(), "file": error.file, "line": error.line}


def _indented(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def _relative_source(project: Project, filename: str, line: int) -> str:
    path = Path(filename)
    if path.is_relative_to(project.root):
        path = path.relative_to(project.root)
    return f"{path}:{line}"


def _select(snapshot: DefinitionsSnapshot, query: str | None, as_json: bool) -> list[AssetKey]:
    graph = snapshot.asset_graph
    if query is None:
        return list(graph.keys)
    from flowdev.selection.syntax import select

    try:
        return graph.toposort(select(graph, query))
    except FlowdevError as error:
        fail(error, as_json)


@app.command()
def check(
    project_dir: ProjectOption = Path("."),
    module: ModuleOption = None,
    file: FileOption = None,
    load_timeout: LoadTimeoutOption = None,
    as_json: JsonOption = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            "-w",
            help="Keep going: load again after every save and print one line per load "
            "(with --json, one JSON document per line).",
        ),
    ] = False,
) -> None:
    """Load and validate the definitions; warn about dependencies nothing defines."""
    find = partial(find_project, project_dir, module=module, file=file, load_timeout=load_timeout)
    if watch:
        try:
            project = find()
        except FlowdevError as error:
            fail(error, as_json)
        _check_watch(project, as_json, find)
        return
    started = time.perf_counter()
    project, snapshot = load(project_dir, module, file, as_json, load_timeout)
    elapsed = time.perf_counter() - started
    graph = snapshot.asset_graph
    defined = [a.key.to_user_string() for a in snapshot.assets if not a.is_external]
    warnings = []
    for key in snapshot.undefined_dependency_keys:
        users = ", ".join(repr(c.to_user_string()) for c in graph.children(key))
        name = key.to_user_string()
        warnings.append(
            f"{name!r} is a dependency of {users} but nothing defines it, so it is treated as "
            f"an external asset.{did_you_mean(close_matches(name, defined))}"
        )
    groups = sorted({asset.group for asset in snapshot.assets})
    schedules = [s.name for s in snapshot.schedules if s.kind == "schedule"]
    sensors = [s.name for s in snapshot.schedules if s.kind == "sensor"]
    checks = [f"{c.asset_key.to_user_string()}:{c.name}" for c in snapshot.checks]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": True,
                    "assets": len(defined),
                    "external_assets": len(snapshot) - len(defined),
                    "groups": groups,
                    "jobs": [j.name for j in snapshot.jobs],
                    "schedules": schedules,
                    "sensors": sensors,
                    "asset_checks": checks,
                    "warnings": warnings,
                    "seconds": round(elapsed, 4),
                }
            )
        )
        return
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    parts = [f"{len(defined)} assets in {len(groups)} groups"]
    for label, count in (
        ("external", len(snapshot) - len(defined)),
        ("checks", len(checks)),
        ("jobs", len(snapshot.jobs)),
        ("schedules", len(schedules)),
        ("sensors", len(sensors)),
    ):
        if count:
            parts.append(f"{count} {label}")
    typer.echo(f"ok: {project.name}: {', '.join(parts)} (loaded in {elapsed:.2f}s)")


def _check_watch(project: Project, as_json: bool, reread: Callable[[], Project]) -> None:
    """`check --watch`: one line per load until Ctrl-C; ``reread`` finds the project
    again when its pyproject.toml is saved."""
    import asyncio

    from flowdev.project.watch import Reloaded, watch_project

    async def follow() -> None:
        previous: DefinitionsSnapshot | None = None
        async for event in watch_project(project, reread=reread):
            typer.echo(_watch_line(event, previous, project, as_json))
            if isinstance(event, Reloaded):
                previous = event.snapshot

    if not as_json:
        typer.echo(f"watching {project.root} (Ctrl-C to stop)", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow())


_DIFF_KEYS_SHOWN = 6


def _watch_line(
    event: Reloaded | LoadFailed,
    previous: DefinitionsSnapshot | None,
    project: Project,
    as_json: bool,
) -> str:
    """``12:00:05  13 assets  +raw_fares ~trips_clean  (38 ms; taxi/assets/ingest.py)``,
    or the error with its file:line."""
    from dataclasses import replace

    from flowdev.project.snapshot import SnapshotDiff, diff_snapshots
    from flowdev.project.watch import LoadFailed

    clock = datetime.now().astimezone()
    changed = [_relative(project, name) for name in event.changed_files]
    where = "; ".join(changed) or ("first load" if previous is None else "reload")
    if isinstance(event, LoadFailed):
        error = event.error
        if as_json:
            return json.dumps(
                {
                    "time": clock.isoformat(timespec="seconds"),
                    "ok": False,
                    "error": _load_error_json(error),
                    "changed_files": changed,
                }
            )
        summary = replace(error, changed_files=()).describe(relative_to=project.root)
        summary = summary.split("\n")[0]
        return f"{clock:%H:%M:%S}  error  {summary}  ({where})"
    snapshot = event.snapshot
    diff = diff_snapshots(previous, snapshot) if previous is not None else SnapshotDiff()
    count = sum(1 for asset in snapshot.assets if not asset.is_external)
    if as_json:
        return json.dumps(
            {
                "time": clock.isoformat(timespec="seconds"),
                "ok": True,
                "assets": count,
                "added": [k.to_user_string() for k in diff.added],
                "removed": [k.to_user_string() for k in diff.removed],
                "edited": [k.to_user_string() for k in diff.edited],
                "ms": round(event.ms, 1),
                "changed_files": changed,
            }
        )
    marks = [
        f"{sign}{key.to_user_string()}"
        for sign, keys in (("+", diff.added), ("-", diff.removed), ("~", diff.edited))
        for key in keys
    ]
    if len(marks) > _DIFF_KEYS_SHOWN:
        marks[_DIFF_KEYS_SHOWN:] = [f"and {len(marks) - _DIFF_KEYS_SHOWN} more"]
    what = "loaded" if previous is None else " ".join(marks) or "no asset changed"
    return f"{clock:%H:%M:%S}  {count} assets  {what}  ({event.ms:.0f} ms; {where})"


def _relative(project: Project, filename: str) -> str:
    path = Path(filename)
    return str(path.relative_to(project.root)) if path.is_relative_to(project.root) else filename


@app.command()
def assets(
    project_dir: ProjectOption = Path("."),
    module: ModuleOption = None,
    file: FileOption = None,
    load_timeout: LoadTimeoutOption = None,
    select: SelectOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the assets (in topological order) with their group, kinds, deps and status."""
    from flowdev.instance.status import asset_statuses

    project, snapshot = load(project_dir, module, file, as_json, load_timeout)
    keys = _select(snapshot, select, as_json)
    try:
        storage = Storage(project.home)
    except FlowdevError as error:
        fail(error, as_json)
    with storage:
        from flowdev.runs.launcher import reconcile_runs

        reconcile_runs(storage)
        statuses = asset_statuses(snapshot, storage)
    rows = [_asset_row(project, snapshot.get(key), statuses[key]) for key in keys]
    if as_json:
        typer.echo(json.dumps([{k: v for k, v in r.items() if k[0] != "_"} for r in rows]))
        return
    _print_table(
        ["KEY", "GROUP", "STATUS", "MATERIALIZED", "REASON", "SOURCE"],
        [
            [
                r["key"],
                r["group"],
                r["status"],
                _age(r["_last_materialized"]),
                "; ".join(r["stale_reasons"]),
                r["source"] or "",
            ]
            for r in rows
        ],
    )


def _age(timestamp: float | None) -> str:
    from flowdev.cli.runs import ago

    return "-" if timestamp is None else ago(time.time() - timestamp)


def _asset_row(project: Project, asset: AssetSnapshot, status: AssetStatus) -> dict[str, Any]:
    source = None
    if asset.source_file is not None and asset.source_line is not None:
        source = _relative_source(project, asset.source_file, asset.source_line)
    return {
        "key": asset.key.to_user_string(),
        "group": asset.group,
        "kinds": sorted(asset.kinds),
        "deps": [dep.to_user_string() for dep in asset.deps],
        **status.to_json(),
        "source": source,
        "description": asset.description,
        "owners": list(asset.owners),
        "tags": dict(asset.tags),
        "is_external": asset.is_external,
        "_last_materialized": status.last_materialized,
    }


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@app.command()
def graph(
    project_dir: ProjectOption = Path("."),
    module: ModuleOption = None,
    file: FileOption = None,
    load_timeout: LoadTimeoutOption = None,
    select: SelectOption = None,
) -> None:
    """Draw the asset graph (or a selection of it) as text."""
    from flowdev.drawing.text import render_graph

    _project, snapshot = load(project_dir, module, file, False, load_timeout)
    keys = _select(snapshot, select, False)
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    typer.echo(render_graph(snapshot.asset_graph, keys, width=width))


@app.command()
def dev(
    project_dir: ProjectOption = Path("."),
    module: ModuleOption = None,
    file: FileOption = None,
    load_timeout: LoadTimeoutOption = None,
) -> None:
    """Open the terminal app: the graph, statuses, runs and logs, reloading on every save."""
    find = partial(find_project, project_dir, module=module, file=file, load_timeout=load_timeout)
    try:
        project = find()
        from flowdev.cli import runs as run_commands

        run_commands.open_storage(project).close()  # a newer database is refused up front
    except FlowdevError as error:
        fail(error, False)
    # The one place core touches the app: headless commands never import Textual.
    from flowdev.tui.app import run_app

    run_app(project, reread=find)


# -- runs --------------------------------------------------------------------------------

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Run config: a JSON, YAML or TOML file.", exists=False),
]


@app.command()
def materialize(
    project_dir: ProjectOption = Path("."),
    module: ModuleOption = None,
    file: FileOption = None,
    load_timeout: LoadTimeoutOption = None,
    select: SelectOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Materialize the selected assets (all by default) in a worker, streaming its logs.

    Exits 0 when the run succeeds, 1 when it fails or is canceled (Ctrl-C cancels it).
    """
    from flowdev.cli import runs as run_commands
    from flowdev.runs.run_config import read_run_config

    project, snapshot = load(project_dir, module, file, as_json, load_timeout)
    keys = [k for k in _select(snapshot, select, as_json) if not snapshot.get(k).is_external]
    if not keys:
        fail(
            FlowdevError(f"the selection {select!r} has no assets flowdev can materialize"), as_json
        )
    try:
        run_config = read_run_config(config)
        storage = run_commands.open_storage(project)
    except FlowdevError as error:
        fail(error, as_json)
    code = run_commands.materialize_and_watch(
        storage,
        project,
        [k.to_user_string() for k in keys],
        selection=select or "*",
        run_config=run_config,
        as_json=as_json,
        code_fingerprint=snapshot.code_fingerprint,
        definitions=snapshot,
    )
    raise typer.Exit(code)


_MAX_LIMIT = 2**63 - 1  # SQLite's largest integer: a LIMIT past it overflows


@app.command()
def runs(
    project_dir: ProjectOption = Path("."),
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=_MAX_LIMIT, help="How many runs.")
    ] = 20,
    as_json: JsonOption = False,
) -> None:
    """List recent runs, newest first."""
    from flowdev.cli import runs as run_commands

    storage = _storage(project_dir, as_json)
    found = storage.list_runs(limit)
    if as_json:
        typer.echo(json.dumps([run.to_json() for run in found]))
        return
    if not found:
        typer.echo("no runs yet: `flowdev materialize` starts one")
        return
    _print_table(
        ["RUN", "STATUS", "SELECTION", "ASSETS", "STARTED", "DURATION", "PID", "PARENT"],
        run_commands.format_runs_table(found),
    )


@app.command()
def logs(
    run_id: Annotated[str, typer.Argument(help="A run id (a unique prefix is enough).")],
    project_dir: ProjectOption = Path("."),
    follow: Annotated[
        bool, typer.Option("--follow", "-F", help="Keep printing until the run ends.")
    ] = False,
) -> None:
    """Print a run's events and compute logs, interleaved in the order they happened."""
    from flowdev.cli import runs as run_commands

    storage = _storage(project_dir, False)
    try:
        run = run_commands.follow_log(storage, run_id, follow)
    except FlowdevError as error:
        fail(error, False)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(0 if run.status in (RunStatus.SUCCESS, RunStatus.STARTED) else 1)


@app.command()
def cancel(
    run_id: Annotated[str, typer.Argument(help="A run id (a unique prefix is enough).")],
    project_dir: ProjectOption = Path("."),
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds to wait before killing the worker.")
    ] = 10.0,
) -> None:
    """Cancel a queued or running run (SIGTERM, then SIGKILL after the grace period)."""
    from flowdev.runs.launcher import cancel_run

    storage = _storage(project_dir, False)
    try:
        before = storage.get_run(run_id)
        run = cancel_run(storage, before.run_id, grace_seconds=grace)
    except FlowdevError as error:
        fail(error, False)
    if not before.status.is_active:
        typer.echo(f"run {run.run_id[:8]} had already ended: {run.status.value}")
        raise typer.Exit(1)
    typer.echo(f"run {run.run_id[:8]} {run.status.value}")


@app.command()
def reexecute(
    run_id: Annotated[str, typer.Argument(help="A run id (a unique prefix is enough).")],
    project_dir: ProjectOption = Path("."),
    module: ModuleOption = None,
    file: FileOption = None,
    load_timeout: LoadTimeoutOption = None,
    from_failure: Annotated[
        bool, typer.Option("--from-failure", help="Only the steps that failed or never ran.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run a past run's assets again, as a new run linked to it."""
    from flowdev.cli import runs as run_commands
    from flowdev.runs.reexecute import reexecution_keys, reexecution_selection

    project, snapshot = load(project_dir, module, file, as_json, load_timeout)
    try:
        storage = run_commands.open_storage(project)
        parent = storage.get_run(run_id)
        keys = reexecution_keys(storage, parent, from_failure)
    except FlowdevError as error:
        fail(error, as_json)
    code = run_commands.materialize_and_watch(
        storage,
        project,
        keys,
        selection=reexecution_selection(parent, from_failure),
        run_config=dict(parent.run_config),
        as_json=as_json,
        parent=parent,
        code_fingerprint=snapshot.code_fingerprint,
        definitions=snapshot,
    )
    raise typer.Exit(code)


def _storage(project_dir: Path, as_json: bool) -> Storage:
    from flowdev.cli import runs as run_commands

    try:
        return run_commands.open_storage(find_project(project_dir))
    except FlowdevError as error:
        fail(error, as_json)


def main() -> None:
    """The console script's entry point."""
    app()


if __name__ == "__main__":
    main()
