"""One source for every key: the help screen and the palette are read from the bindings
of the app's screen and panes, and no key is bound twice where it would be ambiguous."""

import os
from collections import defaultdict
from pathlib import Path

import pytest
from flowdev.project.project import find_project
from flowdev.tui.app import FlowdevApp
from flowdev.tui.bindings import bound_keys
from flowdev.tui.screens.help import HelpScreen
from flowdev.tui.widgets.runs_table import RunsTable
from textual.binding import Binding
from textual.command import CommandList, CommandPalette

pytestmark = pytest.mark.anyio

SIZE = (160, 48)


@pytest.fixture
def project(sample_project: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FLOWDEV_HOME", str(sample_project / ".flowdev-test-home"))
    for name in list(os.environ):
        if name.startswith("TAXI_"):
            monkeypatch.delenv(name)
    return find_project(sample_project)


def help_text(app: FlowdevApp) -> str:
    assert isinstance(app.screen, HelpScreen)
    return "\n".join(f"{key.where} {key.keys} {key.description}" for key in app.screen.keys)


async def test_a_binding_added_to_a_pane_shows_in_help_and_in_the_palette(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = Binding("x", "cancel_run", "Stop", id="runs.stop", tooltip="Stop the run (an alias)")
    monkeypatch.setattr(RunsTable, "BINDINGS", [*RunsTable.BINDINGS, extra])
    app = FlowdevApp(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = help_text(app)
        assert "runs x Stop the run (an alias)" in text
        # What help showed before, still generated: the app's, the panes', Textual's.
        assert "app m Materialize the cursor asset, or the marked set" in text
        assert "graph space Mark or unmark the asset under the cursor" in text
        assert "log L " in text and "app tab " in text and "app ^p " in text
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"stop the run")
        commands = app.screen.query_one(CommandList)
        for _ in range(100):
            if commands.option_count:
                break
            await pilot.pause(0.05)
        prompts = [
            str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count)
        ]
        assert any("Stop the run (an alias)" in prompt for prompt in prompts)


async def test_no_key_is_bound_twice_in_one_scope_nor_shadows_the_screen(project) -> None:
    app = FlowdevApp(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        keys = [key for key in bound_keys(app.screen) if not key.textual]
        by_scope: defaultdict[str, list[str]] = defaultdict(list)
        for key in keys:
            by_scope[key.where] += [k.strip() for k in key.binding.key.split(",")]
        for where, bound in by_scope.items():
            assert len(bound) == len(set(bound)), (where, sorted(bound))
        # A pane's key would silently win over the same key of the screen while it has
        # focus (``f`` once did): the screen's keys are nobody else's.
        screen_keys = set(by_scope.pop("app"))
        for where, bound in by_scope.items():
            assert not screen_keys & set(bound), (where, screen_keys & set(bound))
        # Every key is described for the help screen and the palette.
        assert all(key.description for key in keys)


async def test_a_palette_command_runs_on_the_pane_that_owns_it(project) -> None:
    app = FlowdevApp(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.log_view
        assert log.min_level == "DEBUG"
        level = next(key for key in bound_keys(app.screen) if key.binding.id == "log.level")
        await app.run_action(level.binding.action, level.owner)
        assert log.min_level == "WARNING"
