"""The worker's watchdog: a thread that keeps a run's promises its main thread cannot.

The main thread runs the user's code, which may take SIGTERM away from the worker
(``signal.signal(SIGTERM, SIG_IGN)`` in some library), block for minutes, or be killed
mid-line. Every tenth of a second the watchdog

- stamps the compute log: when the log grew, it notes its length and the time in
  ``compute.stamps`` (see `flowdev.instance.runlog`), so each output line keeps the time it was
  written even if the worker is SIGKILLed before the next event;
- looks for a cancel in storage: the first time the run is CANCELING it calls
  ``on_cancel`` (the worker then stops at its next event or step, SIGTERM or not), and
  once the deadline stored with the cancel has passed it calls ``on_deadline``, which
  kills the run's processes. So escalation never depends on the canceller staying alive.

It reads storage through a connection of its own (one per thread).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flowdev.errors import StorageError
from flowdev.instance.runlog import stamps_path, write_stamp
from flowdev.instance.storage import Storage

TICK_SECONDS = 0.1


class Watchdog:
    """Watches run ``run_id`` from a daemon thread, from `start` until `stop`."""

    def __init__(
        self,
        home: Path,
        run_id: str,
        log_path: Path,
        *,
        on_cancel: Callable[[], None],
        on_deadline: Callable[[Storage], None],
    ) -> None:
        self.home = home
        self.run_id = run_id
        self.on_cancel = on_cancel
        self.on_deadline = on_deadline
        self._log_fd = os.open(log_path, os.O_RDONLY)
        self._stamps_fd = os.open(
            stamps_path(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
        )
        self._stamped = -1
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="flowdev-watchdog", daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching, with a last stamp for the run's last output."""
        self._stopping.set()
        self._thread.join()
        self._stamp()
        os.close(self._log_fd)
        os.close(self._stamps_fd)

    def _stamp(self) -> None:
        length = os.fstat(self._log_fd).st_size
        if length != self._stamped:
            try:
                write_stamp(self._stamps_fd, length, time.time())
            except OSError:
                return  # a full disk costs a line its own time, never the run
            self._stamped = length

    def _watch(self) -> None:
        deadline = None
        warned = False
        with Storage(self.home) as storage:
            while not self._stopping.wait(TICK_SECONDS):
                self._stamp()
                try:
                    if deadline is None:
                        deadline = storage.cancel_deadline(self.run_id)
                        if deadline is not None:
                            self.on_cancel()
                except (sqlite3.Error, StorageError) as problem:
                    if not warned:  # a busy or damaged database: look again next tick
                        print(f"flowdev watchdog: cannot read the run: {problem}", file=sys.stderr)
                        warned = True
                    continue
                if deadline is not None and time.time() >= deadline:
                    self.on_deadline(storage)
                    return
