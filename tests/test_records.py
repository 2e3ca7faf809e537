"""Records: frozen values built on named tuples, fast builders that make exactly what
the public constructors make, and interned asset keys that behave as values."""

import copy
import operator
import pickle
import subprocess
import sys
import threading
from datetime import timedelta
from typing import Any

import pytest
from flowdev import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetDep,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    AssetSpec,
    FreshnessPolicy,
    RetryPolicy,
    asset,
)
from flowdev.defs.assets import new_spec
from flowdev.defs.decorators import AssetDecoratorArgs
from flowdev.events import EventKind, RunEvent
from flowdev.keys import dep_on, named_key
from flowdev.project.project import Project
from flowdev.records import (
    FrozenDict,
    FrozenRecordError,
    builder,
    field,
    fields,
    freeze,
    is_record,
    record,
    replace,
)
from flowdev.selection.algebra import AssetSelection, RootsAssetSelection, SinksAssetSelection
from flowdev.selection.graph import AssetNode


class Sentinel:
    """A distinct value per field: a builder that swaps two arguments fails the test."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


def sentinels(cls: type) -> dict[str, Sentinel]:
    return {name: Sentinel(name) for name in fields(cls)}


def test_the_spec_builder_sets_every_field_by_its_name() -> None:
    values = sentinels(AssetSpec)

    built = new_spec(**values)  # type: ignore[arg-type]

    assert type(built) is AssetSpec
    assert {name: getattr(built, name) for name in values} == values
    with pytest.raises(FrozenRecordError, match="key"):
        built.key = None  # type: ignore[misc]  # frozen like any other instance


def test_the_spec_builder_makes_what_the_public_constructor_makes() -> None:
    public = AssetSpec(
        ["marts", "orders"],
        deps=["raw"],
        description="Orders.",
        metadata={"rows": 3},
        group_name="g",
        code_version="v1",
        owners=["ada"],
        tags={"tier": "gold"},
        kinds={"sql"},
    )

    built = new_spec(
        key=AssetKey(["marts", "orders"]),
        deps=(dep_on(AssetKey("raw")),),
        description="Orders.",
        metadata=freeze({"rows": 3}),
        skippable=False,
        group_name="g",
        code_version="v1",
        freshness_policy=None,
        automation_condition=None,
        owners=("ada",),
        tags=freeze({"tier": "gold"}),
        kinds=frozenset({"sql"}),
    )

    assert built == public and hash(built) == hash(public)
    assert repr(built) == repr(public)


def test_the_decorator_arguments_are_kept_by_name() -> None:
    # `asset(...)` builds its arguments in field order: each must land in its own field.
    values = {name: Sentinel(name) for name in fields(AssetDecoratorArgs)}
    values.pop("output_required")
    values["deps"] = ["raw"]  # copied into a list (with non_argument_deps=)

    args = asset(**values).args[0]  # type: ignore[arg-type]

    assert args == AssetDecoratorArgs(**values)  # type: ignore[arg-type]
    assert {name: getattr(args, name) for name in values} == values


def test_an_asset_spec_is_made_on_first_read_and_then_kept() -> None:
    made: list[str] = []

    @asset(group_name="g", metadata={"rows": 3}, kinds={"python"})
    def orders(raw):
        """Orders."""
        made.append("called")

    assert orders.keys == (AssetKey("orders"),)
    assert orders.parents == ((AssetKey("raw"),),)
    spec = orders.specs[0]
    assert orders.specs[0] is spec  # made once
    assert spec == AssetSpec(
        "orders",
        deps=["raw"],
        description="Orders.",
        metadata={"rows": 3},
        group_name="g",
        kinds={"python"},
    )
    copied = copy.copy(orders)  # through __reduce__, as pickling is
    assert copied.specs == (spec,) and copied.parents == orders.parents
    assert made == []


@record
class Point:
    x: int
    y: int = 0


@record
class Other:
    x: int
    y: int = 0


def test_a_record_is_a_frozen_value_of_its_fields() -> None:
    point = Point(1, 2)

    assert point == Point(x=1, y=2) and point != Point(2, 1)
    assert Point(1) == Point(1, 0)  # defaults
    assert hash(point) == hash(Point(1, 2))
    assert repr(point) == "Point(x=1, y=2)"
    assert pickle.loads(pickle.dumps(point)) == point
    assert copy.copy(point) == point and copy.deepcopy(point) == point
    assert replace(point, y=5) == Point(1, 5) and point.y == 2
    assert is_record(point) and not is_record((1, 2))
    with pytest.raises(TypeError, match="'z'"):
        replace(point, z=1)
    with pytest.raises(AttributeError):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        point.z = 3  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        del point.y  # type: ignore[misc]


def test_a_record_equals_only_a_record_of_its_own_class() -> None:
    point = Point(1, 2)

    # Both ways round: Python asks the tuple too when the record declines.
    assert not operator.eq(point, (1, 2)) and not operator.eq((1, 2), point)
    assert operator.ne(point, (1, 2)) and operator.ne((1, 2), point)
    assert not operator.eq(point, Other(1, 2)) and not operator.eq(Other(1, 2), point)
    assert not operator.eq(AssetKey("orders"), ("orders",))
    assert not operator.eq(("orders",), AssetKey("orders"))
    assert not operator.eq((AssetKey("orders"),), AssetDep("orders"))
    assert len({point, Point(1, 2), Other(1, 2)}) == 2


def test_a_record_is_not_a_sequence() -> None:
    point = Point(1, 2)

    with pytest.raises(TypeError, match="by name"):
        list(point)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="by name"):
        point[0]  # type: ignore[index]


def test_a_record_is_not_ordered_unless_its_class_orders_itself() -> None:
    with pytest.raises(TypeError, match="not ordered"):
        Point(1, 2) < Point(2, 1)  # noqa: B015
    with pytest.raises(TypeError, match="not ordered"):
        (1, 2) < Point(2, 1)  # type: ignore[operator]  # noqa: B015, SIM300
    with pytest.raises(TypeError, match="by name"):
        1 in Point(1, 2)  # type: ignore[operator]  # noqa: B015
    with pytest.raises(TypeError, match="by name"):
        Point(1, 2) + Point(3, 4)  # type: ignore[operator]
    assert sorted([AssetKey("b"), AssetKey("a")]) == [AssetKey("a"), AssetKey("b")]


@record
class Stamped:
    name: str
    made: list[str] = field(default_factory=list)
    note: str | None = field(default=None, compare=False, repr=False)


def test_a_field_takes_a_factory_and_can_stay_out_of_equality_and_repr() -> None:
    first, second = Stamped("a"), Stamped("a")

    assert first.made == [] and first.made is not second.made  # one list per instance
    assert builder(Stamped)(name="b").made == []
    assert Stamped("a", ["x"]).made == ["x"]
    assert Stamped("a", note="why") == Stamped("a", note="other")
    assert Stamped("a", note="why") != Stamped("b", note="why")
    assert hash(Stamped("a", (), "why")) == hash(Stamped("a", (), "other"))  # type: ignore[arg-type]
    assert repr(Stamped("a", note="why")) == "Stamped(name='a', made=[])"
    kept = pickle.loads(pickle.dumps(Stamped("a", ["x"], "why")))
    assert kept.note == "why" and kept.made == ["x"]
    with pytest.raises(TypeError, match="not both"):
        field(default=(), default_factory=tuple)


def test_records_of_sibling_classes_on_one_base_are_never_equal() -> None:
    child = AssetSelection.keys("a")

    assert RootsAssetSelection(child=child) != SinksAssetSelection(child=child)
    assert RootsAssetSelection(child=child) == child.roots()
    assert AssetSelection.all() != () and AssetSelection.all() == AssetSelection.all()
    assert AssetSelection.keys("a") == AssetSelection.from_string("a")  # query not compared
    with pytest.raises(TypeError, match="by name"):
        len(AssetSelection.groups("g"))  # type: ignore[arg-type]


def test_a_run_event_round_trips_through_pickle() -> None:
    event = RunEvent(
        run_id="r1",
        kind=EventKind.ASSET_MATERIALIZATION,
        step_key="orders",
        asset_key=AssetKey(["marts", "orders"]),
        message="done",
        data={"metadata": {"rows": 3}},
    )

    kept = pickle.loads(pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL))

    assert kept == event and type(kept) is RunEvent
    assert kept.asset_key is AssetKey(["marts", "orders"])  # interned again
    assert kept.to_json() == event.to_json()
    assert RunEvent(run_id="r", kind=EventKind.LOG).data == {}


def test_a_record_refuses_a_mutable_default_and_defaults_before_fields() -> None:
    with pytest.raises(TypeError, match="mutable"):

        @record
        class Listed:
            items: list[int] = []

    with pytest.raises(TypeError, match="last"):

        @record
        class Misordered:
            x: int = 0
            y: int

    with pytest.raises(TypeError, match="subclass a record"):

        @record
        class Point3(Point):
            z: int = 0


def test_a_frozen_dict_reads_as_a_dict_and_refuses_changes() -> None:
    tags = FrozenDict({"tier": "gold"})

    assert tags == {"tier": "gold"} and dict(tags) == {"tier": "gold"}
    assert hash(tags) == hash(FrozenDict({"tier": "gold"}))
    assert pickle.loads(pickle.dumps(tags)) == tags
    for change in (
        lambda: tags.__setitem__("tier", "x"),
        lambda: tags.update(tier="x"),
        lambda: tags.pop("tier"),
        lambda: tags.clear(),
        lambda: tags.setdefault("new", "x"),
        lambda: tags.__delitem__("tier"),
    ):
        with pytest.raises(TypeError, match="frozen"):
            change()
    assert tags == {"tier": "gold"}


def test_frozen_records_keep_their_mappings_frozen() -> None:
    spec = AssetSpec("orders", metadata={"rows": 3}, tags={"tier": "gold"})
    metadata_given = {"rows": 1}
    asset_in = AssetIn("raw", metadata=metadata_given)
    metadata_given["rows"] = 2

    with pytest.raises(TypeError, match="frozen"):
        spec.metadata["rows"] = 4  # type: ignore[index]
    with pytest.raises(TypeError, match="frozen"):
        spec.tags["tier"] = "x"  # type: ignore[index]
    assert asset_in.metadata == {"rows": 1}  # a copy, not the caller's dict
    assert spec.replace_attributes(tags={"a": "b"}).tags == FrozenDict({"a": "b"})
    assert isinstance(spec.merge_attributes(metadata={"x": 1}).metadata, FrozenDict)


def test_specs_and_definitions_hash_and_pickle() -> None:
    @asset(group_name="g", metadata={"rows": 3}, tags={"tier": "gold"}, kinds={"sql"})
    def orders(raw):  # type: ignore[no-untyped-def]
        """Orders."""

    spec = orders.specs[0]

    assert hash(spec) == hash(AssetSpec("orders", **_spec_arguments(spec)))
    assert hash(orders) == hash(copy.copy(orders))
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert pickle.loads(pickle.dumps(AssetOut(key="x", tags={"a": "b"}))) == AssetOut(
        key="x", tags={"a": "b"}
    )
    assert replace(spec, group_name="h").group_name == "h"
    assert (
        copy.replace(spec, group_name="h") == replace(spec, group_name="h")
        if hasattr(copy, "replace")
        else spec.__replace__(group_name="h") == replace(spec, group_name="h")
    )


def _spec_arguments(spec: AssetSpec) -> dict[str, object]:
    return {
        "deps": spec.deps,
        "description": spec.description,
        "metadata": spec.metadata,
        "group_name": spec.group_name,
        "tags": spec.tags,
        "kinds": spec.kinds,
    }


def test_a_project_and_a_node_construct_by_keyword_with_defaults() -> None:
    from pathlib import Path

    project = Project(root=Path("/p"), module="m")

    assert project.watch == () and project.file is None
    assert replace(project, module="n").module == "n"
    assert AssetNode(key=AssetKey("a")).group_name == "default"
    assert builder(Point)(x=3, y=4) == Point(3, 4) and builder(Point)(3) == Point(3, 0)


BUILT_AND_CONSTRUCTED = {
    "AssetIn": (
        lambda: AssetIn(["raw", "orders"], metadata={"a": 1}, input_manager_key="m"),
        lambda: builder(AssetIn)(
            key=AssetKey(["raw", "orders"]),
            key_prefix=None,
            metadata=freeze({"a": 1}),
            input_manager_key="m",
        ),
    ),
    "AssetDep": (lambda: AssetDep("raw"), lambda: builder(AssetDep)(asset=AssetKey("raw"))),
    "AssetOut": (
        lambda: AssetOut("orders", key_prefix="marts", tags={"a": "b"}, kinds=["sql"]),
        lambda: builder(AssetOut)(
            key=AssetKey("orders"),
            key_prefix=("marts",),
            group_name=None,
            description=None,
            metadata=None,
            io_manager_key=None,
            is_required=True,
            code_version=None,
            freshness_policy=None,
            owners=None,
            tags=freeze({"a": "b"}),
            kinds=frozenset({"sql"}),
            deps=None,
        ),
    ),
    "FreshnessPolicy": (
        lambda: FreshnessPolicy(maximum_lag_minutes=60),
        lambda: builder(FreshnessPolicy)(fail_window=timedelta(minutes=60)),
    ),
    "RetryPolicy": (
        lambda: RetryPolicy(max_retries=3, delay=1.0),
        lambda: builder(RetryPolicy)(max_retries=3, delay=1.0),
    ),
    "AssetCheckSpec": (
        lambda: AssetCheckSpec("positive", asset="orders", additional_deps=["raw"]),
        lambda: builder(AssetCheckSpec)(
            name="positive",
            asset_key=AssetKey("orders"),
            additional_deps=(AssetKey("raw"),),
        ),
    ),
    "AssetCheckResult": (
        lambda: AssetCheckResult(passed=1, asset_key="orders", metadata={"n": 1}),  # type: ignore[arg-type]
        lambda: builder(AssetCheckResult)(
            passed=True, asset_key=AssetKey("orders"), metadata=freeze({"n": 1})
        ),
    ),
}


@pytest.mark.parametrize("case", BUILT_AND_CONSTRUCTED.values(), ids=list(BUILT_AND_CONSTRUCTED))
def test_a_builder_makes_what_the_public_constructor_makes(case: Any) -> None:
    construct, build = case

    constructed, built = construct(), build()

    assert built == constructed and hash(built) == hash(constructed)
    assert repr(built) == repr(constructed)
    assert pickle.loads(pickle.dumps(constructed)) == built


def test_loading_assets_imports_neither_dataclasses_nor_tomllib() -> None:
    # Every worker and loader child pays for these modules (`typing` it does import,
    # for the records: 1-2 ms).
    code = (
        "import sys\n"
        "from flowdev import Definitions, asset\n"
        "from flowdev.project.project import load_definitions\n"
        "@asset\n"
        "def a(): return 1\n"
        "Definitions(assets=[a]).asset_graph.keys\n"
        "print(sorted({'dataclasses', 'tomllib', 'traceback'} & set(sys.modules)))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == "[]"


def test_equal_keys_are_one_object_however_they_are_made() -> None:
    key = AssetKey(["marts", "orders"])

    assert AssetKey(("marts", "orders")) is key
    assert AssetKey.from_user_string("marts/orders") is key
    assert AssetKey(["orders"]).with_prefix("marts") is key
    assert pickle.loads(pickle.dumps(key)) is key
    assert copy.deepcopy(key) is key and copy.copy(key) is key
    assert named_key("orders") is AssetKey("orders")
    assert AssetKey("orders") != "orders"
    assert {key: 1}[AssetKey(["marts", "orders"])] == 1


def test_keys_made_at_once_by_several_threads_are_still_one_object() -> None:
    made: list[AssetKey] = []
    barrier = threading.Barrier(8)

    def make() -> None:
        barrier.wait()
        made.append(AssetKey(["race", "key", str(threading.get_ident() % 1)]))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(key) for key in made}) == 1


def test_a_shared_dep_is_the_same_as_a_new_one() -> None:
    key = AssetKey("orders")

    assert dep_on(key) == AssetDep(key)
    assert dep_on(key) is dep_on(AssetKey("orders"))


@pytest.mark.parametrize("with_context", [False, True])
def test_the_short_decorator_path_makes_what_the_general_one_makes(with_context: bool) -> None:
    from flowdev.defs.decorators import _decorate_asset, _decorate_plain

    def orders(raw, zones):  # type: ignore[no-untyped-def]
        """Orders."""

    def orders_with_context(context, raw, zones):  # type: ignore[no-untyped-def]
        """Orders."""

    fn = orders_with_context if with_context else orders
    args = asset(group_name="g", metadata={"rows": 1}, owners=["ada"]).args[0]

    short, general = _decorate_plain(args, fn), _decorate_asset(args, fn)

    assert short == general
    assert short.input_keys == {"raw": AssetKey("raw"), "zones": AssetKey("zones")}
    assert short.context_param == ("context" if with_context else None)


def test_a_new_group_waits_with_the_spec_and_lands_in_it() -> None:
    @asset(group_name="old", metadata={"rows": 2})
    def orders(raw):  # type: ignore[no-untyped-def]
        """Orders."""

    moved = orders.with_attributes(group_name="new")

    assert not moved.lazy.is_made("specs")  # still to be made
    assert moved.keys == orders.keys and moved.parents == orders.parents
    (spec,) = moved.specs
    assert spec == orders.specs[0].replace_attributes(group_name="new")
    assert moved.input_keys == {"raw": AssetKey("raw")}
    assert orders.specs[0].group_name == "old"  # the original is untouched


@pytest.mark.parametrize("plain", [True, False])
def test_moving_keys_later_gives_what_moving_them_now_gives(plain: bool) -> None:

    def define() -> AssetsDefinition:
        if plain:

            @asset(group_name="old")
            def orders(raw, zones):  # type: ignore[no-untyped-def]
                """Orders."""

        else:

            @asset(ins={"raw": AssetIn("raw")}, deps=["side"])
            def orders(raw, zones):  # type: ignore[no-untyped-def]
                """Orders."""

        return orders

    key_map = {k: k.with_prefix("lake") for k in map(AssetKey, ["orders", "raw", "side"])}
    later = define().with_attributes(asset_key_map=key_map, group_name="lake")
    source = define()
    assert source.specs  # made first: the eager path
    now = source.with_attributes(asset_key_map=key_map, group_name="lake")

    assert not later.lazy.is_made("specs")
    assert later.keys == now.keys == (AssetKey(["lake", "orders"]),)
    assert later.parents == now.parents
    assert later.specs == now.specs and later.input_keys == now.input_keys
    assert later.input_keys["raw"] == AssetKey(["lake", "raw"])
    assert later.input_keys["zones"] == AssetKey("zones")  # not loaded together: kept
