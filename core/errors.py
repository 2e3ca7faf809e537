"""Every error flowdev raises on purpose.

Each class owns its message: it says what is wrong, where, and how to fix it.

    FlowdevError
    ├── DefinitionsError            a project's definitions cannot be used
    │   ├── InvalidKeyError         an asset key part has characters flowdev does not allow
    │   ├── DuplicateKeyError       two definitions share an asset key or an op name
    │   ├── CycleError              the dependencies loop back on themselves
    │   ├── MissingResourceError    an asset needs a resource that `Definitions` lacks
    │   └── InvalidDefinitionError  a decorator or definition argument is wrong
    │       ├── CronError           a cron string or timezone croniter/zoneinfo cannot use
    │       └── UnsupportedArgumentError  a Dagster argument flowdev does not support yet
    ├── SelectionError              an asset selection cannot be resolved
    │   ├── SelectionSyntaxError    a malformed query (quoted with a caret at the column)
    │   └── UnknownAssetError       an exact key names no asset (with close matches)
    ├── ConfigError                 run config or resource fields fail validation
    │   └── EnvVarError             an `EnvVar` names an unset environment variable
    ├── ProjectError                flowdev cannot find or import the project's `Definitions`
    ├── ForkServerError             the loader's fork server is gone or did not answer
    ├── WatchError                  the file watcher stopped or failed
    ├── ExecutionError              a run cannot proceed (e.g. an input was never materialized)
    ├── EditorError                 $FLOWDEV_EDITOR, $VISUAL or $EDITOR names no usable editor
    └── StorageError                the instance cannot be read or written (damaged, read-only,
                                    disk full, too new), or lacks a run
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable


class FlowdevError(Exception):
    """The base of every error flowdev raises on purpose."""


class DefinitionsError(FlowdevError):
    """A project's definitions cannot be used as written."""


class InvalidKeyError(DefinitionsError):
    """An asset key part is empty or has characters outside ``[A-Za-z0-9_.-]``."""


class DuplicateKeyError(DefinitionsError):
    """Two definitions produce the same asset key, or share an op name."""


class CycleError(DefinitionsError):
    """The asset dependencies form a cycle; ``path`` lists it, first key repeated last."""

    def __init__(self, path: list[str]) -> None:
        self.path = path
        super().__init__(
            "the asset graph has a cycle: "
            + " -> ".join(path)
            + ". Remove one of these dependencies (an `ins=`, a `deps=` entry, or a parameter"
            " named after an upstream asset)."
        )


class MissingResourceError(DefinitionsError):
    """An asset requires a resource key that `Definitions(resources=...)` does not provide."""


class InvalidDefinitionError(DefinitionsError):
    """A decorator or definition argument is not valid."""


class CronError(InvalidDefinitionError):
    """A cron schedule or its timezone cannot be evaluated (see `flowdev.cron`)."""


class UnsupportedArgumentError(InvalidDefinitionError):
    """A Dagster argument that flowdev accepts by name but does not implement yet.

    Raised rather than ignoring the argument: a project that relies on it would
    otherwise run differently under flowdev without a word.
    """

    def __init__(self, argument: str, where: str) -> None:
        self.argument = argument
        self.where = where
        super().__init__(
            f"{where}: {argument}= is not supported yet by flowdev; remove it, "
            "or run this project with Dagster"
        )


def refuse_unsupported(where: str, **arguments: Any) -> None:
    """Raise `UnsupportedArgumentError` for the first of ``arguments`` that was given
    (is not None): each is a Dagster argument flowdev does not implement yet."""
    for argument, value in arguments.items():
        if value is not None:
            raise UnsupportedArgumentError(argument, where)


class SelectionError(FlowdevError):
    """An asset selection cannot be resolved."""


class SelectionSyntaxError(SelectionError):
    """A selection query is malformed; the message quotes it with a caret under the column."""

    def __init__(self, query: str, position: int, expected: str) -> None:
        self.query = query
        self.position = position
        self.expected = expected
        caret = " " * position + "^"
        super().__init__(
            f"invalid selection at column {position + 1}: {expected}\n  {query}\n  {caret}"
        )


class UnknownAssetError(SelectionError):
    """A selection names an exact asset key that does not exist."""

    def __init__(self, key: str, known: Iterable[str], query: str | None = None) -> None:
        self.key = key
        self.suggestions = close_matches(key, known)
        hint = did_you_mean(self.suggestions)
        where = f" in selection {query!r}" if query is not None and query != key else ""
        super().__init__(f"no asset with key {key!r}{where}.{hint}")


class ConfigError(FlowdevError):
    """Run config or resource fields do not validate."""


class EnvVarError(ConfigError):
    """An `EnvVar` names an environment variable that is not set."""


class ProjectError(FlowdevError):
    """flowdev cannot find or import a project's `Definitions`; ``file``/``line`` say where."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line


class ForkServerError(FlowdevError):
    """The fork server is not running or did not answer; start a fresh one or spawn."""


class WatchError(FlowdevError):
    """Watching the project's files stopped (the OS watch limit, a vanished root, ...)."""


