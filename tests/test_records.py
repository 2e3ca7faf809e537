"""The load path's records: fast builders make exactly what the public constructors
make, records are frozen values, and interned asset keys behave as values."""

import copy
import pickle
import subprocess
import sys
import threading

import pytest
from flowdev import AssetDep, AssetKey, AssetsDefinition, AssetSpec, asset
from flowdev.defs.assets import new_assets_def, new_spec
from flowdev.keys import dep_on, named_key
from flowdev.records import FrozenRecordError, building, fields, record, replace
from flowdev.selection.graph import AssetNode, new_node


class Sentinel:
    """A distinct value per field: a builder that swaps two arguments fails the test."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


def sentinels(cls: type) -> dict[str, Sentinel]:
    return {name: Sentinel(name) for name in fields(cls)}


@pytest.mark.parametrize(
    ("cls", "builder"), [(AssetSpec, new_spec), (AssetNode, new_node)], ids=["spec", "node"]
)
def test_a_builder_sets_every_field_in_field_order(cls: type, builder: object) -> None:
    values = sentinels(cls)

    built = builder(*values.values())  # type: ignore[operator]

    assert type(built) is cls
    assert {name: getattr(built, name) for name in values} == values
    first_field = next(iter(values))
    with pytest.raises(FrozenRecordError, match=first_field):
        setattr(built, first_field, None)  # frozen like any other instance


def test_the_definition_builder_sets_every_field_in_field_order() -> None:
    values = sentinels(AssetsDefinition)
    arguments = list(values.values())
    arguments[5:5] = [None, None]  # after specs: nothing made later

    built = new_assets_def(*arguments)

    assert type(built) is AssetsDefinition
    assert {name: getattr(built, name) for name in values} == values


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
    __slots__ = ("x", "y", "_cache")

    def __init__(self, x: int, y: int) -> None:
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)


def test_a_record_is_a_frozen_value_of_its_public_fields() -> None:
    point = Point(1, 2)

    assert point == Point(1, 2) and point != Point(2, 1)
    assert hash(point) == hash(Point(1, 2))
    assert repr(point) == "Point(x=1, y=2)"
    assert pickle.loads(pickle.dumps(point)) == point
    assert copy.copy(point) == point
    assert replace(point, y=5) == Point(1, 5)
    with pytest.raises(TypeError, match="'z'"):
        replace(point, z=1)
    with pytest.raises(FrozenRecordError):
        point.x = 3
    with pytest.raises(FrozenRecordError):
        del point.y


def test_loading_assets_imports_neither_typing_nor_dataclasses() -> None:
    # Every worker and loader child pays for these modules: 9 ms together.
    code = (
        "import sys\n"
        "from flowdev import Definitions, asset\n"
        "from flowdev.project.project import load_definitions\n"
        "@asset\n"
        "def a(): return 1\n"
        "Definitions(assets=[a]).asset_graph.keys\n"
        "print(sorted({'typing', 'dataclasses', 'tomllib', 'traceback'} & set(sys.modules)))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == "[]"


def test_a_built_record_equals_and_hashes_like_a_constructed_one() -> None:
    key = AssetKey(["marts", "orders"])
    parents = (AssetKey("raw"),)

    built = new_node(key, parents, "marts", {}, frozenset({"sql"}), ("ada",), False)
    constructed = AssetNode(
        key=key, parents=parents, group_name="marts", kinds=frozenset({"sql"}), owners=("ada",)
    )

    assert built == constructed
    assert repr(built) == repr(constructed)
    assert pickle.loads(pickle.dumps(built)) == constructed
    assert replace(built, group_name="other").group_name == "other"


def test_building_refuses_a_class_without_slots() -> None:
    class Plain:
        value: int

    with pytest.raises(TypeError, match="slots"):
        building(Plain)
    with pytest.raises(TypeError, match="slots"):
        record(Plain)


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
    options = asset(group_name="g", metadata={"rows": 1}, owners=["ada"]).args[0]

    short, general = _decorate_plain(options, fn), _decorate_asset(options, fn)

    assert short == general
    assert short.input_keys == {"raw": AssetKey("raw"), "zones": AssetKey("zones")}
    assert short.context_param == ("context" if with_context else None)


def test_a_new_group_waits_with_the_spec_and_lands_in_it() -> None:
    from flowdev.defs.assets import _is_set

    @asset(group_name="old", metadata={"rows": 2})
    def orders(raw):  # type: ignore[no-untyped-def]
        """Orders."""

    moved = orders.with_attributes(group_name="new")

    assert not _is_set(moved, "specs")  # still to be made
    assert moved.keys == orders.keys and moved.parents == orders.parents
    (spec,) = moved.specs
    assert spec == orders.specs[0].replace_attributes(group_name="new")
    assert moved.input_keys == {"raw": AssetKey("raw")}
    assert orders.specs[0].group_name == "old"  # the original is untouched


@pytest.mark.parametrize("plain", [True, False])
def test_moving_keys_later_gives_what_moving_them_now_gives(plain: bool) -> None:
    from flowdev import AssetIn
    from flowdev.defs.assets import _is_set

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

    assert not _is_set(later, "specs")
    assert later.keys == now.keys == (AssetKey(["lake", "orders"]),)
    assert later.parents == now.parents
    assert later.specs == now.specs and later.input_keys == now.input_keys
    assert later.input_keys["raw"] == AssetKey(["lake", "raw"])
    assert later.input_keys["zones"] == AssetKey("zones")  # not loaded together: kept
