"""Benchmark: the parallel (multiprocess) executor against the serial (in-process) one.

Run: ``python bench/bench_executors.py [--repeat 5] [--sizes 1000]``

Every figure is a whole ``flowdev materialize`` command (Enter to prompt), the two
executors alternating run by run on one project, so both see the same load; the
serial executor is the baseline measured in the same run.

- independent slow steps: two 2-second assets and a downstream of both, the run (first
  STEP_START to its last event) and the whole command (target: the parallel run
  ≤ 2.4 s, where serial needs 4 s and more);
- N trivial assets end to end (synthetic projects, each asset reading one or two
  earlier ones through the filesystem IO manager): target, parallel no slower than
  serial by more than 10%;
- per-step overhead: the same N trivial assets with ``max_concurrent=1``, so nothing
  overlaps: (parallel - serial) / N, measured inside the run (first STEP_START to the
  last event), the time the executor adds per step (target ≤ 2 ms).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from flowdev.events import EventKind
from flowdev.instance.storage import Storage
from flowdev.project.project import find_project
from synth import generate

SLOW = """
    import time
    from flowdev import asset, Definitions

    @asset
    def slow_left():
        time.sleep(2)
        return 1

    @asset
    def slow_right():
        time.sleep(2)
        return 2

    @asset
    def joined(slow_left, slow_right):
        return slow_left + slow_right

    defs = Definitions(assets=[slow_left, slow_right, joined])
"""

EXECUTORS = {"serial": "in_process", "parallel": "multiprocess"}


def flowdev_bin() -> str:
    return shutil.which("flowdev", path=str(Path(sys.executable).parent)) or "flowdev"


def materialize(project: Path, executor: str) -> float:
    """Seconds for one whole ``flowdev materialize --select '*'`` command."""
    began = time.perf_counter()
    subprocess.run(
        [flowdev_bin(), "materialize", "-s", "*", "--executor", executor, "-p", str(project)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - began


def inside_run(project: Path) -> float:
    """The last run's first STEP_START to its last event, in seconds."""
    with Storage(find_project(project).home) as storage:
        (run,) = storage.list_runs(1)
        events = storage.events_after(0, run_id=run.run_id)
    starts = [e.timestamp for e in events if e.kind is EventKind.STEP_START]
    return events[-1].timestamp - starts[0]


def alternate(project: Path, executors: dict[str, str], repeat: int) -> dict[str, list[float]]:
    """Whole-command seconds per executor, the executors taking turns."""
    samples: dict[str, list[float]] = {name: [] for name in executors}
    for executor in executors.values():
        materialize(project, executor)  # warm: bytecode, code-version cache, page cache
    for _ in range(repeat):
        for name, executor in executors.items():
            samples[name].append(materialize(project, executor))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="1000")
    args = parser.parse_args()
    median = statistics.median
    with tempfile.TemporaryDirectory(prefix="flowdev-bench-exec-") as work:
        root = Path(work)
        slow = root / "slow"
        slow.mkdir()
        (slow / "pyproject.toml").write_text(
            '[project]\nname = "slow"\nversion = "0"\n\n[tool.flowdev]\nmodule = "defs"\n'
        )
        (slow / "defs.py").write_text(textwrap.dedent(SLOW))
        inner_slow: dict[str, list[float]] = {name: [] for name in EXECUTORS}
        whole_slow: dict[str, list[float]] = {name: [] for name in EXECUTORS}
        for _ in range(max(2, args.repeat // 2)):
            for name, executor in EXECUTORS.items():
                whole_slow[name].append(materialize(slow, executor))
                inner_slow[name].append(inside_run(slow))
        print("two independent 2 s assets + a downstream (median): the run / the whole command")
        for name in EXECUTORS:
            print(
                f"  {name:8} {median(inner_slow[name]):6.2f} s / {median(whole_slow[name]):6.2f} s"
            )
        speedup = median(inner_slow["serial"]) / median(inner_slow["parallel"])
        print(f"  parallel run {speedup:.2f}x faster than serial (target: run ≤ 2.4 s)")
        for count in [int(size) for size in args.sizes.split(",")]:
            project = generate(root, count)
            timed = alternate(project, EXECUTORS, args.repeat)
            serial, parallel = median(timed["serial"]), median(timed["parallel"])
            print(f"{count} trivial assets, whole command (median of {args.repeat}):")
            print(f"  serial   {serial:6.2f} s")
            print(
                f"  parallel {parallel:6.2f} s   ({parallel / serial:.2f}x serial; target ≤ 1.10x)"
            )
            one_at_a_time = {"serial": "in_process", "parallel": "multiprocess=1"}
            inner: dict[str, list[float]] = {name: [] for name in one_at_a_time}
            for _ in range(args.repeat):
                for name, executor in one_at_a_time.items():
                    materialize(project, executor)
                    inner[name].append(inside_run(project))
            extra = (median(inner["parallel"]) - median(inner["serial"])) / count
            print(
                f"  per-step overhead, one step at a time: {extra * 1000:+.3f} ms "
                f"(serial {median(inner['serial']) / count * 1000:.3f} ms/step; target ≤ 2 ms)"
            )


if __name__ == "__main__":
    main()
