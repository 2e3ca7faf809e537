"""The asset graph pane, driven with Pilot on the sample project and on big synthetic
graphs: the cursor follows edges, the view follows the cursor, statuses, marks and
highlights restyle without a new layout, focus mode draws the N-hop selection, and a
new snapshot keeps the cursor where it was."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from flowdev.drawing.grid import build_grid
from flowdev.drawing.layout import compute_layout
from flowdev.keys import AssetKey
from flowdev.project.snapshot import AssetSnapshot, DefinitionsSnapshot
from flowdev.records import replace
from flowdev.selection.graph import AssetGraph, AssetNode
from flowdev.selection.syntax import select
from flowdev.tui.widgets import asset_graph
from flowdev.tui.widgets.asset_graph import AssetGraphView
from flowdev.tui.widgets.graph_drawing import short_key
from flowdev.tui.widgets.status import STATUS_GLYPHS
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

pytestmark = pytest.mark.anyio

GRAPH_CSS = Path(asset_graph.__file__).with_suffix(".tcss")
K = AssetKey


def synthetic(count: int, *, window: int = 8, seed: int = 3) -> DefinitionsSnapshot:
    """``count`` assets in three groups, each with 1-2 parents among the ``window`` before."""
    rng = random.Random(seed)
    keys = [K(["synth", f"asset_{i:05d}"]) for i in range(count)]
    assets = []
    for i, key in enumerate(keys):
        picks = (
            {rng.randrange(max(0, i - window), i) for _ in range(rng.choice((1, 2)))}
            if i
            else set()
        )
        assets.append(
            AssetSnapshot(
                key=key,
                deps=tuple(keys[p] for p in sorted(picks)),
                group=("ingest", "transform", "report")[3 * i // count],
            )
        )
    return DefinitionsSnapshot(assets=tuple(assets))


class GraphApp(App[None]):
    """The pane alone, as the app will hold it: it owns `marked` and records messages."""

    CSS_PATH = [GRAPH_CSS]

    def __init__(self, snapshot: DefinitionsSnapshot | None) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.moves: list[AssetKey | None] = []
        self.layouts = 0

    def compose(self) -> ComposeResult:
        yield AssetGraphView(self.snapshot)

    def on_asset_graph_view_cursor_moved(self, message: AssetGraphView.CursorMoved) -> None:
        self.moves.append(message.key)

    def on_asset_graph_view_mark_toggled(self, message: AssetGraphView.MarkToggled) -> None:
        message.view.marked = message.view.marked ^ {message.key}

    def on_asset_graph_view_layout_ready(self, message: AssetGraphView.LayoutReady) -> None:
        self.layouts += 1


async def laid_out(pilot: Pilot[None]) -> AssetGraphView:
    """The view, once its layout worker is done and its drawing is on screen."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()  # the drawing's message, then what the view posts about it
    return pilot.app.query_one(AssetGraphView)


def visible(view: AssetGraphView) -> Region:
    """The part of the virtual space on screen."""
    return Region(view.scroll_offset.x, view.scroll_offset.y, *view.size)


def drawn_text(view: AssetGraphView, key: AssetKey) -> str:
    """The text of ``key``'s node as rendered now (it must be on screen)."""
    region = view.region_of(key)
    assert region is not None
    assert visible(view).contains_region(region), (key, region, visible(view))
    strip = view.render_line(region.y - view.scroll_offset.y)
    start = region.x - view.scroll_offset.x
    return strip.text[start : start + region.width]


async def test_every_asset_is_drawn_with_its_status_glyph_at_80x24(
    taxi_snapshot: DefinitionsSnapshot,
) -> None:
    statuses = {
        a.key: status for a, status in zip(taxi_snapshot.assets, [*STATUS_GLYPHS] * 2, strict=False)
    }
    app = GraphApp(taxi_snapshot)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await laid_out(pilot)
        view.statuses = statuses
        assert view.drawn_keys == set(taxi_snapshot.keys)
        for asset in taxi_snapshot.assets:
            view.cursor = asset.key  # the view scrolls to it
            await pilot.pause()
            glyph = STATUS_GLYPHS[statuses[asset.key]]
            assert f"{glyph} {asset.key.to_user_string()}" in drawn_text(view, asset.key)
        for y in range(view.size.height):
            assert view.render_line(y).cell_length == 80
        screen = app.export_screenshot()
        assert "[ingest]" in screen or "[report]" in screen  # groups are labelled


