"""Benchmark: the app's asset graph pane (`AssetGraphView`) at 100, 1,000 and 10,000 assets.

Run: ``.venv/bin/python bench/bench_tui_graph.py [--sizes 100,1000,10000] [--moves 200]``

Each size is a synthetic project from `synth.generate` (1-2 parents drawn from all the
earlier assets, three groups), loaded and turned into a snapshot once. Then, in a
headless app (``run_test``, 120x40):

- layout: the worker's time (`compute_layout` + `build_grid`), from `LayoutReady`;
- first graph: setting ``snapshot`` to the end of the first paint of the drawing;
- UI stall while laying out: the longest gap between ticks of a 10 ms timer on the UI
  thread, from just before the snapshot is set to just after the layout is handed
  back (the layout thread shares the GIL; 10 ms is no stall at all);
- cursor move, two ways, over ``--moves`` moves (down, right, up, left in turn):
  *handler + repaint*: the move action, then every line of the screen rendered as the
  compositor asks for them (cached lines are hits; when the view scrolls, most miss);
  *key to frame*: a key pressed through Pilot to the end of the paint that follows
  (includes Textual's event dispatch and frame scheduling);
- a cold screenful: all 40 lines rendered with an empty strip cache.

The slowest frames at 10,000 assets are the cyclic GC's generation-2 passes over every
object the process tracks (the snapshot, its graph and the drawing among them);
``--freeze`` shows the frames once those are frozen, as `load_definitions` does.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from flowdev.project.project import find_project, load_definitions
from flowdev.project.snapshot import DefinitionsSnapshot, build_snapshot
from flowdev.tui.widgets import AssetGraphView, asset_graph
from synth import generate
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip

WIDTH, HEIGHT = 120, 40


class TimedGraph(AssetGraphView):
    """Notes when each paint of a drawing ends."""

    painted: list[float]

    def render_lines(self, crop: Region) -> list[Strip]:
        lines = super().render_lines(crop)
        if self.virtual_size.height:
            self.painted.append(time.perf_counter())
        return lines


class Bench(App[None]):
    CSS_PATH = [Path(asset_graph.__file__).with_suffix(".tcss")]

    def __init__(self) -> None:
        super().__init__()
        self.ready: list[tuple[float, float]] = []  # (when, layout seconds)
        self.ticks: list[float] = []

    def compose(self) -> ComposeResult:
        view = TimedGraph()
        view.painted = []
        yield view

    def on_asset_graph_view_layout_ready(self, message: AssetGraphView.LayoutReady) -> None:
        self.ready.append((time.perf_counter(), message.seconds))

    def tick(self) -> None:
        self.ticks.append(time.perf_counter())


def snapshot_of(size: int, root: Path) -> DefinitionsSnapshot:
    return build_snapshot(load_definitions(find_project(generate(root, size))))


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"p50 {statistics.median(ms):6.2f}  p95 {p95:6.2f}  max {ms[-1]:6.2f} ms"


async def measure(snapshot: DefinitionsSnapshot, moves: int, freeze: bool) -> dict[str, str]:
    app = Bench()
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        view = app.query_one(TimedGraph)
        await pilot.pause()
        timer = app.set_interval(0.01, app.tick)
        started = time.perf_counter()
        view.snapshot = snapshot
        while not app.ready:
            await asyncio.sleep(0.005)
        await pilot.pause()
        while not view.painted:
            await asyncio.sleep(0.001)
        first = view.painted[0] - started
        timer.stop()
        ready_at, layout_seconds = app.ready[0]
        # From the last tick before the snapshot to the first after the layout.
        before = [t for t in app.ticks if t < started][-1:]
        after = [t for t in app.ticks if t > ready_at][:1]
        during = before + [t for t in app.ticks if started <= t <= ready_at] + after
        stall = max((b - a for a, b in itertools.pairwise(during)), default=0.0)

        if freeze:
            gc.freeze()  # what an app can do once a snapshot is drawn
        keys = ["down", "right", "up", "left"]
        handler = []
        for i in range(moves):
            begin = time.perf_counter()
            view.action_move(keys[i % 4] if i % 8 < 4 else "down")
            for y in range(view.size.height):
                view.render_line(y)
            handler.append(time.perf_counter() - begin)
        await pilot.pause()

        frames = []
        for i in range(moves):
            view.painted.clear()
            begin = time.perf_counter()
            await pilot.press(keys[i % 4] if i % 8 < 4 else "j")
            if view.painted:
                frames.append(view.painted[-1] - begin)

        cold = []
        for _ in range(20):
            view._strips.clear()  # a bench may look inside: the cache, emptied
            begin = time.perf_counter()
            for y in range(view.size.height):
                view.render_line(y)
            cold.append(time.perf_counter() - begin)
    return {
        "assets": f"{len(snapshot):,}",
        "drawing": f"{view.virtual_size.width:,} x {view.virtual_size.height:,}",
        "layout": f"{layout_seconds:.3f} s",
        "first graph": f"{first:.3f} s",
        "UI stall (10 ms ticks)": f"{stall * 1000:.0f} ms",
        "move: handler + repaint": percentiles(handler),
        "move: key to frame": percentiles(frames) if frames else "-",
        "cold screenful": percentiles(cold),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument(
        "--freeze",
        action="store_true",
        help="gc.freeze() once the graph is drawn, so gen-2 collections skip it",
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="flowdev-bench-tui-"))
    print(f"python {sys.version.split()[0]}, terminal {WIDTH}x{HEIGHT}")
    for size in (int(n) for n in args.sizes.split(",")):
        snapshot = snapshot_of(size, root)
        figures = asyncio.run(measure(snapshot, args.moves, args.freeze))
        print()
        for name, value in figures.items():
            print(f"  {name:<24} {value}", flush=True)


if __name__ == "__main__":
    main()
