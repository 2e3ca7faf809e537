"""A run's log as one stream: its events and its compute logs, interleaved in order.

Events come from storage by id; compute logs from the log files by byte offset. Every
event of a step records how long the step's log file was when it happened
(``log_offset``), so the bytes before that offset print before the event: the order is
exact, not guessed from clocks. Steps in the worker write to the run's log,
``compute.log``; a step process (the multiprocess executor) writes to a file of its own,
which its events name (``log_stream``), and runs one step at a time, so each line still
belongs to exactly one step while several run at once. `RunLogTail.poll` returns only
what is new since the last call, so following a run costs one indexed query and a few
reads.

Each output line carries the time it was written. The worker's watchdog notes the log's
length and the time, whenever it grew, about ten times a second, one ``LENGTH TIME``
line each in the ``.stamps`` file beside each log: a line was written by the first stamp
whose length covers it (and before the event that follows it), so its time holds even
when the worker was killed mid-step and no event came after.
"""

from __future__ import annotations

import bisect
import os
import re
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
    return log_path.with_suffix(".stamps")


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


class _LogFile:
    """One compute log file, read incrementally: the run's, or a step process's."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self.offset = 0
        self.partial = b""
        self.stamps = _Stamps(stamps_path(path))

    def read(
        self,
        *,
        until: int | None,
        step_key: str | None,
        not_before: float,
        before: float | None = None,
        final: bool = False,
    ) -> list[LogLine]:
        """The output lines up to byte ``until`` (the end: None), all written by
        ``before``, the time of the event at ``until``, and none before ``not_before``
        (the event before them), as lines of ``step_key``."""
        if until is not None and until <= self.offset:
            return []
        try:
            with open(self.path, "rb") as log:
                log.seek(self.offset)
                chunk = log.read(-1 if until is None else until - self.offset)
                last_write = os.fstat(log.fileno()).st_mtime
        except FileNotFoundError:
            return []
        start = self.offset - len(self.partial)
        self.offset += len(chunk)
        chunk = self.partial + chunk
        self.partial = b""
        if until is None and not final:
            # Hold back a line still being written; it comes whole on a later poll.
            complete, newline, rest = chunk.rpartition(b"\n")
            self.partial = rest
            chunk = complete + newline
        if not chunk:
            return []
        self.stamps.refresh()
        latest = float("inf") if before is None else before
        # Not stamped yet: the log's last write, a few milliseconds early (a coarse clock).
        unstamped = min(last_write, latest)
        lines = []
        end = start
        # Lines end at "\n" only: a "\r" redraw (a progress bar) stays in its line, for
        # the log view to show at its last state (`splitlines` would cut it into many).
        for raw in _lines(chunk):
            end += len(raw)
            stamp = self.stamps.written_by(end)
            written = unstamped if stamp is None else min(stamp, latest)
            lines.append(
                LogLine(
                    timestamp=max(written, not_before),
                    run_id=self.run_id,
                    step_key=step_key,
                    level="OUTPUT",
                    text=raw.decode("utf-8", errors="replace").removesuffix("\n"),
                )
            )
        return lines


# What an event may name as its step process's log: a file in a folder of the run's
# log directory (the name comes from the database: never a path that leaves it).
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]+/[A-Za-z0-9_-][A-Za-z0-9_.-]*\.log")


class RunLogTail:
    """Follows one run's log incrementally."""

    def __init__(self, storage: Storage, run_id: str) -> None:
        self.storage = storage
        self.run_id = run_id
        self.last_event_id = 0
        self.ended = False
        self._log_dir = storage.compute_log_dir(run_id)
        self._run_log = _LogFile(storage.compute_log_path(run_id), run_id)
        # Step processes' logs by name, and the step each is running.
        self._streams: dict[str, _LogFile] = {}
        self._stream_step: dict[str, str | None] = {}
        self._current_step: str | None = None  # of a step writing to the run's log
        self._last_time = 0.0

    def poll(self) -> list[LogLine]:
        """Everything new since the last poll, in order."""
        lines: list[LogLine] = []
        for event in self.storage.events_after(self.last_event_id, run_id=self.run_id):
            self.last_event_id = event.event_id
            stream = self._stream_of(event)
            offset = event.data.get("log_offset")
            if isinstance(offset, int):
                # Output written before this event belongs to the step running then.
                log, owner = self._log_of(stream)
                lines += log.read(
                    until=offset, step_key=owner, not_before=self._last_time, before=event.timestamp
                )
            if event.kind in _RUN_END_KINDS:
                # Step processes are gone once the run ended: all they wrote came before.
                lines += self._read_streams(final=True, before=event.timestamp)
            self._last_time = event.timestamp
            if event.kind is EventKind.STEP_START:
                self._set_step(stream, event.step_key)
            lines.append(_event_line(event))
            if event.kind in _END_KINDS and self._log_of(stream)[1] == event.step_key:
                self._set_step(stream, None)
            if event.kind in _RUN_END_KINDS:
                lines += self._read_all(final=True)
                self.ended = True
        if not self.ended:
            lines += self._read_all(final=False)
        return lines

    def _stream_of(self, event: EventRecord) -> str | None:
        stream = event.data.get("log_stream")
        if not isinstance(stream, str) or not _STREAM_NAME.fullmatch(stream):
            return None
        if stream not in self._streams:
            self._streams[stream] = _LogFile(self._log_dir / stream, self.run_id)
            self._stream_step[stream] = None
        return stream

    def _log_of(self, stream: str | None) -> tuple[_LogFile, str | None]:
        if stream is None:
            return self._run_log, self._current_step
        return self._streams[stream], self._stream_step[stream]

    def _set_step(self, stream: str | None, step_key: str | None) -> None:
        if stream is None:
            self._current_step = step_key
        else:
            self._stream_step[stream] = step_key

    def _read_all(self, *, final: bool) -> list[LogLine]:
        """What every log holds past what was read (to the end)."""
        lines = self._run_log.read(
            until=None, step_key=self._current_step, not_before=self._last_time, final=final
        )
        return lines + self._read_streams(final=final)

    def _read_streams(self, *, final: bool, before: float | None = None) -> list[LogLine]:
        """What the step processes' logs hold past what was read (to the end)."""
        lines = []
        for stream, log in self._streams.items():
            lines += log.read(
                until=None,
                step_key=self._stream_step[stream],
                not_before=self._last_time,
                before=before,
                final=final,
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
