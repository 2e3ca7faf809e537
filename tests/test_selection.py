"""The selection algebra and both query syntaxes, over one fixture graph and random DAGs."""

from __future__ import annotations

import functools
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from flowdev.errors import SelectionSyntaxError, UnknownAssetError
from flowdev.keys import AssetKey
from flowdev.selection.algebra import AssetSelection, resolve_selection
from flowdev.selection.graph import AssetGraph, AssetNode
from flowdev.selection.syntax import parse_selection, select
from hypothesis import given, settings
from hypothesis import strategies as st


def _node(key: str, *parents: str, group: str, **fields: Any) -> AssetNode:
    return AssetNode(
        key=AssetKey.from_user_string(key),
        parents=tuple(AssetKey.from_user_string(p) for p in parents),
        group_name=group,
        **fields,
    )


# vendor_feed (external) -> raw_payments -> stg_payments ----------------\
# raw_orders -> stg_orders -> order_items  -> marts/orders -> marts/revenue
#                         \-> order_totals -/            \-> marts/customers
# raw_customers -> stg_customers --------------------------/
# scratch (no edges)
GRAPH = AssetGraph(
    [
        _node("vendor_feed", group="ingest", kinds=frozenset({"s3"}), is_external=True),
        _node(
            "raw_orders",
            group="ingest",
            tags={"tier": "bronze"},
            kinds=frozenset({"python", "csv"}),
            owners=("team:ingest",),
        ),
        _node(
            "raw_customers",
            group="ingest",
            tags={"tier": "bronze", "pii": ""},
            kinds=frozenset({"python"}),
            owners=("team:ingest",),
        ),
        _node(
            "raw_payments",
            "vendor_feed",
            group="ingest",
            tags={"tier": "bronze"},
            kinds=frozenset({"python"}),
            owners=("alice@example.com",),
        ),
        _node(
            "stg_orders",
            "raw_orders",
            group="staging",
            tags={"tier": "silver"},
            kinds=frozenset({"dbt", "duckdb"}),
        ),
        _node(
            "stg_customers",
            "raw_customers",
            group="staging",
            tags={"tier": "silver", "pii": "email"},
            kinds=frozenset({"dbt", "duckdb"}),
        ),
        _node(
            "stg_payments",
            "raw_payments",
            group="staging",
            tags={"tier": "silver"},
            kinds=frozenset({"dbt", "duckdb"}),
        ),
        _node("order_items", "stg_orders", group="staging", kinds=frozenset({"duckdb"})),
        _node(
            "order_totals",
            "stg_orders",
            "stg_payments",
            group="staging",
            kinds=frozenset({"duckdb"}),
        ),
        _node("scratch", group="staging", kinds=frozenset({"python"}), owners=("bob@example.com",)),
        _node(
            "marts/orders",
            "order_items",
            "order_totals",
            group="marts",
            tags={"tier": "gold"},
            kinds=frozenset({"dbt", "snowflake"}),
            owners=("team:finance",),
        ),
        _node(
            "marts/customers",
            "stg_customers",
            "marts/orders",
            group="marts",
            tags={"tier": "gold", "pii": ""},
            kinds=frozenset({"dbt", "snowflake"}),
            owners=("team:finance",),
        ),
        _node(
            "marts/revenue",
            "marts/orders",
            group="marts",
            tags={"tier": "gold", "cadence": "daily"},
            kinds=frozenset({"python", "snowflake"}),
            owners=("team:finance", "alice@example.com"),
        ),
    ]
)


def keys(names: str) -> set[AssetKey]:
    """``"a b/c"`` -> {AssetKey("a"), AssetKey(["b", "c"])}."""
    return {AssetKey.from_user_string(name) for name in names.split()}


ALL = set(GRAPH.keys)
RAW = keys("raw_orders raw_customers raw_payments")
STG = keys("stg_orders stg_customers stg_payments")
MARTS = keys("marts/orders marts/customers marts/revenue")
UP_OF_MARTS_ORDERS = keys(
    "marts/orders order_items order_totals stg_orders stg_payments raw_orders raw_payments "
    "vendor_feed"
)
DOWN_OF_STG_ORDERS = keys("stg_orders order_items order_totals") | MARTS

