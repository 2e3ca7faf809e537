"""Benchmark: the app's list view (`AssetListView`) at 1,000 and 10,000 assets.

Run: ``.venv/bin/python bench/bench_tui_list.py [--sizes 1000,10000] [--moves 200] [--no-old]``

Each size is a synthetic project from `synth.generate`, loaded and turned into a
snapshot once, with a status for every asset (a mix of all of them, half materialized
at some time in the last week, a tenth stale with a reason), as `flowdev.instance.status` hands
them to the app. Then, in a headless app (``run_test``, 120x40), for the list and,
unless ``--no-old``, for the `DataTable` it replaced (``git show
167117c:tui/widgets/asset_list.py``, loaded from a temporary module):

- app order: hand the list its data as the app's ``_sync_list`` does (``snapshot``,
  then ``statuses``, ``details`` and ``cursor``): *set* is the UI-thread time of the
  assignments, *on screen* runs to the end of the first paint that shows the rows;
- statuses first: the same with ``snapshot`` set last (the old list's best case: it
  fills its rows with the statuses instead of updating every cell after);
- all statuses change: every asset's status object replaced (as each poll does) and a
  new status for most, to the end of the paint after it;
- cursor move, two ways, over ``--moves`` moves: *handler + repaint* is the move
  action, then every line of the screen rendered as the compositor asks for them;
  *key to frame* is a key pressed through Pilot (down, and every 50th a page down) to
  the end of the paint that follows;
- held by the list: memory allocated and still held once the rows are on screen
  (tracemalloc, in a run of its own so its overhead stays out of the times).

The snapshot is frozen out of the cyclic GC's reach once built (``gc.freeze()``), as
the app does after each reload.

Showing the list is timed over ``--rounds`` new apps (median, and the range: other
work on the machine moves single figures by 2x). The old list updates a cell by
measuring its whole column again, so "app order" and "all statuses change" are O(n²)
for it: they are timed once, and past ``--old-quadratic-max`` assets skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from flowdev.instance.status import AssetStatus, Status
from flowdev.keys import AssetKey
from flowdev.project.project import find_project, load_definitions
from flowdev.project.snapshot import DefinitionsSnapshot, build_snapshot
from flowdev.tui.widgets import asset_list
from synth import generate
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

WIDTH, HEIGHT = 120, 40
OLD_COMMIT = "167117c"
NOW = time.time()


def load_old() -> ModuleType | None:
    """The `DataTable` list as it was at `OLD_COMMIT`, or None without git."""
    root = Path(__file__).resolve().parent.parent
    try:
        source = subprocess.run(
            ["git", "show", f"{OLD_COMMIT}:tui/widgets/asset_list.py"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp(prefix="flowdev-bench-list-")) / "old_asset_list.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_asset_list", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(base: type[Widget]) -> type[Widget]:
    """``base`` noting when each paint that shows rows ends."""

    class Timed(base):  # type: ignore[valid-type, misc]
        painted: list[float]

        def render_lines(self, crop: Region) -> list[Strip]:
            lines = super().render_lines(crop)
            if self.row_count:
                self.painted.append(time.perf_counter())
            return lines

    Timed.__name__ = base.__name__
    return Timed


class Bench(App[None]):
    CSS_PATH = [Path(asset_list.__file__).with_suffix(".tcss")]

    def __init__(self, view_class: type[Widget]) -> None:
        super().__init__()
        self.view_class = view_class

    def compose(self) -> ComposeResult:
        view: Any = self.view_class()
        view.painted = []
        yield view


def snapshot_of(size: int, root: Path) -> DefinitionsSnapshot:
    return build_snapshot(load_definitions(find_project(generate(root, size))))


def statuses_of(snapshot: DefinitionsSnapshot, seed: int) -> dict[AssetKey, AssetStatus]:
    rng = random.Random(seed)
    kinds = list(Status)
    result = {}
    for asset in snapshot.assets:
        stale = rng.random() < 0.1
        result[asset.key] = AssetStatus(
            key=asset.key,
            status=Status.STALE if stale else rng.choice(kinds),
            stale_reasons=("code version changed",) if stale else (),
            last_materialized=NOW - rng.uniform(0, 7 * 86400) if rng.random() < 0.5 else None,
        )
    return result


def hand_over(view: Any, snapshot: DefinitionsSnapshot, statuses: dict, app_order: bool) -> None:
    """What the app's `_sync_list` does (``app_order``), or the statuses first."""
    names = {key: status.status.value for key, status in statuses.items()}
    if app_order:
        view.snapshot = snapshot
    view.statuses = names
    view.details = statuses
    if not app_order:
        view.snapshot = snapshot
    view.cursor = snapshot.assets[0].key


async def painted_after(view: Any, begin: float) -> float:
    while not any(t > begin for t in view.painted):
        await asyncio.sleep(0.001)
    return next(t for t in view.painted if t > begin) - begin


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"p50 {statistics.median(ms):6.2f}  p95 {p95:6.2f}  max {ms[-1]:6.2f} ms"


def spread(samples: list[float]) -> str:
    """The median of ``samples`` (seconds) in ms, with the range over several rounds."""
    ms = sorted(sample * 1000 for sample in samples)
    median = f"{statistics.median(ms):9.1f} ms"
    return median if len(ms) == 1 else f"{median}  ({ms[0]:.1f} - {ms[-1]:.1f}, {len(ms)} rounds)"


