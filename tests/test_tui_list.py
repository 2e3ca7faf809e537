"""The asset list, driven with Pilot on the sample project: its columns, sorting by
header or key, statuses and ages updating in place, a cursor that follows (and leads)
the graph's, and only the rows on screen drawn; then the row text and sort order
without an app (`flowdev.tui.widgets.asset_rows`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from flowdev.durations import ago
from flowdev.keys import AssetKey
from flowdev.project.snapshot import AssetSnapshot, DefinitionsSnapshot
from flowdev.tui.widgets import AssetGraphView, AssetListView, asset_graph, asset_list
from flowdev.tui.widgets.asset_rows import (
    Row,
    age_text,
    column_widths,
    describe_policy,
    row_cells,
    sort_rows,
    status_text,
)
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip

pytestmark = pytest.mark.anyio

K = AssetKey
NOW = 1_800_000_000.0


@dataclass(frozen=True)
class Details:
    """What `flowdev.instance.status` will hand the list, as far as the list cares."""

    last_materialized: float | None = None
    stale_reasons: tuple[str, ...] = ()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class CountingList(AssetListView):
    """Counts the lines it is asked to draw."""

    drawn: int = 0

    def render_line(self, y: int) -> Strip:
        self.drawn += 1
        return super().render_line(y)


class ListApp(App[None]):
    CSS_PATH = [Path(asset_list.__file__).with_suffix(".tcss")]

    def __init__(self, snapshot: DefinitionsSnapshot | None, clock: Clock) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.clock = clock
        self.moves: list[AssetKey | None] = []

    def compose(self) -> ComposeResult:
        yield CountingList(self.snapshot, clock=self.clock)

    def on_asset_list_view_cursor_moved(self, message: AssetListView.CursorMoved) -> None:
        self.moves.append(message.key)


COLUMN_NAMES = ["key", "group", "status", "age", "policy", "reason"]


def column(view: AssetListView, name: str) -> list[str]:
    """A column's cells, top to bottom."""
    index = COLUMN_NAMES.index(name)
    return [view.cells_at(row)[index] for row in range(view.row_count)]


def cells(view: AssetListView, key: str) -> list[str]:
    """What the row of ``key`` shows."""
    return list(view.cells_at(column(view, "key").index(key)))


def cursor_key(view: AssetListView) -> str:
    return str(view.key_at(view.cursor_row))


def screen(view: AssetListView) -> list[str]:
    """The lines on screen (above any scrollbar), as the compositor would get them now."""
    shown = Region(0, 0, *view.scrollable_content_region.size)
    return [strip.text for strip in view.render_lines(shown)]


def line_of(view: AssetListView, key: str) -> str:
    """The line on screen that shows ``key``."""
    return next(line for line in screen(view)[1:] if line.split()[0] == key)


async def test_rows_show_each_assets_columns(taxi_snapshot: DefinitionsSnapshot) -> None:
    app = ListApp(taxi_snapshot, Clock())
    async with app.run_test(size=(140, 24)) as pilot:
        view = pilot.app.query_one(AssetListView)
        view.statuses = {K("daily_summary"): "stale", K("zones"): "fresh"}
        view.details = {
            K("daily_summary"): Details(
                NOW - 3 * 3600, ("code [bold]v2", "borough_stats was materialized after it")
            ),
            K("zones"): Details(NOW - 42),
        }
        await pilot.pause()
        header = screen(view)[0]
        assert header.split() == [
            "Key", "▲", "Group", "Status", "Materialized", "Freshness", "Reason",
        ]  # fmt: skip
        assert column(view, "key") == sorted(str(k) for k in taxi_snapshot.keys)  # by key at first
        assert cells(view, "daily_summary") == [
            "daily_summary", "report", "~ stale", "3h ago", "within 1d",
            "code [bold]v2; borough_stats was materialized after it",
        ]  # fmt: skip
        assert cells(view, "zones")[2:4] == ["✓ fresh", "42s ago"]
        assert cells(view, "raw_trips")[2] == "· unknown"
        row = line_of(view, "daily_summary")
        assert "[bold]v2" in row  # shown as written, not read as markup
        for label, text in [
            ("Group", "report"),
            ("Status", "~ stale"),
            ("Materialized", "3h ago"),
            ("Freshness", "within 1d"),
            ("Reason", "code [bold]v2"),
        ]:
            assert header.index(label) == row.index(text), label  # columns line up


