"""IO managers: where an asset's value goes when computed and comes from when needed.

`FilesystemIOManager` (the default) pickles each asset to ``<base_dir>/<key parts>``,
writing to a temporary file and renaming it into place so that a crash mid-write
never leaves a half-written value as the latest. Key parts are percent-encoded first
(`safe_path_part`): no key can name a path outside ``base_dir``, and no two keys share
a file.

Storing a value is on every step's path, so it touches the disk only where it must:
``base_dir`` is resolved once per process, the path under it is checked without system
calls, directories are created only when the file cannot be created for want of them,
and temporary names come from the process id and a counter instead of `tempfile`'s
random names. During a run, the temporary files themselves are made ahead by a thread
(`_SpareFiles`): creating a file is the one step of a write whose cost grows with what
the rest of the machine does to the disk.

A process holds a lock on each temporary file it makes until the file has its final name
or is removed. A temporary file nobody holds was left by a process that died (SIGKILL
mid-run), whoever has its pid now, and `remove_abandoned_temp_files` removes it; a run
calls that once on each directory it writes to. Temporary names hold a ``~``, which
`safe_path_part` always encodes, so no asset's file is ever taken for one.
"""

from __future__ import annotations

import collections
import functools
import itertools
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowdev.errors import ExecutionError
from flowdev.keys import AssetKey
from flowdev.resources.resource import ConfigurableResource

try:
    from fcntl import LOCK_EX, LOCK_NB, flock
except ImportError:  # Windows: temporary files are neither locked nor cleaned up
    flock = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import logging
    import queue
    import threading

    from flowdev.resources.resource import InitResourceContext

_ORDINARY = re.compile(r"[A-Za-z0-9_.\-]+")


def safe_path_part(part: str) -> str:
    """``part`` as one harmless path segment; different parts always give different segments.

    Percent-encoding: each character outside ``[A-Za-z0-9_.-]`` becomes ``%XX`` per UTF-8
    byte, ``%`` itself included, so every segment decodes back to its part (the encoding is
    injective) and ordinary parts stay as they are. A trailing ``.`` is encoded too, so no
    segment is ``.`` or ``..`` and Windows, which drops trailing dots, never merges two
    names. The empty part is ``%``, which no other part encodes to.
    """
    if _ORDINARY.fullmatch(part) and not part.endswith("."):
        return part
    if not part:
        return "%"
    encoded = "".join(char if _ORDINARY.fullmatch(char) else _percent(char) for char in part)
    return encoded[:-1] + "%2E" if encoded.endswith(".") else encoded


def _percent(char: str) -> str:
    # surrogatepass: a lone surrogate still maps to its own bytes, keeping parts apart.
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def storage_path(base_dir: str | os.PathLike[str], key: AssetKey, suffix: str = "") -> Path:
    """The file for ``key`` under ``base_dir``; never outside it, whatever the key.

    ``base_dir`` is resolved (symlinks followed) once per process; the rest of the path is
    the key's parts, percent-encoded, so it names an entry under ``base_dir`` and never
    ``..`` (a symlink someone placed under ``base_dir`` is followed, as for any path).
    """
    return Path(_storage_file(os.fspath(base_dir), key, suffix))


_SEPARATORS = tuple(sep for sep in (os.sep, os.altsep) if sep)


def _storage_file(base_dir: str, key: AssetKey, suffix: str = "") -> str:
    parts = [safe_path_part(p) for p in key.path]
    parts[-1] += suffix
    # safe_path_part already guarantees this; checking the strings costs no system call,
    # where resolving the path would cost one per directory level.
    for part in parts:
        if part in (".", "..") or any(sep in part for sep in _SEPARATORS):
            base = _resolved_dir(_absolute(base_dir))
            raise ExecutionError(f"asset key {key.to_user_string()!r} maps outside {base}")
    return os.path.join(_resolved_dir(_absolute(base_dir)), *parts)


def _absolute(path: str) -> str:
    # Not os.path.abspath: it would drop "link/.." before resolving, which resolve() does not.
    return path if os.path.isabs(path) else os.path.join(os.getcwd(), path)


@functools.lru_cache(maxsize=64)
def _resolved_dir(absolute_path: str) -> str:
    return str(Path(absolute_path).resolve())


_temp_numbers = itertools.count()
_CREATE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_CREATE_NEW |= getattr(os, "O_BINARY", 0)
# What `_create_temp_file` names its files: ``.<name>~<pid>-<counter>.tmp``.
_TEMP_NAME = re.compile(r"\..*~[0-9]+-[0-9]+\.tmp")


def _create_temp_file(path: str) -> tuple[int, str]:
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
            if not (name.endswith(".tmp") and _TEMP_NAME.fullmatch(name)):
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


class _SpareFiles:
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
                    spare = _create_temp_file(os.path.join(directory, "spare"))
                except OSError:
                    # Not lost: the write that finds no file ready makes its own, and that
                    # attempt raises this error in the step, where the user sees it.
                    break
                self._ready[directory].append(spare)


def _default_log() -> logging.Logger:
    import logging

    return logging.getLogger("flowdev")