CURRENT_SYNTAX = [
    ("*", ALL),
    ("key:raw_orders", keys("raw_orders")),
    ('key:"marts/orders"', keys("marts/orders")),
    ("key:marts/orders", keys("marts/orders")),
    ('key : "raw_orders"', keys("raw_orders")),
    ("key:raw_*", RAW),
    ("key:marts/*", MARTS),
    ("key:*orders", keys("raw_orders stg_orders marts/orders")),
    ('key:"*_orders"', keys("raw_orders stg_orders")),
    ("key:*", ALL),
    ("key:nothing_*", set()),
    ("group:marts", MARTS),
    ('group:"staging"', STG | keys("order_items order_totals scratch")),
    ("group:nope", set()),
    ("tag:pii", keys("raw_customers stg_customers marts/customers")),
    ("tag:pii=email", keys("stg_customers")),
    ("tag:tier=gold", MARTS),
    ('tag:"tier"="bronze"', RAW),
    ("tag:tier=platinum", set()),
    ("tag:cadence=daily or kind:csv", keys("marts/revenue raw_orders")),
    ("kind:dbt", STG | keys("marts/orders marts/customers")),
    ("kind:s3", keys("vendor_feed")),
    ("kind:spark", set()),
    ('owner:"team:finance"', MARTS),
    ('owner:"alice@example.com"', keys("raw_payments marts/revenue")),
    ("+key:stg_orders", keys("stg_orders raw_orders")),
    ("+key:marts/orders", UP_OF_MARTS_ORDERS),
    ("1+key:marts/orders", keys("marts/orders order_items order_totals")),
    ("2+key:marts/orders", keys("marts/orders order_items order_totals stg_orders stg_payments")),
    ("key:stg_orders+", DOWN_OF_STG_ORDERS),
    ("key:stg_orders+1", keys("stg_orders order_items order_totals")),
    ("key:stg_orders+0", keys("stg_orders")),
    ("1+key:order_totals+1", keys("order_totals stg_orders stg_payments marts/orders")),
    (
        "+key:order_totals+",
        keys("order_totals stg_orders raw_orders stg_payments raw_payments vendor_feed") | MARTS,
    ),
    ("+(group:marts)", ALL - keys("scratch")),
    ("+(group:marts) and group:staging", STG | keys("order_items order_totals")),
    ("group:staging and kind:dbt", STG),
    ("group:staging and not kind:dbt", keys("order_items order_totals scratch")),
    ("not group:staging and not group:ingest", MARTS),
    # 'and' binds tighter than 'or'; parentheses override it.
    ("group:ingest or group:marts and kind:python", RAW | keys("vendor_feed marts/revenue")),
    ("(group:ingest or group:marts) and kind:python", RAW | keys("marts/revenue")),
    # 'not' binds tighter than 'and'.
    ("not key:raw_* and tag:tier=bronze", set()),
    ("not (key:raw_* and tag:tier=bronze)", ALL - RAW),
    ("NOT group:marts AND kind:snowflake OR key:scratch", keys("scratch")),
    ("key:stg_orders+ and not key:stg_orders", DOWN_OF_STG_ORDERS - keys("stg_orders")),
    ("roots(group:staging)", STG | keys("scratch")),
    ("sinks(group:staging)", keys("order_items order_totals stg_customers scratch")),
    ("roots(*)", keys("vendor_feed raw_orders raw_customers scratch")),
    ("sinks(*)", keys("marts/customers marts/revenue scratch")),
    ("roots(+key:marts/revenue)", keys("raw_orders vendor_feed")),
    ("1+sinks(key:stg_orders+)", keys("marts/customers marts/revenue marts/orders stg_customers")),
    # A bare value in the current syntax is a key (or a key pattern).
    ("raw_orders or scratch", keys("raw_orders scratch")),
    (
        "not stg_orders and group:staging",
        keys("stg_customers stg_payments") | keys("order_items order_totals scratch"),
    ),
    ("raw_* or key:scratch", RAW | keys("scratch")),
    ('"marts/orders" or raw_orders', keys("marts/orders raw_orders")),
]

OLDER_SYNTAX = [
    ("raw_orders", keys("raw_orders")),
    ("marts/orders", keys("marts/orders")),
    ("*marts/orders", UP_OF_MARTS_ORDERS),
    ("stg_orders*", DOWN_OF_STG_ORDERS),
    # One '+' is one level here, where the current syntax's bare '+' is every level.
    ("+marts/orders", keys("marts/orders order_items order_totals")),
    ("++marts/orders", keys("marts/orders order_items order_totals stg_orders stg_payments")),
    (
        "++marts/orders+",
        keys("order_items order_totals stg_orders stg_payments") | MARTS,
    ),
    ("stg_orders+", keys("stg_orders order_items order_totals")),
    (
        "*order_totals*",
        keys("order_totals stg_orders raw_orders stg_payments raw_payments vendor_feed") | MARTS,
    ),
    ("raw_orders,scratch", keys("raw_orders scratch")),
    ("raw_orders, stg_orders+", keys("raw_orders stg_orders order_items order_totals")),
    ("+stg_orders,+stg_customers", keys("stg_orders raw_orders stg_customers raw_customers")),
    ("*,scratch", ALL),
]


