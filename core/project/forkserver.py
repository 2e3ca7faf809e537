"""A warm interpreter that forks fresh children: ``python -m flowdev.project.forkserver``.

Starting Python and importing flowdev and a project's third-party packages is most of
what loading a project costs. The fork server pays for it once: it imports them, then
waits, and for each request forks a child that runs a module's ``main(argv)`` with the
requester's stdin, stdout and stderr. The child starts with everything warm and imports
the user's own modules fresh, so nothing stale survives from one load (or run) to the
next.

What must not cross a fork, and how the server keeps it out:

- threads: the server is single-threaded and waits with `selectors`; after importing
  the modules it is asked to preload it counts Python threads, and if an import started
  one it exits rather than fork with it (the client then starts a server without
  preloads);
- open connections and files (SQLite above all): the server opens none, and each child
  closes the server's sockets and pipes before running its target;
- signal handlers and the signal wakeup fd: the child restores Python's defaults;
- exit handlers: the child drops the ones it inherited and runs only its own.

Protocol, one Unix-socket connection per child, one JSON document per line:

    client -> server   {"target": "flowdev.project.loader", "args": [...], "cwd": ..., "env": ...}
                       with the child's stdin, stdout and stderr attached (SCM_RIGHTS)
    server -> client   {"pid": 1234}              once the child is forked
    server -> client   {"returncode": 0}          when it has exited (negative: a signal)

The server's own stdin is a pipe from the client: each line is ``{"preload": [...]}``
(modules to import now, so later children start with them; the first line is read
before any request is served), and end-of-file means the client is gone, so the server
exits. Children it forked live on.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from flowdev.errors import ForkServerError
from flowdev.process_group import signal_group

__all__ = ["ForkServer", "ForkServerError", "ForkedChild", "fork_available"]

_MAX_MESSAGE = 1 << 20
_UNSAFE_PRELOAD = 3  # the server's exit status when a preloaded module started a thread


def fork_available() -> bool:
    """Whether this platform can run a fork server (POSIX fork and fd passing)."""
    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds")


# -- the client side -------------------------------------------------------------------


class ForkedChild:
    """A child forked by the server: a small part of `subprocess.Popen`'s interface.

    The server, not this process, is the child's parent: it reports the exit status over
    the request's connection.
    """

    def __init__(self, pid: int, connection: socket.socket, received: bytes = b"") -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._connection = connection
        self._buffer = received  # a quick child's status may come with its pid

    def poll(self) -> int | None:
        """The exit status if the child has exited, else None (never blocks)."""
        if self.returncode is None:
            self._receive(timeout=0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to exit and return its status.

        Raises:
            subprocess.TimeoutExpired: it is still running after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._receive(timeout=left) and left == 0.0:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the child and every process it started (its process group)."""
        if self.returncode is not None:
            return
        signal_group(self.pid)

    def _receive(self, timeout: float | None) -> bool:
        """Read what the server sent; True once the exit status is known."""
        if b"\n" not in self._buffer:
            self._connection.settimeout(timeout)
            try:
                chunk = self._connection.recv(4096)
            except (TimeoutError, BlockingIOError):
                return False
            except OSError:
                chunk = b""
            if not chunk:
                return self._server_gone(timeout)
            self._buffer += chunk
            if b"\n" not in self._buffer:
                return False
        line = self._buffer.split(b"\n", 1)[0]
        self.returncode = int(json.loads(line)["returncode"])
        self._connection.close()
        return True

    def _server_gone(self, timeout: float | None) -> bool:
        """The server closed without reporting: ask the kernel whether the child lives.
        Its exit status went with the server that reaped it."""
        if _pid_exists(self.pid):
            time.sleep(0.01 if timeout is None else min(timeout, 0.01))
            return False
        self.returncode = 1
        self._connection.close()
        return True


