"""Paths: asset keys as file paths, and files as a person reads them (`shown_path`).

An asset key becomes a path with each key part percent-encoded into one harmless segment.

`safe_path_part` maps a key part (or a run id) to a segment that cannot name a path
outside the directory it is joined to, and that no other part maps to; `storage_path`
joins a key's parts under a base directory. Checking the strings costs no system call,
and the base directory is resolved once per process, since storing a value is on every
step's path.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from flowdev.errors import ExecutionError
from flowdev.keys import AssetKey

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
    """The file for ``key`` under ``base_dir``; never outside it, whatever the key.

    ``base_dir`` is resolved (symlinks followed) once per process; the rest of the path is
    the key's parts, percent-encoded, so it names an entry under ``base_dir`` and never
    ``..`` (a symlink someone placed under ``base_dir`` is followed, as for any path).
    """
    return Path(storage_file(os.fspath(base_dir), key, suffix))


_SEPARATORS = tuple(sep for sep in (os.sep, os.altsep) if sep)


def storage_file(base_dir: str, key: AssetKey, suffix: str = "") -> str:
    """`storage_path` as a string, the form the IO manager's hot path works with."""
    parts = [safe_path_part(p) for p in key.path]
    parts[-1] += suffix
    # safe_path_part already guarantees this; checking the strings costs no system call,
    # where resolving the path would cost one per directory level.
    for part in parts:
        if part in (".", "..") or any(sep in part for sep in _SEPARATORS):
            base = _resolved_dir(_absolute(base_dir))
            raise ExecutionError(f"asset key {key.to_user_string()!r} maps outside {base}")
    return os.path.join(_resolved_dir(_absolute(base_dir)), *parts)


def _absolute(path: str) -> str:
    # Not os.path.abspath: it would drop "link/.." before resolving, which resolve() does not.
    return path if os.path.isabs(path) else os.path.join(os.getcwd(), path)


@functools.lru_cache(maxsize=64)
def _resolved_dir(absolute_path: str) -> str:
    return str(Path(absolute_path).resolve())


def shown_path(filename: str, root: Path | None) -> str:
    """``filename`` relative to ``root`` when it lies inside it, else as it is: how
    messages, tables and the app name a project's files."""
    if root is not None:
        path = Path(filename)
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return filename
