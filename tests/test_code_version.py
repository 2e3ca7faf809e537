"""Automatic code versions: a hash of the function's source that ignores comments, layout
and the docstring, and changes with the body."""

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flowdev.code_version import forget_file, function_code_version

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
    from flowdev.in_process import materialize

    module = import_source(SOURCE, "recorded.py")
    result = materialize([module.orders, module.pinned], storage_dir=storage_dir)

    (orders_event,) = result.asset_materializations_for("orders")
    (pinned_event,) = result.asset_materializations_for("pinned")
    assert orders_event.data["code_version"] == module.orders.code_version_of(module.orders.key)
    assert pinned_event.data["code_version"] == "pinned-1"
