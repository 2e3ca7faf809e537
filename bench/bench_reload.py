"""Benchmark: save-to-snapshot latency of the watcher, beside the cold-import floor.

Run: ``python bench/bench_reload.py [--repeat 15] [--sizes 100,1000]``

For each project (the sample project, synthetic projects of --sizes assets, and a small
project that imports a heavy third-party package) the bench watches it in-process with
`watch_project`, as the app does, then saves one of its files ``--repeat`` times (a
module-level edit, after three warm-up saves) and times each save from the moment
before the file is written to the moment the `Reloaded` event is delivered. Medians.

Side by side, measured in the same run as medians of whole processes:

- floor: ``python -c "import <the project's definitions module>"``, what any reload
  that starts a fresh interpreter pays at least (for the heavy project, also
  ``python -c "import <the heavy package>"``);
- cold load: `load_project`, a spawned child that loads the project and reports back.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from flowdev.project.loader import load_project
from flowdev.project.project import find_project
from flowdev.project.watch import Reloaded, watch_project
from synth import generate

REPO = Path(__file__).resolve().parent.parent
HEAVY_PACKAGE = "textual.app"  # the slowest import installed with flowdev (~180 ms here)
HEAVY_PROJECT = f"""
import {HEAVY_PACKAGE}

import flowdev as dg


@dg.asset
def screens() -> list[str]:
    return ["graph", "runs", "logs"]


@dg.asset
def screen_count(screens: list[str]) -> int:
    return len(screens)


defs = dg.Definitions(assets=[screens, screen_count])
"""


@dataclass
class Case:
    name: str
    root: Path
    module: str  # the definitions module, for the floor
    edited: Path  # the file the bench saves


def median_process_seconds(command: list[str], cwd: Path, repeat: int) -> float:
    """Median wall time of ``command`` as a whole process (after one warm-up run)."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def cold_load_seconds(case: Case, repeat: int) -> float:
    project = find_project(case.root)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        loaded = load_project(project)
        samples.append(time.perf_counter() - started)
        assert not hasattr(loaded, "kind"), loaded
    return statistics.median(samples)


async def reload_latencies(case: Case, repeat: int) -> tuple[list[float], list[float]]:
    """Seconds from each save to its `Reloaded`, and each load's own share of it."""
    project = find_project(case.root)
    original = case.edited.read_text()
    latencies: list[float] = []
    loads: list[float] = []
    events = watch_project(project)
    try:
        first = await anext(events)
        assert isinstance(first, Reloaded), first
        for number in range(3 + repeat):
            await asyncio.sleep(0.25)
            saved = time.perf_counter()
            case.edited.write_text(f"{original}\nBENCH_EDIT = {number}\n")
            event = await anext(events)
            delivered = time.perf_counter()
            assert isinstance(event, Reloaded), event.error.describe()  # type: ignore[union-attr]
            if number >= 3:
                latencies.append(delivered - saved)
                loads.append(event.ms / 1000)
    finally:
        await events.aclose()  # type: ignore[attr-defined]
        case.edited.write_text(original)
    return latencies, loads


def make_cases(work: Path, sizes: list[int]) -> list[Case]:
    sample = work / "sample_project"
    shutil.copytree(
        REPO / "sample_project",
        sample,
        ignore=shutil.ignore_patterns("data", ".flowdev", "__pycache__"),
    )
    heavy = work / "heavy_project"
    heavy.mkdir()
    (heavy / "pyproject.toml").write_text('[tool.flowdev]\nmodule = "heavy_defs"\n')
    (heavy / "heavy_defs.py").write_text(HEAVY_PROJECT.lstrip())
    for root in (sample, heavy):
        compileall.compile_dir(root, quiet=1)
    cases = [
        Case("sample project", sample, "taxi.definitions", sample / "taxi/assets/transform.py")
    ]
    for size in sizes:
        root = generate(work, size)
        package = root.name
        cases.append(
            Case(f"{size:,} assets", root, f"{package}.definitions", root / package / "assets_0.py")
        )
    cases.append(Case(f"imports {HEAVY_PACKAGE}", heavy, "heavy_defs", heavy / "heavy_defs.py"))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--sizes", default="100,1000")
    args = parser.parse_args()
    python = sys.executable
    import flowdev

    compileall.compile_dir(Path(flowdev.__file__).parent, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="flowdev-bench-reload-"))
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; save-to-snapshot: median "
        f"of {args.repeat} saves; floors and cold loads: median of 7 processes"
    )
    print(
        f"\n{'project':<22} {'reload':>8} {'(load)':>8} {'floor':>8} {'ratio':>6} "
        f"{'cold load':>10}  heavy package alone"
    )
    try:
        for case in make_cases(work, [int(s) for s in args.sizes.split(",")]):
            floor = median_process_seconds([python, "-c", f"import {case.module}"], case.root, 7)
            heavy = ""
            if case.module == "heavy_defs":
                alone = median_process_seconds(
                    [python, "-c", f"import {HEAVY_PACKAGE}"], case.root, 7
                )
                heavy = f"{alone * 1000:.0f} ms"
            cold = cold_load_seconds(case, 7)
            latencies, loads = asyncio.run(reload_latencies(case, args.repeat))
            reload = statistics.median(latencies)
            print(
                f"{case.name:<22} {reload * 1000:>6.0f}ms {statistics.median(loads) * 1000:>6.0f}ms"
                f" {floor * 1000:>6.0f}ms {reload / floor:>5.2f}x {cold * 1000:>8.0f}ms  {heavy}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
