"""Benchmark: runs — start latency, per-asset overhead, end to end, event writes, statuses.

Run: ``python bench/bench_runs.py [--repeat 5] [--sizes 100,1000]``

With ``--compare NAME=DIR ...`` it measures only the per-asset time, alternating the
worker's code run by run on one project (each NAME's workers run with
``PYTHONPATH=DIR``, a directory holding a ``flowdev`` package, e.g. from
``git archive <commit> core``), and prints their paired differences: on this disk, runs
of the same code swing by a factor of two, and runs next to each other see the same load.

- start latency: `launch_run` returning to the worker's first STEP_START event, against
  the floor of starting a bare ``python -c pass``;
- per-asset overhead: a run of N trivial assets (each reads its parents through the
  default filesystem IO manager), its RUN_START..RUN_SUCCESS time divided by N, against
  calling the same functions in a plain loop (the floor: what the user's code costs);
- end to end: ``flowdev materialize --select '*'`` as a whole process;
- event writes: events per second through `Storage.store_event` (one transaction each,
  as a worker writes them);
- statuses: `compute_statuses` for a synthetic snapshot of 10,000 assets, every one
  materialized, plus reading that state from SQLite (`asset_statuses`).
"""

from __future__ import annotations

import argparse
import compileall
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from flowdev.events import EventKind, RunEvent
from flowdev.instance.run_records import RunStatus
from flowdev.instance.storage import Storage
from flowdev.project.project import Project, find_project, load_definitions
from flowdev.project.snapshot import build_snapshot
from flowdev.runs.launcher import launch_run, wait_for_run
from synth import generate


def median_of(samples: list[float]) -> float:
    return statistics.median(samples)


def start_latency(project_dir: Path, repeat: int) -> tuple[float, float]:
    project = find_project(project_dir)
    samples = []
    with Storage(project.home) as storage:
        for _ in range(repeat):
            launched_at = time.time()
            run = launch_run(storage, project, ["a0"])
            while True:
                events = storage.events_after(0, run_id=run.run_id)
                first = next((e for e in events if e.kind is EventKind.STEP_START), None)
                if first is not None:
                    samples.append(first.timestamp - launched_at)
                    break
                time.sleep(0.002)
            wait_for_run(storage, run.run_id, timeout=120)
    bare = []
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - began)
    return median_of(samples), median_of(bare)


def timed_run(storage: Storage, project: Project, keys: list[str]) -> tuple[float, int]:
    """One run of ``keys``: seconds per asset (first step start to the last event), and
    how many steps took over 2 ms from their start to the next step's (stalls)."""
    run = launch_run(storage, project, keys)
    ended = wait_for_run(storage, run.run_id, timeout=600)
    assert ended.status is RunStatus.SUCCESS, ended.error
    events = storage.events_after(0, run_id=run.run_id)
    starts = [e.timestamp for e in events if e.kind is EventKind.STEP_START]
    stalls = sum(later - earlier > 0.002 for earlier, later in itertools.pairwise(starts))
    return (events[-1].timestamp - starts[0]) / len(keys), stalls


def run_overhead(project_dir: Path, count: int, repeat: int) -> tuple[float, float]:
    """Seconds per asset in a worker, and in a plain loop calling the same functions."""
    project = find_project(project_dir)
    keys = [f"a{i}" for i in range(count)]
    with Storage(project.home) as storage:
        per_asset = [timed_run(storage, project, keys)[0] for _ in range(repeat)]
    defs = load_definitions(project)
    plain = []
    for _ in range(repeat):
        values: dict[str, object] = {}
        began = time.perf_counter()
        for key in defs.asset_graph.keys:
            assets_def = defs.get_assets_def(key)
            kwargs = {p: values[k.to_user_string()] for p, k in assets_def.input_keys.items()}
            values[key.to_user_string()] = assets_def.fn(**kwargs)
        plain.append((time.perf_counter() - began) / count)
    return median_of(per_asset), median_of(plain)


def compare_workers(project_dir: Path, count: int, rounds: int, code: dict[str, str]) -> None:
    """Print per-asset time and stalls for each worker code, runs alternating in order."""
    project = find_project(project_dir)
    keys = [f"a{i}" for i in range(count)]
    names = list(code)
    samples: dict[str, list[tuple[float, int]]] = {name: [] for name in names}
    with Storage(project.home) as storage:
        for number in range(rounds):
            for name in names if number % 2 == 0 else reversed(names):
                os.environ["PYTHONPATH"] = code[name]  # the worker inherits it
                samples[name].append(timed_run(storage, project, keys))
    os.environ.pop("PYTHONPATH", None)
    first = names[0]
    for name in names:
        per_asset = [seconds * 1000 for seconds, _ in samples[name]]
        line = (
            f"{count:>6} assets, {name}: {median_of(per_asset):.3f} ms per asset "
            f"({min(per_asset):.3f}-{max(per_asset):.3f}), "
            f"{median_of([stalls for _, stalls in samples[name]]):g} steps over 2 ms"
        )
        if name != first:
            paired = [
                (mine - theirs) * 1000
                for (mine, _), (theirs, _) in zip(samples[name], samples[first], strict=True)
            ]
            faster = sum(difference < 0 for difference in paired)
            line += (
                f"; paired with {first}: median {median_of(paired):+.3f} ms, "
                f"faster in {faster} of {rounds}"
            )
        print(line)


