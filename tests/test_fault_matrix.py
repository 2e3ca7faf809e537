"""The fault matrix: every promise of the hardening issue, one real reproduction each.

Each section below mirrors a heading of that list, and each test name reads as the
promise it holds. Faults are made for real: real worker processes and signals, real
damaged files, a real full disk (a small tmpfs), a real terminal where it matters. A
test here fails if the behaviour it names breaks.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import SAMPLE_PROJECT
from flowdev import AssetKey
from flowdev.project import Project, find_project
from flowdev.tui.app import FlowdevApp
from test_tui_app import SIZE as APP_SIZE
from test_tui_app import until
from textual.widgets import ContentSwitcher, Static

# == Runs and processes ====================================================================


# == The instance (SQLite and files) =======================================================

INSTANCE_FLOWDEV = [sys.executable, "-m", "flowdev.cli"]
# Root passes every permission check; without these two capabilities it meets them as the
# file's owner does, which is how "no permission" is made for real here and in CI.
INSTANCE_WITHOUT_ROOT_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


def instance_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `flowdev` CLI in ``cwd``, whose instance is ``cwd/.flowdev``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "FLOWDEV_"))}
    clean["COLUMNS"] = "200"
    return subprocess.run(
        [*(prefix or []), *INSTANCE_FLOWDEV, *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def instance_with_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample project with a real instance: one run that materialized raw_zones."""
    root = tmp_path_factory.mktemp("instance") / "sample_project"
    shutil.copytree(
        SAMPLE_PROJECT,
        root,
        ignore=shutil.ignore_patterns("data", ".flowdev", "__pycache__", "*.pyc"),
    )
    made = instance_cli("materialize", "--select", "raw_zones", cwd=root)
    assert made.returncode == 0, made.stdout + made.stderr
    return root


@pytest.fixture
def instance_copy(instance_with_history: Path, tmp_path: Path) -> Path:
    """A fresh copy of `instance_with_history` to damage."""
    target = tmp_path / "sample_project"
    shutil.copytree(instance_with_history, target)
    return target


def instance_damage_every_page_but_the_first(db: Path) -> None:
    """A real database whose header and schema read fine, and whose tables do not."""
    data = bytearray(db.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[page_size:] = bytes([0xA5]) * (len(data) - page_size)
    db.write_bytes(data)


_INSTANCE_DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": lambda db: db.write_bytes(db.read_bytes()[:3000]),
    "random bytes": lambda db: db.write_bytes(random.Random(11).randbytes(db.stat().st_size)),
    "malformed": instance_damage_every_page_but_the_first,
    "zero bytes": lambda db: db.write_bytes(b""),
}


@pytest.fixture
def instance_read_only(instance_copy: Path) -> Iterator[Path]:
    """``.flowdev`` on a read-only bind mount of itself (a real EROFS, even for root)."""
    home = instance_copy / ".flowdev"
    subprocess.run(["mount", "--bind", str(home), str(home)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(home)], check=True)
        yield instance_copy
    finally:
        subprocess.run(["umount", str(home)], check=True)


def instance_assert_refused(
    completed: subprocess.CompletedProcess[str], named: Path, *words: str
) -> None:
    """Exit 2 with one paragraph on stderr that names ``named``, and no traceback."""
    output = completed.stdout + completed.stderr
    assert completed.returncode == 2, output
    assert "Traceback" not in output and "sqlite3." not in output, output
    paragraph = completed.stderr.strip()
    assert paragraph.startswith("error: ") and "\n" not in paragraph, paragraph
    assert str(named) in paragraph, paragraph
    for word in words:
        assert word in paragraph, paragraph


_INSTANCE_COMMANDS = (
    ("assets",),
    ("runs",),
    ("runs", "--json"),
    ("materialize", "-s", "raw_zones"),
)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("damage", sorted(_INSTANCE_DAMAGE))
def test_a_damaged_database_is_refused_with_its_path_and_left_as_it_is(
    instance_copy: Path, damage: str
) -> None:
    db = instance_copy / ".flowdev" / "flowdev.db"
    _INSTANCE_DAMAGE[damage](db)
    before = _digest(db)
    advice = "is empty (0 bytes)" if damage == "zero bytes" else "is damaged"
    for command in _INSTANCE_COMMANDS:
        completed = instance_cli(*command, cwd=instance_copy)
        instance_assert_refused(completed, db, advice, "mv ", "new, empty run history")
        if "--json" in command:
            assert '"kind": "StorageError"' in completed.stdout
        assert _digest(db) == before, f"{command} changed the damaged file"
    assert sorted(p.name for p in db.parent.iterdir()) == ["cache", "flowdev.db", "logs", "storage"]


