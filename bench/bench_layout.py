"""Time the asset-graph layout and text rendering, against grandalf's Sugiyama layout.

Run: ``.venv/bin/python bench/bench_layout.py [--sizes 100,1000,10000] [--repeat 3]``

Synthetic graphs: asset ``i`` depends on 1-3 assets chosen at random (seeded) among
the earlier ones ("uniform": edges span many layers, the worst case for dummies), or
among the 50 just before it ("local": closer to real projects). For each graph it
prints flowdev's layout time (best of ``--repeat``), its crossings before and after the
sweeps, the time of ``render_graph`` at 80 columns and which drawing it chose, and,
when grandalf is installed, grandalf's ordering time (``init_all`` + ``draw``'s
ordering passes, per connected component) and crossings on its own layering. grandalf
runs only up to ``--grandalf-max`` assets, as it is much slower.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flowdev.drawing.layout import Dummy, compute_layout
from flowdev.drawing.text import render_graph
from flowdev.keys import AssetKey
from flowdev.selection.graph import AssetGraph, AssetNode


def synthetic_graph(count: int, *, window: int | None, seed: int = 1) -> AssetGraph:
    """``count`` assets, each with 1-3 parents among the earlier (or ``window`` previous)."""
    rng = random.Random(seed)
    keys = [AssetKey(["synth", f"asset_{i:05d}"]) for i in range(count)]
    nodes = []
    for i, key in enumerate(keys):
        low = 0 if window is None else max(0, i - window)
        picks = {rng.randrange(low, i) for _ in range(rng.randint(1, 3))} if i else set()
        nodes.append(
            AssetNode(
                key=key,
                parents=tuple(keys[p] for p in sorted(picks)),
                group_name=("ingest", "transform", "report")[3 * i // count],
            )
        )
    return AssetGraph(nodes)


def best_time(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def grandalf_layout(graph: AssetGraph) -> tuple[float, int]:
    """grandalf's Sugiyama ordering of every component: (seconds, crossings)."""
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    class View:
        w = h = 10

    start = time.perf_counter()
    vertices = {key: Vertex(key) for key in graph.keys}
    for vertex in vertices.values():
        vertex.view = View()
    edges = [Edge(vertices[p], vertices[k]) for k in graph.keys for p in graph.parents(k)]
    layouts = []
    for component in Graph(list(vertices.values()), edges).C:
        sugiyama = SugiyamaLayout(component)
        sugiyama.init_all()
        # draw() without its coordinate and edge-routing steps, which flowdev leaves to
        # the drawing: 1.5 rounds of ordering, grandalf's default.
        for _ in sugiyama.ordering_step():
            pass
        for _ in sugiyama.ordering_step(oneway=True):
            pass
        layouts.append(sugiyama)
    seconds = time.perf_counter() - start
    crossings = 0
    for sugiyama in layouts:
        sugiyama._edge_inverter()  # as grandalf's own Layer.order() does around _cc()
        sugiyama.dirv = -1  # count each layer against the one above it
        crossings += sum(layer._cc() for layer in sugiyama.layers[1:])
        sugiyama._edge_inverter()
    return seconds, crossings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--grandalf-max", type=int, default=1000)
    args = parser.parse_args()
    try:
        import grandalf  # noqa: F401

        has_grandalf = True
    except ImportError:
        has_grandalf = False
        print("grandalf is not installed: .venv/bin/pip install grandalf to compare")

    header = (
        f"{'assets':>6} {'graph':<7} {'edges':>6} {'layers':>6} {'dummies':>7} "
        f"{'layout s':>8} {'crossings start->swept':>23} {'render s':>8} {'drawing':<7} "
        f"{'grandalf s':>10} {'grandalf crossings':>18}"
    )
    print(header)
    print("-" * len(header))
    sizes = [int(n) for n in args.sizes.split(",")]
    for count in sizes:
        for name, window in (("uniform", None), ("local", 50)):
            graph = synthetic_graph(count, window=window)
            layout_s, layout = best_time(partial(compute_layout, graph), args.repeat)
            start = compute_layout(graph, sweeps=0).crossings()
            render_s, drawing = best_time(partial(render_graph, graph, width=80), args.repeat)
            style = "grid" if "┌" in drawing else "lanes" if "●" in drawing else "list"
            dummies = sum(isinstance(n, Dummy) for row in layout.layers for n in row)
            grandalf_s, grandalf_x = "-", "-"
            if has_grandalf and count <= args.grandalf_max:
                seconds, crossings = grandalf_layout(graph)
                grandalf_s, grandalf_x = f"{seconds:.3f}", str(crossings)
            print(
                f"{count:>6} {name:<7} {len(layout.edges):>6} {len(layout.layers):>6} "
                f"{dummies:>7} {layout_s:>8.3f} "
                f"{f'{start} -> {layout.crossings()}':>23} {render_s:>8.3f} {style:<7} "
                f"{grandalf_s:>10} {grandalf_x:>18}",
                flush=True,
            )
    forced_styles(sizes, args.repeat)


def forced_styles(sizes: list[int], repeat: int) -> None:
    """Each drawing forced, to see what it costs and how big it gets."""
    print("\nforced drawings (seconds, lines x widest line); grid only up to 250 assets")
    for count in sizes:
        for name, window in (("uniform", None), ("local", 50)):
            graph = synthetic_graph(count, window=window)
            cells = []
            for style in ("lanes", "list", "grid"):
                if style == "grid" and count > 250:
                    cells.append(f"{style}: -")
                    continue
                seconds, drawing = best_time(partial(render_graph, graph, style=style), repeat)
                lines = drawing.splitlines()
                size = f"{len(lines)} x {max(map(len, lines))}"
                cells.append(f"{style}: {seconds:.3f} s, {size}")
            print(f"{count:>6} {name:<7}  " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
