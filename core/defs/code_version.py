"""Automatic code versions: a hash of a function's normalised source.

The hash covers the function's syntax tree with its decorators and docstring removed,
so editing the body changes it and editing a comment, the layout or the docstring does
not (nor what a formatter does: parentheses for line breaks, trailing commas). The tree
is written out by `_canonical`, not `ast.dump`, whose text changes between Python
versions (3.13 leaves out empty fields, 3.12 added `type_params`): the same source has
the same version on every supported Python, so upgrading Python marks nothing stale.
Each source file is parsed once per process and all its functions hashed then, which is
much cheaper than `inspect.getsource` per function.

Parsing and dumping the AST costs about 30 ms per 500 functions, paid by every load
that builds a snapshot and by every run. With `use_cache_dir`, the versions of a file
are also kept on disk under the digest of its content, so a load reparses only the
files that changed since any earlier load (10,000 assets: 0.6 s -> 10 ms).
"""

from __future__ import annotations

import linecache
import os
from contextlib import suppress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ast
    from collections.abc import Callable, Iterator
    from pathlib import Path

_versions_by_file: dict[str, dict[int, str]] = {}
_cache_dir: str | None = None

# Part of every cache entry's name: a new hashing scheme must not read an old entry.
# Versions are the same on every Python, so entries are shared between them.
_SCHEME = "2"
# Entries beyond this many are pruned, oldest first (each is a few KB).
_MAX_ENTRIES = 2000


def use_cache_dir(directory: str | os.PathLike[str] | None) -> None:
    """Keep computed versions under ``directory`` (created when first written), or in
    memory only when None. The loader's child and run workers point this at the
    instance's cache."""
    global _cache_dir
    _cache_dir = None if directory is None else os.fspath(directory)


def function_code_version(fn: Callable[..., Any]) -> str:
    """The automatic code version of ``fn`` (12 hex digits)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return _hash(repr(fn))
    by_line = _versions_by_file.get(code.co_filename)
    if by_line is None:
        by_line = _versions_by_file[code.co_filename] = _versions_in(code.co_filename)
    version = by_line.get(code.co_firstlineno)
    if version is None:
        # Source unavailable (exec'd or generated code): fall back to the bytecode.
        return _hash(repr((code.co_code, code.co_consts, code.co_names)))
    return version


def forget_file(filename: str) -> None:
    """Drop the cached hashes of ``filename`` (after it changed on disk)."""
    _versions_by_file.pop(filename, None)
    linecache.checkcache(filename)


def _versions_in(filename: str) -> dict[int, str]:
    source = "".join(linecache.getlines(filename))
    if not source:
        return {}
    if _cache_dir is None:
        return _hash_functions_in(source, filename)
    entry = os.path.join(_cache_dir, f"{_SCHEME}-{_hash(source, length=40)}.json")
    cached = _read_entry(entry)
    if cached is not None:
        return cached
    versions = _hash_functions_in(source, filename)
    _write_entry(entry, versions)
    return versions


def _read_entry(path: str) -> dict[int, str] | None:
    import json

    try:
        with open(path, encoding="utf-8") as file:
            stored = json.load(file)
        return {int(line): str(version) for line, version in stored.items()}
    except (OSError, ValueError, AttributeError):
        return None  # absent, or unreadable: computed again and rewritten


def _write_entry(path: str, versions: dict[int, str]) -> None:
    import json

    directory = os.path.dirname(path)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(directory, exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(versions, file)
        os.replace(temporary, path)  # readers see the whole entry or none
        _prune(directory)
    except OSError:
        # A read-only or full disk only costs the next load a parse.
        with suppress(OSError):
            os.unlink(temporary)


def _prune(directory: str) -> None:
    entries = [entry for entry in os.scandir(directory) if entry.name.endswith(".json")]
    if len(entries) <= _MAX_ENTRIES:
        return
    entries.sort(key=lambda entry: entry.stat().st_mtime)
    for entry in entries[: len(entries) - _MAX_ENTRIES]:
        with suppress(OSError):
            os.unlink(entry.path)


def _hash_functions_in(source: str, filename: str) -> dict[int, str]:
    import ast  # only when a version is asked for: a load that needs none skips it

    try:
        tree = ast.parse(source, filename)
    except SyntaxError:
        return {}
    versions: dict[int, str] = {}
    for node in _statements(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # co_firstlineno is the first decorator's line when there are decorators.
            first_line = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            versions[first_line] = _hash(_canonical(_normalised(node)))
    return versions


def _statements(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every statement in ``body`` and in the blocks nested in it, at any depth: a
    ``def`` is always a statement, so the expressions (most of a tree) are skipped."""
    for node in body:
        yield node
        for block in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(node, block, None)
            if isinstance(inner, list):
                yield from _statements(inner)


def _normalised(node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
    import ast
    import copy

    body = node.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    clone = copy.copy(node)
    clone.body = body
    clone.decorator_list = []
    return clone


def _canonical(node: ast.AST) -> str:
    """``node`` written out by node type and field name, leaving out empty fields (None
    or ``[]``) and positions: a text that depends on the source, not on the Python that
    parsed it (a field a newer Python adds is empty on code that does not use it)."""
    import ast

    parts: list[str] = []
    append = parts.append  # one flat list: nested joins cost twice as much

    def write(value: Any) -> None:
        if isinstance(value, ast.AST):
            if isinstance(value, ast.JoinedStr):
                value = ast.JoinedStr(values=_joined_parts(value.values))
            append(type(value).__name__)
            append("(")
            for name in value._fields:
                field = getattr(value, name, None)
                if field is None or (type(field) is list and not field):
                    continue
                append(name)
                append("=")
                write(field)
                append(",")
            append(")")
        elif type(value) is list:
            append("[")
            for item in value:
                write(item)
                append(",")
            append("]")
        else:
            append(repr(value))

    write(node)
    return "".join(parts)


def _joined_parts(values: list[Any]) -> list[Any]:
    """An f-string's parts with the literal text merged and empty texts dropped: Pythons
    split the same literal differently (3.12.0-3.12.3 add an empty part to format specs)."""
    import ast

    parts: list[Any] = []
    for value in values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            if not value.value:
                continue
            if parts and isinstance(parts[-1], ast.Constant):
                value = ast.Constant(value=parts.pop().value + value.value)
        parts.append(value)
    return parts


def _hash(text: str, length: int = 12) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:length]


def cache_dir_of(home: Path) -> Path:
    """Where an instance keeps code versions (see `use_cache_dir`)."""
    return home / "cache" / "code_versions"