class ExecutionError(FlowdevError):
    """A run cannot proceed."""


def close_matches(word: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """The candidates closest to ``word``, best first (for "did you mean" hints)."""
    import difflib  # only for a message: kept off every load's import path

    return difflib.get_close_matches(word, list(candidates), n=limit, cutoff=0.6)


def did_you_mean(suggestions: list[str]) -> str:
    """A sentence suggesting ``suggestions``, or "" when there are none."""
    if not suggestions:
        return ""
    return " Did you mean " + " or ".join(f"{s!r}" for s in suggestions) + "?"


class EditorError(FlowdevError):
    """The editor setting does not split into words or names no program on ``PATH``."""


class StorageError(FlowdevError):
    """The instance cannot be used, or lacks what was asked for; ``file`` is the path.

    `StorageError.of` words a failure of SQLite or of the file system as one paragraph:
    what is wrong, the file, and what to do, which differs by cause (``reason``):
    ``damaged``, ``empty``, ``denied``, ``disk_full``, ``busy`` or ``io``.
    """

    def __init__(self, message: str, *, file: str | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.file = file
        self.reason = reason

    @property
    def instance_failed(self) -> bool:
        """Whether the instance itself failed (a cause above), not a lookup that missed
        (no run with that id): the app shows the one in a panel, the other as a note."""
        return bool(self.reason)

    @classmethod
    def of(
        cls,
        cause: BaseException,
        path: str,
        *,
        home: str | None = None,
        detail: str | None = None,
    ) -> StorageError:
        """The error for ``cause`` (a ``sqlite3.Error`` or an ``OSError``) on ``path``.

        ``home`` is the instance directory, named in the advice for permissions;
        ``detail`` says more precisely than ``cause`` what went wrong, when known.
        """
        reason = storage_failure_reason(cause)
        detail = detail or _cause_text(cause)
        where = home or path
        if reason == "damaged":
            message = (
                f"the instance database {path} is damaged ({detail}). flowdev never deletes "
                f"a damaged instance itself: move the file aside (mv {path} {path}.damaged, "
                "with its -wal and -shm files if there are any) and flowdev starts a new, "
                "empty run history; the stored asset values are kept."
            )
        elif reason == "denied":
            message = (
                f"flowdev cannot read and write its instance at {path} ({detail}). Give this "
                f"user read and write access to {where} and the files in it, or set "
                "FLOWDEV_HOME to a writable directory."
            )
        elif reason == "disk_full":
            message = (
                f"the disk holding {path} is full ({detail}). Free some space there and run "
                "the command again; nothing recorded so far was lost."
            )
        elif reason == "busy":
            message = (
                f"the instance database {path} stayed locked by another process ({detail}). "
                "Wait for the other flowdev command to finish, or stop it, and try again."
            )
        else:
            message = (
                f"flowdev could not use its instance database {path} ({detail}). Check the "
                "disk and the file, or set FLOWDEV_HOME to another directory."
            )
        return cls(message, file=path, reason=reason)

    @classmethod
    def empty(cls, path: str) -> StorageError:
        """The error for a database file of zero bytes (flowdev never leaves one)."""
        return cls(
            f"the instance database {path} is empty (0 bytes): the run history it held, if "
            "any, is lost, and flowdev will not take the empty file for a new instance. "
            f"Move it aside (mv {path} {path}.empty) and flowdev starts a new, empty run "
            "history; the stored asset values are kept.",
            file=path,
            reason="empty",
        )


# SQLite's primary result codes (the low byte of an extended code), by cause.
_SQLITE_REASONS = {
    3: "denied",  # SQLITE_PERM
    5: "busy",  # SQLITE_BUSY
    6: "busy",  # SQLITE_LOCKED
    8: "denied",  # SQLITE_READONLY
    10: "io",  # SQLITE_IOERR
    11: "damaged",  # SQLITE_CORRUPT
    13: "disk_full",  # SQLITE_FULL
    14: "denied",  # SQLITE_CANTOPEN
    23: "denied",  # SQLITE_AUTH
    26: "damaged",  # SQLITE_NOTADB
}
_ERRNO_REASONS = {
    "EACCES": "denied",
    "EPERM": "denied",
    "EROFS": "denied",
    "ENOSPC": "disk_full",
    "EDQUOT": "disk_full",
}


def storage_failure_reason(cause: BaseException) -> str:
    """What kind of storage failure ``cause`` is (see `StorageError`)."""
    if isinstance(cause, OSError):
        import errno

        return _ERRNO_REASONS.get(errno.errorcode.get(cause.errno or 0, ""), "io")
    code = getattr(cause, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _SQLITE_REASONS.get(code & 0xFF, "io")
    return "io"


def _cause_text(cause: BaseException) -> str:
    if isinstance(cause, OSError):
        return cause.strerror or str(cause)
    return f"SQLite: {cause}"
