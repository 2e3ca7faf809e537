"""The watcher: real saves in a real directory, real loads in child processes."""

import asyncio
import contextlib
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from flowdev import AssetKey
from flowdev.project.project import Project, find_project
from flowdev.project.snapshot import DefinitionsSnapshot, diff_snapshots
from flowdev.project.watch import LoadFailed, ProjectFilter, Reloaded, watch_project

Event = Reloaded | LoadFailed

DEFS = """
import flowdev as dg
import helper

@dg.asset(description=helper.TEXT)
def report():
    return 1

@dg.asset
def summary(report):
    return report

defs = dg.Definitions(assets=[report, summary])
"""


class Session:
    """A `watch_project` iteration running in a task; the test reads its events."""

    def __init__(self, project: Project, reread: Callable[[], Project] | None = None) -> None:
        self.reload = asyncio.Event()
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._follow(project, reread))

    async def _follow(self, project: Project, reread: Callable[[], Project] | None) -> None:
        async for event in watch_project(project, reload=self.reload, reread=reread, timeout=10.0):
            self.events.put_nowait(event)

    async def next(self, within: float = 15.0) -> Event:
        return await asyncio.wait_for(self.events.get(), within)

    async def nothing_within(self, seconds: float) -> bool:
        await asyncio.sleep(seconds)
        return self.events.empty()


def watching(
    project: Project, reread: Callable[[], Project] | None = None
) -> Callable[[Callable[[Session], Coroutine[Any, Any, None]]], None]:
    """Run ``scenario(session)`` while ``project`` is watched; stop watching after it."""

    def run(scenario: Callable[[Session], Coroutine[Any, Any, None]]) -> None:
        async def main() -> None:
            session = Session(project, reread)
            try:
                await scenario(session)
            finally:
                session.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await session.task

        asyncio.run(main())

    return run


def reloaded(event: Event) -> DefinitionsSnapshot:
    assert isinstance(event, Reloaded), event.error.describe()  # type: ignore[union-attr]
    return event.snapshot


def description(event: Event) -> str | None:
    return reloaded(event).get(AssetKey("report")).description


@pytest.fixture
def project(write_project: Any) -> Project:
    root = write_project({"defs.py": DEFS, "helper.py": 'TEXT = "one"\n'})
    return find_project(root)


def test_first_load_then_a_save_gives_a_new_snapshot(project: Project) -> None:
    defs = project.root / "defs.py"

    async def scenario(session: Session) -> None:
        first = await session.next()
        assert first.changed_files == ()
        before = reloaded(first)

        defs.write_text(DEFS.replace("return report", "return report * 2"))
        event = await session.next()

        assert event.changed_files == (str(defs),)
        assert event.ms > 0
        diff = diff_snapshots(before, reloaded(event))
        assert diff.edited == (AssetKey("summary"),)
        assert diff.added == () and diff.removed == ()

    modules_before = set(sys.modules)
    watching(project)(scenario)
    assert not {"defs", "helper"} & (set(sys.modules) - modules_before)  # never imported here
    assert not [
        name
        for name, module in list(sys.modules.items())
        if str(getattr(module, "__file__", None) or "").startswith(str(project.root))
    ]


def test_syntax_error_then_fix(project: Project) -> None:
    helper = project.root / "helper.py"

    async def scenario(session: Session) -> None:
        await session.next()
        helper.write_text('TEXT = "one"\nBROKEN = [\n')
        failed = await session.next()

        assert isinstance(failed, LoadFailed)
        assert failed.error.kind == "syntax_error"
        assert (failed.error.file, failed.error.line) == (str(helper), 2)
        assert failed.changed_files == (str(helper),)
        assert failed.error.changed_files == (str(helper),)

        helper.write_text('TEXT = "fixed"\n')
        assert description(await session.next()) == "fixed"

    watching(project)(scenario)


def test_an_edited_helper_module_is_not_stale(project: Project) -> None:
    helper = project.root / "helper.py"

    async def scenario(session: Session) -> None:
        assert description(await session.next()) == "one"
        for text in ("two", "six", "ten"):  # same size, same second
            helper.write_text(f'TEXT = "{text}"\n')
            assert description(await session.next()) == text

    watching(project)(scenario)