@pytest.mark.parametrize(("query", "expected"), CURRENT_SYNTAX + OLDER_SYNTAX)
def test_query_selects(query: str, expected: set[AssetKey]) -> None:
    assert select(GRAPH, query) == expected


def test_roots_as_a_bare_key_needs_no_parenthesis() -> None:
    graph = AssetGraph([AssetNode(key=AssetKey("roots")), AssetNode(key=AssetKey("sinks"))])
    assert select(graph, "roots or sinks") == keys("roots sinks")


BAD_QUERIES = [
    ("key:a and", "expected a selection after 'and'", 9),
    ("group:x or", "expected a selection after 'or'", 10),
    ("not", "expected a selection after 'not'", 3),
    ("key:a and or key:b", "expected a selection after 'and', found 'or'", 10),
    ("((group:marts)", "unclosed parenthesis opened at column 1", 14),
    ("key:a and (group:x", "unclosed parenthesis opened at column 11", 18),
    ("grup:marts", "unknown attribute 'grup'; did you mean 'group'?", 0),
    ("colour:red", "unknown attribute 'colour'; use one of key, group, tag, kind, owner", 0),
    ('key:"marts/orders', "unterminated quoted string", 4),
    ("key:", "expected a key after 'key:'", 4),
    ("group:*", "expected a group name after 'group:', found '*'", 6),
    ("tag:tier=", "expected a tag value after '='", 9),
    ('group:""', "expected a group name inside the quotes", 6),
    ("group:marts)", "unmatched ')'", 11),
    ("group:marts kind:dbt", "expected 'and' or 'or' before 'kind'", 12),
    ("key:a,key:b", "commas separate keys only in the older syntax; join selections with 'or'", 5),
    ("roots()", "expected a selection inside the parentheses", 6),
    ("key:a++", "one '+' on each side", 6),
    ("group:marts & kind:dbt", "unexpected '&'; write 'and'", 12),
    ("key:a $", "unexpected character '$'", 6),
    ("owner:team:finance", "quote a value that contains ':', as in owner:\"team:finance\"", 10),
    ("", "the query is empty; write '*' to select every asset", 0),
    # The older syntax.
    ("a+1", "a number after '+' sets a depth only in the current syntax", 2),
    ("2+a", "a number before '+' sets a depth only in the current syntax; write 2+key:a", 2),
    ("raw_*_x", "'*' inside a key is a wildcard only in the current syntax", 5),
    ("raw_orders,", "expected an asset key after ','", 11),
    ("raw_orders scratch", "expected ',' between keys, found 'scratch'", 11),
    ("a*+", "not both", 2),
]


@pytest.mark.parametrize(("query", "message", "position"), BAD_QUERIES)
def test_bad_query_says_what_and_where(query: str, message: str, position: int) -> None:
    with pytest.raises(SelectionSyntaxError) as caught:
        parse_selection(query)
    assert message in caught.value.expected
    assert caught.value.position == position
    # The message quotes the query with a caret under the column.
    assert f"  {query}\n  {' ' * position}^" in str(caught.value)


def test_parser_errors_never_name_tokens() -> None:
    for query, _, _ in BAD_QUERIES:
        with pytest.raises(SelectionSyntaxError) as caught:
            parse_selection(query)
        for token_name in ("RPAREN", "LPAREN", "WORD", "QUOTED", "END", "COLON", "EOF"):
            assert token_name not in caught.value.expected


@pytest.mark.parametrize(
    "query", ["key:raw_order", "raw_order", "+raw_order", "raw_order or key:scratch"]
)
def test_unknown_exact_key_suggests_close_matches(query: str) -> None:
    with pytest.raises(UnknownAssetError) as caught:
        select(GRAPH, query)
    assert caught.value.key == "raw_order"
    assert caught.value.suggestions[0] == "raw_orders"
    assert "Did you mean 'raw_orders'" in str(caught.value)
    if query != "raw_order":
        assert repr(query) in str(caught.value)


def test_wildcard_that_matches_nothing_is_empty() -> None:
    assert select(GRAPH, "key:zzz*") == set()
    assert select(GRAPH, "key:zzz* or key:scratch") == keys("scratch")


# -- the algebra --------------------------------------------------------------------------


@dataclass(frozen=True)
class _MultiAsset:
    keys: tuple[AssetKey, ...]


@dataclass(frozen=True)
class _Spec:
    key: AssetKey


