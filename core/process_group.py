"""Signalling a child and everything it started.

flowdev's children (the loader child, fork-server children, run workers) lead process
groups of their own, so one signal to the group reaches what the user's code started
too. A pid that leads no group (or a platform without groups) gets the signal alone.
"""

from __future__ import annotations

import contextlib
import os
import signal

KILL = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows has no SIGKILL


def signal_group(pid: int, signum: int = KILL) -> None:
    """Send ``signum`` to the process group ``pid`` leads, else to ``pid`` alone.

    The group is signalled even when its leader has already exited: what the leader
    started lives on in it. A process (or group) already gone is not an error.
    """
    if hasattr(os, "killpg"):
        try:
            os.killpg(pid, signum)
            return
        except ProcessLookupError:
            pass  # no group of that id: ``pid`` leads none (or is gone too)
        except PermissionError:
            pass  # a group with a member we may not signal: the child itself still goes
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