def test_a_burst_of_saves_gives_one_or_two_loads_ending_with_the_last(project: Project) -> None:
    helper = project.root / "helper.py"

    async def scenario(session: Session) -> None:
        await session.next()
        for number in range(20):
            helper.write_text(f'TEXT = "save {number}"\n')
            await asyncio.sleep(0.002)
        events = [await session.next()]
        if not isinstance(events[0], Reloaded) or description(events[0]) != "save 19":
            events.append(await session.next())

        assert description(events[-1]) == "save 19"
        assert await session.nothing_within(0.5)

    watching(project)(scenario)


def test_saves_during_a_slow_load_supersede_it(write_project: Any) -> None:
    root = write_project(
        {"defs.py": DEFS, "helper.py": 'import time\ntime.sleep(0.6)\nTEXT = "slow one"\n'}
    )
    helper = root / "helper.py"

    async def scenario(session: Session) -> None:
        first = asyncio.ensure_future(session.next())
        await asyncio.sleep(0.3)  # the first load is still sleeping
        helper.write_text('import time\ntime.sleep(0.6)\nTEXT = "slow two"\n')
        event = await first

        # The first load's result was stale when it arrived: only the latest is shown.
        assert description(event) == "slow two"
        assert event.changed_files == (str(helper),)
        assert await session.nothing_within(0.5)

    watching(find_project(root))(scenario)


def test_files_that_never_stop_changing_still_show_results(write_project: Any) -> None:
    slow = 'import time\ntime.sleep(0.3)\nTEXT = "{}"\n'
    root = write_project({"defs.py": DEFS, "helper.py": slow.format("start")})
    helper = root / "helper.py"

    async def scenario(session: Session) -> None:
        await session.next()
        writing = True

        async def keep_saving() -> None:
            number = 0
            while writing:
                number += 1
                helper.write_text(slow.format(number))
                await asyncio.sleep(0.1)

        saver = asyncio.ensure_future(keep_saving())
        try:
            # Every load is stale by the time it ends; some must be shown all the same.
            event = await session.next(within=5.0)
            assert description(event) not in (None, "start")
        finally:
            writing = False
            await saver

    watching(find_project(root))(scenario)


def test_a_reload_can_be_requested(project: Project) -> None:
    async def scenario(session: Session) -> None:
        await session.next()
        session.reload.set()
        event = await session.next()

        assert isinstance(event, Reloaded)
        assert event.changed_files == ()

    watching(project)(scenario)


def test_ignored_files_do_not_reload(write_project: Any) -> None:
    root = write_project({"defs.py": DEFS, "helper.py": 'TEXT = "one"\n'})
    (root / "pyproject.toml").write_text(
        '[tool.flowdev]\nmodule = "defs"\nwatch = ["data/*.csv"]\n'
    )
    project = find_project(root)

    async def scenario(session: Session) -> None:
        await session.next()
        for relative in (
            ".flowdev/storage/x.py",
            ".venv/lib/python3.11/site-packages/pkg/mod.py",
            "venv/lib/mod.py",
            "__pycache__/helper.cpython-311.pyc",
            ".git/index",
            ".helper.py.swp",
            "helper.py~",
            ".#helper.py",
            "4913",
            "notes.txt",
            "data/readme.md",
        ):
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x = 1\n")
        assert await session.nothing_within(0.4)

        (root / "data" / "zones.csv").write_text("id\n1\n")
        event = await session.next()
        assert event.changed_files == (str(root / "data" / "zones.csv"),)

    watching(project)(scenario)


@pytest.mark.parametrize(
    ("relative", "matters"),
    [
        ("defs.py", True),
        ("pkg/sub/assets.py", True),
        ("pyproject.toml", True),
        ("pkg/pyproject.toml", False),
        ("data/zones.csv", True),
        ("data/deep/zones.csv", True),
        ("data/zones.json", False),
        ("README.md", False),
        (".flowdev/x.py", False),
        (".venv/lib/x.py", False),
        ("venv/lib/x.py", False),
        ("env/lib/x.py", False),
        ("pkg/__pycache__/x.py", False),
        (".git/x.py", False),
        (".defs.py.swp", False),
        ("defs.py~", False),
        (".#defs.py", False),
        ("#defs.py#", False),
        ("4913", False),
    ],
)
def test_project_filter(tmp_path: Path, relative: str, matters: bool) -> None:
    project = Project(root=tmp_path, module="defs", watch=("data/*.csv",))

    assert ProjectFilter(project)(None, str(tmp_path / relative)) is matters


