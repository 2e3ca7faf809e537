"""The loader's child: imports the user's project in this process and reports.

`flowdev.project.loader` forks or spawns a process that runs `main`; it imports the project,
describes the definitions as a `DefinitionsSnapshot` (or the failure as a `LoadError`
with the user's file, line and frames) and writes one JSON document on its stdout. Only
this process, and run workers, ever import user code.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import sys
import time
import traceback
from collections.abc import Iterable, Sequence, Set
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from flowdev.project.loader import STACK_SIGNAL, LoadError, LoadErrorKind
from flowdev.project.project import Project, is_user_file
from flowdev.records import replace

if TYPE_CHECKING:
    from flowdev.defs.definitions import Definitions

__all__ = ["error_from_exception", "load_here", "main", "warm_modules"]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m flowdev.project.loader --root DIR (--module NAME | --file PATH)``.

    Takes ``[--changed PATH]...`` too, the files whose save caused the load.

    Writes one JSON document on stdout: ``{"snapshot": ...}`` or ``{"error": ...}``
    (a `LoadError`), plus, with ``--report-modules``, ``"warm_modules"``: the installed
    modules this load imported, for a fork server to preload.
    """
    options = _parse_args(list(sys.argv[1:] if argv is None else argv))
    if options is None:
        print(main.__doc__, file=sys.stderr)
        return 2
    project, changed_files, report_modules = options
    result = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the user's prints must not mix with the result
    faulthandler.enable(file=sys.stderr)
    if STACK_SIGNAL is not None:
        faulthandler.register(STACK_SIGNAL, file=sys.stderr, all_threads=True)
    os._exit = _exit_with_stack  # type: ignore[assignment]
    payload = load_here(project, changed_files, report_modules=report_modules)
    os._exit = _REAL_EXIT
    if STACK_SIGNAL is not None:
        faulthandler.unregister(STACK_SIGNAL)
    with result:
        json.dump(payload, result, separators=(",", ":"))
    return 0


def _exit_with_stack(code: int) -> NoReturn:
    """`os._exit` while the project imports: print the stack first, as a hang or a
    crash does, so the loader can say which file and line ended the process."""
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    _REAL_EXIT(code)


_REAL_EXIT = os._exit


def _parse_args(args: list[str]) -> tuple[Project, list[str], bool] | None:
    root: str | None = None
    module: str | None = None
    file: str | None = None
    changed: list[str] = []
    report_modules = False
    while args:
        flag = args.pop(0)
        if flag == "--report-modules":
            report_modules = True
            continue
        if not args:
            return None
        value = args.pop(0)
        if flag == "--root":
            root = value
        elif flag == "--module":
            module = value
        elif flag == "--file":
            file = value
        elif flag == "--changed":
            changed.append(value)
        else:
            return None
    if root is None or (module is None) == (file is None):
        return None
    project = Project(root=Path(root), module=module, file=Path(file) if file else None)
    return project, changed, report_modules


def load_here(
    project: Project, changed_files: Iterable[str] = (), *, report_modules: bool = False
) -> dict[str, Any]:
    """Import the project in this process and describe the outcome as JSON-able data.

    Only the loader's child calls this: it imports user code.
    """
    from flowdev.defs.code_version import cache_dir_of, use_cache_dir
    from flowdev.project.project import definitions_in, find_definitions, import_definitions_module
    from flowdev.project.snapshot import build_snapshot

    use_cache_dir(cache_dir_of(project.home))
    before = set(sys.modules)
    _forget_bytecode(changed_files)
    started = time.perf_counter()
    found: dict[str, Any] = {}
    payload: dict[str, Any]
    try:
        module = import_definitions_module(project)
        found = definitions_in(module)
        defs = find_definitions(module, project)
        cron_error = _cron_error(defs)
        if cron_error is not None:
            return _with_modules({"error": cron_error.to_json()}, before, project, report_modules)
        snapshot = build_snapshot(defs, load_seconds=time.perf_counter() - started)
        payload = {"snapshot": snapshot.to_json()}
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        load_error = error_from_exception(error, project)
        if len(found) > 1:  # "several Definitions": a definitions problem, not a missing one
            load_error = replace(load_error, kind="definitions_error")
        payload = {"error": load_error.to_json()}
    return _with_modules(payload, before, project, report_modules)


def _with_modules(
    payload: dict[str, Any], before: Set[str], project: Project, report_modules: bool
) -> dict[str, Any]:
    if report_modules:
        payload["warm_modules"] = warm_modules(set(sys.modules) - before, project.root)
    return payload


def _cron_error(defs: Definitions) -> LoadError | None:
    """The first schedule or freshness policy whose cron string or timezone croniter or
    zoneinfo cannot use, located where it is written.

    `flowdev.defs.policies.validate_cron` checks only the shape where definitions are built
    (`import flowdev` stays free of croniter); here, where a load pays for the import,
    every cron string is parsed and given a next tick, as the status and the daemon
    will, so a bad one is a load error and not a crash later in `flowdev assets`.
    """
    crons = list(_cron_strings(defs))
    if not crons:
        return None  # croniter's import (with dateutil's) is paid only by those who use it
    from flowdev.cron import next_tick
    from flowdev.errors import CronError

    now = time.time()
    for where, cron, timezone, source in crons:
        try:
            next_tick(cron, now, timezone)
        except CronError as error:
            return LoadError(
                kind="definitions_error",
                exception_type="InvalidDefinitionError",
                message=f"{where}: {error}",
                file=source[0] if source else None,
                line=source[1] if source else None,
            )
    return None


