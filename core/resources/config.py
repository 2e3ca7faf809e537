"""Run config: `Config` (an asset's typed config), `RunConfig`, and reading run config.

The typed-field machinery `Config` shares with resources lives in `flowdev.resources.configurable`;
`EnvVar` and `PrivateAttr` are re-exported here, where Dagster projects import them from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Self

from flowdev.errors import ConfigError, close_matches, did_you_mean
from flowdev.records import record
from flowdev.resources.configurable import (
    Configurable,
    Resolution,
    describe_value,
    resolve_fields,
    to_config_value,
)
from flowdev.resources.configurable import PrivateAttr as PrivateAttr
from flowdev.resources.env import EnvVar as EnvVar
from flowdev.resources.env import IntEnvVar as IntEnvVar


class Config(Configurable):
    """Typed run config for an asset or op (Dagster's `Config`).

    Subclass it with annotated fields, take it as an asset's ``config`` parameter, and supply
    values in run config as ``{"ops": {"orders": {"config": {"limit": 10}}}}`` or
    ``RunConfig(ops={"orders": OrdersConfig(limit=10)})``. Nested `Config` fields accept
    a dict. Instances are immutable and compare by value.
    """

    @classmethod
    def from_run_config(
        cls,
        run_config: Mapping[str, Any] | RunConfig | None,
        name: str,
        *,
        env: Mapping[str, str] | None = None,
    ) -> Self:
        """The config for op or asset ``name`` from a run config, validated, EnvVars read.

        Args:
            run_config: a Dagster-shaped dict, a `RunConfig`, or None (defaults only).
            name: the op or asset name under ``ops``.
            env: where to read `EnvVar`s; ``os.environ`` when None.

        Raises:
            ConfigError: a value does not validate; the message names the run-config path,
                e.g. ``run_config ops.orders.config.limit: expected int, got 'ten'``.
            EnvVarError: a field reads an environment variable that is not set.
        """
        where = f"run_config ops.{name}.config"
        raw = _op_entry_config(run_config, name)
        if isinstance(raw, cls):
            instance = raw
        elif raw is None or isinstance(raw, Mapping):
            instance = cls._flowdev_construct(cls._flowdev_validate(raw or {}, where))
        else:
            raise ConfigError(
                f"{where}: expected {cls.__name__} or a dict, got {describe_value(raw)}"
            )
        ctx = Resolution(os.environ if env is None else env, describe=lambda path: path)
        resolved: Self = resolve_fields(instance, ctx, where)
        return resolved


@record
class RunConfig:
    """Run config built from objects (Dagster's `RunConfig`).

    ``ops`` maps an op or asset name to a `Config` instance or a ``{"config": {...}}`` dict;
    ``resources`` maps a resource key to a `ConfigurableResource`-style instance or a
    ``{"config": {...}}`` dict.
    """

    ops: Mapping[str, Any] | None = None
    resources: Mapping[str, Any] | None = None
    loggers: Mapping[str, Any] | None = None
    execution: Mapping[str, Any] | None = None

    def to_config_dict(self) -> dict[str, Any]:
        """The Dagster-shaped dict: ``{"ops": {name: {"config": {...}}}, "resources": ...}``."""

        def section(entries: Mapping[str, Any] | None) -> dict[str, Any]:
            return {
                key: {"config": to_config_value(v)} if isinstance(v, Configurable) else v
                for key, v in (entries or {}).items()
            }

        return {
            "ops": section(self.ops),
            "resources": section(self.resources),
            "loggers": dict(self.loggers or {}),
            "execution": dict(self.execution or {}),
        }


def run_config_dict(run_config: Mapping[str, Any] | RunConfig | None) -> Mapping[str, Any]:
    """``run_config`` as a Dagster-shaped mapping (``{}`` for None)."""
    if run_config is None:
        return {}
    if isinstance(run_config, RunConfig):
        return run_config.to_config_dict()
    if not isinstance(run_config, Mapping):
        raise ConfigError(
            f"run_config: expected a dict or RunConfig, got {describe_value(run_config)}"
        )
    return run_config


def _op_entry_config(run_config: Mapping[str, Any] | RunConfig | None, name: str) -> Any:
    """The raw ``config`` for op ``name``: a dict, a `Config` instance, or None."""
    if isinstance(run_config, RunConfig):
        entry = (run_config.ops or {}).get(name)
    else:
        ops = run_config_dict(run_config).get("ops") or {}
        if not isinstance(ops, Mapping):
            raise ConfigError(
                f"run_config ops: expected a dict of op names, got {describe_value(ops)}"
            )
        entry = ops.get(name)
    if entry is None or isinstance(entry, Configurable):
        return entry
    if not isinstance(entry, Mapping):
        raise ConfigError(
            f"run_config ops.{name}: expected {{'config': ...}}, got {describe_value(entry)}"
        )
    for key in entry:
        if key not in ("config", "inputs", "outputs"):
            hint = did_you_mean(close_matches(str(key), ["config", "inputs", "outputs"]))
            raise ConfigError(
                f"run_config ops.{name}: unknown key {key!r}.{hint} An op's values go under"
                f" 'config': {{'ops': {{{name!r}: {{'config': {{...}}}}}}}}."
            )
    return entry.get("config")


def config_for(
    run_config: Mapping[str, Any] | RunConfig | None,
    name: str,
    config_class: type[Config] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> Any:
    """The config for op or asset ``name`` from a run config.

    Args:
        run_config: a Dagster-shaped dict ``{"ops": {name: {"config": {...}}}}``, a
            `RunConfig`, or None.
        name: the op or asset name.
        config_class: the asset's `Config` subclass: the result is a validated instance
            with its EnvVars read (see `Config.from_run_config`). Without it, the plain
            config (what ``context.op_config`` holds; EnvVars as ``{"env": NAME}``) or None.
        env: where EnvVars are read; ``os.environ`` when None.
    """
    if config_class is not None:
        return config_class.from_run_config(run_config, name, env=env)
    raw = _op_entry_config(run_config, name)
    return to_config_value(raw) if isinstance(raw, Configurable) else raw
