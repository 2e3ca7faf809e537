"""Checks that the installed flowdev holds every file of the source tree, and imports.

Run with the interpreter of a virtualenv that has the wheel installed (not editable),
from a directory outside the repository, so that only the installed copy can be
imported: ``python wheel_contents.py <repo>``. pyproject.toml lists the packages
by hand (``core/`` installs as ``flowdev``, ``tui/`` as ``flowdev.tui``), so a new
subpackage, or a ``.tcss`` file beside a new widget, ships only if someone adds it; a
smoke command alone would not notice one it never imports.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

# Where each source directory installs, under the installed package.
SOURCES = {"core": "", "tui": "tui"}


def source_files(repo: Path) -> set[str]:
    """Every file of the package's sources, as a path relative to the installed package."""
    files = set()
    for directory, installed_as in SOURCES.items():
        root = repo / directory
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                relative = path.relative_to(root).as_posix()
                if directory == "core" and relative.split("/")[0] in SOURCES.values():
                    continue  # an installed name that another source directory provides
                files.add(f"{installed_as}/{relative}" if installed_as else relative)
    return files


def main() -> int:
    repo = Path(sys.argv[1]).resolve()
    import flowdev

    installed = Path(flowdev.__file__).resolve().parent
    if installed.is_relative_to(repo):
        print(f"wheel: flowdev was imported from the source tree ({installed})", file=sys.stderr)
        return 1
    shipped = {
        path.relative_to(installed).as_posix()
        for path in installed.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    missing = sorted(source_files(repo) - shipped)
    if missing:
        print("wheel: the installed flowdev lacks these files of the source tree:", file=sys.stderr)
        for name in missing:
            print(f"  {name}", file=sys.stderr)
        print("add their packages (or package data) to pyproject.toml", file=sys.stderr)
        return 1
    modules = sorted(
        "flowdev" + "".join(f".{part}" for part in Path(name).with_suffix("").parts)
        for name in shipped
        if name.endswith(".py")
    )
    for module in modules:
        importlib.import_module(module.removesuffix(".__init__"))
    print(f"wheel: {len(shipped)} files installed, {len(modules)} modules import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