async def test_arrows_and_hjk_follow_edges(taxi_snapshot: DefinitionsSnapshot) -> None:
    graph = taxi_snapshot.asset_graph
    app = GraphApp(taxi_snapshot)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await laid_out(pilot)
        view.cursor = K("trips_clean")
        await pilot.press("j")
        assert view.cursor == K("trips_enriched")  # its only child
        await pilot.press("k")
        assert view.cursor in graph.parents(K("trips_enriched"))
        view.cursor = K("fare_rates")
        await pilot.press("down")
        assert view.cursor == K("fare_anomalies")
        await pilot.press("up")
        assert view.cursor in graph.parents(K("fare_anomalies"))
        view.cursor = K("daily_summary")
        await pilot.press("down")  # nothing below the last layer
        assert view.cursor == K("daily_summary")
        # Left and right stay in the layer, one asset at a time, and undo each other.
        view.cursor = K("borough_stats")
        start = view.region_of(K("borough_stats"))
        await pilot.press("right")
        right = view.cursor
        assert right is not None and right != K("borough_stats")
        moved = view.region_of(right)
        assert start is not None and moved is not None
        assert moved.y == start.y and moved.x > start.x
        await pilot.press("h")
        assert view.cursor == K("borough_stats")
        await pilot.pause()
    assert app.moves[-3:] == [K("borough_stats"), right, K("borough_stats")]


async def test_clicking_a_node_moves_the_cursor(taxi_snapshot: DefinitionsSnapshot) -> None:
    app = GraphApp(taxi_snapshot)
    async with app.run_test(size=(100, 30)) as pilot:
        view = await laid_out(pilot)
        target = K("zones")
        view.cursor = target
        await pilot.pause()
        region = view.region_of(target)
        assert region is not None
        view.cursor = K("raw_zones")
        await pilot.pause()
        x, y = region.x - view.scroll_offset.x + 2, region.y - view.scroll_offset.y
        await pilot.click(AssetGraphView, offset=(x, y))
        assert view.cursor == target


async def test_the_view_follows_the_cursor_on_a_big_graph() -> None:
    snapshot = synthetic(3000)
    app = GraphApp(snapshot)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await laid_out(pilot)
        assert view.virtual_size.height > 200 and view.virtual_size.width > 80
        seen = set()
        for key in ["j"] * 40 + ["right"] * 15 + ["j"] * 10 + ["left"] * 5 + ["k"] * 20:
            await pilot.press(key)
            assert view.cursor is not None
            seen.add(view.cursor)
            region = view.region_of(view.cursor)
            assert region is not None and visible(view).contains_region(region)
        assert len(seen) > 40
        assert view.scroll_offset.y > 0


async def test_statuses_restyle_without_a_new_layout(taxi_snapshot: DefinitionsSnapshot) -> None:
    app = GraphApp(taxi_snapshot)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await laid_out(pilot)
        key = K("raw_zones")
        view.cursor = K("zones")  # raw_zones is drawn, but not under the cursor
        await pilot.pause()
        assert "· raw_zones" in drawn_text(view, key)  # no status known yet
        layouts = app.layouts
        view.statuses = {key: "fresh"}
        await pilot.pause()
        assert "✓ raw_zones" in drawn_text(view, key)
        fresh = _node_style(view, key)
        view.statuses = {key: "failed"}
        await pilot.pause()
        assert "✗ raw_zones" in drawn_text(view, key)
        assert _node_style(view, key).color != fresh.color
        view.highlighted = frozenset({key})
        await pilot.pause()
        assert _node_style(view, key).underline
        assert app.layouts == layouts and not app.workers


def _node_style(view: AssetGraphView, key: AssetKey):  # type: ignore[no-untyped-def]
    region = view.region_of(key)
    assert region is not None
    strip = view.render_line(region.y - view.scroll_offset.y)
    x = region.x - view.scroll_offset.x + 2  # inside the node's text
    for segment in strip.crop(x, x + 1):
        return segment.style
    raise AssertionError("nothing drawn there")


async def test_space_marks_through_the_parent(taxi_snapshot: DefinitionsSnapshot) -> None:
    app = GraphApp(taxi_snapshot)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await laid_out(pilot)
        view.cursor = K("zones")
        await pilot.press("space")
        assert view.marked == {K("zones")}
        assert "*" in drawn_text(view, K("zones"))
        view.cursor = K("raw_zones")
        await pilot.press("space")
        assert view.marked == {K("zones"), K("raw_zones")}
        assert "*" in drawn_text(view, K("zones"))
        await pilot.press("space")
        assert view.marked == {K("zones")}
        assert "*" not in drawn_text(view, K("raw_zones"))


