"""Environment variables as field values (`EnvVar`), and keeping their values out of logs.

``Warehouse(path=EnvVar("WAREHOUSE_PATH"))`` stores the variable's name; the value is read
when a run starts (`flowdev.resources.lifecycle.resolve_resources`, `Config.from_run_config`)
and never shown by ``repr``. Every value a run reads this way is a potential secret: a
`Redactor` built from them (`flowdev.resources.lifecycle.secret_values`) replaces them with
``***`` in every event the run emits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flowdev.errors import ConfigError


def _direct_access(kind: str, name: str) -> ConfigError:
    return ConfigError(
        f"{kind}({name!r}) has no value until a run starts, when flowdev reads the environment "
        "variable. Use it as a field value of a resource or config, or call .get_value() to "
        "read the variable now."
    )


class EnvVar(str):
    """A field value read from an environment variable when a run starts (Dagster's `EnvVar`).

    ``Warehouse(path=EnvVar("WAREHOUSE_PATH"))`` keeps the name; the value is read by
    `resolve_resources` (or `Config.from_run_config`), converted to the field's type,
    and never shown by ``repr``. ``str()`` of an unread `EnvVar` raises, as in Dagster, so a
    placeholder never leaks into a connection string.
    """

    __slots__ = ()

    @property
    def env_var_name(self) -> str:
        """The environment variable's name."""
        return str.__str__(self)

    def get_value(self, default: str | None = None) -> str | None:
        """The variable's value now, or ``default`` when it is not set."""
        return os.environ.get(self.env_var_name, default)

    def __str__(self) -> str:
        raise _direct_access("EnvVar", self.env_var_name)

    def __repr__(self) -> str:
        return f"EnvVar({self.env_var_name!r})"

    # Last in the class: after this line the name `int` means this method in the class body.
    @classmethod
    def int(cls, name: str) -> IntEnvVar:
        """An environment variable read as an int, for int fields (Dagster's `EnvVar.int`)."""
        return IntEnvVar.create(name)


class IntEnvVar(int):
    """What `EnvVar.int` returns: an int placeholder (0) carrying the variable's name."""

    name: str

    @classmethod
    def create(cls, name: str) -> IntEnvVar:
        """A placeholder for the variable ``name``."""
        var = cls(0)
        var.name = name
        return var

    @property
    def env_var_name(self) -> str:
        """The environment variable's name."""
        return self.name

    def get_value(self, default: int | None = None) -> int | None:
        """The variable's value now as an int, or ``default`` when it is not set."""
        text = os.environ.get(self.name)
        return int(text) if text else default

    def __int__(self) -> int:
        raise _direct_access("EnvVar.int", self.name)

    def __str__(self) -> str:
        raise _direct_access("EnvVar.int", self.name)

    def __repr__(self) -> str:
        return f"EnvVar.int({self.name!r})"


class Redactor:
    """Replaces secret values with ``***``, in text and in JSON-able data.

    Build one per run: the secrets are compiled into one pattern, longer secrets first so
    that a secret containing another is hidden whole.
    """

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str]) -> None:
        ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        """``text`` with every secret replaced."""
        return text if self._pattern is None else self._pattern.sub("***", text)

    def data(self, value: Any) -> Any:
        """``value`` with every secret replaced in its strings, keys and numbers.

        A number whose digits hold a secret (a port, a PIN) becomes the redacted string.
        """
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            digits = str(value)
            hidden = self.text(digits)
            return value if hidden == digits else hidden
        return value


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret replaced by ``***`` (longer secrets first)."""
    return Redactor(secrets).text(text)