async def test_status_cells_take_their_status_colour(taxi_snapshot: DefinitionsSnapshot) -> None:
    app = ListApp(taxi_snapshot, Clock())
    async with app.run_test(size=(120, 24)) as pilot:
        view = pilot.app.query_one(AssetListView)
        view.statuses = {K("zones"): "failed", K("raw_zones"): "check_failed"}
        view.cursor = K("fare_rates")
        view.focus()
        await pilot.pause()
        strips = view.render_lines(view.size.region)
        for text, part in [("✗ failed", "failed"), ("⚑ check failed", "check-failed")]:
            strip = next(strip for strip in strips if text in strip.text)
            style = next(seg.style for seg in strip if text in seg.text)
            assert style is not None
            assert style.color == view.get_component_rich_style(f"asset-list--{part}").color
        cursor_bg = view.get_component_rich_style("asset-list--cursor").bgcolor

        def under_cursor(key: str) -> bool:
            strips = view.render_lines(Region(0, 0, *view.scrollable_content_region.size))
            strip = next(strip for strip in strips[1:] if strip.text.split()[0] == key)
            return all(segment.style.bgcolor == cursor_bg for segment in strip)

        assert under_cursor("fare_rates")
        await pilot.press("down")
        assert not under_cursor("fare_rates") and under_cursor("hourly_stats")


async def test_ages_tick_and_only_changed_lines_redraw(taxi_snapshot: DefinitionsSnapshot) -> None:
    clock = Clock()
    app = ListApp(taxi_snapshot, clock)
    async with app.run_test(size=(120, 24)) as pilot:
        view = pilot.app.query_one(CountingList)
        view.details = {K("zones"): Details(NOW - 58), K("raw_zones"): Details(NOW - 7200)}
        await pilot.pause()
        assert cells(view, "zones")[3] == "58s ago" and "58s ago" in line_of(view, "zones")
        view.drawn = 0
        clock.now += 1
        view.refresh_ages()
        await pilot.pause()
        assert "59s ago" in line_of(view, "zones")  # on screen, not only in the model
        assert view.drawn == 1  # the zones line; "2h ago" did not change
        clock.now += 1
        view.refresh_ages()
        assert cells(view, "zones")[3] == "1m ago" and "1m ago" in line_of(view, "zones")
        view.drawn = 0
        clock.now += 30  # still "1m": the next change is at 2m
        view.refresh_ages()
        await pilot.pause()
        assert view.drawn == 0 and "1m ago" in line_of(view, "zones")
        view.statuses = {K("zones"): "failed"}
        await pilot.pause()
        assert cells(view, "zones")[2:4] == ["✗ failed", "1m ago"]
        assert "✗ failed" in line_of(view, "zones")


async def test_sorting_by_header_and_keys_keeps_the_cursor(
    taxi_snapshot: DefinitionsSnapshot,
) -> None:
    app = ListApp(taxi_snapshot, Clock())
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
        assert statuses[-1] == "· unknown"
        assert cursor_key(view) == "zones"  # the rows moved, the cursor stayed on its asset
        await pilot.pause()
        assert "Status ▲" in screen(view)[0] and "Key ▲" not in screen(view)[0]
        assert "✓ fresh" in screen(view)[3]  # the screen follows the new order
        await pilot.press("I")
        assert column(view, "status")[-3:] == ["✓ fresh", "~ stale", "✗ failed"]
        await pilot.pause()
        assert "Status ▼" in screen(view)[0]
        await pilot.press("greater_than_sign")  # the next column: Materialized
        assert view.sort_column == "age" and not view.sort_reverse
        assert column(view, "key")[:2] == ["daily_summary", "zones"]  # newest first
        await pilot.press("less_than_sign", "less_than_sign", "less_than_sign")
        assert view.sort_column == "key"
        assert column(view, "key") == sorted(str(k) for k in taxi_snapshot.keys)
        assert cursor_key(view) == "zones"


async def test_a_status_change_resorts_a_status_sort(taxi_snapshot: DefinitionsSnapshot) -> None:
    app = ListApp(taxi_snapshot, Clock())
    async with app.run_test(size=(120, 24)) as pilot:
        view = pilot.app.query_one(AssetListView)
        view.sort_column = "status"
        view.statuses = {K("zones"): "fresh"}
        await pilot.pause()
        assert column(view, "key")[0] == "zones"
        view.statuses = {K("zones"): "fresh", K("trips_clean"): "failed"}
        await pilot.pause()
        assert column(view, "key")[:2] == ["trips_clean", "zones"]
        assert "trips_clean" in screen(view)[1]


async def test_header_click_sorts_and_clicking_again_reverses(
    taxi_snapshot: DefinitionsSnapshot,
) -> None:
    app = ListApp(taxi_snapshot, Clock())
    async with app.run_test(size=(120, 24)) as pilot:
        view = pilot.app.query_one(AssetListView)
        await pilot.pause()
        group_x = screen(view)[0].index("Group")
        await pilot.click(AssetListView, offset=(group_x, 0))
        assert view.sort_column == "group" and not view.sort_reverse
        assert column(view, "group") == sorted(column(view, "group"))
        assert len(set(column(view, "group"))) > 1
        await pilot.click(AssetListView, offset=(group_x, 0))
        assert view.sort_reverse
        assert column(view, "group") == sorted(column(view, "group"), reverse=True)


