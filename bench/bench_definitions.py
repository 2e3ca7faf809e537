"""Benchmark: building definitions, `import flowdev`, and a cold `flowdev check`.

Run: ``python bench/bench_definitions.py [--repeat 11] [--sizes 100,1000,10000]``

Every figure is the median wall time of whole processes, measured side by side with
its floor (interleaved, round by round):

- import: ``python -c "import flowdev"`` against ``python -c "pass"``;
- build: flowdev loading a synthetic project as its loader child and run workers do
  (`load_definitions` of a `Project`: import, decorators, `Definitions` validation,
  graph construction) against importing the same modules with the decorators removed
  by a bare ``python``;
- check: ``flowdev check`` as a whole process (the target is absolute).
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synth import generate


def timed(commands: dict[str, tuple[list[str], Path]], repeat: int) -> dict[str, float]:
    """Median seconds of each ``(command, cwd)`` over ``repeat`` rounds, after a warm-up.

    Each round runs every command once, in turn, and the next round in the reverse
    order: a figure and its floor share the machine's slow and fast moments (this VM's
    timings drift by 10-20% over seconds), and neither always runs first.
    """
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(repeat + 1):
        order = list(commands.items())
        for name, (command, cwd) in order if round_ % 2 else reversed(order):
            env = {**os.environ, "PYTHONPATH": str(cwd)}
            started = time.perf_counter()
            subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
            if round_:  # the first round warms the page cache
                samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    python = sys.executable
    flowdev_bin = shutil.which("flowdev", path=str(Path(python).parent)) or "flowdev"
    work = Path(tempfile.mkdtemp(prefix="flowdev-bench-"))
    # flowdev's own bytecode cached too, as after a normal install (PYTHONDONTWRITEBYTECODE
    # would otherwise recompile it in every process).
    import flowdev

    compileall.compile_dir(Path(flowdev.__file__).parent, quiet=1)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {args.repeat}")

    figures = timed(
        {
            "bare": ([python, "-c", "pass"], work),
            "import": ([python, "-c", "import flowdev"], work),
        },
        args.repeat,
    )
    bare, imported = figures["bare"], figures["import"]
    print(
        f"\nimport flowdev: {imported * 1000:.0f} ms  (bare python {bare * 1000:.0f} ms; "
        f"flowdev adds {(imported - bare) * 1000:.0f} ms; target < 100 ms)"
    )

    print(
        f"\n{'assets':>7} {'floor':>9} {'flowdev':>9} {'ratio':>6}  (target <= 2.0x at 10,000)"
        f"   {'check':>8}  (target < 0.6 s at 1,000)"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        floor_dir = generate(work, size, floor=True)
        real_dir = generate(work, size)
        # How flowdev's loader child and a run's worker load a project: they are handed
        # the project's root and module (the parent read pyproject.toml).
        load = (
            "from pathlib import Path; "
            "from flowdev.project.project import Project, load_definitions; "
            f"load_definitions(Project(root=Path('.').resolve(), "
            f"module='{real_dir.name}.definitions'))"
        )
        figures = timed(
            {
                "floor": ([python, "-c", f"import {floor_dir.name}.definitions"], floor_dir),
                "build": ([python, "-c", load], real_dir),
            },
            args.repeat,
        )
        floor, build = figures["floor"], figures["build"]
        check_command = [flowdev_bin, "check", "-p", str(real_dir)]
        check = timed({"check": (check_command, real_dir)}, args.repeat)["check"]
        print(
            f"{size:>7} {floor * 1000:>7.0f}ms {build * 1000:>7.0f}ms {build / floor:>5.2f}x"
            f"{'':34}{check * 1000:>6.0f}ms"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
