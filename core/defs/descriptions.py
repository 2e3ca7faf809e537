"""Descriptions taken from docstrings, dedented the way Dagster (and `help()`) shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


def description_of(fn: Callable[..., Any], explicit: str | None = None) -> str | None:
    """``explicit`` when given, else ``fn``'s docstring with its indentation removed."""
    if explicit is not None:
        return explicit
    doc = getattr(fn, "__doc__", None)
    if not doc:
        return None
    if "\n" not in doc:
        return doc.strip()  # the common one-line docstring, on every load's hot path
    import inspect

    return inspect.cleandoc(doc)
