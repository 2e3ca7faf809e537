"""A run's log as one stream: its events and its compute logs, interleaved in order.

Events come from storage by id; compute logs from the step files by byte offset. Every
event of a step records how long the step's log file was when it happened
(``log_offset``), so the bytes before that offset print before the event: the order is
exact, not guessed from clocks. `RunLogTail.poll` returns only what is new since the
last call, so following a run costs one indexed query and a few reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flowdev.events import EventKind
from flowdev.storage import EventRecord, Storage

_END_KINDS = frozenset(
    {
        EventKind.STEP_SUCCESS,
        EventKind.STEP_FAILURE,
        EventKind.STEP_SKIPPED,
        EventKind.STEP_CANCELED,
    }
)
_RUN_END_KINDS = frozenset({EventKind.RUN_SUCCESS, EventKind.RUN_FAILURE, EventKind.RUN_CANCELED})


@dataclass(frozen=True, slots=True, kw_only=True)
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

    def poll(self) -> list[LogLine]:
        """Everything new since the last poll, in order."""
        lines: list[LogLine] = []
        for event in self.storage.events_after(self.last_event_id, run_id=self.run_id):
            self.last_event_id = event.event_id
            offset = event.data.get("log_offset")
            if isinstance(offset, int):
                # Output written before this event belongs to the step running then.
                lines += self._read(until=offset)
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

    def _read(self, *, until: int | None, final: bool = False) -> list[LogLine]:
        if until is not None and until <= self._offset:
            return []
        try:
            with open(self._path, "rb") as log:
                log.seek(self._offset)
                chunk = log.read(-1 if until is None else until - self._offset)
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        chunk = self._partial + chunk
        self._partial = b""
        if until is None and not final:
            # Hold back a line still being written; it comes whole on a later poll.
            complete, newline, rest = chunk.rpartition(b"\n")
            self._partial = rest
            chunk = complete + newline
        text = chunk.decode("utf-8", errors="replace")
        return [
            LogLine(
                timestamp=self._last_time,
                run_id=self.run_id,
                step_key=self._current_step,
                level="OUTPUT",
                text=line,
            )
            for line in text.splitlines()
        ]


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
