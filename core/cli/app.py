"""The `flowdev` command line: the Typer app, its root options, and ``flowdev dev``.

The other commands live by what they read: `flowdev.cli.definition_commands` (check,
assets, graph) and `flowdev.cli.run_commands` (materialize, runs, logs, cancel,
reexecute); both import what they need beyond the CLI when run. `flowdev.cli.output`
says how every command reports an error, and the exit codes.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from flowdev import __version__
from flowdev.cli import definition_commands, run_commands
from flowdev.cli.loading import open_storage
from flowdev.cli.options import FileOption, LoadTimeoutOption, ModuleOption, ProjectOption
from flowdev.cli.output import fail
from flowdev.errors import FlowdevError
from flowdev.project.project import find_project
from typer.core import TyperGroup

if TYPE_CHECKING:
    from typer import _click as click  # typer's own copy of click, which its classes use


class _Commands(TyperGroup):
    """flowdev's commands: a `FlowdevError` none of them answered ends as `fail` says
    (exit 2).

    `Storage` raises `StorageError` for every failure of the instance, wherever a command
    meets it (opening, the first query, the middle of a run), and a launch refuses bad
    run config or settings before it records a run; this is the one place that turns
    what escapes a command into the contract's paragraph instead of a traceback.
    """

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[_INVOKED] = (name, command, list(rest))
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlowdevError as error:
            fail(error, _wants_json(ctx))


_INVOKED = "flowdev.invoked"


def _wants_json(ctx: click.Context) -> bool:
    """Whether the command that failed was given ``--json`` (its arguments, parsed again)."""
    invoked = ctx.meta.get(_INVOKED)
    if invoked is None or invoked[1] is None:
        return False
    name, command, args = invoked
    parsed = command.make_context(name, args, parent=ctx, resilient_parsing=True)
    return bool(parsed.params.get("as_json"))


app = typer.Typer(
    cls=_Commands,
    name="flowdev",
    help="Asset-first data pipelines with a live terminal dev environment.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flowdev {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    context: typer.Context,
    project_dir: ProjectOption = Path("."),
    module: ModuleOption = None,
    file: FileOption = None,
    load_timeout: LoadTimeoutOption = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Asset-first data pipelines with a live terminal dev environment.

    Without a command, opens the app (`flowdev dev`).
    """
    if context.invoked_subcommand is None:
        dev(project_dir, module, file, load_timeout)


def dev(
    project_dir: ProjectOption = Path("."),
    module: ModuleOption = None,
    file: FileOption = None,
    load_timeout: LoadTimeoutOption = None,
) -> None:
    """Open the terminal app: the graph, statuses, runs and logs, reloading on every save."""
    find = partial(find_project, project_dir, module=module, file=file, load_timeout=load_timeout)
    try:
        project = find()
        open_storage(project).close()  # a newer database is refused up front
    except FlowdevError as error:
        fail(error, False)
    # The one place core touches the app: headless commands never import Textual.
    from flowdev.tui.app import run_app

    run_app(project, reread=find)


for command in (
    definition_commands.check,
    definition_commands.assets,
    definition_commands.graph,
    dev,
    run_commands.materialize,
    run_commands.runs,
    run_commands.logs,
    run_commands.cancel,
    run_commands.reexecute,
):
    app.command()(command)


def main() -> None:
    """The console script's entry point."""
    app()


if __name__ == "__main__":
    main()
