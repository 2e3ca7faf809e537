"""A step's environment in one process: the definitions, live resources, and secrets.

Each process that executes steps opens one `StepEnvironment` for the run and keeps it for
every step it executes: the worker (in-process executor), each step process of the
multiprocess executor, a Dask task. It is made from the run's `RunSpec` alone, plus the
definitions when this process already has them (in memory, or inherited by fork):
`definitions_for` loads them otherwise, once per process, and refuses code that is not
what the run was launched with.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from flowdev.defs.definitions import Definitions
from flowdev.errors import ExecutionError
from flowdev.execution.executor import RunControl, RunSpec
from flowdev.keys import AssetKey
from flowdev.resources.io import FilesystemIOManager, InMemoryIOManager
from flowdev.resources.lifecycle import resolve_resources, resource_lifecycle, secret_values


class StepEnvironment:
    """What the steps of one run see in this process."""

    def __init__(
        self,
        spec: RunSpec,
        defs: Definitions,
        resources: Mapping[str, Any],
        secrets: frozenset[str],
        control: RunControl,
    ) -> None:
        self.spec = spec
        self.defs = defs
        self.resources = resources
        self.secrets = secrets
        self.control = control
        # Values computed in this process, handed to later steps without a load.
        self.values: dict[AssetKey, Any] = {}


def bound_resources(defs: Definitions, storage_dir: str | None) -> dict[str, Any]:
    """The resources a run binds: the definitions' own, over a default `io_manager`
    that stores values under ``storage_dir``."""
    default = FilesystemIOManager(base_dir=storage_dir) if storage_dir else InMemoryIOManager()
    return {"io_manager": default, **defs.resources}


def check_resources(spec: RunSpec, defs: Definitions) -> None:
    """Resolve the run's resources once, so that bad config or a missing variable fails
    the run before any step starts (each process then resolves its own).

    Raises:
        ConfigError, EnvVarError: what resolving the resources raised.
    """
    resolve_resources(bound_resources(defs, spec.storage_dir), run_config=spec.run_config)


@contextlib.contextmanager
def open_environment(
    spec: RunSpec, defs: Definitions, control: RunControl | None = None
) -> Iterator[StepEnvironment]:
    """Resolve and set up the run's resources in this process; tear them down on exit."""
    bound = bound_resources(defs, spec.storage_dir)
    resolved = resolve_resources(bound, run_config=spec.run_config)
    secrets = frozenset(secret_values(bound, run_config=spec.run_config))
    with resource_lifecycle(resolved, run_id=spec.run_id) as live:
        yield StepEnvironment(spec, defs, live, secrets, control or RunControl())


# -- definitions, once per process -----------------------------------------------------

_loaded: dict[tuple[Any, ...], Definitions] = {}


def _location(spec: RunSpec) -> tuple[Any, ...]:
    project = spec.project or {}
    return (project.get("root"), project.get("module"), project.get("file"))


def remember_definitions(spec: RunSpec, defs: Definitions) -> None:
    """Note that this process holds ``spec``'s definitions (processes forked from it
    inherit them and load nothing)."""
    _loaded[(*_location(spec), spec.code_fingerprint)] = defs


def definitions_for(spec: RunSpec) -> Definitions:
    """The definitions of ``spec``'s project at the code the run was launched with.

    Raises:
        ExecutionError: the run's definitions were built in memory (nothing to load), or
            the code loaded now is not the code the run was launched with.
        ProjectError, DefinitionsError: the project does not load.
    """
    key = (*_location(spec), spec.code_fingerprint)
    if key in _loaded:
        return _loaded[key]
    if spec.project is None:
        raise ExecutionError(
            "this run's definitions were built in memory, so its steps can only run in "
            "this process or processes forked from it (use in_process_executor, or the "
            "multiprocess executor with the fork start method)"
        )
    from flowdev.defs.code_version import use_cache_dir
    from flowdev.project.project import Project, load_definitions
    from flowdev.project.snapshot import fingerprint_of

    project = spec.project
    use_cache_dir(spec.cache_dir)
    defs = load_definitions(
        Project(
            root=Path(project["root"]),
            module=project.get("module"),
            file=Path(project["file"]) if project.get("file") else None,
        )
    )
    if spec.code_fingerprint is not None and fingerprint_of(defs) != spec.code_fingerprint:
        raise ExecutionError(
            f"the project's code changed since run {spec.run_id[:8]} was launched, so this "
            "process would run different code than the run's other steps; launch the run again"
        )
    _loaded[key] = defs
    return defs
