"""Where the user's code is on a stack: the first frame that is not flowdev's own.

An error in an asset is reported at the line of the asset that raised it, and a
definition at the line that wrote it, however deep inside flowdev the stack runs.
"""

from __future__ import annotations

import os
import sys
import traceback

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # the whole flowdev package


def is_flowdev_file(filename: str) -> bool:
    """Whether ``filename`` is part of flowdev itself."""
    return filename.startswith(PACKAGE_DIR)


def raised_at(error: BaseException) -> tuple[str, int] | None:
    """``(file, line)`` of the innermost traceback frame outside flowdev: where the
    user's code raised (None when every frame is flowdev's)."""
    found = None
    for frame, line in traceback.walk_tb(error.__traceback__):
        if not is_flowdev_file(frame.f_code.co_filename):
            found = (frame.f_code.co_filename, line)
    return found


def called_from() -> tuple[str, int] | None:
    """``(file, line)`` of the innermost caller outside flowdev (None if there is none)."""
    frame = sys._getframe(1)
    while frame is not None and is_flowdev_file(frame.f_code.co_filename):
        frame = frame.f_back  # type: ignore[assignment]
    return (frame.f_code.co_filename, frame.f_lineno) if frame is not None else None
