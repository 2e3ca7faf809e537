"""The asset list, driven with Pilot on the sample project: its columns, sorting by
header or key, statuses and ages updating in place, and a cursor that follows (and
leads) the graph's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from flowdev.keys import AssetKey
from flowdev.project import find_project, load_definitions
from flowdev.snapshot import DefinitionsSnapshot, build_snapshot
from flowdev.tui.widgets import AssetGraphView, AssetListView, asset_graph, asset_list
from flowdev.tui.widgets.asset_list import describe_policy, relative_age
from textual.app import App, ComposeResult

pytestmark = pytest.mark.anyio

K = AssetKey
NOW = 1_800_000_000.0


@dataclass(frozen=True)
class Details:
    """What `flowdev.status` will hand the list, as far as the list cares."""

    last_materialized: float | None = None
    stale_reasons: tuple[str, ...] = ()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def taxi(sample_project: Path) -> DefinitionsSnapshot:
    return build_snapshot(load_definitions(find_project(sample_project)))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class ListApp(App[None]):
    CSS_PATH = [Path(asset_list.__file__).with_suffix(".tcss")]

    def __init__(self, snapshot: DefinitionsSnapshot, clock: Clock) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.clock = clock
        self.moves: list[AssetKey | None] = []

    def compose(self) -> ComposeResult:
        yield AssetListView(self.snapshot, clock=self.clock)

    def on_asset_list_view_cursor_moved(self, message: AssetListView.CursorMoved) -> None:
        self.moves.append(message.key)


def column(view: AssetListView, name: str) -> list[str]:
    """A column's cells, top to bottom, as plain text."""
    return [str(cell) for cell in view.get_column(name)]


def cursor_key(view: AssetListView) -> str:
    return str(view.get_cell_at((view.cursor_row, 0)))


async def test_rows_show_each_assets_columns(taxi: DefinitionsSnapshot) -> None:
    clock = Clock()
    app = ListApp(taxi, clock)
    async with app.run_test(size=(120, 24)) as pilot:
        view = pilot.app.query_one(AssetListView)
        view.statuses = {K("daily_summary"): "stale", K("zones"): "fresh"}
        view.details = {
            K("daily_summary"): Details(
                NOW - 3 * 3600, ("code [bold]v2", "borough_stats was materialized after it")
            ),
            K("zones"): Details(NOW - 42),
        }
        await pilot.pause()
        assert [str(c.label).split(" ")[0] for c in view.columns.values()] == [
            "Key", "Group", "Status", "Materialized", "Freshness", "Reason",
        ]  # fmt: skip
        assert column(view, "key") == sorted(str(k) for k in taxi.keys)  # by key at first
        summary = view.get_row("daily_summary")
        assert [str(cell) for cell in summary] == [
            "daily_summary", "report", "~ stale", "3h ago", "within 1d",
            "code [bold]v2; borough_stats was materialized after it",
        ]  # fmt: skip
        assert [str(cell) for cell in view.get_row("zones")][2:4] == ["✓ fresh", "42s ago"]
        assert str(view.get_row("raw_trips")[2]) == "· unknown"
        screen = "\n".join(strip.text for strip in view.render_lines(view.size.region))
        assert "daily_summary" in screen and "within 1d" in screen and "3h ago" in screen
        assert "[bold]v2" in screen  # shown as written, not read as markup


async def test_ages_tick_and_only_changed_cells_update(taxi: DefinitionsSnapshot) -> None:
    clock = Clock()
    app = ListApp(taxi, clock)
    async with app.run_test(size=(120, 24)) as pilot:
        view = pilot.app.query_one(AssetListView)
        view.details = {K("zones"): Details(NOW - 58)}
        await pilot.pause()
        assert str(view.get_cell("zones", "age")) == "58s ago"
        clock.now += 1
        view.refresh_ages()
        assert str(view.get_cell("zones", "age")) == "59s ago"
        clock.now += 1
        view.refresh_ages()
        assert str(view.get_cell("zones", "age")) == "1m ago"
        clock.now += 30  # still "1m": the next change is at 2m
        view.refresh_ages()
        assert str(view.get_cell("zones", "age")) == "1m ago"
        view.statuses = {K("zones"): "failed"}
        await pilot.pause()
        assert str(view.get_cell("zones", "status")) == "✗ failed"
        assert str(view.get_cell("zones", "age")) == "1m ago"


