"""IO managers: where an asset's value goes when computed and comes from when needed.

`FilesystemIOManager` (the default) pickles each asset to ``<base_dir>/<key parts>``
(`flowdev.paths.storage_path`: no key can name a path outside ``base_dir``, and no two
keys share a file), writing it atomically (`flowdev.resources.files`) so that a crash
mid-write never leaves a half-written value as the latest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowdev.errors import ExecutionError
from flowdev.keys import AssetKey
from flowdev.paths import storage_file
from flowdev.resources.files import SpareFiles, write_atomically
from flowdev.resources.resource import ConfigurableResource

if TYPE_CHECKING:
    import logging

    from flowdev.resources.resource import InitResourceContext


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
        return storage_file(base, key)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Have the run's temporary files made ahead (see `SpareFiles`)."""
        self.__dict__["_flowdev_spares"] = SpareFiles()

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

        spares: SpareFiles | None = self.__dict__.get("_flowdev_spares")
        write_atomically(
            path, lambda handle: pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL), spares
        )
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
