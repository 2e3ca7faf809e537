"""The isolated loader: real child processes, real files, a real fork server."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TAXI_ASSETS
from flowdev import AssetKey
from flowdev.project.forkserver import ForkServer, ForkServerError, fork_available
from flowdev.project.loader import Loader, LoadError, load_project
from flowdev.project.loader_child import warm_modules
from flowdev.project.project import find_project
from flowdev.project.snapshot import DefinitionsSnapshot

needs_fork = pytest.mark.skipif(not fork_available(), reason="no fork on this platform")

DEFS_WITH_HELPER = """
    import flowdev as dg
    import helper

    @dg.asset(description=helper.TEXT)
    def report():
        return 1

    defs = dg.Definitions(assets=[report])
"""


def user_modules_imported_here(root: Path) -> list[str]:
    """Modules of this (the asking) process whose source lives in ``root``."""
    return [
        name
        for name, module in list(sys.modules.items())
        if str(getattr(module, "__file__", None) or "").startswith(str(root))
    ]


@pytest.fixture
def loader() -> Iterator[Any]:
    """``loader(root, **options)`` makes a warm `Loader`, closed after the test."""
    made: list[Loader] = []

    def make(root: Path, **options: Any) -> Loader:
        made.append(Loader(find_project(root), **options))
        return made[-1]

    yield make
    for each in made:
        each.close()


def snapshot_of(result: DefinitionsSnapshot | LoadError) -> DefinitionsSnapshot:
    assert isinstance(result, DefinitionsSnapshot), result.describe()  # type: ignore[union-attr]
    return result


def error_of(result: DefinitionsSnapshot | LoadError) -> LoadError:
    assert isinstance(result, LoadError), f"expected a LoadError, got {len(result)} assets"
    return result


def pid_gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if is_zombie(pid):  # exited; its parent (maybe init) has not reaped it yet
            return True
        try:  # our own child: reap it
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.02)
    return False


def is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


# -- loading ---------------------------------------------------------------------------


@pytest.mark.parametrize("warm", [False, True], ids=["spawned", "forked"])
def test_loads_the_sample_project_without_importing_it_here(
    sample_project: Path, loader: Any, warm: bool
) -> None:
    modules_before = set(sys.modules)

    snapshot = snapshot_of(loader(sample_project, warm=warm).load())

    assert {a.key.to_user_string() for a in snapshot.assets if not a.is_external} == TAXI_ASSETS
    assert snapshot.get(AssetKey("fare_rates")).is_external
    assert [job.name for job in snapshot.jobs] == ["refresh_everything"]
    assert snapshot.load_seconds > 0
    assert user_modules_imported_here(sample_project) == []
    assert not any(name.split(".")[0] == "taxi" for name in set(sys.modules) - modules_before)


def test_load_project_is_a_one_shot_spawn(sample_project: Path) -> None:
    snapshot = snapshot_of(load_project(find_project(sample_project)))

    assert len([a for a in snapshot.assets if not a.is_external]) == len(TAXI_ASSETS)
    assert user_modules_imported_here(sample_project) == []


def test_loads_a_definitions_file(write_project: Any) -> None:
    root = write_project(
        {"pipelines/all.py": "import flowdev as dg\n\n@dg.asset\ndef a():\n    return 1\n\n"
         "defs = dg.Definitions(assets=[a])\n"},
        module=None,
    )  # fmt: skip

    snapshot = snapshot_of(load_project(find_project(root, file="pipelines/all.py")))

    assert snapshot.keys == (AssetKey("a"),)
    assert snapshot.assets[0].source_file == str(root / "pipelines" / "all.py")


@pytest.mark.parametrize("warm", [False, True], ids=["spawned", "forked"])
def test_nothing_the_module_started_outlives_the_load(
    write_project: Any, loader: Any, tmp_path: Path, warm: bool
) -> None:
    pid_file = tmp_path / "helper.pid"
    root = write_project(
        {
            "defs.py": f"""
            import subprocess, sys
            import flowdev as dg
            # Started at import, detached from the loader's pipes.
            helper = subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(60)"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            open({str(pid_file)!r}, "w").write(str(helper.pid))
            defs = dg.Definitions()
            """
        }
    )

    snapshot_of(loader(root, warm=warm).load())

    assert pid_gone(int(pid_file.read_text()))


def test_user_prints_do_not_corrupt_the_result(write_project: Any, loader: Any) -> None:
    root = write_project(
        {
            "defs.py": """
            import sys
            import flowdev as dg
            print("hello from the user's module")
            sys.stdout.write("{not json")

            @dg.asset
            def a():
                return 1

            defs = dg.Definitions(assets=[a])
            """
        }
    )

    assert snapshot_of(loader(root).load()).keys == (AssetKey("a"),)


@needs_fork
def test_an_edited_helper_module_is_seen(write_project: Any, loader: Any) -> None:
    root = write_project({"defs.py": DEFS_WITH_HELPER, "helper.py": 'TEXT = "one"\n'})
    warm = loader(root)
    assert snapshot_of(warm.load()).get(AssetKey("report")).description == "one"

    # Same size and (very likely) the same second: only a fresh import sees it.
    (root / "helper.py").write_text('TEXT = "two"\n')
    changed = [str(root / "helper.py")]
    assert snapshot_of(warm.load(changed)).get(AssetKey("report")).description == "two"
    (root / "helper.py").write_text('TEXT = "six"\n')
    assert snapshot_of(warm.load(changed)).get(AssetKey("report")).description == "six"
    assert user_modules_imported_here(root) == []


# -- load errors -------------------------------------------------------------------------


def test_syntax_error_then_fixed(write_project: Any, loader: Any) -> None:
    root = write_project({"defs.py": DEFS_WITH_HELPER, "helper.py": 'TEXT = "one"\n'})
    warm = loader(root)
    helper = root / "helper.py"
    helper.write_text('PREFIX = "a"\nTEXT = PREFIX +\n')

    error = error_of(warm.load([str(helper)]))

    assert error.kind == "syntax_error"
    assert error.exception_type == "SyntaxError"
    assert (error.file, error.line, error.column) == (str(helper), 2, 16)
    assert error.changed_files == (str(helper),)
    assert error.describe(relative_to=root).startswith("helper.py:2:16: SyntaxError: ")
    assert "(after a change to helper.py)" in error.describe(relative_to=root)
    # The import chain from the definitions module, then the offending line.
    assert f'File "{root / "defs.py"}", line 2' in error.traceback
    assert "TEXT = PREFIX +" in error.traceback

    helper.write_text('TEXT = "fixed"\n')
    snapshot = snapshot_of(warm.load([str(helper)]))
    assert snapshot.get(AssetKey("report")).description == "fixed"


def test_exception_at_module_level_points_at_the_user_frame(
    write_project: Any, loader: Any
) -> None:
    root = write_project(
        {
            "defs.py": DEFS_WITH_HELPER,
            "helper.py": """
            import json

            RATES = json.loads('{"base": 3}')
            TEXT = RATES["surcharge"]
            """,
        }
    )

    error = error_of(loader(root).load())

    assert error.kind == "module_error"
    assert error.exception_type == "KeyError"
    assert (error.file, error.line, error.column) == (str(root / "helper.py"), 4, 8)
    assert "KeyError: 'surcharge'" in error.describe()
    # Only the user's frames: no importlib, no flowdev.
    assert "importlib" not in error.traceback and "flowdev" not in error.traceback
    assert error.traceback.count('File "') == 2


def test_a_failing_import_is_an_import_error(write_project: Any, loader: Any) -> None:
    root = write_project({"defs.py": "import flowdev\nimport no_such_package_anywhere\n"})

    error = error_of(loader(root).load())

    assert error.kind == "import_error"
    assert error.exception_type == "ModuleNotFoundError"
    assert (error.file, error.line) == (str(root / "defs.py"), 2)


def test_invalid_definitions_are_a_definitions_error(write_project: Any, loader: Any) -> None:
    root = write_project(
        {
            "defs.py": """
            import flowdev as dg

            @dg.asset(deps=["b"])
            def a(): ...

            @dg.asset(deps=["a"])
            def b(): ...

            defs = dg.Definitions(assets=[a, b])
            """
        }
    )

    error = error_of(loader(root).load())

    assert error.kind == "definitions_error"
    assert error.exception_type == "CycleError"
    assert "a -> b -> a" in error.message or "b -> a -> b" in error.message
    assert (error.file, error.line) == (str(root / "defs.py"), 9)


def test_two_definitions_are_a_definitions_error(write_project: Any, loader: Any) -> None:
    root = write_project(
        {"defs.py": "import flowdev as dg\none = dg.Definitions()\ntwo = dg.Definitions()\n"}
    )

    error = error_of(loader(root).load())

    assert error.kind == "definitions_error"
    assert "several Definitions (one, two)" in error.message


def test_no_definitions_says_where_it_looked_and_how_to_fix_it(
    write_project: Any, loader: Any
) -> None:
    root = write_project({"defs.py": "import flowdev as dg\nVALUE = 1\n"})

    error = error_of(loader(root).load())

    assert error.kind == "no_definitions"
    assert error.file == str(root / "defs.py")
    assert "defines no Definitions" in error.message
    assert "module 'defs'" in error.message
    assert "[tool.flowdev] module" in error.message


def test_a_missing_module_is_no_definitions(write_project: Any, loader: Any) -> None:
    root = write_project({"defs.py": "import flowdev\n"}, module="pipelines.definitions")

    error = error_of(loader(root).load())

    assert error.kind == "no_definitions"
    assert "no module 'pipelines'" in error.message
    assert str(root) in error.message
    assert "[tool.flowdev] module" in error.message


def test_sys_exit_at_module_level_is_reported(write_project: Any, loader: Any) -> None:
    root = write_project({"defs.py": "import sys\nsys.exit(3)\n"})

    error = error_of(loader(root).load())

    assert error.kind == "module_error"
    assert "sys.exit(3)" in error.message
    assert error.line == 2


@pytest.mark.parametrize("warm", [False, True], ids=["spawned", "forked"])
def test_a_hanging_module_is_stopped_and_says_where(
    write_project: Any, loader: Any, tmp_path: Path, warm: bool
) -> None:
    pid_file = tmp_path / "pids"
    root = write_project(
        {
            "defs.py": f"""
            import os, subprocess, sys, time
            # Something it started must go too.
            sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            with open({str(pid_file)!r}, "w") as pids:
                pids.write(f"{{os.getpid()}} {{sleeper.pid}}")
            print("waiting for a server that never answers")
            while True:
                time.sleep(0.05)
            """
        }
    )
    started = time.monotonic()

    error = error_of(loader(root, timeout=1.5, warm=warm).load())

    assert time.monotonic() - started < 5
    assert error.kind == "timeout"
    assert "did not finish within 1.5 s" in error.message
    assert (error.file, error.line) == (str(root / "defs.py"), 8)
    assert error.describe().startswith(f"{root / 'defs.py'}:8: loading module 'defs'")
    assert "waiting for a server that never answers" in error.output
    loader_pid, sleeper_pid = (int(pid) for pid in pid_file.read_text().split())
    assert pid_gone(loader_pid) and pid_gone(sleeper_pid)


def test_a_crash_is_reported_with_where_it_happened(write_project: Any, loader: Any) -> None:
    root = write_project(
        {
            "defs.py": """
            import os, signal
            print("about to crash", flush=True)
            os.kill(os.getpid(), signal.SIGSEGV)
            """
        }
    )

    error = error_of(loader(root).load())

    assert error.kind == "crashed"
    assert "killed by SIGSEGV" in error.message
    assert (error.file, error.line) == (str(root / "defs.py"), 3)
    assert error.output == "about to crash\n"


def test_load_error_round_trips_through_json(write_project: Any, loader: Any) -> None:
    root = write_project({"defs.py": "x = (\n"})
    error = error_of(loader(root).load(["/somewhere/defs.py"]))

    again = LoadError.from_json(json.loads(json.dumps(error.to_json())))

    assert again == error
    assert again.changed_files == ("/somewhere/defs.py",)


# -- the warm fork server --------------------------------------------------------------


@needs_fork
def test_a_load_preloads_its_installed_imports_and_never_the_users(
    write_project: Any, loader: Any
) -> None:
    root = write_project(
        {
            "defs.py": "\n    import colorsys" + DEFS_WITH_HELPER,
            "helper.py": 'TEXT = "one"\n',
        }
    )
    warm = loader(root)
    snapshot_of(warm.load())

    preloaded = warm.fork_server.preloaded
    assert "colorsys" in preloaded  # the standard library
    assert "flowdev.defs.decorators" in preloaded  # flowdev itself
    assert "defs" not in preloaded and "helper" not in preloaded
    # The loader's child imports the library only: never the app, the CLI or networkx.
    assert not [m for m in preloaded if m.split(".")[0] in ("textual", "typer", "networkx")]


def test_warm_modules_are_installed_code_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake(name: str, file: Path | None) -> str:
        module = types.ModuleType(name)
        if file is not None:
            module.__file__ = str(file)
        monkeypatch.setitem(sys.modules, name, module)
        return name

    names = {
        "json",
        "pytest",
        "sys",  # built in
        fake("users_own", tmp_path / "proj" / "users_own.py"),
        fake("elsewhere", tmp_path / "lib" / "elsewhere.py"),  # on a path of its own
        fake("namespace_pkg", None),
        "this",
        fake("pytest.__main__", None),
    }

    assert warm_modules(names, tmp_path / "proj") == ["json", "pytest", "sys"]


@needs_fork
def test_warm_loader_survives_its_server_dying(write_project: Any, loader: Any) -> None:
    root = write_project({"defs.py": DEFS_WITH_HELPER, "helper.py": 'TEXT = "one"\n'})
    warm = loader(root)
    snapshot_of(warm.load())
    server = warm.fork_server
    assert server is not None and server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    assert pid_gone(server.pid)

    (root / "helper.py").write_text('TEXT = "two"\n')
    snapshot = snapshot_of(warm.load([str(root / "helper.py")]))

    assert snapshot.get(AssetKey("report")).description == "two"
    assert server.running  # started again for the next load


@needs_fork
def test_cancelling_an_async_load_kills_the_child(
    write_project: Any, loader: Any, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    root = write_project(
        {
            "defs.py": f"""
            import os, time
            open({str(pid_file)!r}, "w").write(str(os.getpid()))
            time.sleep(60)
            """
        }
    )
    warm = loader(root, timeout=30.0)

    async def cancel_midway() -> None:
        task = asyncio.ensure_future(warm.load_async())
        while not pid_file.exists() or not pid_file.read_text():
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())

    assert pid_gone(int(pid_file.read_text()))


PROBE = """
import json, os, signal, sys, threading

