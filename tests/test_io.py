"""IO managers: the filesystem round trip, atomic writes, key sanitisation, in-memory and
custom IO managers, and the error for an input that was never materialized."""

import datetime
import decimal
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flowdev import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    ConfigurableIOManager,
    FilesystemIOManager,
    InMemoryIOManager,
    InputContext,
    MaterializeResult,
    OutputContext,
    asset,
)
from flowdev.errors import ExecutionError
from flowdev.execution.materialize import materialize
from flowdev.paths import safe_path_part, storage_path
from flowdev.resources.files import SpareFiles, create_temp_file, remove_abandoned_temp_files


def files_under(directory: str | Path) -> set[str]:
    root = Path(directory)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


# -- FilesystemIOManager ---------------------------------------------------------------

VALUES: dict[str, Any] = {
    "an_int": 42,
    "a_text": "naïve ünïcode ✓",
    "a_dict": {"rows": [1, 2, 3], "nested": {"ok": True, "none": None}},
    "a_tuple_set": ((1, "a"), frozenset({2, 3})),
    "a_date": datetime.date(2026, 11, 1),
    "a_decimal": decimal.Decimal("3.14"),
    "a_bytes": b"\x00\xffbinary",
}


def test_values_of_several_types_round_trip_through_the_filesystem(storage_dir: str) -> None:
    def producer(name: str, value: Any) -> Any:
        @asset(name=name)
        def produce() -> Any:
            return value

        return produce

    definitions = [producer(name, value) for name, value in VALUES.items()]

    @asset(ins={"rows": AssetIn(key="a_dict"), "stamp": AssetIn(key="a_date")})
    def combined(rows: dict[str, Any], stamp: datetime.date) -> tuple[int, int]:
        return len(rows["rows"]), stamp.year

    materialize(definitions, storage_dir=storage_dir)
    # A second run reads every upstream from disk, not from the first run's memory.
    result = materialize([*definitions, combined], selection=["combined"], storage_dir=storage_dir)

    assert result.output_for("combined") == (3, 2026)
    for name, value in VALUES.items():
        assert pickle.loads((Path(storage_dir) / name).read_bytes()) == value
    assert files_under(storage_dir) == {*VALUES, "combined"}


def test_prefixed_keys_are_stored_in_directories(storage_dir: str) -> None:
    @asset(key_prefix=["lake", "raw"])
    def events() -> list[int]:
        return [1]

    result = materialize([events], storage_dir=storage_dir)

    path = Path(storage_dir) / "lake" / "raw" / "events"
    assert pickle.loads(path.read_bytes()) == [1]
    (event,) = result.asset_materializations_for("lake/raw/events")
    assert event.data["metadata"]["path"] == {"type": "path", "value": str(path)}


def test_an_assets_own_path_metadata_wins_over_the_io_managers(storage_dir: str) -> None:
    @asset
    def exported(context: AssetExecutionContext) -> MaterializeResult:
        context.add_output_metadata({"rows": 1})
        return MaterializeResult(value=[1], metadata={"path": "s3://bucket/exported.parquet"})

    result = materialize([exported], storage_dir=storage_dir)

    (event,) = result.asset_materializations_for("exported")
    assert event.data["metadata"]["path"]["value"] == "s3://bucket/exported.parquet"
    assert event.data["metadata"]["rows"]["value"] == 1
    assert (Path(storage_dir) / "exported").exists()  # stored where the IO manager puts it


def test_a_none_value_is_not_stored(storage_dir: str) -> None:
    @asset
    def side_effect_only() -> None:
        return None

    result = materialize([side_effect_only], storage_dir=storage_dir)

    assert result.success
    assert files_under(storage_dir) == set()


def test_base_dir_wins_over_the_run_storage(tmp_path: Path, storage_dir: str) -> None:
    elsewhere = tmp_path / "elsewhere"

    @asset
    def placed() -> int:
        return 5

    materialize(
        [placed],
        resources={"io_manager": FilesystemIOManager(base_dir=str(elsewhere))},
        storage_dir=storage_dir,
    )

    assert files_under(elsewhere) == {"placed"}
    assert files_under(storage_dir) == set()


def test_successful_writes_leave_no_temporary_files(storage_dir: str) -> None:
    @asset(key_prefix="nested")
    def first() -> list[int]:
        return list(range(1000))

    @asset(ins={"first": AssetIn(key_prefix="nested")})
    def second(first: list[int]) -> int:
        return len(first)

    materialize([first, second], storage_dir=storage_dir)
    materialize([first, second], storage_dir=storage_dir)  # overwrite in place

    assert files_under(storage_dir) == {"nested/first", "second"}