def test_a_read_only_instance_is_refused_with_what_to_do(instance_read_only: Path) -> None:
    db = instance_read_only / ".flowdev" / "flowdev.db"
    before = _digest(db)
    for command in _INSTANCE_COMMANDS:
        completed = instance_cli(*command, cwd=instance_read_only)
        instance_assert_refused(completed, db, "read-only file system", "FLOWDEV_HOME")
    assert _digest(db) == before


def test_a_database_this_user_may_not_read_is_refused_with_what_to_do(
    instance_copy: Path,
) -> None:
    db = instance_copy / ".flowdev" / "flowdev.db"
    db.chmod(0)
    before = _digest(db)
    for command in _INSTANCE_COMMANDS:
        completed = instance_cli(*command, cwd=instance_copy, prefix=INSTANCE_WITHOUT_ROOT_OVERRIDE)
        instance_assert_refused(completed, db, "may not read and write", "FLOWDEV_HOME")
    assert _digest(db) == before
    assert db.stat().st_mode & 0o777 == 0


@pytest.fixture
def instance_small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB file system (tmpfs), unmounted afterwards."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


_INSTANCE_FILLS_THE_DISK = """
    import os

    from flowdev import Definitions, asset


    @asset
    def fills_the_disk() -> None:
        fd = os.open(os.path.join(os.environ["FLOWDEV_HOME"], "filler"), os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, bytes(65536))
        except OSError:
            pass  # ENOSPC: the disk is full, and the database is on it
        finally:
            os.close(fd)


    defs = Definitions(assets=[fills_the_disk])
"""


def test_a_full_disk_ends_the_run_with_that_reason_once_space_returns(
    write_project: Callable[..., Path], instance_small_disk: Path
) -> None:
    root = write_project({"defs.py": _INSTANCE_FILLS_THE_DISK})
    env = {"FLOWDEV_HOME": str(instance_small_disk)}
    db = instance_small_disk / "flowdev.db"

    completed = instance_cli("materialize", cwd=root, env=env)
    instance_assert_refused(completed, db, "is full", "Free some space")

    (instance_small_disk / "filler").unlink()
    listed = instance_cli("runs", "--json", cwd=root, env=env)
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)
    assert run["status"] == "failure"
    assert "is full" in run["error"] and str(db) in run["error"], run["error"]
    assert "exited unexpectedly" not in run["error"]


