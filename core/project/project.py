"""Finding a project's `Definitions`: where they are, and importing them.

`load_definitions` imports user code into the calling process: the loader's child
process and run workers call it (the CLI and the app never do; they go through
`flowdev.project.loader`). The pieces it is made of (`import_definitions_module`,
`definitions_in`, `user_frames`) are what the loader's child uses to report a failed
load precisely.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from flowdev.errors import FlowdevError, ProjectError
from flowdev.records import record

# `tomllib` and `traceback` stay off the path of a worker or loader child, which is
# handed its `Project` and only reports errors it meets.
if TYPE_CHECKING:
    import traceback
    from collections.abc import Iterator
    from types import ModuleType

    # Imported where used: the CLI and the app find projects but never build definitions.
    from flowdev.defs.definitions import Definitions


DEFAULT_LOAD_TIMEOUT = 30.0  # seconds an import of the definitions may take


@record
class Project:
    """Where a project lives and how to find its definitions."""

    root: Path
    module: str | None = None
    file: Path | None = None
    watch: tuple[str, ...] = ()
    load_timeout: float = DEFAULT_LOAD_TIMEOUT

    @property
    def name(self) -> str:
        """The project's name: its directory's name."""
        return self.root.name

    @property
    def target(self) -> str:
        """What is loaded, for messages."""
        return f"module {self.module!r}" if self.module else f"file {self.file}"

    @property
    def home(self) -> Path:
        """The instance directory: ``FLOWDEV_HOME`` or ``<root>/.flowdev``."""
        override = os.environ.get("FLOWDEV_HOME")
        return Path(override) if override else self.root / ".flowdev"


def find_project(
    project_dir: str | os.PathLike[str] = ".",
    *,
    module: str | None = None,
    file: str | os.PathLike[str] | None = None,
    load_timeout: float | None = None,
) -> Project:
    """Read ``[tool.flowdev]`` from the project's pyproject.toml; arguments win over it.

    Raises:
        ProjectError: the directory or pyproject.toml cannot be used; the message says
            which setting is wrong and where.
    """
    import re
    import tomllib

    root = Path(project_dir).resolve()
    if not root.is_dir():
        raise ProjectError(f"project directory {root} does not exist")
    settings: dict[str, object] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            settings = tomllib.loads(pyproject.read_text()).get("tool", {}).get("flowdev", {})
        except tomllib.TOMLDecodeError as error:
            # Python 3.11's message ends "(at line 3, column 9)"; there is no attribute.
            found = re.search(r"at line (\d+)", str(error))
            line = int(found.group(1)) if found else None
            raise ProjectError(
                f"{pyproject}{f':{line}' if line else ''}: {error}",
                file=str(pyproject),
                line=line,
            ) from None
    watch = settings.get("watch", [])
    if not isinstance(watch, list) or not all(isinstance(w, str) for w in watch):
        raise ProjectError(
            f"{pyproject}: [tool.flowdev] watch must be a list of glob strings",
            file=str(pyproject),
        )
    globs = tuple(watch)
    timeout = _load_timeout(settings, pyproject) if load_timeout is None else load_timeout
    if file is not None:
        return Project(root=root, file=(root / file).resolve(), watch=globs, load_timeout=timeout)
    module = module or settings.get("module")  # type: ignore[assignment]
    file_setting = settings.get("file")
    if module is None and isinstance(file_setting, str):
        path = (root / file_setting).resolve()
        return Project(root=root, file=path, watch=globs, load_timeout=timeout)
    if not isinstance(module, str) or not module:
        raise ProjectError(
            f"flowdev does not know where the definitions of {root} are. Add\n\n"
            '    [tool.flowdev]\n    module = "your_package.definitions"\n\n'
            f"to {pyproject}, or pass --module/-m or --file/-f.",
            file=str(pyproject) if pyproject.is_file() else None,
        )
    return Project(root=root, module=module, watch=globs, load_timeout=timeout)


def _load_timeout(settings: dict[str, object], pyproject: Path) -> float:
    value = settings.get("load_timeout", DEFAULT_LOAD_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        lines = pyproject.read_text().splitlines()
        line = next((n for n, text in enumerate(lines, 1) if "load_timeout" in text), None)
        raise ProjectError(
            f"{pyproject}{f':{line}' if line else ''}: [tool.flowdev] load_timeout must be a"
            f" number of seconds above 0, like load_timeout = 60; it is {value!r}",
            file=str(pyproject),
            line=line,
        )
    return float(value)


def load_definitions(project: Project) -> Definitions:
    """Import the project's code in this process and return its `Definitions`.

    Raises:
        ProjectError: the code does not import, or defines no (or several) `Definitions`;
            ``file`` and ``line`` say where in the user's code.
        DefinitionsError: the definitions do not validate.
    """
    try:
        module = import_definitions_module(project)
    except FlowdevError:
        raise
    except SyntaxError as error:
        raise ProjectError(
            f"{error.filename}:{error.lineno}:{error.offset}: SyntaxError: {error.msg}",
            file=error.filename,
            line=error.lineno,
        ) from None
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        import traceback

        frames = user_frames(error, project.root)
        filename, line = (frames[-1].filename, frames[-1].lineno) if frames else (None, None)
        where = f"{filename}:{line}: " if filename else ""
        raise ProjectError(
            f"{where}{type(error).__name__}: {error} (while importing {project.target})\n"
            + "".join(traceback.format_list(frames)),
            file=filename,
            line=line,
        ) from None
    return find_definitions(module, project)


def import_definitions_module(project: Project) -> ModuleType:
    """Import the module (or file) that holds the project's definitions, GC paused.

    Whatever the user's code raises propagates unchanged; only a missing ``--file``
    becomes a `ProjectError`.
    """
    root = str(project.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    with _gc_paused():
        return _import(project)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while user code builds its definitions.

    A project allocates many long-lived objects and no garbage cycles while it loads; the
    collector's repeated passes over them were half the load time at 10,000 assets. The
    survivors are frozen so later collections (in a long run) skip them too.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _import(project: Project) -> ModuleType:
    if project.module is not None:
        return importlib.import_module(project.module)
    assert project.file is not None
    if not project.file.is_file():
        raise ProjectError(f"definitions file {project.file} does not exist")
    from importlib.util import module_from_spec, spec_from_file_location

    name = "flowdev_user_" + project.file.stem
    spec = spec_from_file_location(name, project.file)
    assert spec is not None and spec.loader is not None
    module = module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def definitions_in(module: ModuleType) -> dict[str, Definitions]:
    """The `Definitions` objects among ``module``'s top-level names, by name."""
    from flowdev.defs.definitions import Definitions

    return {name: value for name, value in vars(module).items() if isinstance(value, Definitions)}