A = AssetSelection

ALGEBRA = [
    (A.all(), ALL),
    (
        A.keys(AssetKey(["marts", "orders"]), "raw_orders", ["scratch"]),
        keys("marts/orders raw_orders scratch"),
    ),
    (
        A.assets(_MultiAsset(keys=(AssetKey("stg_orders"), AssetKey("stg_payments")))),
        keys("stg_orders stg_payments"),
    ),
    (A.assets(_Spec(key=AssetKey("scratch")), "marts/revenue"), keys("scratch marts/revenue")),
    (A.groups("ingest", "marts"), RAW | MARTS | keys("vendor_feed")),
    (A.tag("pii"), keys("raw_customers stg_customers marts/customers")),
    # Dagster stores a key-only tag as key="", so a key-only tag is matched by value "".
    (A.tag("pii", ""), keys("raw_customers marts/customers")),
    (A.tag("pii", "email"), keys("stg_customers")),
    (A.tag("tier", "silver"), STG),
    (A.kind("snowflake"), MARTS),
    (A.owner("team:ingest"), keys("raw_orders raw_customers")),
    (A.key_wildcard("marts/*"), MARTS),
    (A.key_wildcard("*customers"), keys("raw_customers stg_customers marts/customers")),
    (A.groups("marts") | A.kind("s3"), MARTS | keys("vendor_feed")),
    (A.groups("staging") & A.kind("dbt"), STG),
    (A.groups("staging") - A.kind("dbt"), keys("order_items order_totals scratch")),
    (~A.groups("staging", "ingest"), MARTS),
    (A.keys("marts/orders").upstream(depth=1), keys("marts/orders order_items order_totals")),
    (
        A.keys("marts/orders").upstream(depth=1, include_self=False),
        keys("order_items order_totals"),
    ),
    (A.keys("stg_orders").downstream(), DOWN_OF_STG_ORDERS),
    (A.keys("stg_orders").downstream(include_self=False), DOWN_OF_STG_ORDERS - keys("stg_orders")),
    (A.keys("stg_orders").downstream(depth=0), keys("stg_orders")),
    (A.groups("staging").roots(), STG | keys("scratch")),
    (A.groups("staging").sinks(), keys("order_items order_totals stg_customers scratch")),
]


@pytest.mark.parametrize(("selection", "expected"), ALGEBRA)
def test_algebra_selects(selection: AssetSelection, expected: set[AssetKey]) -> None:
    assert selection.resolve(GRAPH) == expected


def test_unknown_key_in_algebra_names_it() -> None:
    with pytest.raises(UnknownAssetError, match="no asset with key 'marts/order'") as caught:
        A.keys("marts/order").resolve(GRAPH)
    assert "marts/orders" in caught.value.suggestions


def test_parser_builds_the_same_objects_as_the_algebra() -> None:
    assert parse_selection("group:marts and not kind:dbt") == A.groups("marts") & ~A.kind("dbt")
    assert parse_selection("2+key:a+1") == A.keys("a").upstream(2) | A.keys("a").downstream(1)
    assert parse_selection("roots(key:raw_*)") == A.key_wildcard("raw_*").roots()
    assert parse_selection("a,b*") == A.keys("a") | A.keys("b").downstream()
    assert parse_selection("tag:pii") == A.tag("pii")
    assert A.from_string("*") == A.all()


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (None, ALL),
        ("*", ALL),
        ("group:marts", MARTS),
        (A.kind("s3"), keys("vendor_feed")),
        (
            ["raw_orders", AssetKey("scratch"), ["marts", "orders"]],
            keys("raw_orders scratch marts/orders"),
        ),
        (["+stg_orders", "key:marts/*"], keys("stg_orders raw_orders") | MARTS),
        ([], set()),
    ],
)
def test_resolve_selection_accepts_every_form(selection: object, expected: set[AssetKey]) -> None:
    assert resolve_selection(GRAPH, selection) == expected  # type: ignore[arg-type]