def test_a_failing_asset_never_replaces_the_stored_value(storage_dir: str) -> None:
    state = {"fail": False}

    @asset
    def fragile() -> dict[str, int]:
        if state["fail"]:
            raise RuntimeError("upstream API is down")
        return {"version": 1}

    materialize([fragile], storage_dir=storage_dir)
    stored = Path(storage_dir) / "fragile"
    before = stored.read_bytes()
    state["fail"] = True

    result = materialize([fragile], storage_dir=storage_dir, raise_on_error=False)

    assert not result.success
    assert stored.read_bytes() == before
    assert pickle.loads(before) == {"version": 1}
    assert files_under(storage_dir) == {"fragile"}


def test_a_write_that_fails_midway_keeps_the_old_value_and_no_temp_file(
    storage_dir: str,
) -> None:
    state = {"unpicklable": False}

    @asset
    def table() -> list[Any]:
        rows: list[Any] = list(range(10_000))  # some bytes reach the temp file first
        if state["unpicklable"]:
            rows.append(threading.Lock())
        return rows

    materialize([table], storage_dir=storage_dir)
    state["unpicklable"] = True

    result = materialize([table], storage_dir=storage_dir, raise_on_error=False)

    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.data["error_type"] == "TypeError"
    assert pickle.loads((Path(storage_dir) / "table").read_bytes()) == list(range(10_000))
    assert files_under(storage_dir) == {"table"}
    assert not result.asset_materializations_for("table")