def find_definitions(module: ModuleType, project: Project) -> Definitions:
    """The one `Definitions` at the top level of ``module``.

    Raises:
        ProjectError: there is none, or there are several; the message says what to do.
    """
    found = definitions_in(module)
    if len(found) == 1:
        return next(iter(found.values()))
    where = getattr(module, "__file__", None) or project.target
    if not found:
        raise ProjectError(
            f"{where} defines no Definitions (flowdev looked at the top-level names of "
            f"{project.target}). Add `defs = Definitions(assets=[...])` at the top level, or "
            "point flowdev elsewhere with --module/-m, --file/-f or [tool.flowdev] module "
            "in pyproject.toml.",
            file=where if where != project.target else None,
        )
    raise ProjectError(
        f"{where} defines several Definitions ({', '.join(sorted(found))}); keep one "
        "(Definitions.merge combines them).",
        file=where if where != project.target else None,
    )


def is_user_file(filename: str, root: Path) -> bool:
    """Whether ``filename`` is the project's own code: under ``root``, and not in a
    virtualenv or installed package that happens to live there."""
    path = Path(filename)
    if not path.is_absolute() or not path.is_relative_to(root):
        return False
    return not any(part in _NOT_USER_DIRS for part in path.relative_to(root).parts[:-1])


# Directories under a project root that hold someone else's code.
_NOT_USER_DIRS = frozenset({"site-packages", "dist-packages", ".venv", "venv", ".tox", ".nox"})


def user_frames(error: BaseException, root: Path) -> list[traceback.FrameSummary]:
    """The frames of ``error``'s traceback that run the project's own code, outermost
    first (flowdev's and libraries' frames left out)."""
    import traceback

    return [f for f in traceback.extract_tb(error.__traceback__) if is_user_file(f.filename, root)]


def describe_error(error: FlowdevError) -> dict[str, object]:
    """The JSON form of an error: ``{"kind", "message", "file", "line"}``."""
    return {
        "kind": type(error).__name__,
        "message": str(error),
        "file": getattr(error, "file", None),
        "line": getattr(error, "line", None),
    }
