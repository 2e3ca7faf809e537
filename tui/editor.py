"""The command that opens a file at a line in the user's editor (the app's ``e`` key).

The editor comes from ``FLOWDEV_EDITOR``, else ``$VISUAL``, else ``$EDITOR``, else
``vi``. ``FLOWDEV_EDITOR`` is a template: ``{file}`` and ``{line}`` are replaced inside
each argument (``FLOWDEV_EDITOR='myedit --goto {file}:{line}'``), and the file is added
last when no argument names it. ``$VISUAL`` and ``$EDITOR`` name a program and its
arguments; the line goes where that program expects it (`LINE_SYNTAX`). Values are split
as a shell would split words, and never handed to a shell: ``vi; rm x`` is a program
called ``vi;`` that does not exist, and ``$(...)`` stays literal text.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal

from flowdev.errors import EditorError

if TYPE_CHECKING:
    from textual.app import App

LineSyntax = Literal["plus", "goto", "colon", "none"]

# How each editor takes a line: `vim +12 a.py`, `code -g a.py:12`, `subl a.py:12`.
# An editor not named here gets the file alone (a wrong flag would open a wrong file).
LINE_SYNTAX: Mapping[str, LineSyntax] = {
    **dict.fromkeys(
        ("vi", "vim", "nvim", "gvim", "view", "nano", "emacs", "emacsclient", "micro", "kak"),
        "plus",
    ),
    **dict.fromkeys(("hx", "helix"), "plus"),
    **dict.fromkeys(("code", "code-insiders", "codium", "cursor"), "goto"),
    **dict.fromkeys(("subl", "zed"), "colon"),
}


def editor_command(path: str, line: int, environ: Mapping[str, str] | None = None) -> list[str]:
    """The argv that opens ``path`` at ``line``, to run without a shell.

    Args:
        path: The file to open.
        line: The line to put the cursor on (1-based).
        environ: Where to read ``FLOWDEV_EDITOR``, ``VISUAL``, ``EDITOR`` and ``PATH``
            (the process environment by default).

    Raises:
        EditorError: The setting does not split into words, is empty, or names a
            program that is not on ``PATH``.
    """
    environ = os.environ if environ is None else environ
    # Empty is unset, as git reads it.
    variable = next(
        (name for name in ("FLOWDEV_EDITOR", "VISUAL", "EDITOR") if environ.get(name, "").strip()),
        None,
    )
    value = environ[variable] if variable is not None else "vi"
    setting = f"{variable}={value!r}" if variable is not None else "the default editor vi"
    try:
        words = shlex.split(value)
    except ValueError as error:
        raise EditorError(
            f"{setting} does not split into words ({error}): quote it as in a shell, "
            f"e.g. {variable}='code --wait'"
        ) from None
    program = shutil.which(words[0], path=environ.get("PATH"))
    if program is None:
        raise EditorError(
            f"{setting}: there is no program {words[0]!r} on PATH; set {variable or 'EDITOR'} "
            "to an installed editor, or FLOWDEV_EDITOR to a command with {file} and {line}"
        )
    arguments = words[1:]
    if variable == "FLOWDEV_EDITOR":
        filled = [_fill(word, path, line) for word in arguments]
        named = any("{file}" in word for word in arguments)
        return [program, *filled] if named else [program, *filled, path]
    syntax = LINE_SYNTAX.get(PurePath(words[0]).name, "none")
    if syntax == "plus":
        return [program, *arguments, f"+{line}", path]
    if syntax == "goto":
        return [program, *arguments, "-g", f"{path}:{line}"]
    if syntax == "colon":
        return [program, *arguments, f"{path}:{line}"]
    return [program, *arguments, path]


def _fill(word: str, path: str, line: int) -> str:
    # replace, not str.format: other braces in the template stay as they are, and a
    # path with braces in it is never read as a placeholder.
    return word.replace("{line}", str(line)).replace("{file}", path)


def open_in_editor(app: App[Any], path: str, line: int) -> None:
    """Open ``path`` at ``line`` in the user's editor, handing it the terminal until it
    exits; a problem (no editor, one that will not start) is a notification."""
    from textual.app import SuspendNotSupported

    try:
        # A list, never a shell string: the path comes from the user's project.
        command = editor_command(path, line)
    except EditorError as error:
        app.notify(str(error), title="no editor", severity="error", markup=False)
        return
    try:
        try:
            with app.suspend():
                subprocess.run(command, check=False)
        except SuspendNotSupported:
            # No terminal to hand over (headless, or a pipe): run it without suspending.
            subprocess.run(command, check=False, stdin=subprocess.DEVNULL)
    except OSError as error:  # found on PATH, yet it would not start
        app.notify(f"{command[0]} did not start: {error}", severity="error", markup=False)
