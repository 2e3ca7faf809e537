"""Automatic code versions: a hash of a function's normalised source.

The hash covers the function's AST with its decorators and docstring removed, so
editing the body changes it and editing a comment, the layout or the docstring does
not. Each source file is parsed once per process and all its functions hashed then,
which is much cheaper than `inspect.getsource` per function.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ast

_versions_by_file: dict[str, dict[int, str]] = {}


def function_code_version(fn: Callable[..., Any]) -> str:
    """The automatic code version of ``fn`` (12 hex digits)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return _hash(repr(fn))
    by_line = _versions_by_file.get(code.co_filename)
    if by_line is None:
        by_line = _versions_by_file[code.co_filename] = _hash_functions_in(code.co_filename)
    version = by_line.get(code.co_firstlineno)
    if version is None:
        # Source unavailable (exec'd or generated code): fall back to the bytecode.
        return _hash(repr((code.co_code, code.co_consts, code.co_names)))
    return version


def forget_file(filename: str) -> None:
    """Drop the cached hashes of ``filename`` (after it changed on disk)."""
    _versions_by_file.pop(filename, None)
    linecache.checkcache(filename)


def _hash_functions_in(filename: str) -> dict[int, str]:
    import ast  # only when a version is asked for: a load that needs none skips it

    source = "".join(linecache.getlines(filename))
    if not source:
        return {}
    try:
        tree = ast.parse(source, filename)
    except SyntaxError:
        return {}
    versions: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # co_firstlineno is the first decorator's line when there are decorators.
            first_line = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            versions[first_line] = _hash(ast.dump(_normalised(node)))
    return versions


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


def _hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:12]