async def test_keys_and_clicks_move_the_cursor_and_post_the_asset(
    taxi_snapshot: DefinitionsSnapshot,
) -> None:
    app = ListApp(taxi_snapshot, Clock())
    async with app.run_test(size=(120, 8)) as pilot:  # 7 rows of 13 on screen
        view = pilot.app.query_one(AssetListView)
        view.focus()
        keys = sorted(str(k) for k in taxi_snapshot.keys)
        assert cursor_key(view) == keys[0]  # the first row, once there are rows
        view.cursor = K("raw_trips")
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        expected = K(keys[keys.index("raw_trips") + 1])
        assert view.cursor == expected and app.moves[-1] == expected
        await pilot.press("end")
        assert cursor_key(view) == keys[-1] and app.moves[-1] == K(keys[-1])
        await pilot.pause()
        assert keys[-1] in screen(view)[-1]  # scrolled to the bottom
        await pilot.press("home")
        assert cursor_key(view) == keys[0]
        await pilot.pause()
        assert keys[0] in screen(view)[1]  # under the header, not behind it
        await pilot.press("pagedown")
        assert view.cursor_row == 7
        await pilot.pause()
        assert keys[7] in "".join(screen(view)[1:])
        await pilot.press("pageup", "up")
        assert view.cursor_row == 0  # stops at the top
        await pilot.click(AssetListView, offset=(2, 3))  # the third row
        assert view.cursor == K(keys[2]) and app.moves[-1] == K(keys[2])
        # A new snapshot keeps the cursor on its asset.
        view.snapshot = build_snapshot_again(taxi_snapshot)
        await pilot.pause()
        assert view.cursor == K(keys[2]) and cursor_key(view) == keys[2]


def build_snapshot_again(snapshot: DefinitionsSnapshot) -> DefinitionsSnapshot:
    return DefinitionsSnapshot(assets=snapshot.assets, load_seconds=snapshot.load_seconds + 1)


def many_assets(count: int) -> DefinitionsSnapshot:
    groups = ("ingest", "transform", "report")
    return DefinitionsSnapshot(
        assets=tuple(
            AssetSnapshot(key=K(f"asset_{i:05d}"), group=groups[i % 3]) for i in range(count)
        )
    )


async def test_only_the_rows_on_screen_are_drawn() -> None:
    app = ListApp(None, Clock())
    async with app.run_test(size=(100, 20)) as pilot:
        view = pilot.app.query_one(CountingList)
        view.focus()
        await pilot.pause()
        view.drawn = 0
        view.snapshot = many_assets(10_000)
        view.statuses = {K(f"asset_{i:05d}"): "fresh" for i in range(0, 10_000, 2)}
        await pilot.pause()
        assert view.row_count == 10_000
        height = view.size.height
        assert view.drawn <= 2 * height  # a frame or two of one screenful, not 10,000 rows
        view.drawn = 0
        await pilot.press("end")
        await pilot.pause()
        assert 0 < view.drawn <= height
        assert "asset_09999" in screen(view)[-1]
        view.drawn = 0
        await pilot.press("up")
        await pilot.pause()
        assert view.drawn == 2  # the rows the cursor left and reached


async def test_no_snapshot_shows_only_the_header() -> None:
    app = ListApp(None, Clock())
    async with app.run_test(size=(100, 10)) as pilot:
        view = pilot.app.query_one(AssetListView)
        await pilot.pause()
        assert view.row_count == 0 and view.cursor_row == -1
        lines = screen(view)
        assert lines[0].split()[:2] == ["Key", "▲"] and not "".join(lines[1:]).strip()
        await pilot.press("down", "end", "pagedown")  # nothing to move to, no error
        assert view.cursor is None


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


async def test_the_list_and_the_graph_follow_each_other(taxi_snapshot: DefinitionsSnapshot) -> None:
    app = BothApp(taxi_snapshot)
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


