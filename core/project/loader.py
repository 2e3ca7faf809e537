"""Loading a project's definitions in a child process: a snapshot, or a `LoadError`.

The process that asks (the app, the CLI) never imports the user's code. A child
(`flowdev.project.loader_child`) imports it, describes the definitions as a
`DefinitionsSnapshot` and writes it back as JSON on its stdout; whatever the user's code
prints goes to the child's stderr. A bad
save can therefore neither crash nor hang the asking process, and every load is a fresh
interpreter: no module survives from the previous one.

The child is forked from a warm `ForkServer` when the platform allows it (a `Loader`
keeps one per project and asks it to preload the third-party modules each load used),
else spawned as ``python -m flowdev.project.loader``. A child that runs past its timeout is
asked for its stack (faulthandler, so the error says where it hung) and killed; any
load's process group is killed once it is over, so nothing the user's module started at
import time outlives it.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from flowdev.paths import shown_path
from flowdev.process_group import signal_group
from flowdev.project.forkserver import ForkServer, ForkServerError, fork_available
from flowdev.project.project import Project, is_user_file
from flowdev.project.snapshot import DefinitionsSnapshot
from flowdev.records import record, replace

__all__ = ["LoadError", "LoadErrorKind", "Loader", "load_project", "main"]

LoadErrorKind = Literal[
    "syntax_error",
    "import_error",
    "module_error",
    "definitions_error",
    "no_definitions",
    "project_error",
    "timeout",
    "crashed",
]

_OUTPUT_KEPT = 4000  # characters of the child's stderr kept in a LoadError
# A hung child is asked for its stack with this signal before it is killed (POSIX only).
STACK_SIGNAL: signal.Signals | None = getattr(signal, "SIGUSR1", None)


@record
class LoadError:
    """Why a project's definitions did not load, and where.

    ``kind`` sorts the cause: ``syntax_error``, ``import_error`` (an import inside the
    user's code failed), ``module_error`` (an exception at module level),
    ``definitions_error`` (flowdev rejected the definitions: a cycle, a duplicate key,
    two `Definitions`...), ``no_definitions`` (the configured module or file is not
    there, or defines no `Definitions`), ``project_error`` (pyproject.toml cannot be read
    or does not say where the definitions are), ``timeout`` (the import did not finish and was
    stopped) and ``crashed`` (the child died without reporting). ``file``, ``line`` and
    ``column`` (1-based) point into the user's code when the cause is there;
    ``traceback`` holds only the user's frames; ``changed_files`` are the saves that
    triggered this load; ``output`` is the end of what the child wrote to stderr.
    """

    kind: LoadErrorKind
    exception_type: str | None
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    traceback: str = ""
    changed_files: tuple[str, ...] = ()
    output: str = ""

    def location(self, relative_to: Path | None = None) -> str | None:
        """``"file:line:column"`` (as much of it as is known), or None."""
        if self.file is None:
            return None
        parts = [shown_path(self.file, relative_to)] + [
            str(n) for n in (self.line, self.column) if n is not None
        ]
        if self.line is None:
            parts = parts[:1]
        return ":".join(parts)

    def describe(self, relative_to: Path | None = None) -> str:
        """One readable paragraph: where, what, and the saves that led to it.

        Paths are shown relative to ``relative_to`` when they are inside it.
        """
        text = self.message
        if self.kind in ("syntax_error", "import_error", "module_error", "definitions_error"):
            text = f"{self.exception_type}: {self.message}"
        where = self.location(relative_to)
        if where and self.kind != "no_definitions":  # that message names the file itself
            text = f"{where}: {text}"
        if self.changed_files:
            names = ", ".join(shown_path(f, relative_to) for f in self.changed_files)
            text += f" (after a change to {names})"
        return text

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "kind": self.kind,
            "exception_type": self.exception_type,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "traceback": self.traceback,
            "changed_files": list(self.changed_files),
            "output": self.output,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoadError:
        """Inverse of `to_json`."""
        return cls(**{**data, "changed_files": tuple(data["changed_files"])})


def load_project(
    project: Project, *, timeout: float | None = None, changed_files: Iterable[str] = ()
) -> DefinitionsSnapshot | LoadError:
    """Load ``project``'s definitions once, in a freshly spawned interpreter.

    ``timeout`` (seconds) defaults to the project's ``load_timeout``.

    For repeated loads (a watcher, the app) keep a `Loader`: it forks each child from a
    warm interpreter instead.
    """
    with Loader(project, timeout=timeout, warm=False) as loader:
        return loader.load(changed_files)


class _Child(Protocol):
    """What the loader needs of a child: `subprocess.Popen` and `ForkedChild` both fit."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class Loader:
    """Loads one project again and again, each time in a fresh child process.

    With ``warm=True`` (and where fork is available) children are forked from a
    `ForkServer` that has flowdev and the project's third-party modules imported
    already; if it dies, that load is spawned instead and a new server started.
    Close the loader (or use it as a context manager) to stop the server. ``timeout``
    (seconds a load may take) defaults to the project's ``load_timeout``.
    """

    def __init__(
        self, project: Project, *, timeout: float | None = None, warm: bool = True
    ) -> None:
        self.project = project
        self._timeout = timeout
        self.fork_server: ForkServer | None = ForkServer() if warm and fork_available() else None

    @property
    def timeout(self) -> float:
        """Seconds a load may take (follows the project's ``load_timeout`` unless given)."""
        return self.project.load_timeout if self._timeout is None else self._timeout

    def load(self, changed_files: Iterable[str] = ()) -> DefinitionsSnapshot | LoadError:
        """Load the definitions now: a snapshot, or why not (never raises for user code)."""
        return self._load(tuple(changed_files), threading.Event())

    async def load_async(
        self, changed_files: Iterable[str] = ()
    ) -> DefinitionsSnapshot | LoadError:
        """`load` for an event loop: the waiting happens in a thread; cancelling the
        coroutine kills the child."""
        import asyncio

        cancelled = threading.Event()
        try:
            return await asyncio.to_thread(self._load, tuple(changed_files), cancelled)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def close(self) -> None:
        """Stop the fork server, if there is one."""
        if self.fork_server is not None:
            self.fork_server.stop()

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _load(
        self, changed_files: tuple[str, ...], cancelled: threading.Event
    ) -> DefinitionsSnapshot | LoadError:
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        try:
            child = self._start(changed_files, stdout_write, stderr_write)
        except BaseException:
            for fd in (stdout_read, stderr_read):
                os.close(fd)
            raise
        finally:
            os.close(stdout_write)
            os.close(stderr_write)
        deadline = time.monotonic() + self.timeout  # from the child's start, however slow
        outcome = _collect(child, stdout_read, stderr_read, deadline, cancelled)
        payload = _parse_payload(outcome.stdout)
        output, frames = _split_dump(outcome.stderr.decode(errors="replace"), self.project.root)
        if outcome.timed_out:
            error = self._timeout_error(self._importing(frames))
        elif payload is None:
            error = self._crash_error(outcome.returncode, self._importing(frames))
        else:
            if self.fork_server is not None and payload.get("warm_modules"):
                self.fork_server.preload(payload["warm_modules"])
            if "snapshot" in payload:
                return DefinitionsSnapshot.from_json(payload["snapshot"])
            error = LoadError.from_json(payload["error"])
        if frames and error.file is None:
            # Where the child was when it hung or died, from its faulthandler dump.
            error = replace(
                error,
                file=frames[0][0],
                line=frames[0][1],
                traceback="".join(
                    f'  File "{name}", line {number}, in {function}\n'
                    for name, number, function in reversed(frames)
                ),
            )
        return replace(error, changed_files=changed_files, output=output[-_OUTPUT_KEPT:])

    def _start(self, changed_files: tuple[str, ...], stdout: int, stderr: int) -> _Child:
        args = _child_args(self.project, changed_files)
        try:
            cwd: str | None = os.getcwd()
        except OSError:
            cwd = None
        if self.fork_server is not None:
            with open(os.devnull, "rb") as devnull:
                try:
                    return self.fork_server.fork_child(
                        "flowdev.project.loader",
                        [*args, "--report-modules"],
                        stdin=devnull.fileno(),
                        stdout=stdout,
                        stderr=stderr,
                        cwd=cwd,
                        env=os.environ,
                        timeout=self.timeout,
                    )
                except ForkServerError:
                    # Spawn this one; the next load forks from a fresh server.
                    self.fork_server.stop()
                    self.fork_server.start()
        return subprocess.Popen(
            [sys.executable, "-P", "-m", "flowdev.project.loader", *args],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            start_new_session=hasattr(os, "setsid"),  # so a kill reaches what it starts
        )

    def _importing(self, frames: list[tuple[str, int, str]]) -> str:
        """`` while importing pkg.mod``, from the innermost user frame of a stack dump
        (its file:line leads the message), or ""."""
        if not frames or not Path(frames[0][0]).is_relative_to(self.project.root):
            return ""
        relative = Path(frames[0][0]).relative_to(self.project.root)
        module = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
        return f" while importing {module}"

    def _timeout_error(self, where: str) -> LoadError:
        return LoadError(
            kind="timeout",
            exception_type=None,
            message=(
                f"loading {self.project.target} did not finish within {self.timeout:g} s{where}, "
                "so flowdev stopped it. Something at import time waits or loops (a network "
                "call, input(), a sleep, an endless loop): move that work into an asset or "
                "a resource, which run only when materialized. If the import is only slow, "
                "allow it more time with load_timeout = 120 under [tool.flowdev] in "
                "pyproject.toml, or --load-timeout 120."
            ),
        )

    def _crash_error(self, returncode: int | None, where: str) -> LoadError:
        how = f"with exit code {returncode}"
        if returncode is not None and returncode < 0:
            try:
                how = f"killed by {signal.Signals(-returncode).name}"
            except ValueError:
                how = f"killed by signal {-returncode}"
        return LoadError(
            kind="crashed",
            exception_type=None,
            message=(
                f"the process loading {self.project.target} ended ({how}){where} before "
                "it reported the definitions."
            ),
        )


def _child_args(project: Project, changed_files: Iterable[str]) -> list[str]:
    args = ["--root", str(project.root)]
    if project.module is not None:
        args += ["--module", project.module]
    else:
        args += ["--file", str(project.file)]
    for name in changed_files:
        args += ["--changed", name]
    return args


@record
class _Outcome:
    stdout: bytes
    stderr: bytes
    returncode: int | None
    timed_out: bool


def _collect(
    child: _Child, stdout: int, stderr: int, deadline: float, cancelled: threading.Event
) -> _Outcome:
    """Read the child's two pipes until it exits, the deadline passes or the load is
    cancelled; then make sure it is gone. Closes both descriptors."""
    received: dict[int, list[bytes]] = {stdout: [], stderr: []}
    timed_out = False
    with selectors.DefaultSelector() as selector:
        for fd in received:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                _ask_for_stack(child, selector, received, stderr)
                break
            if cancelled.is_set():
                break
            for key, _events in selector.select(min(left, 0.05)):
                if not _read_into(key.fd, received[key.fd]):
                    selector.unregister(key.fd)
            # Exited, yet a pipe is still open: something it started holds it.
            if selector.get_map() and child.poll() is not None:
                for key in list(selector.get_map().values()):
                    _read_into(key.fd, received[key.fd])
                break
    for fd in received:
        os.close(fd)
    if timed_out or cancelled.is_set():
        signal_group(child.pid)
    try:
        returncode: int | None = child.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        returncode = None
    # Whatever the user's module started lives in the child's process group: a load
    # leaves nothing running behind it, or every reload would add to the pile.
    signal_group(child.pid)
    return _Outcome(b"".join(received[stdout]), b"".join(received[stderr]), returncode, timed_out)


def _read_into(fd: int, chunks: list[bytes]) -> bool:
    """Read what is there; False at end of file."""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        chunks.append(chunk)


def _ask_for_stack(
    child: _Child, selector: selectors.BaseSelector, received: dict[int, list[bytes]], stderr: int
) -> None:
    """Have a hung child print its stack (faulthandler on SIGUSR1) before it is killed."""
    if STACK_SIGNAL is None:
        return
    try:
        os.kill(child.pid, STACK_SIGNAL)
    except ProcessLookupError:
        return
    until = time.monotonic() + 0.5
    while selector.get_map() and (left := until - time.monotonic()) > 0:
        ready = selector.select(min(left, 0.05))
        for key, _events in ready:
            if not _read_into(key.fd, received[key.fd]):
                selector.unregister(key.fd)
        if not ready and b"most recent call first" in b"".join(received[stderr]):
            return  # the dump is written in one go: a quiet pipe after it means done


def _parse_payload(stdout: bytes) -> dict[str, Any] | None:
    if not stdout:
        return None
    try:
        payload = json.loads(stdout)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


_DUMP_START = re.compile(r"^(Fatal Python error: |Current thread 0x|Thread 0x)", re.MULTILINE)
_DUMP_FRAME = re.compile(r'^\s+File "(?P<file>.+)", line (?P<line>\d+) in (?P<function>.+)$')


def _split_dump(output: str, root: Path) -> tuple[str, list[tuple[str, int, str]]]:
    """Split a child's stderr into what it printed and the user's frames of the
    faulthandler dump at its end (a hang or a crash), innermost first."""
    start = _DUMP_START.search(output)
    if start is None:
        return output, []
    dump = output[start.start() :]
    current = dump.rsplit("Current thread", 1)[-1]  # the main thread, if there are several
    frames = []
    for text in current.splitlines():
        match = _DUMP_FRAME.match(text)
        if match and is_user_file(match["file"], root):
            frames.append((match["file"], int(match["line"]), match["function"]))
    return output[: start.start()], frames


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m flowdev.project.loader ...``: the child's side of a load (see
    `flowdev.project.loader_child.main`)."""
    from flowdev.project.loader_child import main as child_main

    return child_main(argv)


if __name__ == "__main__":
    sys.exit(main())
