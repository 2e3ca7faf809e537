"""IO managers: where an asset's value goes when computed and comes from when needed.

`FilesystemIOManager` (the default) pickles each asset to ``<base_dir>/<key parts>``,
writing to a temporary file and renaming it into place so that a crash mid-write
never leaves a half-written value as the latest. Key parts are percent-encoded first
(`safe_path_part`): no key can name a path outside ``base_dir``, and no two keys share
a file.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowdev.errors import ExecutionError
from flowdev.keys import AssetKey
from flowdev.resources import ConfigurableResource

if TYPE_CHECKING:
    import logging

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
    """The file for ``key`` under ``base_dir``; never outside it, whatever the key."""
    base = Path(base_dir).resolve()
    parts = [safe_path_part(p) for p in key.path]
    parts[-1] += suffix
    path = base.joinpath(*parts)
    if not path.resolve().is_relative_to(base):
        raise ExecutionError(f"asset key {key.to_user_string()!r} maps outside {base}")
    return path


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

    def _path(self, key: AssetKey | None, storage_dir: str | None) -> Path:
        if key is None:
            raise ExecutionError("FilesystemIOManager stores assets only (the output has no key)")
        base = self.base_dir or storage_dir
        if base is None:
            raise ExecutionError(
                "FilesystemIOManager has no directory: give it base_dir= or run it in an instance"
            )
        return storage_path(base, key)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Pickle ``obj`` atomically (temp file in the same directory, then rename)."""
        if obj is None:
            return
        path = self._path(context.asset_key, context.storage_dir)
        import pickle
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        context.add_output_metadata({"path": path})

    def load_input(self, context: InputContext) -> Any:
        """Unpickle the stored value, or say which asset has not been materialized."""
        import pickle

        path = self._path(context.asset_key, context.storage_dir)
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)
        except FileNotFoundError:
            key = context.asset_key.to_user_string() if context.asset_key else "?"
            raise ExecutionError(
                f"input {context.name!r} reads asset {key!r}, which has no stored value at "
                f"{path}. Materialize {key!r} first (or include it in the selection)."
            ) from None


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
    from flowdev.resources import resource

    if fn is None:
        return resource(config_schema=config_schema)
    return resource(fn)