def test_project_filter_skips_an_instance_inside_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWDEV_HOME", str(tmp_path / "instance"))
    watch_filter = ProjectFilter(Project(root=tmp_path, module="defs"))

    assert not watch_filter(None, str(tmp_path / "instance" / "storage" / "x.py"))
    assert watch_filter(None, str(tmp_path / "instances.py"))


def test_diff_snapshots_added_removed_edited(project: Project) -> None:
    from flowdev.project.loader import load_project

    before = load_project(project)
    (project.root / "defs.py").write_text(
        DEFS.replace("return report\n", "return report + 1\n").replace(
            "defs = dg.Definitions(assets=[report, summary])",
            "@dg.asset\ndef extra():\n    return 0\n\n"
            "defs = dg.Definitions(assets=[summary, extra], asset_checks=[])",
        )
    )
    after = load_project(project)
    assert isinstance(before, DefinitionsSnapshot) and isinstance(after, DefinitionsSnapshot)

    diff = diff_snapshots(before, after)

    # `report` is no longer defined: `summary` still depends on it, so it turns external.
    assert diff.added == (AssetKey("extra"),)
    assert set(diff.edited) == {AssetKey("summary"), AssetKey("report")}
    assert diff.removed == ()
    assert diff_snapshots(after, after).added == () and not diff_snapshots(after, after)
    assert diff_snapshots(after, before).removed == (AssetKey("extra"),)


OTHER_DEFS = """
import flowdev as dg

@dg.asset
def elsewhere():
    return 2

defs = dg.Definitions(assets=[elsewhere])
"""


def test_a_saved_pyproject_can_point_at_other_definitions(write_project: Any) -> None:
    root = write_project({"defs.py": DEFS, "helper.py": 'TEXT = "one"\n', "other.py": OTHER_DEFS})
    project = find_project(root)
    pyproject = root / "pyproject.toml"

    async def scenario(session: Session) -> None:
        assert AssetKey("report") in reloaded(await session.next())
        pyproject.write_text(pyproject.read_text().replace('module = "defs"', 'module = "other"'))
        event = await session.next()

        assert [a.key for a in reloaded(event).assets] == [AssetKey("elsewhere")]
        assert isinstance(event, Reloaded) and event.project is not None
        assert event.project.module == "other"
        (root / "other.py").write_text(OTHER_DEFS.replace("return 2", "return 3"))
        assert AssetKey("elsewhere") in reloaded(await session.next())  # follows it

    watching(project, reread=lambda: find_project(root))(scenario)


def test_a_broken_pyproject_is_a_failed_load_with_its_line(write_project: Any) -> None:
    root = write_project({"defs.py": DEFS, "helper.py": 'TEXT = "one"\n'})
    project = find_project(root)
    pyproject = root / "pyproject.toml"
    good = pyproject.read_text()

    async def scenario(session: Session) -> None:
        reloaded(await session.next())
        pyproject.write_text(good.replace('module = "defs"', "module = defs"))
        failed = await session.next()

        assert isinstance(failed, LoadFailed)
        assert failed.error.kind == "project_error"
        assert failed.error.file == str(pyproject)
        assert failed.error.line == good.splitlines().index('module = "defs"') + 1
        assert "pyproject.toml" in failed.error.describe(root)
        pyproject.write_text(good)
        event = await session.next()
        assert AssetKey("report") in reloaded(event)
        assert isinstance(event, Reloaded) and event.project is None  # the same as before

    watching(project, reread=lambda: find_project(root))(scenario)


def test_a_watcher_that_fails_or_stops_is_a_watch_error() -> None:
    # watchfiles raising (an OS watch limit, a vanished root) or ending reaches the
    # caller as a flowdev error, not as a bare OSError or RuntimeError.
    from flowdev.errors import WatchError
    from flowdev.project.watch import _woken

    async def fails() -> None:
        raise OSError(28, "inotify watch limit reached")

    async def ends() -> None:
        return None

    async def woken(helper: Any) -> None:
        await _woken(asyncio.Event(), [asyncio.ensure_future(helper())])

    with pytest.raises(WatchError, match="watch limit reached") as caught:
        asyncio.run(woken(fails))
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(WatchError, match="the file watcher stopped"):
        asyncio.run(woken(ends))
