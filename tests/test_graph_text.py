"""The text drawing of the asset graph: golden drawings, and every edge traced back.

The tracer reads a drawing the way a person should: start under a node, follow the
lines, never go up, go straight through ``┼``, and note every node reached. If it
reaches exactly the node's children, every edge is drawn and none is ambiguous.
"""

from __future__ import annotations

import ast
import random
import re
import sys
from pathlib import Path

import pytest
from flowdev.drawing.text import render_graph
from flowdev.keys import AssetKey
from flowdev.selection.graph import AssetGraph, AssetNode
from hypothesis import given, settings
from hypothesis import strategies as st


def make_graph(spec: dict[str, list[str]], groups: dict[str, str] | None = None) -> AssetGraph:
    """``{"child": ["parent", ...]}`` as an AssetGraph."""
    return AssetGraph(
        AssetNode(
            key=AssetKey.from_user_string(name),
            parents=tuple(AssetKey.from_user_string(p) for p in parents),
            group_name=(groups or {}).get(name, "default"),
        )
        for name, parents in spec.items()
    )


def random_spec(count: int, seed: int, window: int | None = None) -> dict[str, list[str]]:
    rng = random.Random(seed)
    spec: dict[str, list[str]] = {}
    for i in range(count):
        earlier = [f"n{j:03d}" for j in range(max(0, i - (window or i)), i)]
        spec[f"n{i:03d}"] = rng.sample(earlier, min(len(earlier), rng.randint(1, 3)))
    return spec


ARMS = {
    "│": "NS", "─": "EW", "╰": "NE", "╯": "NW", "╭": "SE", "╮": "SW",
    "├": "NES", "┤": "NSW", "┬": "ESW", "┴": "NEW", "┼": "NESW",
}  # fmt: skip
STEP = {"S": (1, 0), "E": (0, 1), "W": (0, -1)}
OPPOSITE = {"N": "S", "S": "N", "E": "W", "W": "E"}


def cell(lines: list[str], row: int, column: int) -> str:
    if 0 <= row < len(lines) and 0 <= column < len(lines[row]):
        return lines[row][column]
    return " "


def trace(lines: list[str], row: int, column: int, ends: str) -> set[tuple[int, int]]:
    """The cells in ``ends`` reached by following lines down from under (row, column)."""
    reached = set()
    todo = [(row + 1, column, "N")]  # (row, column, the side we enter the cell by)
    seen = set()
    while todo:
        at = todo.pop()
        if at in seen:
            continue
        seen.add(at)
        r, c, side = at
        char = cell(lines, r, c)
        if char in ends:
            reached.add((r, c))
            continue
        if (r, c) == (row + 1, column) and side not in ARMS.get(char, ""):
            break  # nothing leaves this node
        assert side in ARMS.get(char, ""), f"line broken at row {r}, column {c}: {char!r}"
        exits = OPPOSITE[side] if char == "┼" else ARMS[char].replace(side, "")
        for way in exits.replace("N", ""):  # edges only ever flow down
            dr, dc = STEP[way]
            todo.append((r + dr, c + dc, OPPOSITE[way]))
    return reached


def key_in(text: str) -> str:
    """The key in a node's text: ``[label ]key[ [group]][ ↑n][ ↓n]``."""
    words = text.split()
    return words[1] if words[0] in ("✓", "✗") else words[0]


def lane_edges(drawing: str) -> set[tuple[str, str]]:
    lines = drawing.splitlines()
    node_at = {}
    for r, line in enumerate(lines):
        if "●" in line:
            node_at[(r, line.index("●"))] = key_in(line.lstrip(" │●"))
    return {
        (node, node_at[end]) for (r, c), node in node_at.items() for end in trace(lines, r, c, "●")
    }