class ForkServer:
    """The client's handle on one fork server process.

    Thread-safe: several threads may fork children at once (each request has its own
    connection). The server starts on first use; `stop` ends it (children live on).
    """

    def __init__(self, *, preload: Iterable[str] = (), python: str | None = None) -> None:
        self._preload = list(dict.fromkeys(preload))
        self._refused: set[str] = set()
        self._python = python or sys.executable
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._directory: Path | None = None

    @property
    def running(self) -> bool:
        """Whether the server process is alive (it may still be importing)."""
        return self._process is not None and self._process.poll() is None

    @property
    def preloaded(self) -> tuple[str, ...]:
        """The modules this server imports before forking (asked for so far)."""
        return tuple(self._preload)

    @property
    def pid(self) -> int | None:
        """The server's process id, while it runs."""
        return self._process.pid if self.running and self._process else None

    def start(self) -> None:
        """Start the server if it is not running (returns at once; it warms up alone)."""
        with self._lock:
            if self.running:
                return
            if self._process is not None and self._process.returncode == _UNSAFE_PRELOAD:
                # One of them started a thread; which one is not known, so none again.
                self._refused.update(self._preload)
                self._preload.clear()
            self._stop_locked()
            self._directory = Path(tempfile.mkdtemp(prefix="flowdev-fork-"))
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                listener.bind(str(self._directory / "server.sock"))
                listener.listen(64)
                # The listening socket exists before the server does, so requests made
                # while it is still importing wait in the backlog instead of failing.
                with open(self._directory / "server.log", "wb") as log:
                    self._process = subprocess.Popen(
                        [
                            self._python,
                            "-P",
                            "-m",
                            "flowdev.project.forkserver",
                            "--listen-fd",
                            str(listener.fileno()),
                        ],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                        pass_fds=(listener.fileno(),),
                        start_new_session=True,
                    )
            finally:
                listener.close()
            self._send_preload(self._preload)  # the first line: imported before serving

    def preload(self, modules: Iterable[str]) -> None:
        """Ask the server to import ``modules`` now, so later children start with them."""
        with self._lock:
            new = [m for m in modules if m not in self._preload and m not in self._refused]
            if not new:
                return
            self._preload.extend(new)
            if self.running:
                self._send_preload(new)

    def fork_child(
        self,
        target: str,
        args: Sequence[str],
        *,
        stdin: int,
        stdout: int,
        stderr: int,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> ForkedChild:
        """Fork a child that runs ``target.main(list(args))`` and exits with its result.

        ``target`` is a module that can also run as ``python -m target args...``; the
        child gets the three file descriptors as its 0, 1 and 2, its own process group,
        and ``cwd``/``env`` (default: the server's, which are this process's at start).

        Raises:
            ForkServerError: the server is not running or did not answer within
                ``timeout`` seconds (it may still be importing its preloads).
        """
        self.start()
        directory = self._directory
        assert directory is not None
        request = {
            "target": target,
            "args": list(args),
            "cwd": os.fspath(cwd) if cwd is not None else None,
            "env": dict(env) if env is not None else None,
        }
        message = json.dumps(request).encode() + b"\n"
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.settimeout(timeout)
            connection.connect(str(directory / "server.sock"))
            sent = socket.send_fds(connection, [message], [stdin, stdout, stderr])
            connection.sendall(message[sent:])
            reply, rest = _read_line(connection)
        except OSError as error:
            connection.close()
            raise ForkServerError(f"the fork server did not answer: {error}") from None
        if reply is None:
            connection.close()
            raise ForkServerError("the fork server closed the connection without forking")
        return ForkedChild(int(json.loads(reply)["pid"]), connection, rest)

    def stop(self) -> None:
        """End the server (children it forked keep running) and remove its socket."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def _send_preload(self, modules: list[str]) -> None:
        assert self._process is not None and self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps({"preload": modules}).encode() + b"\n")
            self._process.stdin.flush()
        except OSError:
            pass  # it died; the next fork_child notices and the caller starts a new one

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _read_line(connection: socket.socket) -> tuple[bytes | None, bytes]:
    """The first line (None if the peer closed first), and whatever came after it."""
    buffer = b""
    while b"\n" not in buffer:
        chunk = connection.recv(4096)
        if not chunk:
            return None, buffer
        buffer += chunk
    line, rest = buffer.split(b"\n", 1)
    return line, rest


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the server side -------------------------------------------------------------------


class _Server:
    """The server's loop: accept requests, fork, reap, report exit statuses."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.selector = selectors.DefaultSelector()
        self.children: dict[int, socket.socket] = {}  # pid -> its requester's connection
        self.parent = os.fdopen(0, "rb", buffering=0)
        self.pending_input = b""
        self.wakeup_read, self.wakeup_write = os.pipe()
        os.set_blocking(self.wakeup_read, False)
        os.set_blocking(self.wakeup_write, False)

    def serve(self) -> None:
        # Reaping happens in the loop, not in the handler: the handler only wakes it.
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self.wakeup_write)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.selector.register(self.listener, selectors.EVENT_READ, self._accept)
        self.selector.register(self.parent, selectors.EVENT_READ, self._read_parent)
        self.selector.register(self.wakeup_read, selectors.EVENT_READ, self._reap)
        while True:
            for key, _events in self.selector.select():
                if key.data() is False:
                    return

    def preload_first(self) -> None:
        """Import what the first line on stdin lists, before serving any request."""
        while b"\n" not in self.pending_input:
            chunk = self.parent.read(65536)
            if not chunk:
                return
            self.pending_input += chunk
        self._read_lines()

    def _read_parent(self) -> bool:
        chunk = self.parent.read(65536)
        if not chunk:
            return False  # the client is gone
        self.pending_input += chunk
        self._read_lines()
        return True

    def _read_lines(self) -> None:
        while b"\n" in self.pending_input:
            line, self.pending_input = self.pending_input.split(b"\n", 1)
            preload(json.loads(line).get("preload", ()))

    def _accept(self) -> bool:
        connection, _address = self.listener.accept()
        try:
            connection.settimeout(5.0)
            request, fds = _receive_request(connection)
        except (OSError, ValueError) as error:
            print(f"flowdev fork server: bad request: {error}", file=sys.stderr)
            connection.close()
            return True
        pid = os.fork()
        if pid == 0:
            self._become_child(connection, fds)
            _run_child(request)  # never returns
        with contextlib.suppress(OSError):  # the child does it too: whichever runs first
            os.setpgid(pid, pid)
        for fd in fds:
            os.close(fd)
        self.children[pid] = connection
        with contextlib.suppress(OSError):
            connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        return True

    def _reap(self) -> bool:
        try:
            while os.read(self.wakeup_read, 512):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return True
            if pid == 0:
                return True
            connection = self.children.pop(pid, None)
            if connection is not None:
                try:
                    code = os.waitstatus_to_exitcode(status)
                    connection.sendall(json.dumps({"returncode": code}).encode() + b"\n")
                except OSError:
                    pass
                connection.close()

    def _become_child(self, connection: socket.socket, fds: list[int]) -> None:
        """Drop everything of the server's that must not live on in a child."""
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.selector.close()
        self.listener.close()
        connection.close()
        for other in self.children.values():
            other.close()
        os.close(self.wakeup_read)
        os.close(self.wakeup_write)
        self.parent.close()  # fd 0, replaced just below
        for fd, target_fd in zip(fds, (0, 1, 2), strict=True):
            os.dup2(fd, target_fd)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        atexit._clear()
        gc.enable()


