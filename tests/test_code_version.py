"""Automatic code versions: a hash of the function's source that ignores comments, layout
and the docstring, and changes with the body."""

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flowdev.defs import code_version
from flowdev.defs.code_version import forget_file, function_code_version, use_cache_dir

SOURCE = '''
import flowdev as dg


@dg.asset(group_name="g")
def orders() -> list[int]:
    """Orders of the day."""
    # keep only positive amounts
    amounts = [3, -1, 4]
    return [a for a in amounts if a > 0]


@dg.asset
def customers() -> list[str]:
    return ["ada", "grace"]


@dg.asset(code_version="pinned-1")
def pinned() -> int:
    return 1
'''


@pytest.fixture
def version_after(import_source: Callable[..., ModuleType]) -> Callable[..., dict[str, str]]:
    """Write ``source`` to the same file, import it afresh, and return each asset's
    automatic code version, read right after the import (as a run would)."""

    def versions(source: str) -> dict[str, str]:
        module = import_source(source, "versioned_assets.py")
        forget_file(module.__file__)  # the file was rewritten since any earlier read
        return {
            name: getattr(module, name).code_version_of(getattr(module, name).key)
            for name in ("orders", "customers", "pinned")
        }

    return versions


def test_auto_code_version_of_a_file_function() -> None:
    assert len(function_code_version(test_auto_code_version_of_a_file_function)) == 12


def test_version_is_a_short_stable_hash(version_after: Callable[..., Any]) -> None:
    first = version_after(SOURCE)
    again = version_after(SOURCE)

    assert first == again
    assert len(first["orders"]) == 12
    int(first["orders"], 16)  # hex digits
    assert first["orders"] != first["customers"]


def test_changing_only_a_comment_keeps_the_version(version_after: Callable[..., Any]) -> None:
    before = version_after(SOURCE)
    after = version_after(
        SOURCE.replace("# keep only positive amounts", "# refunds are negative: drop them")
    )

    assert after["orders"] == before["orders"]


def test_changing_the_layout_keeps_the_version(version_after: Callable[..., Any]) -> None:
    before = version_after(SOURCE)
    after = version_after(
        "\n\n# a new header comment shifts every line\n"
        + SOURCE.replace(
            "amounts = [3, -1, 4]", "amounts = [\n        3,\n        -1,\n        4,\n    ]"
        )
    )

    assert after["orders"] == before["orders"]
    assert after["customers"] == before["customers"]


def test_changing_the_body_changes_the_version(version_after: Callable[..., Any]) -> None:
    before = version_after(SOURCE)
    after = version_after(SOURCE.replace("if a > 0]", "if a >= 0]"))

    assert after["orders"] != before["orders"]
    assert after["customers"] == before["customers"]  # only the edited function changed


def test_changing_the_docstring_keeps_the_version(version_after: Callable[..., Any]) -> None:
    before = version_after(SOURCE)
    after = version_after(SOURCE.replace("Orders of the day.", "All orders, refunds removed."))

    assert after["orders"] == before["orders"]


def test_changing_the_decorator_keeps_the_version(version_after: Callable[..., Any]) -> None:
    before = version_after(SOURCE)
    after = version_after(SOURCE.replace('@dg.asset(group_name="g")', "@dg.asset"))

    assert after["orders"] == before["orders"]


def test_an_explicit_code_version_wins(version_after: Callable[..., Any]) -> None:
    before = version_after(SOURCE)
    after = version_after(SOURCE.replace("return 1", "return 2"))

    assert before["pinned"] == after["pinned"] == "pinned-1"


def test_a_stale_cache_is_refreshed_by_forget_file(
    tmp_path: Path, import_source: Callable[..., ModuleType]
) -> None:
    first = import_source(SOURCE, "cached.py")
    version = first.orders.code_version_of(first.orders.key)
    second = import_source(SOURCE.replace("if a > 0]", "if a > 10]"), "cached.py")

    forget_file(str(tmp_path / "cached.py"))

    assert second.orders.code_version_of(second.orders.key) != version


