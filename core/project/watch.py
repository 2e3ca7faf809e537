"""Watching a project's files and reloading its definitions after every save.

`watch_project` follows the project directory with watchfiles and yields one event per
reload: `Reloaded` with the new snapshot, or `LoadFailed` with the `LoadError` (the
last good snapshot is the consumer's to keep). It loads once at start, then after each
burst of changes to Python files, ``pyproject.toml`` or the project's extra watch
globs; virtualenvs, caches, the instance directory and editor swap files are ignored.

Loads never overlap. Files saved while a load runs make that load's result stale: it is
dropped (unless the one before was dropped too), and one more load of everything
changed meanwhile follows it. Each load is
a fresh child process, so a reload never touches runs in flight: those run in their own
processes with the code they started with (each records its snapshot's
``code_fingerprint``).
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path, PurePath

from flowdev.errors import FlowdevError, ProjectError, WatchError
from flowdev.project.loader import Loader, LoadError
from flowdev.project.project import Project
from flowdev.project.snapshot import DefinitionsSnapshot
from flowdev.records import record

__all__ = ["LoadFailed", "ProjectFilter", "Reloaded", "watch_project"]


@record
class Reloaded:
    """The definitions loaded: ``changed_files`` (absolute paths; empty for the first
    load or a requested one) led to ``snapshot``; loading took ``ms`` milliseconds.

    ``project`` is the project as it now reads when a save of pyproject.toml changed
    where its definitions are (which module or file, which extra files to watch), and
    None otherwise.
    """

    snapshot: DefinitionsSnapshot
    changed_files: tuple[str, ...]
    ms: float
    project: Project | None = None


@record
class LoadFailed:
    """The definitions did not load after ``changed_files``; ``error`` says why."""

    error: LoadError
    changed_files: tuple[str, ...]
    ms: float


# Directories that never hold the project's own code, whatever their depth. Hidden
# directories (.git, .venv, .flowdev, tool caches) are skipped as well.
IGNORED_DIRS = frozenset({"__pycache__", "venv", "env", "node_modules", "site-packages"})


class ProjectFilter:
    """Which changed paths can change a project's definitions (a watchfiles filter)."""

    def __init__(self, project: Project) -> None:
        self.root = project.root
        self.globs = project.watch  # replaced when pyproject.toml changes them
        home = project.home.resolve()
        self.home = home if home.is_relative_to(self.root) and home != self.root else None

    def __call__(self, change: object, path: str) -> bool:
        """Whether ``path`` matters (``change`` is a `watchfiles.Change`, unused)."""
        candidate = PurePath(path)
        if not candidate.is_relative_to(self.root):
            return False
        relative = candidate.relative_to(self.root)
        *directories, name = relative.parts or ("",)
        if any(part.startswith(".") or part in IGNORED_DIRS for part in directories):
            return False
        if self.home is not None and Path(path).is_relative_to(self.home):
            return False
        if _is_editor_file(name):
            return False
        if name.endswith(".py") or relative.as_posix() == "pyproject.toml":
            return True
        return any(_glob_matches(relative.as_posix(), glob) for glob in self.globs)


def _is_editor_file(name: str) -> bool:
    """Swap, backup, lock and probe files editors write next to the real one."""
    return (
        name.startswith((".", "#"))  # .defs.py.swp, .#defs.py (emacs lock), #defs.py#
        or name.endswith(("~", ".swp", ".swx", ".swo", ".tmp", "___jb_tmp___", "___jb_old___"))
        or name == "4913"  # vim's "can I write here" probe
    )


def _glob_matches(relative: str, glob: str) -> bool:
    # fnmatch's "*" crosses "/", so "data/**/*.csv" and "data/*.csv" both reach deep
    # files; "**/x" should also match "x" at the top.
    return fnmatch.fnmatch(relative, glob) or (
        glob.startswith("**/") and fnmatch.fnmatch(relative, glob[3:])
    )


