"""The load path's fast builders make exactly what the public constructors make, and
interned asset keys behave as values."""

import copy
import dataclasses
import pickle
import threading

import pytest
from flowdev import AssetDep, AssetKey, AssetsDefinition, AssetSpec
from flowdev.asset_graph import AssetNode, new_node
from flowdev.assets import new_assets_def, new_spec
from flowdev.keys import dep_on, named_key
from flowdev.records import building


class Sentinel:
    """A distinct value per field: a builder that swaps two arguments fails the test."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


def sentinels(cls: type) -> dict[str, Sentinel]:
    return {f.name: Sentinel(f.name) for f in dataclasses.fields(cls)}


@pytest.mark.parametrize(
    ("cls", "builder"),
    [(AssetSpec, new_spec), (AssetsDefinition, new_assets_def), (AssetNode, new_node)],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_builder_sets_every_field_in_field_order(cls: type, builder: object) -> None:
    values = sentinels(cls)

    record = builder(*values.values())  # type: ignore[operator]

    assert type(record) is cls
    assert {name: getattr(record, name) for name in values} == values
    first_field = next(iter(values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, first_field, None)  # frozen like any other instance


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
    assert dataclasses.replace(built, group_name="other").group_name == "other"


def test_building_refuses_a_class_without_slots() -> None:
    @dataclasses.dataclass(frozen=True)
    class Plain:
        value: int

    with pytest.raises(TypeError, match="slots"):
        building(Plain)


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
