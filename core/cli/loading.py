"""What commands start from: the project, its definitions, the assets selected, and its
instance; each helper reports a failure as the CLI contract says and exits 2."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flowdev.cli.output import fail, fail_load
from flowdev.errors import FlowdevError
from flowdev.instance.storage import Storage
from flowdev.project.project import Project, find_project

if TYPE_CHECKING:
    from flowdev.keys import AssetKey
    from flowdev.project.snapshot import DefinitionsSnapshot


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


def select_keys(snapshot: DefinitionsSnapshot, query: str | None, as_json: bool) -> list[AssetKey]:
    """The assets ``query`` selects (all without one), in topological order; or exit 2."""
    graph = snapshot.asset_graph
    if query is None:
        return list(graph.keys)
    from flowdev.selection.syntax import select

    try:
        keys = graph.toposort(select(graph, query))
    except FlowdevError as error:
        fail(error, as_json)
    return keys


def open_storage(project: Project) -> Storage:
    """The project's instance, with vanished workers' runs already marked failed."""
    from flowdev.runs.launcher import reconcile_runs

    storage = Storage(project.home)
    reconcile_runs(storage)
    return storage


def find_storage(project_dir: Path, as_json: bool) -> Storage:
    """The instance of the project at ``project_dir`` (see `open_storage`), or exit 2."""
    try:
        return open_storage(find_project(project_dir))
    except FlowdevError as error:
        fail(error, as_json)