async def watch_project(
    project: Project,
    *,
    reload: asyncio.Event | None = None,
    reread: Callable[[], Project] | None = None,
    loader: Loader | None = None,
    timeout: float | None = None,
    quiet_ms: int = 20,
    debounce_ms: int = 500,
) -> AsyncIterator[Reloaded | LoadFailed]:
    """Load ``project`` now and after every save; yield what each load gave.

    Args:
        project: the project to follow.
        reload: set this event to load again now, changed files or not (the app's
            reload key); the watcher clears it.
        reread: how to find the project again (`flowdev.project.project.find_project` with the
            command line's overrides) when pyproject.toml is saved: from then on the
            new module, file and watch globs are followed, and a pyproject.toml that
            cannot be read is reported as a failed load (the last snapshot stays).
        loader: the `Loader` to use (the caller keeps it open, with its warm fork
            server, across iterations); by default a new one, stopped when the
            iteration ends.
        timeout: seconds a load may take before it is stopped (new loaders only; by
            default the project's ``load_timeout``).
        quiet_ms: a burst of saves ends after this long without a change.
        debounce_ms: a burst that does not quiet down is loaded after this long anyway.
    """
    from watchfiles import awatch

    own_loader = loader is None
    if loader is None:
        loader = Loader(project, timeout=timeout)
    project_filter = ProjectFilter(project)
    settings_file = str(project.root / "pyproject.toml")
    changed: set[str] = set()
    last_change = [0.0]
    wake = asyncio.Event()
    stop = asyncio.Event()

    async def follow_files() -> None:
        # watchfiles ends a batch when its *set* of changes stops growing, so saving one
        # file again and again yields a batch every two steps: the quiet period that
        # ends a burst is measured here, between batches, with steps well inside it.
        async for changes in awatch(
            project.root,
            watch_filter=project_filter,
            step=max(1, quiet_ms // 3),
            debounce=debounce_ms,
            stop_event=stop,
        ):
            changed.update(path for _change, path in changes)
            last_change[0] = time.monotonic()
            wake.set()

    async def follow_requests(requests: asyncio.Event) -> None:
        while True:
            await requests.wait()
            requests.clear()
            wake.set()

    helpers = [asyncio.create_task(follow_files())]
    if reload is not None:
        helpers.append(asyncio.create_task(follow_requests(reload)))
    try:
        await asyncio.sleep(0)  # the file watcher starts before the first load
        wake.set()
        superseded: set[str] = set()
        while True:
            await _woken(wake, helpers)
            burst_ends = time.monotonic() + debounce_ms / 1000
            while (left := last_change[0] + quiet_ms / 1000 - time.monotonic()) > 0:
                await asyncio.sleep(min(left, max(0.0, burst_ends - time.monotonic())))
                if time.monotonic() >= burst_ends:
                    break
            wake.clear()
            batch = tuple(sorted(superseded | changed))
            changed.clear()
            started = time.perf_counter()
            moved_to = None
            if reread is not None and settings_file in batch:
                try:
                    current = reread()
                except ProjectError as error:
                    yield LoadFailed(_settings_error(error, batch), batch, 0.0)
                    continue
                if current != loader.project:
                    loader.project = moved_to = current
                    project_filter.globs = current.watch
            loaded = await loader.load_async(batch)
            if wake.is_set() and not superseded:  # saved again while it loaded
                # Latest wins: this result is already stale. Only once in a row, so
                # that files that never stop changing still show something.
                superseded.update(batch)
                continue
            superseded.clear()
            ms = (time.perf_counter() - started) * 1000
            if isinstance(loaded, LoadError):
                yield LoadFailed(loaded, batch, ms)
            else:
                yield Reloaded(loaded, batch, ms, moved_to)
    finally:
        stop.set()
        for helper in helpers:
            helper.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        if own_loader:
            loader.close()


def _settings_error(error: ProjectError, changed_files: tuple[str, ...]) -> LoadError:
    """A pyproject.toml that does not say where the definitions are, as a failed load."""
    return LoadError(
        kind="project_error",
        exception_type="ProjectError",
        message=str(error),
        file=error.file,
        line=error.line,
        changed_files=changed_files,
    )


async def _woken(wake: asyncio.Event, helpers: Iterable[asyncio.Task[None]]) -> None:
    """Wait for ``wake``; raise what a helper task raised if one ends first."""
    waiter = asyncio.ensure_future(wake.wait())
    try:
        done, _pending = await asyncio.wait([waiter, *helpers], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    for task in done:
        if task is not waiter:
            try:
                task.result()
            except FlowdevError:
                raise
            except Exception as error:  # watchfiles' and the OS's errors, translated
                raise WatchError(f"the file watcher failed: {error}") from error
            raise WatchError("the file watcher stopped")
