"""End to end: the real `flowdev` binary in a real terminal (tmux), driven by keys.

Open the sample project, materialize everything, wait until every asset is fresh,
append a change to an asset's file, see it and its downstream turn stale, materialize
the stale ones again, quit.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from test_cli import FLOWDEV

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

SESSION = f"flowdev-e2e-{os.getpid()}"


def tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], check=True, capture_output=True, text=True, timeout=10
    ).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_for(predicate, what: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen()
        if predicate(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; the screen was:\n{text}")


@pytest.fixture
def session(sample_project: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "FLOWDEV_"))}
    command = [
        "env",
        f"FLOWDEV_HOME={sample_project / '.flowdev-test-home'}",
        "TERM=xterm-256color",
        *FLOWDEV,
        "-p",
        str(sample_project),
    ]
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", SESSION, "-x", "160", "-y", "48", *command],
        check=True,
        env=env,
    )
    try:
        yield sample_project
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], check=False)


def test_materialize_edit_stale_rematerialize_quit(session: Path) -> None:
    wait_for(lambda text: "12 missing" in text, "the sample project to load")
    tmux("send-keys", "-t", SESSION, "S")
    wait_for(lambda text: "12 fresh" in text, "every asset to be fresh", timeout=90)

    transform = session / "taxi" / "assets" / "transform.py"
    source = transform.read_text()
    transform.write_text(
        source.replace(
            '    count = warehouse.replace_table("zones", ["zone_id", "name", "borough"], rows)',
            "    rows = sorted(rows)\n"
            '    count = warehouse.replace_table("zones", ["zone_id", "name", "borough"], rows)',
        )
    )
    stale_screen = wait_for(lambda text: "now stale" in text, "the save notice")
    wait_for(
        lambda text: " stale" in text.splitlines()[0] and "12 fresh" not in text.splitlines()[0],
        "the header to count stale assets",
    )
    assert "~1 assets" in stale_screen
    tmux("send-keys", "-t", SESSION, "Enter")  # run what the save made stale
    wait_for(lambda text: "12 fresh" in text, "the stale assets to be fresh again", timeout=90)
    # Every asset is fresh a moment before its run records its own end; quit after it.
    wait_for(lambda text: "success · changed by the last save" in text, "the run to end")

    tmux("send-keys", "-t", SESSION, "q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sessions = subprocess.run(["tmux", "ls"], capture_output=True, text=True).stdout
        if SESSION not in sessions:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("flowdev did not quit on q")