async def test_focus_mode_draws_exactly_the_n_hop_selection(
    taxi_snapshot: DefinitionsSnapshot,
) -> None:
    graph = taxi_snapshot.asset_graph
    app = GraphApp(taxi_snapshot)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await laid_out(pilot)
        view.cursor = K("trips_enriched")
        await pilot.press("z")
        await laid_out(pilot)
        assert view.focus_depth == 2
        assert view.drawn_keys == select(graph, '2+key:"trips_enriched"+2')
        await pilot.press("minus")
        await laid_out(pilot)
        assert view.drawn_keys == select(graph, "1+key:trips_enriched+1")
        await pilot.press("minus")  # never under one hop
        assert view.focus_depth == 1
        await pilot.press("plus", "plus")
        await laid_out(pilot)
        assert view.drawn_keys == select(graph, "3+key:trips_enriched+3")
        # The focus follows the cursor.
        view.focus_depth = 1
        await laid_out(pilot)
        await pilot.press("j")
        await laid_out(pilot)
        assert view.cursor in graph.children(K("trips_enriched"))
        assert view.drawn_keys == select(graph, f"1+key:{view.cursor}+1")
        await pilot.press("z")
        await laid_out(pilot)
        assert view.focus_depth is None and view.drawn_keys == set(taxi_snapshot.keys)
        await pilot.press("plus")  # no focus mode: nothing to deepen
        assert view.focus_depth is None


async def test_cursor_stays_on_its_asset_across_snapshots(
    taxi_snapshot: DefinitionsSnapshot,
) -> None:
    app = GraphApp(taxi_snapshot)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await laid_out(pilot)
        view.cursor = K("zones")
        await pilot.pause()
        on_screen = _screen_position(view, K("zones"))
        # A reload that adds an asset: same cursor, same place on the screen.
        added = AssetSnapshot(key=K("zones_audit"), deps=(K("zones"),), group="transform")
        view.snapshot = DefinitionsSnapshot(assets=(*taxi_snapshot.assets, added))
        view.cursor = K("zones")
        await laid_out(pilot)
        assert K("zones_audit") in view.drawn_keys
        assert view.cursor == K("zones")
        assert _screen_position(view, K("zones")) == on_screen
        # A reload without the cursor's asset: the nearest survivor, parents first.
        view.snapshot = _without(taxi_snapshot, K("zones"))
        await laid_out(pilot)
        assert view.cursor == K("raw_zones")
        assert K("zones") not in view.drawn_keys
        region = view.region_of(K("raw_zones"))
        assert region is not None and visible(view).contains_region(region)


def _screen_position(view: AssetGraphView, key: AssetKey) -> tuple[int, int]:
    region = view.region_of(key)
    assert region is not None
    return region.x - view.scroll_offset.x, region.y - view.scroll_offset.y


def _without(snapshot: DefinitionsSnapshot, gone: AssetKey) -> DefinitionsSnapshot:
    return DefinitionsSnapshot(
        assets=tuple(
            replace(asset, deps=tuple(d for d in asset.deps if d != gone))
            for asset in snapshot.assets
            if asset.key != gone
        )
    )


async def test_a_resize_keeps_the_cursor_on_screen() -> None:
    app = GraphApp(synthetic(600))
    async with app.run_test(size=(120, 40)) as pilot:
        view = await laid_out(pilot)
        await pilot.press(*["j"] * 25, *["right"] * 6)
        await pilot.resize_terminal(60, 16)
        await pilot.pause()
        await pilot.pause()
        region = view.region_of(view.cursor) if view.cursor else None
        assert region is not None and visible(view).contains_region(region)


async def test_no_snapshot_draws_nothing() -> None:
    app = GraphApp(None)
    async with app.run_test(size=(40, 10)) as pilot:
        view = pilot.app.query_one(AssetGraphView)
        await pilot.press("j", "space", "z")
        assert view.cursor is None and view.drawn_keys == set()
        assert view.render_line(0).text == " " * 40