async def test_sorting_by_header_and_keys_keeps_the_cursor(taxi: DefinitionsSnapshot) -> None:
    app = ListApp(taxi, Clock())
    async with app.run_test(size=(120, 24)) as pilot:
        view = pilot.app.query_one(AssetListView)
        view.statuses = {
            K("zones"): "fresh",
            K("borough_stats"): "failed",
            K("daily_summary"): "stale",
            K("fare_rates"): "external",
        }
        view.details = {
            K("zones"): Details(NOW - 60),
            K("daily_summary"): Details(NOW - 10),
        }
        view.cursor = K("zones")
        await pilot.pause()
        assert cursor_key(view) == "zones"
        await pilot.press("greater_than_sign", "greater_than_sign")  # key, group, status
        assert view.sort_column == "status"
        statuses = column(view, "status")
        assert statuses[:3] == ["✗ failed", "~ stale", "✓ fresh"]  # most urgent first
        assert statuses[-1] == "◇ external" or statuses[-1] == "· unknown"
        assert cursor_key(view) == "zones"  # the rows moved, the cursor stayed on its asset
        assert "▲" in str(view.columns["status"].label)
        await pilot.press("I")
        assert column(view, "status")[-3:] == ["✓ fresh", "~ stale", "✗ failed"]
        assert "▼" in str(view.columns["status"].label)
        await pilot.press("greater_than_sign")  # the next column: Materialized
        assert view.sort_column == "age" and not view.sort_reverse
        assert column(view, "key")[:2] == ["daily_summary", "zones"]  # newest first
        await pilot.press("less_than_sign", "less_than_sign", "less_than_sign")
        assert view.sort_column == "key"
        assert column(view, "key") == sorted(str(k) for k in taxi.keys)
        assert cursor_key(view) == "zones"


async def test_header_click_sorts_and_clicking_again_reverses(taxi: DefinitionsSnapshot) -> None:
    app = ListApp(taxi, Clock())
    async with app.run_test(size=(120, 24)) as pilot:
        view = pilot.app.query_one(AssetListView)
        await pilot.pause()
        group_x = view.columns["key"].get_render_width(view) + 1
        await pilot.click(AssetListView, offset=(group_x, 0))
        assert view.sort_column == "group" and not view.sort_reverse
        assert column(view, "group") == sorted(column(view, "group"))
        await pilot.click(AssetListView, offset=(group_x, 0))
        assert view.sort_reverse
        assert column(view, "group") == sorted(column(view, "group"), reverse=True)


async def test_cursor_moves_post_the_asset(taxi: DefinitionsSnapshot) -> None:
    app = ListApp(taxi, Clock())
    async with app.run_test(size=(120, 24)) as pilot:
        view = pilot.app.query_one(AssetListView)
        view.cursor = K("raw_trips")
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        below = sorted(str(k) for k in taxi.keys)
        expected = K(below[below.index("raw_trips") + 1])
        assert view.cursor == expected
        assert app.moves[-1] == expected
        # A new snapshot keeps the cursor on its asset.
        view.snapshot = build_snapshot_again(taxi)
        await pilot.pause()
        assert view.cursor == expected and cursor_key(view) == str(expected)


def build_snapshot_again(snapshot: DefinitionsSnapshot) -> DefinitionsSnapshot:
    return DefinitionsSnapshot(assets=snapshot.assets, load_seconds=snapshot.load_seconds + 1)


class BothApp(App[None]):
    """The graph and the list side by side, their cursors synced the way the app will."""

    CSS_PATH = [
        Path(asset_graph.__file__).with_suffix(".tcss"),
        Path(asset_list.__file__).with_suffix(".tcss"),
    ]
    CSS = "Screen { layout: horizontal; } AssetGraphView, AssetListView { width: 1fr; }"

    def __init__(self, snapshot: DefinitionsSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def compose(self) -> ComposeResult:
        yield AssetGraphView(self.snapshot)
        yield AssetListView(self.snapshot)

    # Each view also posts CursorMoved when it is told where to go: following only the
    # view the user drives keeps those echoes (and stale ones) from moving it back.
    def on_asset_graph_view_cursor_moved(self, message: AssetGraphView.CursorMoved) -> None:
        if message.view.has_focus:
            self.query_one(AssetListView).cursor = message.key

    def on_asset_list_view_cursor_moved(self, message: AssetListView.CursorMoved) -> None:
        if message.view.has_focus:
            self.query_one(AssetGraphView).cursor = message.key


async def test_the_list_and_the_graph_follow_each_other(taxi: DefinitionsSnapshot) -> None:
    app = BothApp(taxi)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        graph, listing = app.query_one(AssetGraphView), app.query_one(AssetListView)
        graph.focus()
        graph.cursor = K("trips_clean")
        await pilot.press("j")
        await pilot.pause()
        assert graph.cursor == listing.cursor == K("trips_enriched")
        assert cursor_key(listing) == "trips_enriched"
        listing.focus()
        await pilot.press("down")
        await pilot.pause()
        assert listing.cursor == graph.cursor != K("trips_enriched")


def test_relative_age_and_policy_text() -> None:
    assert relative_age(0) == "0s ago"
    assert relative_age(59.9) == "59s ago"
    assert relative_age(60) == "1m ago"
    assert relative_age(3 * 3600 + 5) == "3h ago"
    assert relative_age(2 * 86400) == "2d ago"
    assert describe_policy(None) == ""
    assert (
        describe_policy(
            {
                "fail_window_seconds": 3600.0,
                "warn_window_seconds": None,
                "cron_schedule": "0 9 * * *",
            }
        )
        == "within 1h, by 0 9 * * *"
    )
