"""flowdev.process_group: one signal ends a child and what it started."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from flowdev.process_group import signal_group

STARTS_A_GRANDCHILD = (
    "import subprocess, sys\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
)
SPAWNS_A_GRANDCHILD = STARTS_A_GRANDCHILD + "import time; time.sleep(60)\n"


def _gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def test_a_group_leader_and_what_it_started_both_end() -> None:
    leader = subprocess.Popen(
        [sys.executable, "-c", SPAWNS_A_GRANDCHILD], stdout=subprocess.PIPE, start_new_session=True
    )
    assert leader.stdout is not None
    grandchild = int(leader.stdout.readline())
    signal_group(leader.pid)
    assert leader.wait(timeout=5) < 0
    assert _gone(grandchild)  # reparented to init, which reaps it once killed


def test_a_child_that_leads_no_group_is_signalled_alone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    signal_group(child.pid)  # its group is ours: the test process must survive
    assert child.wait(timeout=5) < 0


def test_a_process_already_gone_is_not_an_error() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    child.wait(timeout=5)
    signal_group(child.pid)


def test_what_a_leader_started_ends_even_after_the_leader_exited() -> None:
    leader = subprocess.Popen(
        [sys.executable, "-c", STARTS_A_GRANDCHILD],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert leader.stdout is not None
    grandchild = int(leader.stdout.readline())
    assert leader.wait(timeout=5) == 0
    signal_group(leader.pid)
    assert _gone(grandchild)
