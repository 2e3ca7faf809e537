"""Executor definitions: how a run's steps are executed (Dagster's `ExecutorDefinition`).

An executor definition is data: a name, its config, and where its implementation
lives (``"module:Class"``, imported only by the process that runs the plan). A project
chooses one the Dagster way (`Definitions(executor=...)`, `define_asset_job(...,
executor_def=...)`, `@job(executor_def=...)`), and a run can override it with run config
(``{"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}``, the shape of
Dagster's default executor) or ``flowdev materialize --executor``.

- `in_process_executor` runs every step in the run's worker, one after another.
- `multiprocess_executor` (the default) runs independent steps at the same time, each in
  a process forked from the warm worker, up to ``max_concurrent``; config as Dagster's:
  ``max_concurrent``, ``tag_concurrency_limits``, ``start_method``, ``retries``.
- ``flowdev.dask.dask_executor`` submits the steps to a Dask cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flowdev.errors import ConfigError, InvalidDefinitionError, close_matches, did_you_mean
from flowdev.records import EMPTY, freeze, record, replace

ConfigCheck = Callable[[str, Any], None]  # (path, value) -> None, raises ConfigError


@record
class ExecutorDefinition:
    """An executor: its name, its config, and the class that runs a plan with it.

    ``implementation`` is ``"module:Class"`` of an `flowdev.execution.executor.Executor`;
    ``config_schema`` maps each config key to a check of its value.
    """

    name: str
    implementation: str
    config_schema: Mapping[str, ConfigCheck] = EMPTY
    config: Mapping[str, Any] = EMPTY
    description: str | None = None

    def __repr__(self) -> str:
        configured = f".configured({dict(self.config)!r})" if self.config else ""
        return f"{self.name}_executor{configured}"

    def configured(self, config: Mapping[str, Any], name: str | None = None) -> ExecutorDefinition:
        """This executor with ``config`` fixed (Dagster's ``.configured``).

        Raises:
            ConfigError: a key the executor does not know, or a value of the wrong shape.
        """
        checked = self.checked_config(config, where=f"{self.name}_executor.configured")
        return replace(self, config=freeze(checked), name=name or self.name)

    def checked_config(self, config: Any, *, where: str) -> dict[str, Any]:
        """``config`` checked against this executor's schema, as a plain dict."""
        if config is None:
            return {}
        if not isinstance(config, Mapping):
            raise ConfigError(f"{where}: expected a dict of settings, got {config!r}")
        for key, value in config.items():
            check = self.config_schema.get(key)
            if check is None:
                known = ", ".join(self.config_schema) or "none"
                hint = did_you_mean(close_matches(str(key), self.config_schema))
                raise ConfigError(
                    f"{where}: the {self.name} executor has no setting {key!r}.{hint} "
                    f"Its settings: {known}."
                )
            check(f"{where}.{key}", value)
        return dict(config)


def check_executor(where: str, executor: Any) -> ExecutorDefinition | None:
    """``executor`` if it is an executor definition (or None).

    Raises:
        InvalidDefinitionError: it is something else.
    """
    if executor is None or isinstance(executor, ExecutorDefinition):
        return executor
    raise InvalidDefinitionError(
        f"{where}: expected an executor such as multiprocess_executor or "
        f"in_process_executor, got {executor!r}"
    )


# -- checks of config values -----------------------------------------------------------


def check_count(path: str, value: Any) -> None:
    """A whole number of at least 0 (Dagster: 0 means one per CPU)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{path}: expected a whole number >= 0, got {value!r}")


def check_tag_limits(path: str, value: Any) -> None:
    """Dagster's ``tag_concurrency_limits``: ``[{"key": ..., "value": ..., "limit": N}]``."""
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{path}: expected a list of {{'key', 'value', 'limit'}}")
    for index, entry in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(entry, Mapping) or "key" not in entry or "limit" not in entry:
            raise ConfigError(f"{where}: expected {{'key': ..., 'limit': N}}, got {entry!r}")
        unknown = set(entry) - {"key", "value", "limit"}
        if unknown:
            raise ConfigError(f"{where}: unknown field {sorted(unknown)[0]!r}")
        limit = entry["limit"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"{where}.limit: expected a whole number >= 1, got {limit!r}")
        tag_value = entry.get("value")
        per_value = isinstance(tag_value, Mapping) and tag_value == {
            "applyLimitPerUniqueValue": True
        }
        if tag_value is not None and not isinstance(tag_value, str) and not per_value:
            raise ConfigError(
                f"{where}.value: expected a string or {{'applyLimitPerUniqueValue': True}}"
            )


def check_start_method(path: str, value: Any) -> None:
    """``{"fork": {}}``, ``{"forkserver": {...}}`` (both: forked from the warm worker) or
    ``{"spawn": {}}`` (a fresh interpreter per step process)."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ConfigError(f"{path}: expected one of {{'fork': {{}}}}, {{'spawn': {{}}}}")
    (method,) = value
    if method not in START_METHODS:
        hint = did_you_mean(close_matches(str(method), START_METHODS))
        raise ConfigError(f"{path}: unknown start method {method!r}.{hint}")


def check_retries(path: str, value: Any) -> None:
    """Dagster's ``retries``: ``{"enabled": {}}`` or ``{"disabled": {}}``."""
    if not isinstance(value, Mapping) or set(value) - {"enabled", "disabled"} or len(value) != 1:
        raise ConfigError(f"{path}: expected {{'enabled': {{}}}} or {{'disabled': {{}}}}")


START_METHODS = ("fork", "forkserver", "spawn")

in_process_executor = ExecutorDefinition(
    name="in_process",
    implementation="flowdev.execution.in_process:InProcessExecutor",
    config_schema=freeze({"retries": check_retries}),
    description="Every step in the run's worker process, one after another.",
)

multiprocess_executor = ExecutorDefinition(
    name="multiprocess",
    implementation="flowdev.execution.multiprocess:MultiprocessExecutor",
    config_schema=freeze(
        {
            "max_concurrent": check_count,
            "tag_concurrency_limits": check_tag_limits,
            "start_method": check_start_method,
            "retries": check_retries,
        }
    ),
    description="Independent steps at once, each in a process forked from the worker.",
)

DEFAULT_EXECUTOR = multiprocess_executor
BUILTIN_EXECUTORS = {"in_process": in_process_executor, "multiprocess": multiprocess_executor}


def default_max_concurrent() -> int:
    """Dagster's default for ``max_concurrent``: one step per CPU this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@record
class ExecutorChoice:
    """The executor a run uses and its config, after run config is applied."""

    definition: ExecutorDefinition
    config: Mapping[str, Any]


def builtin_executor(name: str) -> ExecutorDefinition:
    """The executor called ``name`` among flowdev's own (in_process, multiprocess).

    Raises:
        ConfigError: no executor has that name.
    """
    found = BUILTIN_EXECUTORS.get(name)
    if found is None:
        raise unknown_executor(name, BUILTIN_EXECUTORS)
    return found


def unknown_executor(name: str, known: Iterable[str]) -> ConfigError:
    """The error for an executor name nobody defines."""
    names = [*known, *(["dask"] if "dask" not in known else [])]
    hint = did_you_mean(close_matches(name, names))
    return ConfigError(f"unknown executor {name!r}.{hint} Executors: {', '.join(names)}.")


def choose_executor(
    configured: ExecutorDefinition | None,
    run_config: Mapping[str, Any],
    *,
    named: Callable[[str], ExecutorDefinition] = builtin_executor,
) -> ExecutorChoice:
    """The executor of a run whose job or definitions chose ``configured`` (None: the
    default), given the run's ``run_config``.

    Run config may name an executor, as for Dagster's default executor
    (``{"execution": {"config": {"in_process": {}}}}``); ``named`` finds it (the caller
    passes one that also knows optional executors such as Dask). Otherwise its
    ``execution.config`` is more config for the chosen executor, over what
    ``.configured`` fixed.

    Raises:
        ConfigError: ``execution`` is not a dict, names an unknown executor, or holds a
            setting the executor does not have.
    """
    definition = configured or DEFAULT_EXECUTOR
    execution = run_config.get("execution") or {}
    if not isinstance(execution, Mapping):
        raise ConfigError(f"run_config execution: expected a dict, got {execution!r}")
    unknown = set(execution) - {"config"}
    if unknown:
        raise ConfigError(
            f"run_config execution: unknown key {sorted(unknown)[0]!r}; executor settings go "
            "under 'config': {'execution': {'config': {...}}}"
        )
    config = execution.get("config") or {}
    if not isinstance(config, Mapping):
        raise ConfigError(f"run_config execution.config: expected a dict, got {config!r}")
    if len(config) == 1:
        ((name, settings),) = config.items()
        if name not in definition.config_schema and isinstance(settings, Mapping | None):
            chosen = named(str(name))  # a dict under a name that is not a setting
            checked = chosen.checked_config(settings, where=f"run_config execution.config.{name}")
            return ExecutorChoice(definition=chosen, config={**chosen.config, **checked})
    checked = definition.checked_config(config, where="run_config execution.config")
    return ExecutorChoice(definition=definition, config={**definition.config, **checked})


def executor_run_config(name: str, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The run config that chooses executor ``name`` (what ``--executor`` records)."""
    return {"execution": {"config": {name: dict(settings or {})}}}
