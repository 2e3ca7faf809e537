"""Shared fixtures: a fresh copy of the sample project, and small projects or modules
written from source text into ``tmp_path``."""

import importlib.util
import shutil
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from flowdev.project.snapshot import DefinitionsSnapshot

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PROJECT = REPO_ROOT / "sample_project"


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """A copy of ``sample_project/`` in ``tmp_path``, without data, instance or caches."""
    target = tmp_path / "sample_project"
    shutil.copytree(
        SAMPLE_PROJECT,
        target,
        ignore=shutil.ignore_patterns("data", ".flowdev", "__pycache__", "*.pyc"),
    )
    return target


@pytest.fixture
def taxi_snapshot(sample_project: Path) -> DefinitionsSnapshot:
    """The snapshot of the sample project, loaded in this process."""
    from flowdev.project.project import find_project, load_definitions
    from flowdev.project.snapshot import build_snapshot

    return build_snapshot(load_definitions(find_project(sample_project)))


@pytest.fixture
def anyio_backend() -> str:
    """The event loop that ``@pytest.mark.anyio`` tests (the app's Pilot tests) run on."""
    return "asyncio"


WriteProject = Callable[..., Path]


@pytest.fixture
def write_project(tmp_path: Path) -> WriteProject:
    """Write a small project: ``write_project({"pkg/defs.py": "..."}, module="pkg.defs")``.

    Sources are dedented. The pyproject.toml names ``module`` under ``[tool.flowdev]``
    unless ``module`` is None (then it has no ``[tool.flowdev]`` table at all).
    """

    def write(files: dict[str, str], module: str | None = "defs", name: str = "proj") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        pyproject = f'[project]\nname = "{name}"\nversion = "0.1.0"\n'
        if module is not None:
            pyproject += f'\n[tool.flowdev]\nmodule = "{module}"\n'
        (root / "pyproject.toml").write_text(pyproject)
        for relative, source in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source).lstrip("\n"))
        return root

    return write


ImportSource = Callable[..., ModuleType]


@pytest.fixture
def import_source(tmp_path: Path) -> Iterator[ImportSource]:
    """Write dedented ``source`` to ``tmp_path/<file_name>`` and import it under a fresh,
    unique module name (so rewriting the same file and importing again gives a new module).
    """
    imported: list[str] = []

    def load(source: str, file_name: str = "user_module.py") -> ModuleType:
        path = tmp_path / file_name
        path.write_text(textwrap.dedent(source).lstrip("\n"))
        # A rewrite of the same size within a second would otherwise import stale bytecode.
        shutil.rmtree(path.parent / "__pycache__", ignore_errors=True)
        name = f"flowdev_test_{path.stem}_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        imported.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in imported:
        sys.modules.pop(name, None)


@pytest.fixture
def storage_dir(tmp_path: Path) -> str:
    """Where `materialize` stores values in a test (never a stray temp directory)."""
    path = tmp_path / "storage"
    path.mkdir()
    return str(path)


# The sample project's materializable assets (fare_rates is external).
TAXI_ASSETS = {
    "raw_zones",
    "raw_trips",
    "raw_weather",
    "zones",
    "trips_clean",
    "trips_enriched",
    "borough_stats",
    "hourly_stats",
    "trip_duration_model",
    "daily_summary",
    "zone_leaderboard",
    "fare_anomalies",
}
