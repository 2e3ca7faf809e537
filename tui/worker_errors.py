"""How the app's workers fail: never fatally, always said.

A worker that raises becomes a notification naming what it was doing (`failure_note`);
one that cannot use the instance at all (`StorageError.instance_failed`) shows it in
the app's storage panel instead (`storage_failure_shown`), which hides again once a
poll reads the instance.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from flowdev.errors import FlowdevError, StorageError
from textual.worker import Worker

# What a failed worker was doing, for the title of its notification.
WORKER_TASKS = {
    "launch": "starting a run",
    "cancel": "canceling",
    "poll": "reading the instance",
    "history": "reading the asset's history",
    "watch": "watching the project",
}


class ShowsStorageErrors(Protocol):
    """An app with a panel for the instance's failure."""

    def call_from_thread(self, callback: Callable[..., Any], *args: Any) -> Any: ...

    def show_storage_error(self, error: StorageError | None) -> None: ...


_P = ParamSpec("_P")
_App = TypeVar("_App", bound=ShowsStorageErrors)


def storage_failure_shown(
    method: Callable[Concatenate[_App, _P], None],
) -> Callable[Concatenate[_App, _P], None]:
    """A thread worker whose instance failure is shown in the app's panel; other errors
    go to the workers' note (`failure_note`), and none is fatal."""

    @functools.wraps(method)
    def guarded(app: _App, *args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            method(app, *args, **kwargs)
        except StorageError as error:
            if not error.instance_failed:
                raise  # a run that is not there: the worker's error note says so
            with contextlib.suppress(RuntimeError):  # the app is closing: nowhere to show it
                app.call_from_thread(app.show_storage_error, error)

    return guarded


def failure_note(worker: Worker[Any]) -> tuple[str, str]:
    """The title and message of the notification for ``worker``, which raised."""
    error = worker.error
    task = WORKER_TASKS.get(worker.group, worker.name)
    if isinstance(error, FlowdevError):
        message = str(error)
    else:  # not one flowdev raises on purpose: name it, so it can be reported
        message = f"{type(error).__name__}: {error} (a flowdev bug: please report it)"
    return f"{task} failed", message