def main(argv):
    if argv == ["sleep"]:
        import time
        time.sleep(60)
    report = {
        "argv": argv,
        "cwd": os.getcwd(),
        "env": os.environ.get("PROBE_SETTING"),
        "preloaded": "colorsys" in sys.modules,
        "threaded": "threaded_probe" in sys.modules,
        "own_group": os.getpgid(0) == os.getpid(),
        "sigint_default": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
        "sigchld_default": signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL,
        "threads": threading.active_count(),
    }
    print(json.dumps(report))
    return int(argv[0]) if argv else 0
"""


@pytest.fixture
def probe_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ForkServer]:
    """A fork server whose path holds ``probe`` (reports on the child it runs in) and
    ``threaded_probe`` (starts a thread when imported)."""
    modules = tmp_path / "probe_modules"
    modules.mkdir()
    (modules / "probe.py").write_text(PROBE)
    (modules / "threaded_probe.py").write_text(
        "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True)"
        ".start()\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(modules))
    server = ForkServer(preload=["colorsys"])
    yield server
    server.stop()


def run_probe(server: ForkServer, tmp_path: Path, *args: str, **options: Any) -> dict[str, Any]:
    out = tmp_path / "probe.out"
    with open(out, "wb") as stdout, open(os.devnull, "rb") as stdin:
        fds = {"stdin": stdin.fileno(), "stdout": stdout.fileno(), "stderr": stdout.fileno()}
        child = server.fork_child("probe", list(args), **fds, **options)
        returncode = child.wait(timeout=10)
    return {"returncode": returncode, **json.loads(out.read_text())}


@needs_fork
def test_fork_server_runs_a_module_in_a_clean_child(
    probe_server: ForkServer, tmp_path: Path
) -> None:
    report = run_probe(
        probe_server, tmp_path, "7", cwd=tmp_path, env={**os.environ, "PROBE_SETTING": "on"}
    )

    assert report["returncode"] == 7
    assert report["argv"] == ["7"]
    assert report["cwd"] == str(tmp_path)
    assert report["env"] == "on"
    assert report["preloaded"] is True
    assert report["own_group"] and report["sigint_default"] and report["sigchld_default"]
    assert report["threads"] == 1


@needs_fork
def test_fork_server_kills_a_child_and_restarts_when_gone(
    probe_server: ForkServer, tmp_path: Path
) -> None:
    with open(os.devnull, "rb") as devnull, open(os.devnull, "wb") as sink:
        fds = {"stdin": devnull.fileno(), "stdout": sink.fileno(), "stderr": sink.fileno()}
        child = probe_server.fork_child("probe", ["sleep"], **fds)
        assert child.poll() is None
        child.kill()
        assert child.wait(timeout=10) == -signal.SIGKILL

        server_pid = probe_server.pid
        assert server_pid is not None
        os.kill(server_pid, signal.SIGKILL)
        assert pid_gone(server_pid)
        assert probe_server.fork_child("probe", ["3"], **fds).wait(timeout=10) == 3
        assert probe_server.pid != server_pid


@needs_fork
def test_a_fork_server_outlives_no_client(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from flowdev.project.forkserver import ForkServer\n"
        "server = ForkServer()\n"
        "server.start()\n"
        "print(server.pid, server._directory, flush=True)\n"
        "sys.stdin.read()\n"
    )
    client = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert client.stdout is not None
    server_pid, directory = client.stdout.readline().split()
    assert Path(directory).is_dir()

    client.kill()  # no stop(), no cleanup: the server sees its stdin close
    client.wait()

    assert pid_gone(int(server_pid))
    deadline = time.monotonic() + 5
    while Path(directory).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not Path(directory).exists()


@needs_fork
def test_a_hung_fork_server_is_an_error_not_a_hang(
    probe_server: ForkServer, tmp_path: Path
) -> None:
    run_probe(probe_server, tmp_path)
    server_pid = probe_server.pid
    assert server_pid is not None
    os.kill(server_pid, signal.SIGSTOP)
    try:
        with open(os.devnull, "rb") as devnull, pytest.raises(ForkServerError):
            fd = devnull.fileno()
            probe_server.fork_child("probe", [], stdin=fd, stdout=fd, stderr=fd, timeout=0.3)
    finally:
        os.kill(server_pid, signal.SIGCONT)


@needs_fork
def test_a_preload_that_starts_a_thread_is_refused(
    probe_server: ForkServer, tmp_path: Path
) -> None:
    run_probe(probe_server, tmp_path)
    first_pid = probe_server.pid
    probe_server.preload(["threaded_probe"])
    deadline = time.monotonic() + 10
    while probe_server.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not probe_server.running  # it would not fork with a thread running

    report = run_probe(probe_server, tmp_path)

    assert probe_server.pid != first_pid
    assert report["threaded"] is False and report["threads"] == 1
