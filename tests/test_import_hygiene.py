"""`import flowdev` stays light: the definitions layer never loads the app, the CLI, or
heavy libraries it does not need yet. Each check runs in a fresh interpreter."""

import json
import subprocess
import sys

HEAVY = ["textual", "networkx", "sqlite_utils", "typer", "rich", "pydantic"]


def modules_loaded_by(code: str, watched: list[str]) -> list[str]:
    """The top-level packages of ``watched`` that a fresh interpreter has loaded after
    running ``code``."""
    script = (
        f"{code}\n"
        "import json, sys\n"
        f"watched = {watched!r}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(watched))))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_the_watch_list_is_detected() -> None:
    # Guards the guard: the checks below would pass vacuously if detection were broken.
    loaded = modules_loaded_by("import textual, networkx, sqlite_utils, typer", HEAVY)

    assert {"textual", "networkx", "sqlite_utils", "typer"} <= set(loaded)


def test_import_flowdev_loads_nothing_heavy() -> None:
    assert modules_loaded_by("import flowdev", HEAVY) == []


def test_defining_and_materializing_assets_loads_nothing_heavy() -> None:
    code = """
import tempfile
import flowdev as dg
from flowdev.execution.materialize import materialize

@dg.asset
def one():
    return 1

@dg.asset
def two(one):
    return one + 1

defs = dg.Definitions(assets=[one, two], jobs=[dg.define_asset_job("all")])
with tempfile.TemporaryDirectory() as storage:
    assert materialize(defs, storage_dir=storage).output_for("two") == 2
"""
    assert modules_loaded_by(code, HEAVY) == []


def test_import_flowdev_cli_does_not_load_the_app() -> None:
    loaded = modules_loaded_by("import flowdev.cli.app", [*HEAVY, "flowdev"])

    assert "textual" not in loaded
    assert "networkx" not in loaded
    assert "flowdev" in loaded and "typer" in loaded  # the check ran on the real CLI
