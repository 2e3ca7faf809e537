"""Executors by name: flowdev's own, and the optional ones of extras (Dask).

What ``flowdev materialize --executor NAME`` and a run config's
``{"execution": {"config": {NAME: {...}}}}`` resolve through. Optional executors are
imported only when named, so a project that never uses Dask never imports it.
"""

from __future__ import annotations

from flowdev.defs.executors import BUILTIN_EXECUTORS, ExecutorDefinition, unknown_executor
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