def _receive_request(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    message, fds, _flags, _address = socket.recv_fds(connection, _MAX_MESSAGE, 3)
    while not message.endswith(b"\n"):
        chunk = connection.recv(_MAX_MESSAGE)
        if not chunk:
            raise ValueError("the request ended before its newline")
        message += chunk
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError(f"expected 3 file descriptors, got {len(fds)}")
    return json.loads(message), fds


def _run_child(request: Mapping[str, Any]) -> None:
    """Run the request's target in this (forked) process and exit with its status."""
    code = 1
    try:
        if request.get("cwd"):
            os.chdir(request["cwd"])
        if request.get("env") is not None:
            os.environ.clear()
            os.environ.update(request["env"])
        # New objects on the new descriptors: the server's buffers must not be flushed
        # into the child's output.
        sys.stdin = _reopen(0, "r")
        sys.stdout = _reopen(1, "w")
        sys.stderr = _reopen(2, "w")
        sys.argv = [request["target"], *request["args"]]
        module = importlib.import_module(request["target"])
        code = module.main(list(request["args"]))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code or 0)


def _reopen(fd: int, mode: str) -> IO[str]:
    return open(fd, mode, closefd=False, buffering=1 if mode == "w" else -1)


def preload(modules: Iterable[str]) -> None:
    """Import ``modules`` into this (server) process; exit if one of them started a thread.

    A module that fails to import is skipped: the child that needs it reports the error
    with the user's traceback.
    """
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException:
            continue
        if threading.active_count() > 1:
            print(
                f"flowdev fork server: importing {name!r} started a thread; forking now "
                "could deadlock a child, so this server exits",
                file=sys.stderr,
            )
            os._exit(_UNSAFE_PRELOAD)
    # Objects that exist now are shared by every child: keep the collector from touching
    # (and so copying) their pages.
    gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m flowdev.project.forkserver --listen-fd N``: serve until stdin closes."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "--listen-fd":
        print("usage: python -m flowdev.project.forkserver --listen-fd FD", file=sys.stderr)
        return 2
    listener = socket.socket(fileno=int(args[1]))
    directory = Path(listener.getsockname()).parent
    server = _Server(listener)
    preload(["flowdev", "flowdev.project.loader", "flowdev.project.loader_child"])
    server.preload_first()
    server.serve()
    # The client is gone: it may not have lived to remove the socket's directory.
    shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