def grid_edges(drawing: str) -> set[tuple[str, str]]:
    lines = drawing.splitlines()

    def box_key(row: int, column: int, left: str, right: str) -> str:
        start = lines[row].rindex(left, 0, column)
        end = lines[row].index(right, column)
        text_row = row + 1 if left == "┌" else row - 1
        return key_in(lines[text_row][start + 1 : end])

    edges = set()
    for r, line in enumerate(lines):
        for c, char in enumerate(line):
            if char == "┬" and "└" in line[:c] and line.rindex("└", 0, c) > line.rfind("┘", 0, c):
                source = box_key(r, c, "└", "┘")
                for end in trace(lines, r, c, "▼"):
                    edges.add((source, box_key(*end, "┌", "┐")))
    return edges


def expected_edges(graph: AssetGraph, keys: set[AssetKey] | None = None) -> set[tuple[str, str]]:
    keys = set(graph.keys) if keys is None else keys
    return {
        (str(parent), str(child))
        for child in keys
        for parent in graph.parents(child)
        if parent in keys
    }


def occurrences(drawing: str, key: str) -> int:
    return len(re.findall(rf"(?<![\w/]){re.escape(key)}(?![\w/])", drawing))


DIAMOND = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
SAMPLE = {
    "raw_orders": [],
    "raw_customers": [],
    "raw_payments": [],
    "stg_orders": ["raw_orders"],
    "stg_customers": ["raw_customers"],
    "stg_payments": ["raw_payments"],
    "orders": ["stg_orders", "stg_payments"],
    "customers": ["stg_customers", "orders"],
    "revenue": ["orders"],
    "customer_ltv": ["customers", "revenue", "raw_customers"],
}
SAMPLE_GROUPS = {
    k: k.split("_")[0] if "_" in k and k != "customer_ltv" else "marts" for k in SAMPLE
}
SHAPES = {
    "diamond": DIAMOND,
    "long edge": {"a": [], "b": ["a"], "c": ["b"], "d": ["c", "a"]},
    "components": {"a": [], "b": ["a"], "x": [], "y": ["x"], "z": ["x"], "lone": []},
    "fan": {"src": [], **{f"t{i}": ["src"] for i in range(5)}, "sink": [f"t{i}" for i in range(5)]},
    "crossed": {"a": [], "b": [], "c": [], "x": ["a", "c"], "y": ["b", "a"], "z": ["c", "b"]},
    "sample": SAMPLE,
}


def test_golden_diamond_grid() -> None:
    assert render_graph(make_graph(DIAMOND)) == (
        "    ┌───┐\n"
        "    │ a │\n"
        "    └─┬─┘\n"
        "  ╭───┴───╮\n"
        "┌─▼─┐   ┌─▼─┐\n"
        "│ b │   │ c │\n"
        "└─┬─┘   └─┬─┘\n"
        "  ╰──╮ ╭──╯\n"
        "   ┌─▼─▼─┐\n"
        "   │  d  │\n"
        "   └─────┘"
    )


def test_golden_diamond_lanes() -> None:
    assert render_graph(make_graph(DIAMOND), style="lanes") == (
        "●  a\n├─╮\n● │  b\n│ ●  c\n├─╯\n●  d"
    )


def test_golden_diamond_list() -> None:
    assert render_graph(make_graph(DIAMOND), style="list") == (
        "1  a\n2  b  ← 1\n3  c  ← 1\n4  d  ← 2, 3"
    )


def test_empty_and_single() -> None:
    assert render_graph(make_graph({})) == "(no assets)"
    assert render_graph(make_graph({"a": []})) == "┌───┐\n│ a │\n└───┘"
    assert render_graph(make_graph({"a": []}), style="lanes") == "●  a"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("style", ["grid", "lanes"])
def test_each_drawn_edge_joins_the_right_assets(shape: str, style: str) -> None:
    graph = make_graph(SHAPES[shape])
    drawing = render_graph(graph, style=style)
    traced = grid_edges(drawing) if style == "grid" else lane_edges(drawing)
    assert traced == expected_edges(graph), drawing