def _cron_strings(
    defs: Definitions,
) -> Iterable[tuple[str, str, str | None, tuple[str, int] | None]]:
    """(what, cron, timezone, source file and line) of every cron string in ``defs``."""
    for schedule in defs.schedules:
        where = f"schedule {schedule.name!r}"
        yield where, schedule.cron_schedule, schedule.execution_timezone, schedule.source
    graph = defs.asset_graph
    for key in graph.keys:
        policy = defs.get_spec(key).freshness_policy
        if policy is None or policy.cron_schedule is None:
            continue
        source = None if defs.is_external(key) else defs.get_assets_def(key).source
        yield (
            f"the FreshnessPolicy of asset {key.to_user_string()!r}",
            policy.cron_schedule,
            policy.cron_schedule_timezone,
            source if source and source[0] else None,
        )


def _forget_bytecode(changed_files: Iterable[str]) -> None:
    """Remove the cached bytecode of changed sources.

    A .pyc is trusted when the source's mtime (in whole seconds) and size match, so an
    edit within the same second that keeps the size would otherwise load the old code.
    """
    import importlib.util

    for name in changed_files:
        if name.endswith(".py"):
            with contextlib.suppress(OSError, ValueError, NotImplementedError):
                os.unlink(importlib.util.cache_from_source(name))
    importlib.invalidate_caches()


def error_from_exception(error: BaseException, project: Project) -> LoadError:
    """Sort ``error`` (raised while loading ``project``) into a `LoadError`."""
    from flowdev.errors import DefinitionsError, ProjectError
    from flowdev.project.project import user_frames

    frames = user_frames(error, project.root)
    innermost = frames[-1] if frames else None
    file = innermost.filename if innermost else None
    line = innermost.lineno if innermost else None
    column = innermost.colno + 1 if innermost and innermost.colno is not None else None
    message = str(error)
    kind: LoadErrorKind = "module_error"
    if isinstance(error, SyntaxError):
        kind = "syntax_error"
        file, line, message = error.filename, error.lineno, error.msg
        column = error.offset
    elif (
        isinstance(error, ModuleNotFoundError)
        and not frames
        and _is_project_module(error.name, project)
    ):
        kind = "no_definitions"
        message = (
            f"there is no module {error.name!r} in {project.root} (flowdev looked for "
            f"{project.target} there). Set [tool.flowdev] module in pyproject.toml to the "
            "module that holds your Definitions, or pass --module/-m or --file/-f."
        )
    elif isinstance(error, ImportError):
        kind = "import_error"
    elif isinstance(error, DefinitionsError):
        kind = "definitions_error"
    elif isinstance(error, ProjectError):
        kind = "no_definitions"
        file = file or error.file
        line = line or error.line
    elif isinstance(error, SystemExit):
        message = f"sys.exit({error.code!r}) was called while {project.target} was imported"
    formatted = traceback.format_list(frames)
    if frames:
        formatted.insert(0, "Traceback (most recent call last):\n")
    formatted += traceback.format_exception_only(type(error), error)
    return LoadError(
        kind=kind,
        exception_type=type(error).__name__,
        message=message,
        file=file,
        line=line,
        column=column,
        traceback="".join(formatted),
    )


def _is_project_module(name: str | None, project: Project) -> bool:
    target = project.module
    return bool(name and target and (target == name or target.startswith(name + ".")))


def warm_modules(new_modules: Set[str], root: Path) -> list[str]:
    """The modules among ``new_modules`` that a fork server may import ahead of time.

    Only installed code qualifies (the standard library, site-packages, flowdev itself):
    code a user might edit (the project, anything on a path of its own) must be imported
    fresh by every load.
    """
    installed = _installed_dirs()
    warm = []
    for name in sorted(new_modules):
        if name in _NEVER_PRELOAD or name.endswith(".__main__") or name.startswith("flowdev_user_"):
            continue
        module = sys.modules.get(name)
        filename = getattr(module, "__file__", None)
        if filename is None:
            if name in sys.builtin_module_names:
                warm.append(name)
            continue
        if is_user_file(filename, root):
            continue
        if filename.startswith(installed):
            warm.append(name)
    return warm


# Modules whose import does something (prints, opens a browser, runs a program).
_NEVER_PRELOAD = frozenset({"__main__", "__mp_main__", "this", "antigravity"})
_INSTALLED: list[tuple[str, ...]] = []


def _installed_dirs() -> tuple[str, ...]:
    if not _INSTALLED:
        import sysconfig

        import flowdev

        paths = sysconfig.get_paths()
        dirs = {
            paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths
        }
        dirs.add(str(Path(flowdev.__file__).parent))
        dirs |= {os.path.realpath(d) for d in dirs}
        _INSTALLED.append(tuple(d.rstrip(os.sep) + os.sep for d in dirs))
    return _INSTALLED[0]
