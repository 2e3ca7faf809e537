"""The fault matrix: every promise of the hardening issue, one real reproduction each.

Each section below mirrors a heading of that list, and each test name reads as the
promise it holds. Faults are made for real: real worker processes and signals, real
damaged files, a real full disk (a small tmpfs), a real terminal where it matters. A
test here fails if the behaviour it names breaks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import WriteProject

# == Runs and processes ====================================================================


# == The instance (SQLite and files) =======================================================


# == Bad input answered, never a traceback =================================================


def input_cli(project: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real `flowdev` on ``project``, with its own instance and no TAXI_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "FLOWDEV_"))}
    env["FLOWDEV_HOME"] = str(project / ".flowdev-test-home")
    env["COLUMNS"] = "200"
    script = Path(sys.executable).with_name("flowdev")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "flowdev.cli"]
    return subprocess.run(
        [*command, *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout
    )


def input_answered(done: subprocess.CompletedProcess[str], *located: str) -> str:
    """Exit 2, no traceback, and every ``located`` fragment in the message; the message."""
    message = done.stderr + done.stdout
    assert done.returncode == 2, message
    assert "Traceback" not in message, message
    for fragment in located:
        assert fragment in message, message
    return message


def input_edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("query", "column"),
    [
        ("(" * 200 + "daily_summary" + ")" * 200, 101),
        ("not " * 1000 + "daily_summary", 401),
        ("roots(" * 150 + "daily_summary" + ")" * 150, 606),
        ("not (" * 120 + "daily_summary" + ")" * 120, 251),
    ],
    ids=["parentheses", "nots", "roots", "not-parentheses"],
)
def test_a_selection_nested_past_100_levels_is_a_caret_error_not_a_recursion_error(
    sample_project: Path, query: str, column: int
) -> None:
    message = input_answered(
        input_cli(sample_project, "assets", "--select", query),
        f"invalid selection at column {column}: the query nests deeper than 100 levels",
    )
    caret_line = next(line for line in message.splitlines() if line.strip() == "^")
    assert caret_line.index("^") == column - 1 + 2  # the query is indented by two


def test_a_selection_100_levels_deep_still_selects(sample_project: Path) -> None:
    query = "not " * 49 + "(" * 51 + "daily_summary" + ")" * 51  # exactly 100 levels
    done = input_cli(sample_project, "assets", "--select", query, "--json")
    assert done.returncode == 0, done.stderr
    selected = {row["key"] for row in json.loads(done.stdout)}
    assert "daily_summary" not in selected and "raw_zones" in selected


@pytest.mark.anyio
async def test_the_selection_prompt_answers_200_parentheses_with_the_caret_and_stays_up(
    sample_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowdev.project import find_project
    from flowdev.tui.app import FlowdevApp
    from flowdev.tui.screens.selection import SelectionScreen
    from textual.widgets import Static

    monkeypatch.setenv("FLOWDEV_HOME", str(sample_project / ".flowdev-test-home"))
    app = FlowdevApp(find_project(sample_project))
    async with app.run_test(size=(160, 48)) as pilot:
        deadline = time.monotonic() + 60
        while app.snapshot is None:
            assert time.monotonic() < deadline, "the app never loaded the sample project"
            await pilot.pause(0.05)
        await pilot.press("s")
        while not isinstance(app.screen, SelectionScreen):
            await pilot.pause(0.05)
        await pilot.press(*"(" * 200)
        feedback = app.screen.query_one("#selection-feedback", Static)
        shown = str(feedback.render())
        assert "column 101: the query nests deeper than 100 levels" in shown
        assert feedback.has_class("error")
        await pilot.press("escape")
        assert app.is_running and not isinstance(app.screen, SelectionScreen)


def input_config(tmp_path: Path, config: object) -> str:
    path = tmp_path / "run_config.json"
    path.write_text(json.dumps(config))
    return str(path)


@pytest.mark.parametrize(
    ("config", "located"),
    [
        (
            {"ops": {"trip_duration_modl": {"config": {"iterations": 1}}}},
            ["ops.trip_duration_modl: no op or asset has this name", "'trip_duration_model'"],
        ),
        (
            {"ops": {"trip_duration_model": {"config": {"iterations": "ten"}}}},
            ["ops.trip_duration_model.config.iterations: expected int, got 'ten'"],
        ),
        (
            {"ops": {"trip_duration_model": {"config": {"iteration": 2}}}},
            ["ops.trip_duration_model.config.iteration: ModelConfig has no field", "'iterations'"],
        ),
        (
            {"resources": {"warehous": {"config": {}}}},
            ["resources.warehous: no resource has this key", "'warehouse'"],
        ),
        (
            {"resources": {"warehouse": {"config": {"path": 5}}}},
            ["resources.warehouse.config.path: expected str, got int (5)"],
        ),
        ({"opz": {}}, ["opz: not a run config section", "'ops'"]),
        ({"ops": {"raw_zones": {"config": {"x": 1}}}}, ["ops.raw_zones.config: raw_zones takes"]),
    ],
    ids=["op-name", "type", "extra-field", "resource-key", "resource-type", "section", "no-config"],
)
def test_run_config_that_does_not_fit_is_refused_with_its_path_before_a_run_exists(
    sample_project: Path, tmp_path: Path, config: object, located: list[str]
) -> None:
    done = input_cli(
        sample_project,
        "materialize",
        "--select",
        "raw_zones",
        "--config",
        input_config(tmp_path, config),
    )
    input_answered(done, "run config does not fit the definitions", *located)
    from flowdev.storage import Storage

    with Storage(sample_project / ".flowdev-test-home") as storage:
        assert storage.list_runs() == []


def test_every_run_config_problem_is_listed_at_once(sample_project: Path, tmp_path: Path) -> None:
    config = {
        "ops": {"trip_duration_model": {"config": {"iterations": "ten", "seconds": 1}}},
        "resources": {"warehouse": {"config": {"path": 5}}},
    }
    message = input_answered(
        input_cli(sample_project, "materialize", "--config", input_config(tmp_path, config))
    )
    assert "ops.trip_duration_model.config.iterations: expected int" in message
    assert "ops.trip_duration_model.config.seconds: ModelConfig has no field" in message
    assert "resources.warehouse.config.path: expected str" in message


def test_a_required_config_field_missing_for_a_selected_asset_is_refused(
    write_project: WriteProject,
) -> None:
    root = write_project(
        {
            "defs.py": """
            import flowdev as dg

            class Limits(dg.Config):
                rows: int

            @dg.asset
            def capped(config: Limits) -> int:
                return config.rows

            @dg.asset
            def other() -> int:
                return 1

            defs = dg.Definitions(assets=[capped, other])
            """
        }
    )
    input_answered(
        input_cli(root, "materialize", "--select", "capped"),
        "ops.capped.config.rows: missing, and Limits has no default for it",
    )
    assert input_cli(root, "materialize", "--select", "other").returncode == 0


@pytest.mark.parametrize(
    ("content", "located"),
    [
        (b'{"ops": {"\xff\xfe": 1}}', ["run_config.json:1: byte 10 (0xff) is not UTF-8"]),
        (
            b'{"ops": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            ["run_config.json: the run config nests deeper"],
        ),
        (
            json.dumps(
                {
                    "ops": {
                        "trip_duration_model": {
                            "config": {"iterations": json.loads("[" * 500 + "]" * 500)}
                        }
                    }
                }
            ).encode(),
            ["ops.trip_duration_model.config.iterations", "nests deeper than 100 levels"],
        ),
    ],
    ids=["not-utf8", "deeper-than-json-reads", "deeper-than-config-takes"],
)
def test_a_damaged_or_bottomless_config_file_is_answered(
    sample_project: Path, tmp_path: Path, content: bytes, located: list[str]
) -> None:
    path = tmp_path / "run_config.json"
    path.write_bytes(content)
    input_answered(input_cli(sample_project, "materialize", "--config", str(path)), *located)


def test_runs_limit_past_sqlite_integers_is_a_usage_error(sample_project: Path) -> None:
    input_answered(
        input_cli(sample_project, "runs", "--limit", "99999999999999999999"),
        "Invalid value for '--limit'",
    )


def test_a_100_kb_run_id_is_answered_not_a_like_pattern_error(sample_project: Path) -> None:
    from flowdev.launcher import launch_run
    from flowdev.project import find_project

    project = find_project(sample_project)
    home = sample_project / ".flowdev-test-home"
    os.environ["FLOWDEV_HOME"] = str(home)
    try:
        from flowdev.storage import Storage

        with Storage(home) as storage:  # a run in the table, so the LIKE is evaluated
            launch_run(storage, project, ["raw_zones"])
    finally:
        del os.environ["FLOWDEV_HOME"]
    for command in ("logs", "cancel"):
        message = input_answered(
            input_cli(sample_project, command, "a" * 100_000),
            "a run id is 32 characters and this one is 100,000",
        )
        assert len(message) < 400


def test_os_exit_at_import_names_the_module_and_line(sample_project: Path) -> None:
    ingest = sample_project / "taxi/assets/ingest.py"
    lines = ingest.read_text().splitlines()
    ingest.write_text("\n".join([*lines, "import os", "os._exit(3)", ""]))
    input_answered(
        input_cli(sample_project, "check"),
        f"taxi/assets/ingest.py:{len(lines) + 2}:",
        "ended (with exit code 3) while importing taxi.assets.ingest",
    )


@pytest.mark.parametrize("how", ["pyproject", "option"])
def test_the_load_timeout_is_a_setting_and_says_where_the_import_was_stuck(
    sample_project: Path, how: str
) -> None:
    ingest = sample_project / "taxi/assets/ingest.py"
    lines = ingest.read_text().splitlines()
    ingest.write_text("\n".join([*lines, "import time", "time.sleep(600)", ""]))
    args = ["check"]
    if how == "pyproject":
        pyproject = sample_project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text() + "load_timeout = 1.5\n")
    else:
        args += ["--load-timeout", "1.5"]
    started = time.monotonic()
    input_answered(
        input_cli(sample_project, *args),
        f"taxi/assets/ingest.py:{len(lines) + 2}:",
        "did not finish within 1.5 s while importing taxi.assets.ingest",
        "load_timeout = 120 under [tool.flowdev]",
        "--load-timeout 120",
    )
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("value", ['"abc"', "-3", "0", "true"])
def test_a_load_timeout_that_is_not_a_positive_number_is_located(
    sample_project: Path, value: str
) -> None:
    pyproject = sample_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f"load_timeout = {value}\n")
    line = len(pyproject.read_text().splitlines())
    input_answered(
        input_cli(sample_project, "check"),
        f"pyproject.toml:{line}: [tool.flowdev] load_timeout must be a number of seconds above 0",
    )


@pytest.mark.parametrize("command", ["check", "assets"])
def test_an_invalid_cron_string_is_a_located_load_error(sample_project: Path, command: str) -> None:
    definitions = sample_project / "taxi/definitions.py"
    input_edit(definitions, '"0 6 * * *"', '"61 99 * * *"')
    line = next(
        number
        for number, text in enumerate(definitions.read_text().splitlines(), 1)
        if "61 99" in text
    )
    input_answered(
        input_cli(sample_project, command),
        f"taxi/definitions.py:{line}: InvalidDefinitionError: schedule",
        "cron schedule '61 99 * * *' is not valid",
        "minute 0-59, hour 0-23",
    )


def test_a_freshness_cron_that_never_comes_due_is_a_located_load_error(
    sample_project: Path,
) -> None:
    report = sample_project / "taxi/assets/report.py"
    input_edit(
        report,
        "FreshnessPolicy.time_window(fail_window=timedelta(hours=24))",
        'FreshnessPolicy(maximum_lag_minutes=60, cron_schedule="0 0 31 2 *")',
    )
    input_answered(
        input_cli(sample_project, "assets"),
        "taxi/assets/report.py:",
        "the FreshnessPolicy of asset 'daily_summary': cron schedule '0 0 31 2 *' is not valid",
    )


# == The app never dies from what a user does ==============================================


# == Every supported Python ================================================================

# Source that touches most of the grammar: f-strings of every shape (Pythons split them
# differently), positional-only and keyword-only parameters, match, except*, walrus,
# async comprehensions, a method in a class.
VERSIONED_SOURCE = r'''
import flowdev as dg


@dg.asset(group_name="g")
def orders() -> list[int]:
    """Orders of the day."""
    # keep only positive amounts
    amounts = [3, -1, 4]
    return [a for a in amounts if a > 0]

async def fancy(x, /, y=1, *args, z: int = 2, **kw):
    async with ctx() as (a, b):
        match x:
            case {"k": [1, *rest]} | None:
                return f"{x!r:>{y}} and {z=}" + rb"\d"
    try:
        pass
    except* ValueError:
        raise
    lam = lambda q, *, r=3: q @ r
    return [i async for i in aiter(args) if (j := i)], {**kw}, ..., 1_000j, not x, x if y else z


def strings(x, y):
    a = f"a" "b" f"{x}" "y" f"{y:>10}" f"{{}}" f"{x:{'>'}{y}}" f"{x!s:}" f'{x:%Y-%m-%d}'
    b = "plain" 'concat' """triple""" u"u"
    global G
    del a[0], b
    assert x, "msg"
    for i in range(3):
        continue
    else:
        pass
    while False:
        break
    with open(x) as f, open(y):
        yield from f
    return (yield)


class Thing:
    @staticmethod
    def method(self, *, k=None) -> "Thing":
        nonlocal_ = {k: v for k, v in {}.items()}
        return {1, 2} | {*()} and [*a, *b] and x[1:2, ::3] and -x ** 2 // 3 % 4 >> 1
'''

# The versions of VERSIONED_SOURCE's functions by first line, as computed on Python
# 3.11.7, 3.12.1 and 3.13.0 alike. A change here turns every user's assets stale.
PINNED_CODE_VERSIONS = {
    5: "6a8a0d3861f1",
    12: "f81bd61d46ff",
    25: "c5e488b011b8",
    43: "afe029d08647",
}


def test_the_automatic_code_version_is_the_same_on_every_python() -> None:
    from flowdev.code_version import _hash_functions_in

    assert _hash_functions_in(VERSIONED_SOURCE, "versioned.py") == PINNED_CODE_VERSIONS