def test_spare_files_are_made_ahead_taken_one_by_one_and_removed_on_close(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "not" / "yet"
    spares = SpareFiles()

    assert spares.take(str(directory)) is None  # the first call asks for them
    deadline = time.monotonic() + 10
    while len(files_under(tmp_path)) < SpareFiles.AHEAD and time.monotonic() < deadline:
        time.sleep(0.001)
    taken = spares.take(str(directory))
    spares.close()

    assert taken is not None
    fd, path = taken
    assert Path(path).parent == directory
    os.write(fd, b"value")
    os.close(fd)
    os.replace(path, directory / "key")
    # The one taken became the value; the ones made for later were removed.
    assert files_under(tmp_path) == {"not/yet/key"}


# A process that makes its spare files and a half-written value, then waits to be killed.
LEAVES_TEMP_FILES = """
import os, sys, time
from flowdev.resources.files import SpareFiles, create_temp_file

directory = sys.argv[1]
fd, _ = create_temp_file(os.path.join(directory, "half_written"))
os.write(fd, b"partial")
spares = SpareFiles()
spares.take(directory)
mine = f"~{os.getpid()}-"
deadline = time.monotonic() + 10
while sum(mine in name for name in os.listdir(directory)) < 1 + SpareFiles.AHEAD:
    if time.monotonic() > deadline:
        sys.exit("its temporary files were not all there")
    time.sleep(0.005)
print("ready", flush=True)
time.sleep(60)
"""


def test_temp_files_of_a_killed_process_go_when_a_directory_is_first_written_to(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "storage"
    directory.mkdir()
    (directory / "value").write_bytes(b"stored")
    # This process is writing a value there meanwhile: its temp file must survive.
    writing_fd, writing_path = create_temp_file(str(directory / "being_written"))
    child = subprocess.Popen(
        [sys.executable, "-c", LEAVES_TEMP_FILES, str(directory)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=10) == -signal.SIGKILL
    left = sorted(name for name in os.listdir(directory) if f"~{child.pid}-" in name)
    assert len(left) == 1 + SpareFiles.AHEAD
    # As if the dead process's pid had been reused by a live one (this one).
    os.rename(directory / left[0], directory / f".spare~{os.getpid()}-999999.tmp")

    spares = SpareFiles()
    spares.take(str(directory))  # the first ask for the directory also cleans it
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        any(f"~{child.pid}-" in name for name in os.listdir(directory))
        or len(os.listdir(directory)) < 2 + SpareFiles.AHEAD
    ):
        time.sleep(0.005)

    names = set(os.listdir(directory))
    assert {"value", Path(writing_path).name} <= names
    assert not any(f"~{child.pid}-" in name for name in names)
    assert f".spare~{os.getpid()}-999999.tmp" not in names
    assert len(names) == 2 + SpareFiles.AHEAD  # the live process's own spares
    # Whatever is left is held by a live process: a second cleanup removes nothing.
    assert remove_abandoned_temp_files(directory) == 0
    os.write(writing_fd, b"new value")
    os.replace(writing_path, directory / "being_written")
    os.close(writing_fd)
    spares.close()
    assert files_under(directory) == {"value", "being_written"}
    assert (directory / "being_written").read_bytes() == b"new value"


@pytest.mark.parametrize("part", [".spare~1-2.tmp", ".orders~123-0.tmp"])
def test_no_stored_value_is_ever_named_like_a_temp_file(part: str) -> None:
    from flowdev.resources.files import TEMP_NAME

    assert TEMP_NAME.fullmatch(part)
    assert TEMP_NAME.fullmatch(safe_path_part(part)) is None


def test_a_run_with_many_outputs_leaves_only_their_files(storage_dir: str) -> None:
    def producer(number: int) -> Any:
        @asset(name=f"a{number}", key_prefix="deep" if number % 2 else [])
        def produce() -> int:
            return number

        return produce

    materialize([producer(n) for n in range(20)], storage_dir=storage_dir)

    expected = {f"deep/a{n}" if n % 2 else f"a{n}" for n in range(20)}
    assert files_under(storage_dir) == expected
    assert {pickle.loads((Path(storage_dir) / name).read_bytes()) for name in expected} == set(
        range(20)
    )


def test_loading_an_upstream_that_was_never_materialized_names_it(storage_dir: str) -> None:
    @asset(key_prefix="raw")
    def orders() -> list[int]:
        return [1]

    @asset(ins={"orders": AssetIn(key="raw/orders")})
    def order_count(orders: list[int]) -> int:
        return len(orders)

    with pytest.raises(ExecutionError) as caught:
        materialize([orders, order_count], selection=["order_count"], storage_dir=storage_dir)

    message = str(caught.value)
    assert "input 'orders' reads asset 'raw/orders'" in message
    assert str(Path(storage_dir).resolve() / "raw" / "orders") in message
    assert "Materialize 'raw/orders' first" in message


def test_filesystem_io_manager_without_a_directory_says_so() -> None:
    manager = FilesystemIOManager()

    with pytest.raises(ExecutionError, match="give it base_dir="):
        manager.handle_output(OutputContext(asset_key=AssetKey("x")), 1)


# -- key sanitisation ------------------------------------------------------------------

HOSTILE_PARTS = [
    "..",
    ".",
    "",
    "...",
    "/etc",
    "a/b",
    "a\\b",
    "~",
    "x y",
    "naïve",
    "日本",
    "tab\there",
    "nul\x00byte",
    "-rf",
]


@pytest.mark.parametrize("part", HOSTILE_PARTS)
def test_safe_path_part_is_one_harmless_path_segment(part: str) -> None:
    safe = safe_path_part(part)

    assert safe not in ("", ".", "..")
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert safe.isascii()
    assert safe == safe_path_part(part)  # deterministic


@pytest.mark.parametrize("part", ["orders", "a_b", "v1.2", "raw-events", "_x"])
def test_safe_path_part_keeps_ordinary_parts(part: str) -> None:
    assert safe_path_part(part) == part


def test_different_parts_never_collide() -> None:
    parts = [*HOSTILE_PARTS, "a_b", "_etc", "a b", "a:b", "x_y", "_", "_.", ".._"]

    safe = [safe_path_part(p) for p in parts]

    assert len(set(safe)) == len(parts)


def test_an_ordinary_part_never_collides_with_an_escaped_one() -> None:
    escaped = safe_path_part("a/b")

    assert safe_path_part(escaped) != escaped


@pytest.mark.parametrize(
    "part",
    [*HOSTILE_PARTS, "a_b-c14cddc0", "%", "%25", "%2E", "a.", "a%2E", "\ud800", "x" * 40],
    ids=repr,
)
def test_a_segment_decodes_back_to_its_part(part: str) -> None:
    # Decoding is a function, so an encoding that always decodes back never collides.
    from urllib.parse import unquote

    safe = safe_path_part(part)
    decoded = "" if safe == "%" else unquote(safe, errors="surrogatepass")

    assert decoded == part
    assert not safe.endswith(".")


@pytest.mark.parametrize(
    "key",
    [
        AssetKey(["..", "x"]),
        AssetKey(["..", "..", "..", "etc", "passwd"]),
        AssetKey(["/etc", "passwd"]),
        AssetKey(["a/b"]),
        AssetKey(["."]),
        AssetKey([""]),
        AssetKey(["~", "x y", "日本"]),
    ],
    ids=repr,
)
def test_storage_path_stays_under_base(tmp_path: Path, key: AssetKey) -> None:
    base = tmp_path / "base"

    path = storage_path(base, key)

    assert path.resolve().is_relative_to(base.resolve())
    assert path.resolve() != base.resolve()
    assert len(path.relative_to(base.resolve()).parts) == len(key.path)


def test_storage_paths_of_different_keys_differ(tmp_path: Path) -> None:
    keys = [
        AssetKey(["a", "b"]),
        AssetKey(["a/b"]),
        AssetKey(["a_b"]),
        AssetKey([".."]),
        AssetKey(["_.."]),
        AssetKey(["/etc", "passwd"]),
        AssetKey(["_etc", "passwd"]),
    ]

    paths = {storage_path(tmp_path, key) for key in keys}

    assert len(paths) == len(keys)


def test_hostile_keys_round_trip_through_the_filesystem_io_manager(tmp_path: Path) -> None:
    base = tmp_path / "store"
    manager = FilesystemIOManager(base_dir=str(base))
    keys = [AssetKey(["..", "x"]), AssetKey(["/etc", "passwd"]), AssetKey(["a/b"])]

    for index, key in enumerate(keys):
        manager.handle_output(OutputContext(asset_key=key), index)

    assert [manager.load_input(InputContext(asset_key=key)) for key in keys] == [0, 1, 2]
    assert not (tmp_path / "x").exists()
    assert all(p.resolve().is_relative_to(base.resolve()) for p in base.rglob("*"))


# -- other IO managers -----------------------------------------------------------------


def test_in_memory_io_manager_keeps_values_by_key(storage_dir: str) -> None:
    memory = InMemoryIOManager()

    @asset
    def numbers() -> list[int]:
        return [1, 2]

    @asset
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    materialize([numbers, total], resources={"io_manager": memory}, storage_dir=storage_dir)
    again = materialize(
        [numbers, total],
        resources={"io_manager": memory},
        selection=["total"],
        storage_dir=storage_dir,
    )

    assert memory.values == {AssetKey("numbers"): [1, 2], AssetKey("total"): 3}
    assert again.output_for("total") == 3
    assert files_under(storage_dir) == set()
    with pytest.raises(ExecutionError, match="no value in memory for asset 'other'"):
        memory.load_input(InputContext(asset_key=AssetKey("other")))


class TextIOManager(ConfigurableIOManager):
    """Writes each value as text under ``root``; records what it was told."""

    root: str
    suffix: str = ".txt"

    def _file(self, key: AssetKey) -> Path:
        return Path(self.root, "__".join(key.path) + self.suffix)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        assert context.asset_key is not None
        path = self._file(context.asset_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(repr(obj))
        context.add_output_metadata(
            {"chars": len(repr(obj)), "output_name": context.name, "owner": "text"}
        )
        recorded.append(("out", context.asset_key, dict(context.definition_metadata)))

    def load_input(self, context: InputContext) -> Any:
        assert context.asset_key is not None
        recorded.append(("in", context.asset_key, context.name))
        return eval(self._file(context.asset_key).read_text())


recorded: list[tuple[Any, ...]] = []


def test_custom_configurable_io_manager_gets_input_and_output_contexts(
    tmp_path: Path, storage_dir: str
) -> None:
    recorded.clear()
    text_io = TextIOManager(root=str(tmp_path / "text"))

    @asset(metadata={"owner": "data"})
    def numbers() -> list[int]:
        return [1, 2, 3]

    @asset(ins={"values": AssetIn(key="numbers")})
    def total(values: list[int]) -> int:
        return sum(values)

    materialize([numbers], resources={"io_manager": text_io}, storage_dir=storage_dir)
    result = materialize(
        [numbers, total],
        resources={"io_manager": text_io},
        selection=["total"],
        storage_dir=storage_dir,
    )

    assert (tmp_path / "text" / "numbers.txt").read_text() == "[1, 2, 3]"
    assert result.output_for("total") == 6
    assert recorded == [
        ("out", AssetKey("numbers"), {"owner": "data"}),
        ("in", AssetKey("numbers"), "values"),
        ("out", AssetKey("total"), {}),
    ]
    (event,) = result.asset_materializations_for("total")
    assert event.data["metadata"]["chars"] == {"type": "int", "value": 1}
    assert event.data["metadata"]["output_name"] == {"type": "text", "value": "result"}


def test_io_manager_fields_come_from_run_config_resources(tmp_path: Path, storage_dir: str) -> None:
    @asset
    def note() -> str:
        return "hello"

    materialize(
        [note],
        resources={"io_manager": TextIOManager.configure_at_launch()},
        run_config={"resources": {"io_manager": {"config": {"root": str(tmp_path / "cfg")}}}},
        storage_dir=storage_dir,
    )

    assert (tmp_path / "cfg" / "note.txt").read_text() == "'hello'"