@settings(max_examples=120, deadline=None)
@given(st.integers(min_value=1, max_value=16), st.integers(min_value=0, max_value=10**6))
def test_random_graphs_trace_back_exactly(count: int, seed: int) -> None:
    graph = make_graph(random_spec(count, seed))
    expected = expected_edges(graph)
    lanes = render_graph(graph, style="lanes")
    assert lane_edges(lanes) == expected, lanes
    grid = render_graph(graph, style="grid")
    if "●" not in grid:  # the grid fell back to lanes: nothing to check twice
        assert grid_edges(grid) == expected, grid


@pytest.mark.parametrize("style", ["auto", "grid", "lanes", "list"])
@pytest.mark.parametrize("count", [12, 40, 250])
def test_every_key_appears_exactly_once(style: str, count: int) -> None:
    spec = random_spec(count, seed=count, window=6)
    drawing = render_graph(make_graph(spec), style=style)
    assert [k for k in spec if occurrences(drawing, k) != 1] == []


def test_auto_picks_grid_then_lanes_then_list_by_width() -> None:
    graph = make_graph(SAMPLE, SAMPLE_GROUPS)
    assert "┌" in render_graph(graph, width=200)
    narrow = render_graph(graph)  # 80 columns: the boxes do not fit side by side
    assert "┌" not in narrow and "●" in narrow
    assert max(map(len, narrow.splitlines())) <= 80
    tangled = make_graph(random_spec(120, seed=5))
    drawing = render_graph(tangled, width=80)
    assert "●" not in drawing and "←" in drawing


def test_list_numbers_point_at_parents() -> None:
    graph = make_graph(random_spec(60, seed=2))
    lines = render_graph(graph, style="list").splitlines()
    key_of = {int(line.split()[0]): line.split()[1] for line in lines}
    drawn = {
        (key_of[int(n)], line.split()[1])
        for line in lines
        if "←" in line
        for n in line.split("←")[1].split(",")
    }
    assert drawn == expected_edges(graph)


def test_groups_labels_and_hidden_edges() -> None:
    graph = make_graph(SAMPLE, SAMPLE_GROUPS)
    keys = [k for k in graph.keys if str(k) != "stg_orders"]
    labels = {AssetKey("orders"): "✓", AssetKey("revenue"): "✗"}
    drawing = render_graph(graph, keys, labels=labels, style="lanes")
    assert "✓ orders [marts] ↑1" in drawing  # stg_orders is left out
    assert "raw_orders [raw] ↓1" in drawing
    assert "✗ revenue [marts]" in drawing
    assert occurrences(drawing, "stg_orders") == 0
    assert lane_edges(drawing) == expected_edges(graph, set(keys))
    # One group only: no group names.
    assert "[" not in render_graph(make_graph(DIAMOND), style="lanes")


def test_long_edge_passes_beside_the_layer_it_skips() -> None:
    drawing = render_graph(make_graph(SHAPES["long edge"]), style="grid")
    b_row = next(line for line in drawing.splitlines() if "│ b │" in line)
    assert b_row.count("│") == 3  # b's box, and the a->d line beside it
    assert grid_edges(drawing) == {("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")}


def test_deterministic() -> None:
    spec = random_spec(40, seed=9, window=5)
    shuffled = dict(sorted(spec.items(), key=lambda item: random.Random(item[0]).random()))
    for style in ("grid", "lanes", "list"):
        first = render_graph(make_graph(spec), style=style)
        assert render_graph(make_graph(shuffled), style=style) == first


DRAWING = Path(__file__).parent.parent / "core" / "drawing"


@pytest.mark.parametrize("module", sorted(path.name for path in DRAWING.glob("*.py")))
def test_drawing_modules_import_only_the_standard_library(module: str) -> None:
    # They run in the app's worker threads and the CLI: no networkx, rich or textual.
    source = (DRAWING / module).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) <= {"flowdev"}
