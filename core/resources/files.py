"""Atomic files: temporary files renamed into place, made ahead by a thread during a run.

`write_atomically` writes a file under a temporary name in the same directory and renames
it into place, so that a crash mid-write never leaves a half-written value as the
latest. Temporary names come from the process id and a counter instead of `tempfile`'s
random names, and directories are created only when the file cannot be created for want
of them. During a run, the temporary files themselves are made ahead by a thread
(`SpareFiles`): creating a file is the one step of a write whose cost grows with what
the rest of the machine does to the disk.

A process holds a lock on each temporary file it makes until the file has its final name
or is removed. A temporary file nobody holds was left by a process that died (SIGKILL
mid-run), whoever has its pid now, and `remove_abandoned_temp_files` removes it; a run
calls that once on each directory it writes to. Temporary names hold a ``~``, which
`flowdev.paths.safe_path_part` always encodes, so no asset's file is ever taken for one.
"""

from __future__ import annotations

import collections
import itertools
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

try:
    from fcntl import LOCK_EX, LOCK_NB, flock
except ImportError:  # Windows: temporary files are neither locked nor cleaned up
    flock = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import queue
    import threading

_temp_numbers = itertools.count()
_CREATE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_CREATE_NEW |= getattr(os, "O_BINARY", 0)
# What `create_temp_file` names its files: ``.<name>~<pid>-<counter>.tmp``.
TEMP_NAME = re.compile(r"\..*~[0-9]+-[0-9]+\.tmp")


def create_temp_file(path: str) -> tuple[int, str]:
    """A new temporary file beside ``path`` (same directory, so renaming it is atomic).

    Returns its descriptor, open for writing and holding the file's lock, and its name.
    Keep the descriptor open until the file is renamed or removed: closing it releases
    the lock, and an unlocked temporary file counts as abandoned. The name is unique
    within the process (pid and a counter); ``O_EXCL`` steps over a leftover of a dead
    process that had the same pid. The directory is created only when it is missing.
    """
    directory, name = os.path.split(path)
    made_directory = False
    while True:
        temp_path = os.path.join(directory, f".{name}~{os.getpid()}-{next(_temp_numbers)}.tmp")
        try:
            fd = os.open(temp_path, _CREATE_NEW, 0o600)
        except FileExistsError:
            continue
        except FileNotFoundError:
            if made_directory:
                raise
            os.makedirs(directory, exist_ok=True)
            made_directory = True
            continue
        if _lock_new_file(fd):
            return fd, temp_path
        os.close(fd)  # a cleanup in another process removes it: take the next name


def _lock_new_file(fd: int) -> bool:
    """Lock a file just created; False if a cleanup took it for abandoned meanwhile."""
    if flock is None:
        return True
    try:
        flock(fd, LOCK_EX | LOCK_NB)
    except BlockingIOError:
        return False  # a cleanup holds it, to remove it
    except OSError:
        # A filesystem without flock: cleanups there cannot lock the file either, and
        # keep it.
        return True
    # Locked, but a cleanup may have locked and removed it between open and flock.
    return os.fstat(fd).st_nlink > 0


def remove_abandoned_temp_files(directory: str | os.PathLike[str]) -> int:
    """Remove the temporary files in ``directory`` that no live process holds.

    Returns how many were removed. Every process holds a lock on each temporary file it
    makes, from just after creating it until it has renamed or removed it, so a file
    whose lock is free belongs to a process that is gone: killed mid-run, or a machine
    that lost power, whichever process has its pid now. A file being made while this
    runs is safe: its maker checks, once it holds the lock, that the file still exists.
    Only this directory is read, not the ones below it. Where files cannot be locked
    (Windows), nothing is removed.
    """
    if flock is None:
        return 0
    removed = 0
    try:
        entries = os.scandir(directory)
    except OSError:
        return 0  # not made yet, or not readable: nothing of ours to clean
    with entries:
        for entry in entries:
            name = entry.name
            if not (name.endswith(".tmp") and TEMP_NAME.fullmatch(name)):
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            removed += _remove_if_abandoned(entry.path)
    return removed


def _remove_if_abandoned(path: str) -> bool:
    assert flock is not None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False  # renamed into place or removed meanwhile
    try:
        try:
            flock(fd, LOCK_EX | LOCK_NB)
        except OSError:
            return False  # held by a live process (or not lockable here): keep it
        # While this holds the lock, neither its maker nor another cleanup removes it;
        # one removed before the lock was taken has no links left.
        if os.fstat(fd).st_nlink == 0:
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
    finally:
        os.close(fd)


