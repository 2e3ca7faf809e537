"""Every key of the app, read from the bindings themselves.

Each widget owns the bindings of its actions (``BINDINGS``, each with an id, a short
description for the footer and a tooltip that says what it does); the app owns the
global keys. `bound_keys` walks them, on the app, on its screen and on every widget
the screen shows, so the help screen (``?``) and the command palette (ctrl+p) are
written from the same source as the keys: a binding added to a widget shows in both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode
    from textual.screen import Screen


@dataclass(frozen=True, slots=True)
class BoundKey:
    """One binding, where it works, and what runs its action."""

    where: str
    """The pane it works in (its widget's id), ``app`` for the global keys."""
    keys: str
    """Its keys as the footer shows them, e.g. ``↑ k``."""
    description: str
    """What it does (the binding's tooltip, else its description)."""
    binding: Binding
    owner: DOMNode
    """What its action runs on."""
    textual: bool = False
    """Whether Textual binds it (tab, ctrl+q, the palette), not flowdev."""


def declared_bindings(node: DOMNode, *, textual: bool = False) -> list[Binding]:
    """The bindings ``node``'s own classes declare, most derived first: flowdev's, or
    (``textual``) those of Textual's classes it derives from, e.g. a screen's tab."""
    found: list[Binding] = []
    for cls in type(node).__mro__:
        if cls.__module__.startswith("textual.") is textual and "BINDINGS" in cls.__dict__:
            found += [_as_binding(binding) for binding in cls.__dict__["BINDINGS"]]
    return found


def bound_keys(screen: Screen[object]) -> list[BoundKey]:
    """The keys of the app, then of each widget on ``screen`` (in the order they are
    laid out), then Textual's global ones (focus, quit, the palette)."""
    app = screen.app
    keys = [_bound(app, "app", binding) for binding in declared_bindings(app)]
    # The screen's keys work in every pane of it: for the user, they are the app's.
    keys += [_bound(screen, "app", binding) for binding in declared_bindings(screen)]
    for widget in screen.query("*"):
        for binding in declared_bindings(widget):
            keys.append(_bound(widget, widget.id or type(widget).__name__, binding))
    palette = Binding(
        app.COMMAND_PALETTE_BINDING,
        "command_palette",
        "Commands",
        tooltip="Command palette: jump to any asset, run any action",
    )
    keys.append(_bound(app, "app", palette, textual=True))
    for owner in (app, screen):
        for binding in declared_bindings(owner, textual=True):
            if binding.description and not binding.system:
                keys.append(_bound(owner, "app", binding, textual=True))
    return keys


def _bound(owner: DOMNode, where: str, binding: Binding, *, textual: bool = False) -> BoundKey:
    return BoundKey(
        where=where,
        keys=key_display(owner.app, binding),
        description=binding.tooltip or binding.description,
        binding=binding,
        owner=owner,
        textual=textual,
    )


def key_display(app: App[object], binding: Binding) -> str:
    """``binding``'s keys as the footer shows each, e.g. ``up,k`` as ``↑ k``."""
    if binding.key_display:
        return binding.key_display
    keys = [key.strip() for key in binding.key.split(",")]
    return " ".join(app.get_key_display(replace(binding, key=key)) for key in keys)


def _as_binding(binding: BindingType) -> Binding:
    if isinstance(binding, Binding):
        return binding
    key, action, *description = binding
    return Binding(key, action, description[0] if description else "")
