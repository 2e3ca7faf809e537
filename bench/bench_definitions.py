"""Benchmark: building definitions, `import flowdev`, and a cold `flowdev check`.

Run: ``python bench/bench_definitions.py [--repeat 7] [--sizes 100,1000,10000]``

Every figure is the median wall time of whole processes, measured side by side in
one run with its floor:

- import: ``python -c "import flowdev"`` against ``python -c "pass"``;
- build: flowdev loading a synthetic project (`load_definitions`: import, decorators,
  `Definitions` validation, graph construction) against importing the same modules
  with the decorators removed by a bare ``python``;
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


def timed(command: list[str], cwd: Path, repeat: int) -> float:
    """Median seconds of ``command`` over ``repeat`` runs (after one warm-up)."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
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

    bare = timed([python, "-c", "pass"], work, args.repeat)
    imported = timed([python, "-c", "import flowdev"], work, args.repeat)
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
        floor_import = f"import {floor_dir.name}.definitions"
        floor = timed([python, "-c", floor_import], floor_dir, args.repeat)
        # How flowdev's loader child and a run's worker load a project: they are handed
        # the project's root and module (the parent read pyproject.toml).
        load = (
            "from pathlib import Path; from flowdev.project import Project, load_definitions; "
            f"load_definitions(Project(root=Path('.').resolve(), "
            f"module='{real_dir.name}.definitions'))"
        )
        build = timed([python, "-c", load], real_dir, args.repeat)
        check = timed([flowdev_bin, "check", "-p", str(real_dir)], real_dir, args.repeat)
        print(
            f"{size:>7} {floor * 1000:>7.0f}ms {build * 1000:>7.0f}ms {build / floor:>5.2f}x"
            f"{'':34}{check * 1000:>6.0f}ms"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
