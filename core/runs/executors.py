"""Executors by name: flowdev's own, and the optional ones of extras (Dask).

What ``flowdev materialize --executor NAME`` and a run config's
``{"execution": {"config": {NAME: {...}}}}`` resolve through. Optional executors are
imported only when named, so a project that never uses Dask never imports it.
"""

from __future__ import annotations

from typing import Any

from flowdev.defs.executors import (
    BUILTIN_EXECUTORS,
    ExecutorDefinition,
    executor_run_config,
    unknown_executor,
)
from flowdev.errors import ConfigError

OPTIONAL_EXECUTORS = {"dask": ("flowdev.dask", "dask_executor", "flowdev[dask]")}


def executor_named(name: str) -> ExecutorDefinition:
    """The executor called ``name``.

    Raises:
        ConfigError: no executor has that name, or its extra is not installed.
    """
    if name in BUILTIN_EXECUTORS:
        return BUILTIN_EXECUTORS[name]
    if name not in OPTIONAL_EXECUTORS:
        raise unknown_executor(name, [*BUILTIN_EXECUTORS, *OPTIONAL_EXECUTORS])
    module_name, attribute, extra = OPTIONAL_EXECUTORS[name]
    try:
        module = __import__(module_name, fromlist=[attribute])
    except ImportError as error:
        raise ConfigError(f"the {name} executor needs `pip install '{extra}'` ({error})") from None
    definition: ExecutorDefinition = getattr(module, attribute)
    return definition


def executor_from_option(text: str) -> dict[str, Any]:
    """The run config that ``--executor TEXT`` asks for.

    ``in_process``; ``multiprocess`` or ``multiprocess=N`` (at most N steps at once);
    ``dask`` (a local cluster) or ``dask=ADDRESS`` (the scheduler at ADDRESS).

    Raises:
        ConfigError: an unknown executor, or a value it cannot take.
    """
    name, has_value, value = text.strip().partition("=")
    definition = executor_named(name)
    settings: dict[str, Any] = {}
    if name == "multiprocess" and has_value:
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(
                f"--executor {text}: expected multiprocess=N with N a whole number >= 1"
            )
        settings = {"max_concurrent": int(value)}
    elif name == "dask" and has_value:
        if not value:
            raise ConfigError(f"--executor {text}: expected dask=ADDRESS, e.g. tcp://host:8786")
        settings = {"cluster": {"existing": {"address": value}}}
    elif has_value:
        raise ConfigError(f"--executor {text}: the {name} executor takes no value")
    definition.checked_config(settings, where=f"--executor {text}")
    return executor_run_config(name, settings)
