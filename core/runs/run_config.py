"""Run config from a file: what ``--config`` reads, before it is validated against the
definitions (`flowdev.resources.config`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowdev.errors import ConfigError


def read_run_config(path: Path | None) -> dict[str, Any]:
    """Run config from a JSON, YAML or TOML file (``--config``)."""
    if path is None:
        return {}
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read the run config file {path}: {error.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: byte {error.start} (0x{data[error.start]:02x}) is not UTF-8;"
            " save the file as UTF-8"
        ) from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            config = json.loads(text)
        elif suffix == ".toml":
            import tomllib

            config = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise ConfigError(
                    f"{path}: reading YAML needs PyYAML (pip install pyyaml); "
                    "or write the config as JSON or TOML"
                ) from None
            config = yaml.safe_load(text)
        else:
            raise ConfigError(f"{path}: run config must be a .json, .yaml or .toml file")
    except ValueError as error:  # json, toml and yaml errors all derive from ValueError
        raise ConfigError(f"{path}: {error}") from None
    except RecursionError:
        raise ConfigError(
            f"{path}: the run config nests deeper than the parser can follow; no config"
            " field takes data nested that deep"
        ) from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: run config must be a mapping, like {{'ops': {{...}}}}")
    return config