async def shown(
    view_class: type[Widget], snapshot: DefinitionsSnapshot, app_order: bool, refresh: bool
) -> tuple[float, float, float | None]:
    """One round in a new app: set, set to on screen, and all statuses changing."""
    async with Bench(timed(view_class)).run_test(size=(WIDTH, HEIGHT)) as pilot:
        view: Any = pilot.app.screen.children[0]
        view.focus()
        await pilot.pause()
        statuses = statuses_of(snapshot, seed=1)
        begin = time.perf_counter()
        hand_over(view, snapshot, statuses, app_order)
        set_seconds = time.perf_counter() - begin
        on_screen = await painted_after(view, begin)
        await pilot.pause()
        if not refresh:
            return set_seconds, on_screen, None
        again = statuses_of(snapshot, seed=2)
        begin = time.perf_counter()
        view.statuses = {key: status.status.value for key, status in again.items()}
        view.details = again
        changed = await painted_after(view, begin)
    return set_seconds, on_screen, changed


async def moved(view_class: type[Widget], snapshot: DefinitionsSnapshot, moves: int) -> dict:
    """Cursor moves, by the action and by key, once the rows are on screen."""
    async with Bench(timed(view_class)).run_test(size=(WIDTH, HEIGHT)) as pilot:
        view: Any = pilot.app.screen.children[0]
        view.focus()
        await pilot.pause()
        hand_over(view, snapshot, statuses_of(snapshot, seed=1), app_order=False)
        await painted_after(view, 0.0)
        await pilot.pause()
        down = getattr(view, "action_cursor_down", None) or (lambda: view.action_cursor_by(1))
        handler = []
        for _ in range(moves):
            begin = time.perf_counter()
            down()
            for y in range(view.size.height):
                view.render_line(y)
            handler.append(time.perf_counter() - begin)
        await pilot.pause()
        frames = []
        for i in range(moves):
            begin = time.perf_counter()
            await pilot.press("pagedown" if i % 50 == 49 else "down")
            frames.append(await painted_after(view, begin))
    return {
        "move: handler + repaint": percentiles(handler),
        "move: key to frame": percentiles(frames),
    }


async def measure(
    view_class: type[Widget],
    snapshot: DefinitionsSnapshot,
    moves: int,
    rounds: int,
    quadratic: bool,
) -> dict[str, str]:
    """The figures for one list. ``quadratic``: also the paths that are O(n²) in the
    old list (measured once: they take seconds)."""
    figures = {}
    skipped = "skipped (quadratic)"
    slow_rounds = rounds if view_class is asset_list.AssetListView else 1
    if quadratic:
        app_rounds = [
            await shown(view_class, snapshot, app_order=True, refresh=False)
            for _ in range(slow_rounds)
        ]
        figures["app order: set"] = spread([r[0] for r in app_rounds])
        figures["app order: on screen"] = spread([r[1] for r in app_rounds])
    else:
        figures["app order: on screen"] = skipped
    first_rounds = [
        await shown(view_class, snapshot, app_order=False, refresh=quadratic and i < slow_rounds)
        for i in range(rounds)
    ]
    figures["statuses first: set"] = spread([r[0] for r in first_rounds])
    figures["statuses first: on screen"] = spread([r[1] for r in first_rounds])
    changes = [r[2] for r in first_rounds if r[2] is not None]
    figures["all statuses change"] = spread(changes) if changes else skipped
    figures.update(await moved(view_class, snapshot, moves))
    return figures


async def held(view_class: type[Widget], snapshot: DefinitionsSnapshot) -> str:
    app = Bench(timed(view_class))
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        view: Any = app.screen.children[0]
        await pilot.pause()
        statuses = statuses_of(snapshot, seed=1)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        begin = time.perf_counter()
        hand_over(view, snapshot, statuses, app_order=False)
        await painted_after(view, begin)
        await pilot.pause()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    return f"{(after - before) / 2**20:8.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of showing the list")
    parser.add_argument("--no-old", action="store_true", help="skip the old DataTable list")
    parser.add_argument(
        "--old-quadratic-max",
        type=int,
        default=1000,
        help="measure the old list's O(n²) paths only up to this many assets",
    )
    args = parser.parse_args()
    old = None if args.no_old else load_old()
    views: list[tuple[str, type[Widget]]] = [("Line API", asset_list.AssetListView)]
    if old is not None:
        views.append((f"DataTable ({OLD_COMMIT})", old.AssetListView))
    root = Path(tempfile.mkdtemp(prefix="flowdev-bench-list-"))
    print(f"python {sys.version.split()[0]}, terminal {WIDTH}x{HEIGHT}")
    for size in (int(n) for n in args.sizes.split(",")):
        snapshot = snapshot_of(size, root)
        gc.freeze()  # as the app does after each reload, so collections skip the snapshot
        for label, view_class in views:
            quadratic = view_class is asset_list.AssetListView or size <= args.old_quadratic_max
            figures = asyncio.run(measure(view_class, snapshot, args.moves, args.rounds, quadratic))
            figures["held by the list"] = asyncio.run(held(view_class, snapshot))
            print(f"\n{len(snapshot):,} assets, {label}")
            for name, value in figures.items():
                print(f"  {name:<26} {value}", flush=True)


if __name__ == "__main__":
    main()