class SpareFiles:
    """Empty temporary files made ahead by a background thread, for one run's writes.

    Creating a file allocates an inode: about 30 us on a quiet ext4 disk, but 0.3-0.5 ms
    while other processes create and delete files, and a run writes a file per asset. So
    a thread keeps up to `AHEAD` empty files ready in each directory the run writes to, and
    each write takes one: it sits in the same directory as one made on the spot would, so
    renaming it into place is as atomic. The thread's system calls release the GIL, so the
    run goes on meanwhile; a write that finds no file ready makes its own. The thread is
    asked for `BATCH` files at a time, since waking it costs more than the files on a
    quiet disk. `close` removes the files left; a killed process leaves at most `AHEAD`
    empty ``.tmp`` files per directory, as a write cut short leaves its own, and the
    thread removes such leftovers (`remove_abandoned_temp_files`) from each directory
    before it first makes files there: once per directory and run, off the run's thread.
    """

    AHEAD = 8
    BATCH = 4

    def __init__(self) -> None:
        self._pid = os.getpid()
        # Only the thread appends, only the run's thread pops: deques need no lock for that.
        self._ready: dict[str, collections.deque[tuple[int, str]]] = {}
        self._wanted: queue.SimpleQueue[tuple[str, int] | None] | None = None
        self._taken: dict[str, int] = {}
        self._thread: threading.Thread | None = None

    def take(self, directory: str) -> tuple[int, str] | None:
        """A ready file in ``directory``: its descriptor (open for writing) and its path.

        None when none is ready; the first call for a directory asks for its files, and
        every `BATCH` files taken ask for as many more.
        """
        if os.getpid() != self._pid:
            return None  # a forked child: the files and the thread are its parent's
        ready = self._ready.get(directory)
        if ready is None:
            self._ready[directory] = collections.deque()
            self._ask(directory, self.AHEAD)
            return None
        if not ready:
            return None  # all asked for, none made yet
        spare = ready.popleft()
        self._taken[directory] = taken = self._taken.get(directory, 0) + 1
        if taken == self.BATCH:
            self._taken[directory] = 0
            self._ask(directory, self.BATCH)
        return spare

    def close(self) -> None:
        """Stop the thread and remove the files nobody took."""
        if self._wanted is None or self._thread is None or os.getpid() != self._pid:
            return
        self._wanted.put(None)
        self._thread.join()
        for ready in self._ready.values():
            while ready:
                fd, path = ready.popleft()
                Path(path).unlink(missing_ok=True)
                os.close(fd)

    def _ask(self, directory: str, count: int) -> None:
        if self._wanted is None:
            import queue
            import threading

            self._wanted = queue.SimpleQueue()
            self._thread = threading.Thread(
                target=self._make, name="flowdev-spare-files", daemon=True
            )
            self._thread.start()
        self._wanted.put((directory, count))

    def _make(self) -> None:
        assert self._wanted is not None
        cleaned: set[str] = set()
        while (wanted := self._wanted.get()) is not None:
            directory, count = wanted
            if directory not in cleaned:
                cleaned.add(directory)
                remove_abandoned_temp_files(directory)
            for _ in range(count):
                try:
                    spare = create_temp_file(os.path.join(directory, "spare"))
                except OSError:
                    # Not lost: the write that finds no file ready makes its own, and that
                    # attempt raises this error in the step, where the user sees it.
                    break
                self._ready[directory].append(spare)


def write_atomically(
    path: str, write: Callable[[IO[bytes]], object], spares: SpareFiles | None = None
) -> None:
    """Write the file ``path`` through ``write(handle)``, all of it or not at all.

    ``write`` fills a temporary file beside ``path`` (one of ``spares`` when one is
    ready), which is then renamed over ``path``; if anything fails, the temporary file
    is removed and ``path`` keeps what it held.
    """
    spare = None if spares is None else spares.take(os.path.dirname(path))
    fd, temp_path = spare or create_temp_file(path)
    # Renamed and removed while still open, so the file's lock is held until then:
    # no other process's cleanup can take it for abandoned.
    with os.fdopen(fd, "wb") as handle:
        try:
            write(handle)
            handle.flush()
            os.replace(temp_path, path)
        except BaseException:
            Path(temp_path).unlink(missing_ok=True)
            raise
