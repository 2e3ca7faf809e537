"""The commands that start, list, follow and cancel runs: materialize, runs, logs,
cancel, reexecute.

They launch and watch worker processes through `flowdev.runs.launcher` (`flowdev.cli.follow`
streams a run to the terminal) and read what the workers wrote through
`flowdev.instance.storage`; nothing here executes user code. What they import beyond
the CLI's own modules, they import when run, so that ``flowdev --version`` stays quick.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from flowdev.cli.loading import find_storage, load, open_storage, select_keys
from flowdev.cli.options import (
    ConfigOption,
    ExecutorOption,
    FileOption,
    JsonOption,
    LoadTimeoutOption,
    ModuleOption,
    ProjectOption,
    RunIdArgument,
    SelectOption,
)
from flowdev.cli.output import fail, print_table
from flowdev.errors import FlowdevError
from flowdev.instance.run_records import RunStatus


def materialize(
    project_dir: ProjectOption = Path("."),
    module: ModuleOption = None,
    file: FileOption = None,
    load_timeout: LoadTimeoutOption = None,
    select: SelectOption = None,
    config: ConfigOption = None,
    executor: ExecutorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Materialize the selected assets (all by default) in a worker, streaming its logs.

    Exits 0 when the run succeeds, 1 when it fails or is canceled (Ctrl-C cancels it).
    """
    from flowdev.cli.follow import materialize_and_watch
    from flowdev.runs.run_config import read_run_config

    project, snapshot = load(project_dir, module, file, as_json, load_timeout)
    keys = [k for k in select_keys(snapshot, select, as_json) if not snapshot.get(k).is_external]
    if not keys:
        fail(
            FlowdevError(f"the selection {select!r} has no assets flowdev can materialize"), as_json
        )
    try:
        run_config = read_run_config(config)
        if executor is not None:
            from flowdev.runs.executors import executor_from_option

            run_config = {**run_config, **executor_from_option(executor)}
        storage = open_storage(project)
    except FlowdevError as error:
        fail(error, as_json)
    code = materialize_and_watch(
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


def runs(
    project_dir: ProjectOption = Path("."),
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=_MAX_LIMIT, help="How many runs.")
    ] = 20,
    as_json: JsonOption = False,
) -> None:
    """List recent runs, newest first."""
    from flowdev.cli.runs import format_runs_table

    storage = find_storage(project_dir, as_json)
    found = storage.list_runs(limit)
    if as_json:
        typer.echo(json.dumps([run.to_json() for run in found]))
        return
    if not found:
        typer.echo("no runs yet: `flowdev materialize` starts one")
        return
    print_table(
        ["RUN", "STATUS", "SELECTION", "ASSETS", "STARTED", "DURATION", "PID", "PARENT"],
        format_runs_table(found),
    )


def logs(
    run_id: RunIdArgument,
    project_dir: ProjectOption = Path("."),
    follow: Annotated[
        bool, typer.Option("--follow", "-F", help="Keep printing until the run ends.")
    ] = False,
) -> None:
    """Print a run's events and compute logs, interleaved in the order they happened."""
    from flowdev.cli.follow import follow_log

    storage = find_storage(project_dir, False)
    try:
        run = follow_log(storage, run_id, follow)
    except FlowdevError as error:
        fail(error, False)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(0 if run.status in (RunStatus.SUCCESS, RunStatus.STARTED) else 1)


def cancel(
    run_id: RunIdArgument,
    project_dir: ProjectOption = Path("."),
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds to wait before killing the worker.")
    ] = 10.0,
) -> None:
    """Cancel a queued or running run (SIGTERM, then SIGKILL after the grace period)."""
    from flowdev.runs.launcher import cancel_run

    storage = find_storage(project_dir, False)
    try:
        before = storage.get_run(run_id)
        run = cancel_run(storage, before.run_id, grace_seconds=grace)
    except FlowdevError as error:
        fail(error, False)
    if not before.status.is_active:
        typer.echo(f"run {run.run_id[:8]} had already ended: {run.status.value}")
        raise typer.Exit(1)
    typer.echo(f"run {run.run_id[:8]} {run.status.value}")


def reexecute(
    run_id: RunIdArgument,
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
    from flowdev.cli.follow import materialize_and_watch
    from flowdev.runs.reexecute import reexecution_keys, reexecution_selection

    project, snapshot = load(project_dir, module, file, as_json, load_timeout)
    try:
        storage = open_storage(project)
        parent = storage.get_run(run_id)
        keys = reexecution_keys(storage, parent, from_failure)
    except FlowdevError as error:
        fail(error, as_json)
    code = materialize_and_watch(
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