def end_to_end(project_dir: Path, repeat: int) -> float:
    flowdev_bin = shutil.which("flowdev", path=str(Path(sys.executable).parent)) or "flowdev"
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run(
            [flowdev_bin, "materialize", "--select", "*", "-p", str(project_dir)],
            check=True,
            capture_output=True,
        )
        samples.append(time.perf_counter() - began)
    return median_of(samples)


def event_throughput(home: Path, count: int = 5000) -> float:
    with Storage(home) as storage:
        began = time.perf_counter()
        for number in range(count):
            storage.store_event(
                RunEvent(
                    run_id="bench",
                    kind=EventKind.LOG,
                    step_key="a0",
                    message=f"line {number}",
                    data={"log_offset": number},
                )
            )
        return count / (time.perf_counter() - began)


def status_time(work: Path, repeat: int) -> tuple[float, float]:
    """(compute_statuses alone, asset_statuses reading SQLite) for 10,000 assets."""
    from flowdev.instance.status import asset_statuses, compute_statuses

    project_dir = generate(work, 10_000)
    snapshot = build_snapshot(load_definitions(find_project(project_dir)))
    home = work / "status-home"
    with Storage(home) as storage:
        # Every asset materialized once, in order (what a full run leaves behind).
        for key in snapshot.keys:
            asset = snapshot.get(key)
            storage.store_events(
                [
                    RunEvent(
                        run_id="r",
                        kind=EventKind.ASSET_MATERIALIZATION,
                        asset_key=key,
                        step_key=key.to_user_string(),
                        data={
                            "code_version": asset.code_version,
                            "data_version": f"v-{key.to_user_string()}",
                            "input_versions": {
                                dep.to_user_string(): f"v-{dep.to_user_string()}"
                                for dep in asset.deps
                            },
                            "metadata": {"rows": {"type": "int", "value": 1}},
                        },
                    )
                ]
            )
        states = storage.asset_states()
        pure, with_reads = [], []
        for _ in range(repeat):
            began = time.perf_counter()
            statuses = compute_statuses(snapshot, states)
            pure.append(time.perf_counter() - began)
            began = time.perf_counter()
            asset_statuses(snapshot, storage)
            with_reads.append(time.perf_counter() - began)
        assert {s.status.value for s in statuses.values()} == {"fresh"}
    return median_of(pure), median_of(with_reads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="NAME=DIR",
        help="only the per-asset time, alternating the workers' code (PYTHONPATH=DIR)",
    )
    parser.add_argument("--rounds", type=int, default=20, help="runs of each code (--compare)")
    args = parser.parse_args()
    import flowdev

    compileall.compile_dir(Path(flowdev.__file__).parent, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="flowdev-bench-runs-"))
    os.environ.pop("FLOWDEV_HOME", None)
    if args.compare:
        code = dict(pair.split("=", 1) for pair in args.compare)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.rounds} rounds")
        for size in (int(s) for s in args.sizes.split(",")):
            compare_workers(generate(work, size), size, args.rounds, code)
        shutil.rmtree(work, ignore_errors=True)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {args.repeat}")
    small = generate(work, 10)
    latency, bare = start_latency(small, args.repeat)
    print(
        f"start latency (launch -> first step start): {latency * 1000:.0f} ms "
        f"(bare python start {bare * 1000:.0f} ms, {latency / bare:.1f}x)  target < 250 ms"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        project_dir = generate(work, size)
        per_asset, plain = run_overhead(project_dir, size, max(1, args.repeat // 2))
        print(
            f"{size:>6} assets: {per_asset * 1000:.3f} ms per asset in a run "
            f"(plain loop {plain * 1e6:.1f} us; overhead {(per_asset - plain) * 1000:.3f} ms)"
            "  target overhead < 1 ms"
        )
        total = end_to_end(project_dir, max(1, args.repeat // 2))
        print(f"{size:>6} assets: `flowdev materialize --select '*'` {total:.2f} s end to end")
    rate = event_throughput(work / "events-home")
    print(f"event writes: {rate:,.0f} events/s ({1e6 / rate:.0f} us each, one commit each)")
    pure, with_reads = status_time(work, args.repeat)
    print(
        f"statuses, 10,000 assets: {pure * 1000:.0f} ms computed, "
        f"{with_reads * 1000:.0f} ms with the SQLite reads  target < 100 ms"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