def test_list_pane_snapshot(snap_compare, taxi_snapshot: DefinitionsSnapshot) -> None:  # type: ignore[no-untyped-def]
    """The header with the sort arrow, aligned columns, stripes, the cursor, each
    status's colour, and a scrollbar for the columns wider than the pane."""
    statuses = {
        K("fare_rates"): "external",
        K("raw_zones"): "fresh",
        K("raw_trips"): "fresh",
        K("zones"): "stale",
        K("trips_clean"): "running",
        K("trips_enriched"): "queued",
        K("borough_stats"): "failed",
        K("hourly_stats"): "overdue",
        K("trip_duration_model"): "check_failed",
        K("zone_leaderboard"): "missing",
        K("daily_summary"): "stale",
    }
    details = {
        K("raw_zones"): Details(NOW - 90_000),
        K("raw_trips"): Details(NOW - 42),
        K("zones"): Details(NOW - 3 * 3600, ("code changed",)),
        K("daily_summary"): Details(None, ("zones was materialized after it",)),
    }

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        view = pilot.app.query_one(AssetListView)
        view.statuses = statuses
        view.details = details
        view.cursor = K("trips_clean")
        view.focus()
        await pilot.pause()

    assert snap_compare(
        ListApp(taxi_snapshot, Clock()), terminal_size=(100, 16), run_before=run_before
    )


# -- the rows, without an app ----------------------------------------------------------


def test_relative_age_and_policy_text() -> None:
    assert ago(0) == "0s ago"
    assert ago(59.9) == "59s ago"
    assert ago(60) == "1m ago"
    assert ago(3 * 3600 + 5) == "3h ago"
    assert ago(2 * 86400) == "2d ago"
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
    assert status_text("check_failed") == "⚑ check failed"
    assert status_text(None) == "· unknown"
    assert status_text("bogus") == "· bogus"  # a status this app does not know yet


def row(name: str, group: str = "g", policy: str = "") -> Row:
    return Row(K(name), name, group, policy)


ROWS = [row("b", group="y", policy="within 1d"), row("a", group="y"), row("d"), row("c")]
STATUSES = {K("b"): "fresh", K("a"): "stale", K("d"): "failed"}
DETAILS = {
    K("b"): Details(NOW - 100),
    K("a"): Details(NOW - 5, ("code changed",)),
    K("c"): Details(NOW - 50, ("a was materialized after it",)),
}


@pytest.mark.parametrize(
    ("column_key", "order"),
    [
        ("key", "abcd"),
        ("group", "cdab"),  # g before y, then by key
        ("status", "dabc"),  # failed, stale, fresh, unknown
        ("age", "acbd"),  # newest first, never materialized last
        ("policy", "bacd"),  # with a policy first
        ("reason", "cabd"),  # with reasons first, by reason
    ],
)
def test_sort_rows(column_key: str, order: str) -> None:
    def names(reverse: bool) -> str:
        return "".join(r.name for r in sort_rows(ROWS, column_key, reverse, STATUSES, DETAILS))

    assert names(False) == order
    assert names(True) == order[::-1]


def test_row_cells_and_ticking_ages() -> None:
    assert row_cells(row("a"), None, None, NOW) == ("a", "g", "· unknown", "", "", "")
    details = Details(NOW - 58, ("x", "y\nz"))
    assert row_cells(row("a", policy="within 1d"), "stale", details, NOW) == (
        "a", "g", "~ stale", "58s ago", "within 1d", "x; y z",
    )  # fmt: skip
    assert [age_text(details, NOW + s) for s in (0, 1, 2, 61, 3600)] == [
        "58s ago", "59s ago", "1m ago", "1m ago", "1h ago",
    ]  # fmt: skip


def test_column_widths_fit_the_widest_cell_or_the_header() -> None:
    widths = column_widths(ROWS, STATUSES, DETAILS, NOW)
    assert widths[0] == len("Key") + 2  # one-letter keys: the header and its arrow
    assert widths[2] == len("· unknown")  # c has no status
    assert widths[3] == len("Materialized") + 2
    assert widths[5] == len("a was materialized after it")
    assert column_widths(ROWS, dict.fromkeys((r.key for r in ROWS), "fresh"), {}, NOW)[2] == 8
    old = {K("a"): Details(NOW - 400 * 86400)}
    later = NOW + 10**13
    assert column_widths(ROWS, {}, old, later)[3] == len(ago(later - NOW + 400 * 86400))
    assert column_widths([row("ключ")], {}, {}, NOW)[0] == len("Key") + 2
    assert column_widths([row("名前の長いアセット")], {}, {}, NOW)[0] == 18  # 2 cells each


async def test_a_burst_of_cursor_moves_reaches_the_parent_as_its_last(
    taxi_snapshot: DefinitionsSnapshot,
) -> None:
    app = ListApp(taxi_snapshot, Clock())
    async with app.run_test(size=(120, 20)) as pilot:
        view = pilot.app.query_one(AssetListView)
        await pilot.pause()
        app.moves.clear()
        for row in [1, 2, 3, 4] * 10:  # a held arrow key
            view.action_cursor_to(row)
        await pilot.pause()
        assert app.moves == [view.key_at(4)]