def test_the_materialization_records_the_code_version(
    import_source: Callable[..., ModuleType], storage_dir: str
) -> None:
    from flowdev.execution.materialize import materialize

    module = import_source(SOURCE, "recorded.py")
    result = materialize([module.orders, module.pinned], storage_dir=storage_dir)

    (orders_event,) = result.asset_materializations_for("orders")
    (pinned_event,) = result.asset_materializations_for("pinned")
    assert orders_event.data["code_version"] == module.orders.code_version_of(module.orders.key)
    assert pinned_event.data["code_version"] == "pinned-1"


NESTED = """
import flowdev as dg


def factory(name):
    if name:
        @dg.asset(name=name)
        def made() -> int:
            return 1

        return made
    try:
        pass
    except ValueError:
        def rescued() -> int:
            return 2


class Holder:
    def method(self) -> int:
        return 3
"""


def test_functions_nested_in_blocks_get_versions_too(
    import_source: Callable[..., ModuleType],
) -> None:
    module = import_source(NESTED, "nested_assets.py")
    forget_file(module.__file__)

    made = module.factory("made_here")

    version = made.code_version_of(made.key)
    assert len(version) == 12
    assert version != function_code_version(module.Holder.method)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "cache"
    use_cache_dir(directory)
    yield directory
    use_cache_dir(None)


def test_versions_are_kept_on_disk_by_file_content(
    import_source: Callable[..., ModuleType], cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = import_source(SOURCE, "cached_assets.py")
    forget_file(module.__file__)
    uncached = function_code_version(module.orders.fn)
    forget_file(module.__file__)

    use_cache_dir(cache_dir)
    first = function_code_version(module.orders.fn)
    (entry,) = cache_dir.iterdir()
    forget_file(module.__file__)

    def no_parsing(*args: object) -> dict[int, str]:
        raise AssertionError("the file was parsed again")

    with monkeypatch.context() as patch:
        patch.setattr(code_version, "_hash_functions_in", no_parsing)
        again = function_code_version(module.orders.fn)

    assert first == again == uncached
    assert entry.name.endswith(".json")


def test_an_edited_file_is_hashed_again_and_kept_beside_the_old_entry(
    version_after: Callable[..., dict[str, str]], cache_dir: Path
) -> None:
    before = version_after(SOURCE)
    after = version_after(SOURCE.replace("a > 0", "a >= 0"))

    assert before["orders"] != after["orders"]
    assert before["customers"] == after["customers"]
    assert len(list(cache_dir.iterdir())) == 2


def test_a_damaged_entry_is_computed_again_and_replaced(
    version_after: Callable[..., dict[str, str]], cache_dir: Path
) -> None:
    good = version_after(SOURCE)
    (entry,) = cache_dir.iterdir()
    entry.write_text('{"4": ')  # a torn write from some other tool

    assert version_after(SOURCE) == good
    assert json.loads(entry.read_text())


def test_an_unwritable_cache_only_costs_a_parse(
    version_after: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    use_cache_dir(blocker / "cache")
    try:
        versions = version_after(SOURCE)
    finally:
        use_cache_dir(None)

    assert len(versions["orders"]) == 12


def test_old_entries_are_pruned(
    import_source: Callable[..., ModuleType], cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(code_version, "_MAX_ENTRIES", 2)
    written = []
    for number in range(4):
        before = set(cache_dir.iterdir()) if cache_dir.exists() else set()
        module = import_source(f"def f():\n    return {number}\n", f"pruned_{number}.py")
        function_code_version(module.f)
        (new_entry,) = set(cache_dir.iterdir()) - before
        os.utime(new_entry, (1_000 + number, 1_000 + number))  # written in this order
        written.append(new_entry)

    assert set(cache_dir.iterdir()) == set(written[-2:])