def test_importing_selection_stays_light() -> None:
    code = (
        "import sys, flowdev.selection.algebra, flowdev.selection.syntax; "
        "heavy = {'networkx', 'textual'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- laws on random DAGs ------------------------------------------------------------------

GROUPS = ("g0", "g1", "g2")


@st.composite
def graphs(draw: st.DrawFn) -> AssetGraph:
    size = draw(st.integers(min_value=1, max_value=12))
    nodes = []
    for index in range(size):
        parents = draw(st.sets(st.integers(0, index - 1), max_size=3)) if index else set()
        nodes.append(
            AssetNode(
                key=AssetKey(f"n{index}"),
                parents=tuple(AssetKey(f"n{p}") for p in sorted(parents)),
                group_name=draw(st.sampled_from(GROUPS)),
                kinds=frozenset(draw(st.sets(st.sampled_from(("dbt", "python"))))),
            )
        )
    return AssetGraph(draw(st.permutations(nodes)))


@functools.cache  # building st.recursive anew for every example is most of the run time
def queries(size: int) -> st.SearchStrategy[str]:
    """Random current-syntax queries over a graph of keys n0..n{size-1}."""
    leaves = st.one_of(
        st.integers(0, size - 1).map(lambda i: f"key:n{i}"),
        st.sampled_from(GROUPS).map(lambda g: f"group:{g}"),
        st.sampled_from(("kind:dbt", "kind:python", "key:n1*", "*")),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        pair = st.tuples(inner, inner)
        return st.one_of(
            pair.map(lambda ab: f"({ab[0]} or {ab[1]})"),
            pair.map(lambda ab: f"({ab[0]} and {ab[1]})"),
            inner.map(lambda a: f"not ({a})"),
            inner.map(lambda a: f"+({a})"),
            inner.map(lambda a: f"({a})+1"),
            inner.map(lambda a: f"roots({a})"),
            inner.map(lambda a: f"sinks({a})"),
        )

    return st.recursive(leaves, extend, max_leaves=6)


@st.composite
def graph_and_queries(draw: st.DrawFn) -> tuple[AssetGraph, str, str]:
    graph = draw(graphs())
    return graph, draw(queries(len(graph))), draw(queries(len(graph)))


def _reachable_up(graph: AssetGraph, start: set[AssetKey]) -> set[AssetKey]:
    # An oracle independent of AssetGraph.upstream: repeat one-step growth to a fixpoint.
    found = set(start)
    while True:
        grown = found | {p for key in found for p in graph.parents(key)}
        if grown == found:
            return found
        found = grown


@settings(max_examples=150, deadline=None)
@given(graph_and_queries())
def test_de_morgan(case: tuple[AssetGraph, str, str]) -> None:
    graph, a, b = case
    everything = set(graph.keys)
    expected = everything - (select(graph, a) | select(graph, b))
    assert select(graph, f"not ({a} or {b})") == expected
    assert select(graph, f"not ({a}) and not ({b})") == expected
    x, y = parse_selection(a), parse_selection(b)
    assert (~(x | y)).resolve(graph) == (~x & ~y).resolve(graph) == expected


@settings(max_examples=150, deadline=None)
@given(graph_and_queries())
def test_traversals_grow_the_selection(case: tuple[AssetGraph, str, str]) -> None:
    graph, a, _ = case
    selected = select(graph, a)
    assert select(graph, f"({a})+") >= selected
    assert select(graph, f"+({a})") >= selected
    assert select(graph, f"({a})+1") <= select(graph, f"({a})+")
    assert select(graph, f"1+({a})") <= select(graph, f"+({a})")
    assert select(graph, f"({a})+0") == selected
    assert select(graph, f"+({a})") == _reachable_up(graph, selected)


@settings(max_examples=150, deadline=None)
@given(graph_and_queries())
def test_roots_and_sinks_lie_within_the_inner_selection(case: tuple[AssetGraph, str, str]) -> None:
    graph, a, _ = case
    inner = select(graph, a)
    roots, sinks = select(graph, f"roots({a})"), select(graph, f"sinks({a})")
    assert roots <= inner
    assert sinks <= inner
    assert all(not set(graph.parents(key)) & inner for key in roots)
    assert all(set(graph.parents(key)) & inner for key in inner - roots)
    assert all(not set(graph.children(key)) & inner for key in sinks)
    # A non-empty selection of a DAG has at least one root and one sink.
    assert bool(roots) == bool(inner) == bool(sinks)


@settings(max_examples=150, deadline=None)
@given(graph_and_queries())
def test_absorption(case: tuple[AssetGraph, str, str]) -> None:
    graph, a, b = case
    assert select(graph, f"({a} or {b}) and ({a})") == select(graph, a)
    assert select(graph, f"({a} and {b}) or ({a})") == select(graph, a)


@settings(max_examples=150, deadline=None)
@given(graph_and_queries())
def test_toposort_of_a_selection_respects_edges(case: tuple[AssetGraph, str, str]) -> None:
    graph, a, _ = case
    selected = select(graph, a)
    order = graph.toposort(selected)
    assert set(order) == selected
    position = {key: index for index, key in enumerate(order)}
    for key in order:
        for parent in graph.parents(key):
            if parent in position:
                assert position[parent] < position[key]
