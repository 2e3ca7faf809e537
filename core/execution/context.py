"""What an asset function sees as ``context``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

from flowdev.errors import InvalidDefinitionError
from flowdev.keys import AssetKey, to_asset_key

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class StepLog:
    """``context.log``: a logger whose records become events of the run.

    Deliberately not a `logging.Logger`: loggers live forever in `logging`'s registry, and
    a run creates one per step.
    """

    __slots__ = ("_emit",)

    def __init__(self, emit: Callable[[str, str], None]) -> None:
        self._emit = emit

    def log(self, level: str, message: object, *args: object) -> None:
        """Record ``message % args`` at ``level``."""
        text = str(message) % args if args else str(message)
        self._emit(level.upper(), text)

    def debug(self, message: object, *args: object) -> None:
        """Record at DEBUG."""
        self.log("DEBUG", message, *args)

    def info(self, message: object, *args: object) -> None:
        """Record at INFO."""
        self.log("INFO", message, *args)

    def warning(self, message: object, *args: object) -> None:
        """Record at WARNING."""
        self.log("WARNING", message, *args)

    warn = warning

    def error(self, message: object, *args: object) -> None:
        """Record at ERROR."""
        self.log("ERROR", message, *args)

    def exception(self, message: object, *args: object) -> None:
        """Record at ERROR with the current exception's traceback."""
        import traceback

        self.log("ERROR", f"{message}\n{traceback.format_exc()}", *args)

    def critical(self, message: object, *args: object) -> None:
        """Record at CRITICAL."""
        self.log("CRITICAL", message, *args)


def _print_log(level: str, message: str) -> None:
    print(f"{level}: {message}")


class AssetExecutionContext:
    """The run context passed to an asset function's ``context`` parameter."""

    def __init__(
        self,
        *,
        run_id: str,
        asset_keys: tuple[AssetKey, ...],
        resources: Mapping[str, Any],
        op_config: Any = None,
        log: StepLog | None = None,
        instance: Any = None,
        run_tags: Mapping[str, str] | None = None,
        retry_number: int = 0,
        op_name: str = "",
    ) -> None:
        self.run_id = run_id
        self.selected_asset_keys = frozenset(asset_keys)
        self._asset_keys = asset_keys
        self.resources = SimpleNamespace(**resources)
        self.op_config = op_config
        self.log = log or StepLog(_print_log)
        self.instance = instance
        self.run_tags = dict(run_tags or {})
        self.retry_number = retry_number
        self.op_name = op_name
        self.added_metadata: dict[AssetKey, dict[str, Any]] = {}
        self._exit_stack: Any = None

    def __enter__(self) -> AssetExecutionContext:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._exit_stack is not None:
            self._exit_stack.close()

    @property
    def asset_key(self) -> AssetKey:
        """The key being materialized (for a single-asset step)."""
        if len(self._asset_keys) != 1:
            raise InvalidDefinitionError(
                f"this step materializes {len(self._asset_keys)} assets; use "
                "context.selected_asset_keys"
            )
        return self._asset_keys[0]

    @property
    def asset_keys(self) -> tuple[AssetKey, ...]:
        """Every key this step materializes."""
        return self._asset_keys

    def add_output_metadata(
        self, metadata: Mapping[str, Any], output_name: str | None = None, asset_key: Any = None
    ) -> None:
        """Attach ``metadata`` to this step's materialization (of ``asset_key`` in a
        multi-asset)."""
        key = to_asset_key(asset_key) if asset_key is not None else self._asset_keys[0]
        self.added_metadata.setdefault(key, {}).update(metadata)

    def add_asset_metadata(self, metadata: Mapping[str, Any], asset_key: Any = None) -> None:
        """Dagster's newer name for `add_output_metadata`."""
        self.add_output_metadata(metadata, asset_key=asset_key)

    def has_tag(self, key: str) -> bool:
        """Whether the run has tag ``key``."""
        return key in self.run_tags

    def get_tag(self, key: str) -> str | None:
        """The run's tag ``key``, if set."""
        return self.run_tags.get(key)


OpExecutionContext = AssetExecutionContext


def build_asset_context(
    resources: Mapping[str, Any] | None = None,
    asset_config: Any = None,
    instance: Any = None,
    run_tags: Mapping[str, str] | None = None,
    asset_key: Any = "test_asset",
) -> AssetExecutionContext:
    """A context for calling an asset function directly in a test.

    Resources are resolved and set up as a run would (`EnvVar`s read now); use the
    context in a ``with`` block to tear them down at its end.
    """
    from contextlib import ExitStack

    from flowdev.resources.lifecycle import resolve_resources, resource_lifecycle

    stack = ExitStack()
    live = stack.enter_context(
        resource_lifecycle(resolve_resources(resources or {}), run_id="test-run")
    )
    context = AssetExecutionContext(
        run_id="test-run",
        asset_keys=(to_asset_key(asset_key),),
        resources=live,
        op_config=asset_config,
        instance=instance,
        run_tags=run_tags,
    )
    context._exit_stack = stack
    return context


build_op_context = build_asset_context
