"""The worker's watchdog: a thread that keeps a run's promises its main thread cannot.

The main thread runs the user's code, which may take SIGTERM away from the worker
(``signal.signal(SIGTERM, SIG_IGN)`` in some library), block for minutes, or be killed
mid-line. Every tenth of a second the watchdog

- stamps the compute logs: when a log grew, it notes its length and the time in the
  log's stamps file (see `flowdev.instance.runlog`), so each output line keeps the time
  it was written even if the worker is SIGKILLed before the next event. That is the
  run's log, and the log file of each step process (`follow`, once it appears);
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


class _Stamper:
    """Stamps one compute log: its length and the time, whenever it grew."""

    def __init__(self, log_path: Path) -> None:
        self._log_fd = os.open(log_path, os.O_RDONLY | os.O_CREAT, 0o644)
        self._stamps_fd = os.open(
            stamps_path(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
        )
        self._stamped = -1

    def stamp(self) -> None:
        length = os.fstat(self._log_fd).st_size
        if length != self._stamped:
            try:
                write_stamp(self._stamps_fd, length, time.time())
            except OSError:
                return  # a full disk costs a line its own time, never the run
            self._stamped = length

    def close(self) -> None:
        os.close(self._log_fd)
        os.close(self._stamps_fd)


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
        self._run_log = _Stamper(log_path)
        # Step processes' logs, by path; `follow` adds to it from the main thread.
        self._step_logs: dict[Path, _Stamper] = {}
        self._step_logs_lock = threading.Lock()
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
        for stamper in [self._run_log, *self._step_logs.values()]:
            stamper.close()

    def follow(self, log_path: Path) -> None:
        """Stamp ``log_path`` too, from now on (a step process's log)."""
        with self._step_logs_lock:
            if log_path not in self._step_logs:
                self._step_logs[log_path] = _Stamper(log_path)

    def _stamp(self) -> None:
        self._run_log.stamp()
        with self._step_logs_lock:
            for stamper in self._step_logs.values():
                stamper.stamp()

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
