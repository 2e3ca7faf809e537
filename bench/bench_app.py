"""Benchmark: the whole app — first frame, graph on screen, log streaming, memory.

Run: ``python bench/bench_app.py [--sizes 100,1000,10000]``

For synthetic projects of each size, in a headless app (Textual's ``run_test`` at
160x48, the real watcher, loader child process and poller):

- first frame: app start to its first screen refresh (before the definitions load);
- graph on screen: app start to the graph pane's first drawing of the loaded project;
- log streaming: 10,000 log lines arriving in batches of 100 (what the poller hands
  over at 4 Hz from a chatty run), the UI-thread time of each batch: appending it and
  rendering every visible row of the pane, as p50 / p95 / max;
- RSS of the process tree: the app process plus every child (loader fork server and
  its children) once the graph is on screen.

Targets (issue 6): graph on screen within 1 s at 1,000 assets; the tree under 200 MB
at 10,000. For scale: `dagster dev` took 6.1 s to be ready at 10 assets and 10.2 s at
1,000 here, in five processes holding 630-680 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synth import generate


async def measure(project_dir: Path) -> dict[str, float]:
    import psutil
    from flowdev.instance.runlog import LogLine
    from flowdev.project.project import find_project
    from flowdev.tui.app import FlowdevApp

    started = time.perf_counter()
    app = FlowdevApp(find_project(project_dir))
    async with app.run_test(size=(160, 48)) as pilot:
        first_frame = time.perf_counter() - started
        while not app.graph_view.drawn_keys:
            await pilot.pause(0.01)
        graph = time.perf_counter() - started
        process = psutil.Process()
        tree = [process, *process.children(recursive=True)]
        rss = sum(p.memory_info().rss for p in tree if p.is_running())
        batches = []
        now = time.time()
        for batch in range(100):
            lines = [
                LogLine(
                    timestamp=now,
                    run_id="bench",
                    step_key="a1",
                    level="OUTPUT",
                    text=f"batch {batch} line {n}: some output a user's code printed",
                )
                for n in range(100)
            ]
            began = time.perf_counter()
            app.log_view.append(lines)
            # The repaint of the pane: every visible row rendered (what a frame costs).
            for y in range(app.log_view.size.height):
                app.log_view.render_line(y)
            batches.append(time.perf_counter() - began)
            await pilot.pause()
    batches.sort()
    return {
        "first_frame": first_frame,
        "graph": graph,
        "rss_mb": rss / 2**20,
        "log_p50": statistics.median(batches),
        "log_p95": batches[int(len(batches) * 0.95)],
        "log_max": batches[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flowdev-bench-app-"))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"{'assets':>7} {'1st frame':>10} {'graph':>8} {'log batch p50/p95/max':>24} RSS tree")
    for size in (int(s) for s in args.sizes.split(",")):
        project_dir = generate(work, size)
        os.environ["FLOWDEV_HOME"] = str(project_dir / ".flowdev")
        figures = asyncio.run(measure(project_dir))
        print(
            f"{size:>7} {figures['first_frame']:>9.2f}s {figures['graph']:>7.2f}s "
            f"{figures['log_p50'] * 1000:>9.1f} / {figures['log_p95'] * 1000:.1f} / "
            f"{figures['log_max'] * 1000:.1f} ms {figures['rss_mb']:>7.0f} MB"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