def test_graph_pane_snapshot(snap_compare, taxi_snapshot: DefinitionsSnapshot) -> None:  # type: ignore[no-untyped-def]
    statuses = {
        K("fare_rates"): "external",
        K("raw_zones"): "fresh",
        K("raw_trips"): "fresh",
        K("raw_weather"): "fresh",
        K("zones"): "stale",
        K("trips_clean"): "running",
        K("trips_enriched"): "queued",
        K("borough_stats"): "failed",
        K("hourly_stats"): "overdue",
        K("trip_duration_model"): "check_failed",
        K("zone_leaderboard"): "missing",
        K("fare_anomalies"): "missing",
        K("daily_summary"): "stale",
    }

    async def run_before(pilot: Pilot[None]) -> None:
        view = await laid_out(pilot)
        view.statuses = statuses
        view.marked = frozenset({K("zones"), K("daily_summary")})
        view.highlighted = frozenset({K("zones")})
        view.cursor = K("trips_enriched")
        await pilot.pause()

    assert snap_compare(GraphApp(taxi_snapshot), terminal_size=(80, 24), run_before=run_before)


# -- the drawing core the pane draws from ---------------------------------------------


def test_short_key_keeps_the_end() -> None:
    assert short_key(K("orders"), 20) == "orders"
    assert short_key(K(["warehouse", "marts", "orders"]), 16) == "…/marts/orders"
    assert short_key(K(["warehouse", "marts", "orders"]), 10) == "…/orders"
    long = short_key(K("order_lines_by_customer_daily"), 15)
    assert len(long) == 15 and long.startswith("order_") and long.endswith("_daily")


def test_groups_stay_together_in_each_layer() -> None:
    snapshot = synthetic(300, window=30)
    graph = snapshot.asset_graph
    layout = compute_layout(graph, by_group=True)
    for row in layout.layers:
        groups = [graph.node(n).group_name for n in row if isinstance(n, AssetKey)]
        runs = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
        assert len(runs) == len(set(runs)), runs
    assert {k for row in layout.layers for k in row if isinstance(k, AssetKey)} == set(graph.keys)


def test_a_channel_drawn_in_pieces_is_the_channel_drawn_whole() -> None:
    # What the pane does on every frame: draw only the visible columns of a row.
    graph = AssetGraph(
        AssetNode(key=asset.key, parents=asset.deps, group_name=asset.group)
        for asset in synthetic(400, window=40).assets
    )
    layout = compute_layout(graph, by_group=True)
    labels = {key: f"[{graph.node(key).group_name}]" for key in graph.keys}
    grid = build_grid(
        layout, {k: 12 for k in graph.keys}, padding=2, group_labels=labels, strict=False
    )
    assert grid is not None
    for channel in grid.channels[:5]:
        for row in range(channel.height):
            whole = channel.line(row, 0, grid.width)
            pieces = "".join(
                channel.line(row, x, min(x + 37, grid.width)) for x in range(0, grid.width, 37)
            )
            assert pieces == whole
    for layer, items in enumerate(grid.items):
        for start in range(0, grid.width, 50):
            found = grid.items_between(layer, start, start + 50)
            expected = [
                i
                for i in range(len(items))
                if grid.lefts[layer][i] < start + 50
                and grid.lefts[layer][i] + grid.widths[layer][i] > start
            ]
            assert list(found) == expected


async def test_no_color_keeps_the_cursor_and_glyphs_visible(
    taxi_snapshot: DefinitionsSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = GraphApp(taxi_snapshot)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await laid_out(pilot)
        view.statuses = {K("zones"): "stale"}
        view.cursor = K("zones")
        await pilot.pause()
        assert app.no_color
        assert "~ zones" in drawn_text(view, K("zones"))
        assert _node_style(view, K("zones")).reverse


async def test_a_burst_of_cursor_moves_reaches_the_parent_as_its_last(
    taxi_snapshot: DefinitionsSnapshot,
) -> None:
    app = GraphApp(taxi_snapshot)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await laid_out(pilot)
        app.moves.clear()
        # A held key moves the cursor faster than the parent handles the messages.
        for key in [K("raw_trips"), K("trips_clean"), K("trips_enriched")] * 10:
            view.cursor = key
        await pilot.pause()
        assert app.moves == [K("trips_enriched")]
        # Moves the parent keeps up with all arrive, one each.
        for key in (K("raw_trips"), K("zones")):
            view.cursor = key
            await pilot.pause()
        assert app.moves == [K("trips_enriched"), K("raw_trips"), K("zones")]
