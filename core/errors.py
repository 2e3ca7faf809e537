"""Every error flowdev raises on purpose.

Each class owns its message: it says what is wrong, where, and how to fix it.

    FlowdevError
    ├── DefinitionsError            a project's definitions cannot be used
    │   ├── InvalidKeyError         an asset key part has characters flowdev does not allow
    │   ├── DuplicateKeyError       two definitions share an asset key or an op name
    │   ├── CycleError              the dependencies loop back on themselves
    │   ├── MissingResourceError    an asset needs a resource that `Definitions` lacks
    │   └── InvalidDefinitionError  a decorator or definition argument is wrong
    ├── SelectionError              an asset selection cannot be resolved
    │   ├── SelectionSyntaxError    a malformed query (quoted with a caret at the column)
    │   └── UnknownAssetError       an exact key names no asset (with close matches)
    ├── ConfigError                 run config or resource fields fail validation
    │   └── EnvVarError             an `EnvVar` names an unset environment variable
    ├── ProjectError                flowdev cannot find or import the project's `Definitions`
    ├── ExecutionError              a run cannot proceed (e.g. an input was never materialized)
    ├── EditorError                 $FLOWDEV_EDITOR, $VISUAL or $EDITOR names no usable editor
    └── StorageError                the instance database is unreadable, too new, or lacks a run
"""

from __future__ import annotations

TYPE_CHECKING = False
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
    """The instance database cannot be used, or lacks what was asked for."""
