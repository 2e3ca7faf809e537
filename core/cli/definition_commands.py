"""The commands that read the definitions: check (once or on every save), assets, graph."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from flowdev.cli.loading import load, select_keys
from flowdev.cli.options import (
    FileOption,
    JsonOption,
    LoadTimeoutOption,
    ModuleOption,
    ProjectOption,
    SelectOption,
)
from flowdev.cli.output import fail, load_error_json, print_table, relative_path
from flowdev.errors import FlowdevError, close_matches, did_you_mean
from flowdev.instance.storage import Storage
from flowdev.project.project import Project, find_project

if TYPE_CHECKING:
    from collections.abc import Callable

    from flowdev.instance.status import AssetStatus
    from flowdev.project.snapshot import AssetSnapshot, DefinitionsSnapshot
    from flowdev.project.watch import LoadFailed, Reloaded


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
    from flowdev.project.snapshot import SnapshotDiff, diff_snapshots
    from flowdev.project.watch import LoadFailed
    from flowdev.records import replace

    clock = datetime.now().astimezone()
    changed = [relative_path(project, name) for name in event.changed_files]
    where = "; ".join(changed) or ("first load" if previous is None else "reload")
    if isinstance(event, LoadFailed):
        error = event.error
        if as_json:
            return json.dumps(
                {
                    "time": clock.isoformat(timespec="seconds"),
                    "ok": False,
                    "error": load_error_json(error),
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
    keys = select_keys(snapshot, select, as_json)
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
    print_table(
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
    from flowdev.durations import ago

    return "-" if timestamp is None else ago(time.time() - timestamp)


def _asset_row(project: Project, asset: AssetSnapshot, status: AssetStatus) -> dict[str, Any]:
    source = None
    if asset.source_file is not None and asset.source_line is not None:
        source = f"{relative_path(project, asset.source_file)}:{asset.source_line}"
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
    keys = select_keys(snapshot, select, False)
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    typer.echo(render_graph(snapshot.asset_graph, keys, width=width))