@pytest.mark.parametrize("damage", ["truncated", "random bytes"])
def test_a_damaged_stored_value_names_the_upstream_asset_and_its_file(
    instance_copy: Path, damage: str
) -> None:
    stored = instance_copy / ".flowdev" / "storage" / "raw_zones"
    value = stored.read_bytes()
    if damage == "truncated":
        stored.write_bytes(value[: len(value) // 2])
    else:
        stored.write_bytes(random.Random(11).randbytes(len(value)))

    completed = instance_cli("materialize", "--select", "zones", "--json", cwd=instance_copy)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    run_id = json.loads(completed.stdout)["run"]["run_id"]
    logs = instance_cli("logs", run_id, cwd=instance_copy).stdout
    [failure] = [line for line in logs.splitlines() if "zones failed:" in line]
    assert f"reads asset 'raw_zones' from {stored}, which cannot be unpickled" in failure
    assert "Materialize 'raw_zones' again" in failure


_INSTANCE_LONG_KEYS = """
    from flowdev import AssetIn, Definitions, asset

    LONGEST = "x" * 200


    @asset(name=LONGEST)
    def longest() -> int:
        return 1


    @asset(ins={"upstream": AssetIn(key=LONGEST)}, key_prefix=["k" * 200] * 4)
    def reads_it(upstream: int) -> int:
        return upstream + 1
"""


def test_an_asset_key_too_long_for_a_file_name_is_refused_by_check_with_the_limit(
    write_project: Callable[..., Path],
) -> None:
    source = (
        _INSTANCE_LONG_KEYS
        + """
    @asset(name="y" * 201)
    def too_long() -> int:
        return 1


    defs = Definitions(assets=[longest, reads_it, too_long])
    """
    )
    root = write_project({"defs.py": source})
    completed = instance_cli("check", cwd=root)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    first = completed.stderr.splitlines()[0]
    assert f"{root / 'defs.py'}:" in first
    assert "a part has 201 characters, and at most 200 are allowed" in first
    assert "255 bytes per file name" in first

    # The limit leaves room for what storing a value adds to a name: the longest keys
    # allowed are stored and read back.
    allowed = _INSTANCE_LONG_KEYS + "\n    defs = Definitions(assets=[longest, reads_it])\n"
    (root / "defs.py").write_text(textwrap.dedent(allowed))
    completed = instance_cli("materialize", cwd=root)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert (root / ".flowdev" / "storage" / ("x" * 200)).is_file()


def test_an_asset_key_path_too_long_for_the_file_system_is_refused_by_check(
    write_project: Callable[..., Path],
) -> None:
    source = (
        _INSTANCE_LONG_KEYS
        + """
    @asset(key_prefix=["k" * 200] * 6)
    def too_deep() -> int:
        return 1


    defs = Definitions(assets=[longest, reads_it, too_deep])
    """
    )
    root = write_project({"defs.py": source})
    completed = instance_cli("check", cwd=root)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    first = completed.stderr.splitlines()[0]
    assert "its path has 1214 characters, and at most 1024 are allowed" in first
    assert "path limit" in first


@pytest.fixture
def instance_app_project(instance_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The sample project with its history in ``.flowdev``, as the app finds it."""
    for name in list(os.environ):
        if name.startswith(("TAXI_", "FLOWDEV_")):
            monkeypatch.delenv(name)
    return find_project(instance_copy)


@pytest.mark.anyio
async def test_the_app_notices_its_instance_removed_and_opens_a_new_one(
    instance_app_project: Project,
) -> None:
    home = instance_app_project.home
    app = FlowdevApp(instance_app_project)
    async with app.run_test(size=APP_SIZE) as pilot:
        await until(pilot, lambda: len(app.runs) == 1 and app.statuses)
        assert app.statuses[AssetKey("raw_zones")].status.value == "fresh"

        shutil.rmtree(home)  # rm -rf .flowdev

        await until(pilot, lambda: not app.runs)
        await until(pilot, lambda: app.statuses[AssetKey("raw_zones")].status.value == "missing")
        assert (home / "flowdev.db").stat().st_size > 0  # a new instance, made whole
        assert app.is_running


@pytest.mark.anyio
async def test_the_app_shows_a_damaged_instance_in_a_panel_and_carries_on_once_moved_aside(
    instance_app_project: Project,
) -> None:
    db = instance_app_project.home / "flowdev.db"
    app = FlowdevApp(instance_app_project)
    async with app.run_test(size=APP_SIZE) as pilot:
        await until(pilot, lambda: len(app.runs) == 1)
        damaged = db.with_name("damaged.db")
        damaged.write_bytes(random.Random(11).randbytes(db.stat().st_size))
        damaged.replace(db)  # the database is replaced under the app by a damaged file

        panel = app.query_one("#storage-error", Static)
        await until(pilot, lambda: not panel.has_class("hidden"))
        text = str(panel.render())
        assert str(db) in text.replace("\n", "") and "is damaged" in text
        assert app.is_running
        await pilot.press("v")  # the app still answers keys
        await until(pilot, lambda: app.query_one("#views", ContentSwitcher).current == "list")

        db.rename(db.with_name("flowdev.db.damaged"))  # what the panel says to do
        await until(pilot, lambda: panel.has_class("hidden"))
        await until(pilot, lambda: not app.runs)
        assert app.storage_error is None


# == Bad input answered, never a traceback =================================================


# == The app never dies from what a user does ==============================================


# == Every supported Python ================================================================