@dataclass(kw_only=True)
class OutputContext:
    """What an IO manager knows when it stores an output."""

    asset_key: AssetKey | None
    name: str = "result"
    run_id: str = ""
    step_key: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    definition_metadata: Mapping[str, Any] = field(default_factory=dict)
    resources: Any = None
    log: logging.Logger = field(default_factory=_default_log)
    storage_dir: str | None = None
    added_metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def has_asset_key(self) -> bool:
        """Whether this output is an asset."""
        return self.asset_key is not None

    def add_output_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Attach metadata (e.g. the path written) to the materialization."""
        self.added_metadata.update(metadata)


@dataclass(kw_only=True)
class InputContext:
    """What an IO manager knows when it loads an input."""

    asset_key: AssetKey | None
    name: str = ""
    upstream_output: OutputContext | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    resources: Any = None
    log: logging.Logger = field(default_factory=_default_log)
    storage_dir: str | None = None

    @property
    def has_asset_key(self) -> bool:
        """Whether this input is an asset."""
        return self.asset_key is not None


class IOManager(ABC):
    """Stores outputs and loads inputs; subclass and implement both methods."""

    @abstractmethod
    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Store ``obj``, the value of ``context.asset_key``."""

    @abstractmethod
    def load_input(self, context: InputContext) -> Any:
        """Load the value of ``context.asset_key``."""


class ConfigurableIOManager(ConfigurableResource, IOManager):
    """An IO manager with typed configuration fields (Dagster's `ConfigurableIOManager`)."""


class FilesystemIOManager(ConfigurableIOManager):
    """Pickles each asset under ``base_dir`` (default: the instance's ``storage/``)."""

    base_dir: str | None = None

    def _path(self, key: AssetKey | None, storage_dir: str | None) -> str:
        if key is None:
            raise ExecutionError("FilesystemIOManager stores assets only (the output has no key)")
        base = self.base_dir or storage_dir
        if base is None:
            raise ExecutionError(
                "FilesystemIOManager has no directory: give it base_dir= or run it in an instance"
            )
        return _storage_file(base, key)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Have the run's temporary files made ahead (see `_SpareFiles`)."""
        self.__dict__["_flowdev_spares"] = _SpareFiles()

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        """Remove the temporary files the run did not use."""
        spares = self.__dict__.pop("_flowdev_spares", None)
        if spares is not None:
            spares.close()

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Pickle ``obj`` atomically (temp file in the same directory, then rename)."""
        if obj is None:
            return
        path = self._path(context.asset_key, context.storage_dir)
        import pickle

        spares: _SpareFiles | None = self.__dict__.get("_flowdev_spares")
        spare = None if spares is None else spares.take(os.path.dirname(path))
        fd, temp_path = spare or _create_temp_file(path)
        # Renamed and removed while still open, so the file's lock is held until then:
        # no other process's cleanup can take it for abandoned.
        with os.fdopen(fd, "wb") as handle:
            try:
                pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
                handle.flush()
                os.replace(temp_path, path)
            except BaseException:
                Path(temp_path).unlink(missing_ok=True)
                raise
        context.add_output_metadata({"path": Path(path)})

    def load_input(self, context: InputContext) -> Any:
        """Unpickle the stored value, or say which asset has not been materialized."""
        import pickle

        path = self._path(context.asset_key, context.storage_dir)
        key = context.asset_key.to_user_string() if context.asset_key else "?"
        try:
            with open(path, "rb") as handle:
                return pickle.load(handle)
        except FileNotFoundError:
            raise ExecutionError(
                f"input {context.name!r} reads asset {key!r}, which has no stored value at "
                f"{path}. Materialize {key!r} first (or include it in the selection)."
            ) from None
        except OSError as error:
            raise ExecutionError(
                f"input {context.name!r} reads asset {key!r} from {path}, which cannot be "
                f"read ({error.strerror}). Check the file's permissions and the disk."
            ) from error
        except Exception as error:
            # Whatever unpickling raises (random bytes raise a dozen kinds), the file's
            # bytes are not a value this code can load: say which asset and file.
            raise ExecutionError(
                f"input {context.name!r} reads asset {key!r} from {path}, which cannot be "
                f"unpickled ({type(error).__name__}: {error}): the file is damaged, or was "
                f"pickled by code that has changed since. Materialize {key!r} again to "
                "rewrite it."
            ) from error


class InMemoryIOManager(IOManager):
    """Keeps values in this process's memory, by asset key (for tests)."""

    def __init__(self) -> None:
        self.values: dict[AssetKey, Any] = {}

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Keep ``obj``."""
        if context.asset_key is not None:
            self.values[context.asset_key] = obj

    def load_input(self, context: InputContext) -> Any:
        """Return the kept value."""
        if context.asset_key not in self.values:
            key = context.asset_key.to_user_string() if context.asset_key else "?"
            raise ExecutionError(f"no value in memory for asset {key!r}; materialize it first")
        return self.values[context.asset_key]


def io_manager(fn: Callable[..., IOManager] | None = None, *, config_schema: Any = None) -> Any:
    """Wrap a factory function ``fn(init_context) -> IOManager`` as a resource definition."""
    from flowdev.resources.resource import resource

    if fn is None:
        return resource(config_schema=config_schema)
    return resource(fn)
