"""A run's processes: its worker and everything the run's code started, found and ended.

A worker leads its own session and process group, and it and every process it starts
(``subprocess``, ``multiprocessing``, their children) carry ``FLOWDEV_RUN_ID=<run id>``
in their environment. The two together find a run's processes without trusting a pid
number alone, which the system reuses once its process is gone:

- a process carrying the run's marker is the run's, wherever it moved (even a child that
  started a session of its own);
- a member of the worker's process group is the run's while some process of that group
  carries the marker (so a child that cleared its environment is still found, and a
  reused group id, whose members carry no marker, is never touched).

Processes are read from ``/proc``; where there is none, only the worker's group is
signalled (by the launcher, once it has checked the worker is the run's).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Collection

RUN_ID_ENV = "FLOWDEV_RUN_ID"

# Each look reads every process's stat and environ: waiting, look seldom.
_WAIT_POLL_SECONDS = 0.1
_KILL_POLL_SECONDS = 0.02


def run_processes(run_id: str, group: int | None = None) -> list[int]:
    """Pids of the run's processes still running (zombies have stopped running).

    ``group`` is the worker's process group id (its pid, as it leads its session).
    """
    if not os.path.isdir("/proc"):
        return []
    marker = f"\0{RUN_ID_ENV}={run_id}\0".encode()
    found: list[tuple[int, int, bool]] = []
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
                if fields[0] in (b"Z", b"X"):
                    continue
                with open(f"/proc/{entry.name}/environ", "rb") as environ:
                    marked = marker in b"\0" + environ.read() + b"\0"
            except (OSError, IndexError):
                continue  # gone meanwhile, or not ours to read (nor to signal)
            process_group = int(fields[2])
            if marked or process_group == group:
                found.append((int(entry.name), process_group, marked))
    group_is_the_runs = any(marked and pg == group for _, pg, marked in found)
    return [pid for pid, pg, marked in found if marked or (group_is_the_runs and pg == group)]


def end_run_processes(
    run_id: str,
    group: int | None = None,
    *,
    deadline: float | None = None,
    exclude: Collection[int] = (),
) -> list[int]:
    """SIGKILL the run's processes (but ``exclude``) once ``deadline`` (a `time.time`)
    has passed; until then wait for them to end on their own. Returns the pids killed.
    """
    while True:
        left = [pid for pid in run_processes(run_id, group) if pid not in exclude]
        if not left:
            return []
        if deadline is None or time.time() >= deadline:
            break
        time.sleep(min(_WAIT_POLL_SECONDS, max(0.0, deadline - time.time())))
    # Again until none is left: a pool may fork a new child while its siblings die.
    killed: set[int] = set()
    gone_by = time.monotonic() + 2.0
    while left and time.monotonic() < gone_by:
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed.update(left)
        time.sleep(_KILL_POLL_SECONDS)
        left = [pid for pid in run_processes(run_id, group) if pid not in exclude]
    return sorted(killed)
