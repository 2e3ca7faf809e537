"""The run commands as real processes: materialize, runs, logs, cancel, reexecute."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import TAXI_ASSETS
from test_cli import FLOWDEV, json_out


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "FLOWDEV_"))}
    clean["FLOWDEV_HOME"] = str(cwd / ".flowdev-test-home")
    clean["COLUMNS"] = "200"
    return subprocess.run(
        [*FLOWDEV, *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_materialize_runs_everything_and_exits_zero(sample_project: Path) -> None:
    completed = run_cli("materialize", "--select", "group:ingest", cwd=sample_project)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for key in ("raw_zones", "raw_trips", "raw_weather"):
        assert f"✓ {key}" in completed.stdout
    assert "success" in completed.stdout.splitlines()[-1]

    listed = json_out(run_cli("assets", "--json", cwd=sample_project))
    statuses = {row["key"]: row["status"] for row in listed}
    assert statuses["raw_trips"] == "fresh"
    assert statuses["trips_clean"] == "missing"
    assert statuses["fare_rates"] == "external"
    raw_trips = next(row for row in listed if row["key"] == "raw_trips")
    assert raw_trips["last_materialized"].endswith("Z")


def test_materialize_failure_exits_one_and_reexecute_from_failure_fixes_it(
    sample_project: Path,
) -> None:
    env_fail = {"TAXI_FAIL_ANOMALIES": "1"}
    completed = run_cli("materialize", "--json", cwd=sample_project, env=env_fail)
    assert completed.returncode == 1
    result = json_out(completed)
    assert result["run"]["status"] == "failure"
    outcomes = {row["key"]: row["outcome"] for row in result["assets"]}
    assert outcomes["fare_anomalies"] == "failed"
    assert {k for k, v in outcomes.items() if v == "materialized"} == TAXI_ASSETS - {
        "fare_anomalies"
    }
    failed_run = result["run"]["run_id"]

    runs = json_out(run_cli("runs", "--json", cwd=sample_project))
    assert runs[0]["run_id"] == failed_run and runs[0]["pid"] is None
    assert set(runs[0]) >= {
        "run_id",
        "status",
        "selection",
        "pid",
        "parent_run_id",
        "start_time",
        "end_time",
    }

    logs = run_cli("logs", failed_run[:8], cwd=sample_project)
    assert "RuntimeError: anomaly detector crashed" in logs.stdout
    assert "training... 100%" in logs.stdout  # compute output, interleaved with events
    assert logs.stdout.index("training... 100%") < logs.stdout.index("materialized trip_dur")

    again = run_cli("reexecute", failed_run, "--from-failure", "--json", cwd=sample_project)
    assert again.returncode == 0, again.stderr
    rerun = json_out(again)
    assert rerun["run"]["parent_run_id"] == failed_run
    assert [row["key"] for row in rerun["assets"]] == ["fare_anomalies"]


def test_unknown_run_id_is_a_clear_error(sample_project: Path) -> None:
    completed = run_cli("logs", "nope", cwd=sample_project)
    assert completed.returncode == 2
    assert "no run 'nope'" in completed.stderr and "flowdev runs" in completed.stderr


def test_bad_selection_exits_two_without_launching(sample_project: Path) -> None:
    completed = run_cli("materialize", "--select", "key:raw_tripz", cwd=sample_project)
    assert completed.returncode == 2
    assert "raw_trips" in completed.stderr  # did you mean
    runs = run_cli("runs", "--json", cwd=sample_project)
    assert json_out(runs) == []


def test_ctrl_c_cancels_the_run_cleanly(sample_project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "FLOWDEV_"))}
    env["FLOWDEV_HOME"] = str(sample_project / ".flowdev-test-home")
    process = subprocess.Popen(
        [*FLOWDEV, "materialize", "--select", "+key:trip_duration_model"],
        cwd=sample_project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    log_dir = sample_project / ".flowdev-test-home" / "logs"
    while time.monotonic() < deadline:
        logs = list(log_dir.glob("*/**/*.log"))  # the run's log and its step processes'
        if any("training" in log.read_text() for log in logs):
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "canceled" in stdout.splitlines()[-1]
    runs = json_out(run_cli("runs", "--json", cwd=sample_project))
    assert runs[0]["status"] == "canceled"
    events = run_cli("logs", runs[0]["run_id"], cwd=sample_project).stdout
    assert "trip_duration_model canceled" in events


def test_cancel_command_on_an_ended_run_says_so(sample_project: Path) -> None:
    run_cli("materialize", "--select", "key:raw_zones", cwd=sample_project)
    run_id = json_out(run_cli("runs", "--json", cwd=sample_project))[0]["run_id"]
    completed = run_cli("cancel", run_id, cwd=sample_project)
    assert completed.returncode == 1
    assert "already ended: success" in completed.stdout
    assert json.loads(run_cli("runs", "--json", cwd=sample_project).stdout)[0]["status"] == (
        "success"
    )
