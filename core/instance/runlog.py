"""A run's log as one stream: its events and its compute logs, interleaved in order.

Events come from storage by id; compute logs from the step files by byte offset. Every
event of a step records how long the step's log file was when it happened
(``log_offset``), so the bytes before that offset print before the event: the order is
exact, not guessed from clocks. `RunLogTail.poll` returns only what is new since the
last call, so following a run costs one indexed query and a few reads.

Each output line carries the time it was written. The worker's watchdog notes the log's
length and the time, whenever it grew, about ten times a second, one ``LENGTH TIME``
line each in ``compute.stamps`` beside the log: a line was written by the first stamp
whose length covers it (and before the event that follows it), so its time holds even
when the worker was killed mid-step and no event came after.
"""

from __future__ import annotations

import bisect
import os
from pathlib import Path

from flowdev.events import EventKind
from flowdev.instance.event_log import EventRecord
from flowdev.instance.storage import Storage
from flowdev.records import record

_END_KINDS = frozenset(
    {
        EventKind.STEP_SUCCESS,
        EventKind.STEP_FAILURE,
        EventKind.STEP_SKIPPED,
        EventKind.STEP_CANCELED,
    }
)
_RUN_END_KINDS = frozenset({EventKind.RUN_SUCCESS, EventKind.RUN_FAILURE, EventKind.RUN_CANCELED})


@record
class LogLine:
    """One line of a run's log: an event (``event`` set) or a line its code printed."""

    timestamp: float
    run_id: str
    step_key: str | None
    level: str
    text: str
    event: EventRecord | None = None

    @property
    def is_output(self) -> bool:
        """Whether the line is compute output (stdout/stderr), not a structured event."""
        return self.event is None


def stamps_path(log_path: Path) -> Path:
    """Where the stamps of the compute log at ``log_path`` are kept."""
    return log_path.with_name("compute.stamps")


def write_stamp(fd: int, length: int, when: float) -> None:
    """Note that the log was ``length`` bytes long at ``when`` (one write: atomic)."""
    os.write(fd, f"{length} {when:.6f}\n".encode())


class _Stamps:
    """The stamps of one compute log, read incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lengths: list[int] = []
        self.times: list[float] = []
        self._offset = 0

    def refresh(self) -> None:
        try:
            with open(self.path, "rb") as stamps:
                stamps.seek(self._offset)
                chunk = stamps.read()
        except FileNotFoundError:
            return
        # Only whole lines: a stamp being written comes whole on a later refresh.
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.splitlines():
            length, when = line.split()
            self.lengths.append(int(length))
            self.times.append(float(when))

    def written_by(self, end: int) -> float | None:
        """When the log first held ``end`` bytes, as far as the stamps know."""
        index = bisect.bisect_left(self.lengths, end)
        return self.times[index] if index < len(self.times) else None


class RunLogTail:
    """Follows one run's log incrementally."""

    def __init__(self, storage: Storage, run_id: str) -> None:
        self.storage = storage
        self.run_id = run_id
        self.last_event_id = 0
        self.ended = False
        self._path: Path = storage.compute_log_path(run_id)
        self._offset = 0
        self._partial = b""
        self._current_step: str | None = None
        self._last_time = 0.0
        self._stamps = _Stamps(stamps_path(self._path))

    def poll(self) -> list[LogLine]:
        """Everything new since the last poll, in order."""
        lines: list[LogLine] = []
        for event in self.storage.events_after(self.last_event_id, run_id=self.run_id):
            self.last_event_id = event.event_id
            offset = event.data.get("log_offset")
            if isinstance(offset, int):
                # Output written before this event belongs to the step running then.
                lines += self._read(until=offset, before=event.timestamp)
            self._last_time = event.timestamp
            if event.kind is EventKind.STEP_START:
                self._current_step = event.step_key
            lines.append(_event_line(event))
            if event.kind in _END_KINDS and event.step_key == self._current_step:
                self._current_step = None
            if event.kind in _RUN_END_KINDS:
                lines += self._read(until=None, final=True)
                self.ended = True
        if not self.ended:
            lines += self._read(until=None)
        return lines

    def _read(
        self, *, until: int | None, before: float | None = None, final: bool = False
    ) -> list[LogLine]:
        """The output lines up to byte ``until`` (the end: None), all written by
        ``before``, the time of the event at ``until``."""
        if until is not None and until <= self._offset:
            return []
        try:
            with open(self._path, "rb") as log:
                log.seek(self._offset)
                chunk = log.read(-1 if until is None else until - self._offset)
                last_write = os.fstat(log.fileno()).st_mtime
        except FileNotFoundError:
            return []
        start = self._offset - len(self._partial)
        self._offset += len(chunk)
        chunk = self._partial + chunk
        self._partial = b""
        if until is None and not final:
            # Hold back a line still being written; it comes whole on a later poll.
            complete, newline, rest = chunk.rpartition(b"\n")
            self._partial = rest
            chunk = complete + newline
        if not chunk:
            return []
        self._stamps.refresh()
        latest = float("inf") if before is None else before
        # Not stamped yet: the log's last write, a few milliseconds early (a coarse clock).
        unstamped = min(last_write, latest)
        lines = []
        end = start
        # Lines end at "\n" only: a "\r" redraw (a progress bar) stays in its line, for
        # the log view to show at its last state (`splitlines` would cut it into many).
        for raw in _lines(chunk):
            end += len(raw)
            stamp = self._stamps.written_by(end)
            written = unstamped if stamp is None else min(stamp, latest)
            lines.append(
                LogLine(
                    timestamp=max(written, self._last_time),
                    run_id=self.run_id,
                    step_key=self._current_step,
                    level="OUTPUT",
                    text=raw.decode("utf-8", errors="replace").removesuffix("\n"),
                )
            )
        return lines


def _lines(chunk: bytes) -> list[bytes]:
    """``chunk`` cut after each ``\n`` (and only there), ends kept."""
    pieces = [piece + b"\n" for piece in chunk.split(b"\n")]
    pieces[-1] = pieces[-1][:-1]
    return pieces if pieces[-1] else pieces[:-1]


def _event_line(event: EventRecord) -> LogLine:
    text = event.message
    traceback = event.data.get("traceback")
    if event.kind is EventKind.STEP_FAILURE and traceback:
        text = f"{text}\n{traceback.rstrip()}"
    return LogLine(
        timestamp=event.timestamp,
        run_id=event.run_id,
        step_key=event.step_key,
        level=event.level,
        text=text,
        event=event,
    )


def read_run_log(storage: Storage, run_id: str) -> list[LogLine]:
    """The whole log of a run as it stands now."""
    return RunLogTail(storage, run_id).poll()
