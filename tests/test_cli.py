"""The `flowdev` command line, run as a real subprocess on copies of projects."""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import flowdev
import pytest
from conftest import TAXI_ASSETS

FLOWDEV_SCRIPT = Path(sys.executable).with_name("flowdev")
FLOWDEV = (
    [str(FLOWDEV_SCRIPT)] if FLOWDEV_SCRIPT.exists() else [sys.executable, "-m", "flowdev.cli.app"]
)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "FLOWDEV_"))}
    env["FLOWDEV_HOME"] = str(cwd / ".flowdev-test-home")
    env["COLUMNS"] = "200"
    return subprocess.run(
        [*FLOWDEV, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def json_out(completed: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(completed.stdout)  # exactly one JSON document, or this raises


# -- check -----------------------------------------------------------------------------


def test_check_loads_the_sample_project(sample_project: Path) -> None:
    completed = run_cli("check", cwd=sample_project)

    assert completed.returncode == 0, completed.stderr
    assert re.fullmatch(
        r"ok: sample_project: 12 assets in 3 groups, 1 external, 1 checks, 1 jobs, "
        r"1 schedules \(loaded in \d+\.\d\ds\)\n",
        completed.stdout,
    )
    assert "warning" not in completed.stderr


def test_check_json(sample_project: Path) -> None:
    completed = run_cli(
        "check", "--json", "--project", str(sample_project), cwd=sample_project.parent
    )

    assert completed.returncode == 0, completed.stderr
    report = json_out(completed)
    assert report["ok"] is True
    assert report["assets"] == 12
    assert report["external_assets"] == 1
    assert report["groups"] == ["ingest", "report", "transform"]
    assert report["jobs"] == ["refresh_everything"]
    assert report["asset_checks"] == ["trips_clean:trips_have_positive_fares"]
    assert report["warnings"] == []


def test_check_warns_about_an_undefined_dependency_with_a_close_match(
    write_project: Any,
) -> None:
    root = write_project(
        {
            "defs.py": """
            import flowdev as dg

            @dg.asset
            def orders():
                return 1

            @dg.asset(deps=["ordrs"])
            def revenue():
                return 2

            defs = dg.Definitions(assets=[orders, revenue])
            """
        }
    )

    completed = run_cli("check", cwd=root)

    assert completed.returncode == 0, completed.stderr
    assert (
        "warning: 'ordrs' is a dependency of 'revenue' but nothing defines it, so it is "
        "treated as an external asset. Did you mean 'orders'?"
    ) in completed.stderr
    assert "2 assets in 1 groups, 1 external" in completed.stdout
    as_json = json_out(run_cli("check", "--json", cwd=root))
    assert len(as_json["warnings"]) == 1
    assert "Did you mean 'orders'?" in as_json["warnings"][0]


# -- assets ----------------------------------------------------------------------------


def test_assets_json_lists_every_asset_in_topological_order(sample_project: Path) -> None:
    completed = run_cli("assets", "--json", cwd=sample_project)

    assert completed.returncode == 0, completed.stderr
    rows = json_out(completed)
    assert isinstance(rows, list)
    assert {r["key"] for r in rows} == TAXI_ASSETS | {"fare_rates"}
    position = {row["key"]: index for index, row in enumerate(rows)}
    for row in rows:
        assert {"key", "group", "kinds", "deps", "status", "stale_reasons"} <= set(row)
        assert {"last_materialized", "source"} <= set(row)
        for dep in row["deps"]:
            assert position[dep] < position[row["key"]], (dep, row["key"])
    by_key = {row["key"]: row for row in rows}
    assert by_key["fare_rates"]["status"] == "external"
    assert by_key["fare_rates"]["source"] is None
    assert by_key["fare_rates"]["group"] == "ingest"
    assert by_key["daily_summary"]["group"] == "report"
    assert by_key["daily_summary"]["kinds"] == ["markdown"]
    assert sorted(by_key["daily_summary"]["deps"]) == [
        "borough_stats",
        "hourly_stats",
        "raw_weather",
    ]
    assert sorted(by_key["fare_anomalies"]["deps"]) == ["fare_rates", "trips_enriched"]
    assert {by_key[k]["status"] for k in TAXI_ASSETS} == {"missing"}  # a fresh project
    assert all(by_key[k]["stale_reasons"] == [] for k in TAXI_ASSETS)
    assert all(by_key[k]["last_materialized"] is None for k in TAXI_ASSETS)


def test_assets_json_source_points_at_the_decorator(sample_project: Path) -> None:
    rows = json_out(run_cli("assets", "--json", cwd=sample_project))

    for row in rows:
        if row["key"] == "fare_rates":
            continue
        match = re.fullmatch(r"(taxi/assets/\w+\.py):(\d+)", row["source"])
        assert match, row["source"]
        lines = (sample_project / match[1]).read_text().splitlines()
        decorator_line = int(match[2])
        assert lines[decorator_line - 1].lstrip().startswith("@"), row
        # the function follows its decorator and materializes this key
        following = "\n".join(lines[decorator_line - 1 : decorator_line + 12])
        assert row["key"] in following, row


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("group:report", {"daily_summary", "zone_leaderboard", "fare_anomalies"}),
        (
            "*daily_summary",
            {
                "daily_summary",
                "borough_stats",
                "hourly_stats",
                "raw_weather",
                "trips_enriched",
                "trips_clean",
                "zones",
                "raw_trips",
                "raw_zones",
            },
        ),
        (
            "trips_enriched+",
            {
                "trips_enriched",
                "borough_stats",
                "hourly_stats",
                "trip_duration_model",
                "zone_leaderboard",
                "fare_anomalies",
            },
        ),
    ],
)
def test_assets_select(sample_project: Path, query: str, expected: set[str]) -> None:
    completed = run_cli("assets", "--json", "--select", query, cwd=sample_project)

    assert completed.returncode == 0, completed.stderr
    assert {row["key"] for row in json_out(completed)} == expected


def test_assets_table_output(sample_project: Path) -> None:
    completed = run_cli("assets", "-s", "group:report", cwd=sample_project)

    assert completed.returncode == 0, completed.stderr
    header, *lines = completed.stdout.splitlines()
    assert header.split() == ["KEY", "GROUP", "STATUS", "MATERIALIZED", "REASON", "SOURCE"]
    assert sorted(line.split()[0] for line in lines) == [
        "daily_summary",
        "fare_anomalies",
        "zone_leaderboard",
    ]
    assert any("taxi/assets/report.py:" in line for line in lines)


def test_malformed_select_exits_2_with_a_caret(sample_project: Path) -> None:
    completed = run_cli("assets", "--select", "group:(", cwd=sample_project)

    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.splitlines()
    query_line = next(i for i, line in enumerate(lines) if line.strip() == "group:(")
    caret = lines[query_line + 1]
    assert caret.strip() == "^"
    assert caret.index("^") == lines[query_line].index("(")
    assert "column 7" in completed.stderr


def test_malformed_select_with_json_prints_the_error_as_json(sample_project: Path) -> None:
    completed = run_cli("assets", "--json", "--select", "group:(", cwd=sample_project)

    assert completed.returncode == 2
    error = json_out(completed)["error"]
    assert set(error) == {"kind", "message", "file", "line"}
    assert error["kind"] == "SelectionSyntaxError"
    assert "column 7" in error["message"]
    assert "^" in completed.stderr  # people still get it readable


def test_unknown_key_in_select_suggests_a_close_match(sample_project: Path) -> None:
    completed = run_cli("assets", "--json", "--select", "daily_sumary", cwd=sample_project)

    assert completed.returncode == 2
    assert "Did you mean 'daily_summary'?" in json_out(completed)["error"]["message"]


# -- load errors -----------------------------------------------------------------------


def test_syntax_error_in_a_project_file_names_file_and_line(sample_project: Path) -> None:
    ingest = sample_project / "taxi" / "assets" / "ingest.py"
    lines = ingest.read_text().splitlines()
    broken_line = len(lines) + 2
    ingest.write_text("\n".join([*lines, "", "def broken(:", "    pass", ""]))

    completed = run_cli("check", cwd=sample_project)
    as_json = run_cli("check", "--json", cwd=sample_project)

    assert completed.returncode == 2
    assert f"{ingest}:{broken_line}" in completed.stderr
    assert "SyntaxError" in completed.stderr
    assert as_json.returncode == 2
    error = json_out(as_json)["error"]
    assert error["kind"] == "ProjectError"
    assert error["file"] == str(ingest)
    assert error["line"] == broken_line


def test_exception_while_importing_names_the_user_frame(write_project: Any) -> None:
    root = write_project(
        {
            "defs.py": """
            import flowdev as dg

            RATES = {"base": 3}
            SURCHARGE = RATES["surcharge"]

            defs = dg.Definitions(assets=[])
            """
        }
    )

    completed = run_cli("check", "--json", cwd=root)

    assert completed.returncode == 2
    error = json_out(completed)["error"]
    assert error["file"] == str(root / "defs.py")
    assert error["line"] == 4
    assert "KeyError" in error["message"]


def test_invalid_definitions_exit_2_with_the_validation_message(write_project: Any) -> None:
    root = write_project(
        {
            "defs.py": """
            import flowdev as dg

            @dg.asset(deps=["b"])
            def a(): ...

            @dg.asset(deps=["a"])
            def b(): ...

            defs = dg.Definitions(assets=[a, b])
            """
        }
    )

    completed = run_cli("check", "--json", cwd=root)

    assert completed.returncode == 2
    error = json_out(completed)["error"]
    assert error["kind"] == "CycleError"
    assert "a -> b -> a" in error["message"] or "b -> a -> b" in error["message"]


def test_missing_tool_flowdev_table_says_how_to_fix_it(write_project: Any) -> None:
    root = write_project({"defs.py": "defs = None\n"}, module=None)

    completed = run_cli("check", cwd=root)

    assert completed.returncode == 2
    assert "[tool.flowdev]" in completed.stderr
    assert 'module = "your_package.definitions"' in completed.stderr
    assert "--module" in completed.stderr
    assert str(root / "pyproject.toml") in completed.stderr


def test_module_option_overrides_the_missing_table(write_project: Any) -> None:
    root = write_project(
        {"pkg/__init__.py": "", "pkg/defs.py": "import flowdev as dg\ndefs = dg.Definitions()\n"},
        module=None,
    )

    completed = run_cli("check", "--module", "pkg.defs", cwd=root)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("ok: proj: 0 assets")


def test_version(tmp_path: Path) -> None:
    completed = run_cli("--version", cwd=tmp_path)

    assert completed.returncode == 0
    assert completed.stdout == f"flowdev {flowdev.__version__}\n"


# -- graph -----------------------------------------------------------------------------


def test_graph_draws_every_asset(sample_project: Path) -> None:
    completed = run_cli("graph", cwd=sample_project)

    assert completed.returncode == 0, completed.stderr
    for key in TAXI_ASSETS | {"fare_rates"}:
        assert key in completed.stdout


# -- loading in a child process ----------------------------------------------------------


def test_commands_never_import_the_project_in_their_own_process(sample_project: Path) -> None:
    # A module-level side effect that only the loader's child may perform.
    ingest = sample_project / "taxi" / "assets" / "ingest.py"
    ingest.write_text(
        "import os, sys\n"
        "if 'flowdev.cli.app' in sys.modules:\n"
        "    raise RuntimeError('imported by the CLI process itself')\n" + ingest.read_text()
    )

    for command in (["check"], ["assets", "--json"], ["graph"]):
        completed = run_cli(*command, cwd=sample_project)
        assert completed.returncode == 0, (command, completed.stderr)


def test_check_prints_the_error_then_the_users_traceback(write_project: Any) -> None:
    root = write_project({"defs.py": "import sys\nprint('loading...', file=sys.stderr)\nx = 1/0\n"})

    completed = run_cli("check", cwd=root)

    assert completed.returncode == 2
    assert f"error: {root / 'defs.py'}:3:5: ZeroDivisionError: division by zero" in (
        completed.stderr
    )
    assert "x = 1/0" in completed.stderr  # the user's traceback follows the paragraph


# -- check --watch ---------------------------------------------------------------------


class LiveCli:
    """A `flowdev` process whose stdout lines are read as they come."""

    def __init__(self, *args: str, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "FLOWDEV_"))}
        env["FLOWDEV_HOME"] = str(cwd / ".flowdev-test-home")
        self.process = subprocess.Popen(
            [*FLOWDEV, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_line(self, within: float = 20.0) -> str:
        try:
            return self.lines.get(timeout=within)
        except queue.Empty:
            raise AssertionError(f"no line within {within} s") from None

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as a person would; the exit status and stderr."""
        self.process.send_signal(signal.SIGINT)
        try:
            _out, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        return self.process.returncode, err


def test_check_watch_prints_one_line_per_reload(sample_project: Path) -> None:
    transform = sample_project / "taxi" / "assets" / "transform.py"
    original = transform.read_text()
    cli = LiveCli("check", "--watch", cwd=sample_project)
    try:
        first = cli.next_line()
        assert re.fullmatch(r"\d\d:\d\d:\d\d  12 assets  loaded  \(\d+ ms; first load\)", first)

        # Edit one asset's code: it is reported as edited, nothing else.
        transform.write_text(original.replace('t["fare"] > 0', 't["fare"] > 1'))
        edited = cli.next_line()
        assert "12 assets  ~trips_clean  (" in edited, edited
        assert edited.endswith("; taxi/assets/transform.py)")

        transform.write_text(original + "\n\n@dg.asset\ndef brand_new() -> int:\n    return 1\n")
        added = cli.next_line()
        assert "13 assets  +brand_new ~trips_clean  (" in added, added  # its edit undone

        transform.write_text(original + "\ndef broken(:\n")
        error = cli.next_line()
        broken_line = len(original.splitlines()) + 2
        assert f"  error  taxi/assets/transform.py:{broken_line}:" in error, error
        assert "SyntaxError" in error and error.endswith("(taxi/assets/transform.py)")

        transform.write_text(original)
        assert "12 assets  -brand_new" in cli.next_line()
    finally:
        returncode, stderr = cli.stop()
    assert returncode == 0, stderr
    assert "Traceback" not in stderr


def test_check_watch_json_lines(write_project: Any) -> None:
    root = write_project(
        {"defs.py": "import flowdev as dg\n\n@dg.asset\ndef a():\n    return 1\n\n"
         "defs = dg.Definitions(assets=[a])\n"}
    )  # fmt: skip
    cli = LiveCli("check", "--watch", "--json", cwd=root)
    try:
        first = json.loads(cli.next_line())
        assert first["ok"] is True and first["assets"] == 1
        assert first["changed_files"] == []

        (root / "defs.py").write_text("import flowdev as dg\nBROKEN = {\n")
        failed = json.loads(cli.next_line())
        assert failed["ok"] is False
        assert failed["changed_files"] == ["defs.py"]
        assert set(failed["error"]) == {"kind", "message", "file", "line"}
        assert (failed["error"]["file"], failed["error"]["line"]) == (str(root / "defs.py"), 2)
    finally:
        returncode, _stderr = cli.stop()
    assert returncode == 0
