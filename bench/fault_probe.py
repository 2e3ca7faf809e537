"""Bad inputs a hostile user or a bad day would give flowdev's CLI, and how each is answered.

Each case runs the real ``flowdev`` binary on a fresh copy of the sample project (or a
small project written for the case) and is *answered* when the command ends within its
time limit with exit code 1 or 2, prints no Python traceback, and its message names
where the problem is (the case's location: a file, a key, a column, a setting). The
total is the figure the hardening issue asks for ("N of M bad inputs get a located
message").

    python bench/fault_probe.py            # the table and the total
    python bench/fault_probe.py --only cron,config  # cases whose name has a word
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_project"
FLOWDEV = shutil.which("flowdev") or "flowdev"


@dataclass(frozen=True)
class Case:
    """One bad input: the command's arguments and where its message must point.

    ``located`` is a regular expression the output must match; ``setup`` prepares the
    project directory (damage a file, write a module) before the command runs.
    """

    name: str
    args: list[str]
    located: str
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 45.0
    project: dict[str, str] | None = None  # a small project of its own: path -> source


def _write(relative: str, text: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))

    return setup


def _write_bytes(relative: str, data: bytes) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return setup


def _instance(damage: Callable[[Path], None]) -> Callable[[Path], None]:
    """Materialize one asset for a real history, then damage ``.flowdev/flowdev.db``."""

    def setup(root: Path) -> None:
        subprocess.run(
            [FLOWDEV, "materialize", "-p", str(root), "-s", "raw_zones"],
            capture_output=True,
            check=True,
            timeout=60,
        )
        damage(root / ".flowdev" / "flowdev.db")

    return setup


def _truncate(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])


def _random_bytes(db: Path) -> None:
    db.write_bytes(os.urandom(db.stat().st_size or 8192))


def _zero_bytes(db: Path) -> None:
    db.write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def _malformed(db: Path) -> None:
    # Checkpoint the WAL into the file first, so the damage is to pages SQLite reads.
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    page = 4096
    for start in range(2 * page, len(data), page):
        data[start : start + 64] = os.urandom(64)
    db.write_bytes(bytes(data))


def _db_is_a_directory(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.mkdir()


def _tiny(source: str) -> dict[str, str]:
    return {"defs.py": textwrap.dedent(source).lstrip("\n")}


# One asset with a Config of one int field: the run config cases' target.
CONFIGURED_ASSET = _tiny(
    """
    import flowdev as dg

    class AConfig(dg.Config):
        n: int = 1

    @dg.asset
    def a(config: AConfig) -> int:
        return config.n

    defs = dg.Definitions(assets=[a])
    """
)


def cases() -> list[Case]:
    """Every bad input the probe tries."""
    deep_json = "[" * 100_000 + "]" * 100_000
    return [
        # -- selections ------------------------------------------------------------------
        Case("selection: unclosed parenthesis", ["assets", "-s", "(raw_trips"], r"column|\^"),
        Case("selection: 200 nested parentheses", ["assets", "-s", "(" * 200 + "a"], r"column|\^"),
        Case("selection: 1,000 nots", ["assets", "-s", "not " * 1000 + "a"], r"column|\^"),
        Case("selection: 5,000 ands", ["assets", "-s", " and ".join(["a"] * 5000)], r"key 'a'"),
        Case("selection: unknown key", ["materialize", "-s", "raw_tripz"], r"raw_tripz"),
        Case("selection: unknown attribute", ["assets", "-s", "colour:red"], r"colour"),
        Case("selection: trailing operator", ["assets", "-s", "raw_trips and"], r"column|\^"),
        Case("selection: empty string", ["materialize", "-s", ""], r"selection|column|\^"),
        Case("selection: stray character", ["assets", "-s", "raw_trips $"], r"column|\^"),
        Case(
            "selection: bad depth",
            ["assets", "-s", "99999999999999999999+raw_trips"],
            r"column|\^|depth",
        ),
        # -- run config ------------------------------------------------------------------
        Case("config: missing file", ["materialize", "-c", "nope.json"], r"nope\.json"),
        Case(
            "config: not UTF-8",
            ["materialize", "-c", "bad.json"],
            r"bad\.json",
            setup=_write_bytes("bad.json", b'{"ops": {"\xff\xfe": 1}}'),
        ),
        Case(
            "config: invalid JSON",
            ["materialize", "-c", "bad.json"],
            r"bad\.json",
            setup=_write("bad.json", '{"ops": {'),
        ),
        Case(
            "config: deeply nested JSON",
            ["materialize", "-c", "deep.json"],
            r"deep\.json",
            setup=_write("deep.json", deep_json),
        ),
        Case(
            "config: invalid TOML",
            ["materialize", "-c", "bad.toml"],
            r"bad\.toml",
            setup=_write("bad.toml", "ops = [\n"),
        ),
        Case(
            "config: top level is a list",
            ["materialize", "-c", "list.json"],
            r"list\.json",
            setup=_write("list.json", "[1, 2]"),
        ),
        Case(
            "config: unknown op",
            ["materialize", "-c", "c.json"],
            r"ops\.no_such_asset",
            setup=_write("c.json", '{"ops": {"no_such_asset": {"config": {}}}}'),
        ),
        Case(
            "config: unknown top-level key",
            ["materialize", "-c", "c.json"],
            r"opz",
            setup=_write("c.json", '{"opz": {}}'),
        ),
        Case(
            "config: unknown resource",
            ["materialize", "-c", "c.json"],
            r"resources\.nope",
            setup=_write("c.json", '{"resources": {"nope": {"config": {}}}}'),
        ),
        Case(
            "config: wrong type for a field",
            ["materialize", "-c", "c.json"],
            r"ops\.a\.config\.n",
            setup=_write("c.json", '{"ops": {"a": {"config": {"n": "ten"}}}}'),
            project=CONFIGURED_ASSET,
        ),
        Case(
            "config: unknown field",
            ["materialize", "-c", "c.json"],
            r"ops\.a\.config\.m",
            setup=_write("c.json", '{"ops": {"a": {"config": {"m": 1}}}}'),
            project=CONFIGURED_ASSET,
        ),
        # -- command-line arguments ------------------------------------------------------
        Case("runs: --limit too large", ["runs", "--limit", "99999999999999999999"], r"limit"),
        Case("runs: --limit negative", ["runs", "--limit", "-1"], r"limit"),
        Case("logs: 100 KB run id", ["logs", "a" * 100_000], r"run"),
        Case("logs: run id with LIKE wildcards", ["logs", "%_%"], r"run"),
        Case("logs: unknown run id", ["logs", "deadbeef"], r"deadbeef"),
        Case("cancel: unknown run id", ["cancel", "deadbeef"], r"deadbeef"),
        Case("reexecute: unknown run id", ["reexecute", "deadbeef"], r"deadbeef"),
        Case(
            "project: directory does not exist", ["assets", "-p", "/nonexistent/x"], r"nonexistent"
        ),
        Case(
            "project: module does not exist", ["assets", "-m", "no_such_module"], r"no_such_module"
        ),
        Case("project: file does not exist", ["assets", "-f", "nope.py"], r"nope\.py"),
        Case("project: file is a directory", ["assets", "-f", "taxi"], r"taxi"),
        Case(
            "env: FLOWDEV_MAX_CONCURRENT_RUNS=x",
            ["materialize", "-s", "raw_zones"],
            r"FLOWDEV_MAX_CONCURRENT_RUNS",
            env={"FLOWDEV_MAX_CONCURRENT_RUNS": "x"},
        ),
        # -- the project's code ----------------------------------------------------------
        Case(
            "load: syntax error",
            ["check"],
            r"defs\.py:\d+",
            project=_tiny("import flowdev as dg\n\n@dg.asset\ndef a(:\n    return 1\n"),
        ),
        Case(
            "load: import raises",
            ["assets"],
            r"defs\.py:\d+",
            project=_tiny("import flowdev as dg\nraise RuntimeError('boom')\n"),
        ),
        Case(
            "load: os._exit(3) at import",
            ["check"],
            r"defs",
            project=_tiny("import os\nos._exit(3)\n"),
        ),
        Case(
            "load: sys.exit(0) at import",
            ["check"],
            r"defs",
            project=_tiny("import sys\nsys.exit(0)\n"),
        ),
        Case(
            "load: infinite recursion at import",
            ["check"],
            r"defs\.py:\d+",
            project=_tiny("def f():\n    return f()\nf()\n"),
        ),
        Case(
            "load: hangs past load_timeout",
            ["check", "--load-timeout", "2"],
            r"defs\.py:\d+",
            project=_tiny("import time\ntime.sleep(600)\n"),
        ),
        Case(
            "load: hangs past pyproject load_timeout",
            ["check"],
            r"defs\.py:\d+",
            project=_tiny("import time\ntime.sleep(600)\n"),
            setup=_write(
                "pyproject.toml",
                '[project]\nname = "p"\nversion = "0"\n\n'
                '[tool.flowdev]\nmodule = "defs"\nload_timeout = 2\n',
            ),
        ),
        Case(
            "load: a cycle",
            ["check"],
            r"\ba\b.*\bb\b|\bb\b.*\ba\b",
            project=_tiny(
                """
                import flowdev as dg

                @dg.asset(deps=["b"])
                def a() -> None: ...

                @dg.asset(deps=["a"])
                def b() -> None: ...

                defs = dg.Definitions(assets=[a, b])
                """
            ),
        ),
        Case(
            "load: duplicate key",
            ["check"],
            r"\ba\b",
            project=_tiny(
                """
                import flowdev as dg

                @dg.asset(name="a")
                def first() -> int:
                    return 1

                @dg.asset(name="a")
                def second() -> int:
                    return 2

                defs = dg.Definitions(assets=[first, second])
                """
            ),
        ),
        Case(
            "load: invalid cron on a schedule",
            ["check"],
            r"61 99|defs\.py:\d+",
            project=_tiny(
                """
                import flowdev as dg

                @dg.asset
                def a() -> int:
                    return 1

                job = dg.define_asset_job("j", selection="*")
                defs = dg.Definitions(
                    assets=[a], jobs=[job],
                    schedules=[dg.ScheduleDefinition(job=job, cron_schedule="61 99 * * *")],
                )
                """
            ),
        ),
        Case(
            "load: invalid cron in a freshness policy (assets)",
            ["assets"],
            r"61 99|defs\.py:\d+",
            project=_tiny(
                """
                import flowdev as dg

                @dg.asset(freshness_policy=dg.FreshnessPolicy(
                    maximum_lag_minutes=5, cron_schedule="61 99 * * *"))
                def a() -> int:
                    return 1

                defs = dg.Definitions(assets=[a])
                """
            ),
        ),
        Case(
            "load: asset key too long for the filesystem",
            ["check"],
            r"255|too long",
            project=_tiny(
                f"""
                import flowdev as dg

                @dg.asset(name="{"k" * 300}")
                def a() -> int:
                    return 1

                defs = dg.Definitions(assets=[a])
                """
            ),
        ),
        Case(
            "load: broken pyproject.toml",
            ["assets"],
            r"pyproject\.toml",
            setup=_write("pyproject.toml", "[tool.flowdev\nmodule = 'taxi'\n"),
        ),
        Case(
            "load: pyproject names a missing module",
            ["assets"],
            r"no_such_pkg",
            setup=_write(
                "pyproject.toml",
                '[project]\nname = "p"\nversion = "0"\n\n[tool.flowdev]\nmodule = "no_such_pkg"\n',
            ),
        ),
        # -- the instance ----------------------------------------------------------------
        Case("instance: truncated db", ["runs"], r"flowdev\.db", setup=_instance(_truncate)),
        Case(
            "instance: random-bytes db", ["assets"], r"flowdev\.db", setup=_instance(_random_bytes)
        ),
        Case("instance: zero-byte db", ["runs"], r"flowdev\.db", setup=_instance(_zero_bytes)),
        Case("instance: malformed db", ["assets"], r"flowdev\.db", setup=_instance(_malformed)),
        Case(
            "instance: db path is a directory",
            ["runs"],
            r"flowdev\.db",
            setup=_instance(_db_is_a_directory),
        ),
        Case(
            "instance: FLOWDEV_HOME is a file",
            ["runs"],
            r"home-file",
            setup=_write("home-file", "not a directory\n"),
            env={"FLOWDEV_HOME": "{root}/home-file"},
        ),
    ]


@dataclass(frozen=True)
class Outcome:
    case: Case
    exit_code: int | None
    seconds: float
    traceback: bool
    located: bool
    first_line: str

    @property
    def answered(self) -> bool:
        return self.exit_code in (1, 2) and not self.traceback and self.located


_OWN_FRAME = re.compile(
    r'File "[^"]*(?:/flowdev/|/core/|/tui/|/typer/|/click/|/sqlite3/|/json/|/textual/)[^"]*"'
)


def _own_traceback(output: str) -> bool:
    """A traceback through flowdev's (or its libraries') code: a crash, not an answer. A
    load error that shows the user's own frames is the answer, so it does not count."""
    return "Traceback (most recent call last)" in output and bool(_OWN_FRAME.search(output))


def run_case(case: Case, workdir: Path) -> Outcome:
    root = workdir / "project"
    if case.project is None:
        shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".flowdev", "__pycache__"))
    else:
        for relative, source in {**case.project}.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(source)
        (root / "pyproject.toml").write_text(
            '[project]\nname = "p"\nversion = "0"\n\n[tool.flowdev]\nmodule = "defs"\n'
        )
    if case.setup is not None:
        case.setup(root)
    env = {**os.environ, "FLOWDEV_HOME": str(root / ".flowdev"), "NO_COLOR": "1"}
    env.pop("FLOWDEV_MAX_CONCURRENT_RUNS", None)
    env.update({name: value.format(root=root) for name, value in case.env.items()})
    start = time.monotonic()
    try:
        done = subprocess.run(
            [FLOWDEV, *case.args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=case.timeout,
            stdin=subprocess.DEVNULL,
        )
        exit_code: int | None = done.returncode
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        exit_code = None
        output = f"(no answer after {case.timeout:g}s) " + str(expired.stderr or "")
    seconds = time.monotonic() - start
    first_line = next((line for line in output.splitlines() if line.strip()), "")
    return Outcome(
        case=case,
        exit_code=exit_code,
        seconds=seconds,
        traceback=_own_traceback(output),
        located=re.search(case.located, output, re.IGNORECASE | re.DOTALL) is not None,
        first_line=first_line[:110],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated words; run cases whose name has one")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    args = parser.parse_args(argv)
    selected = cases()
    if args.only:
        words = [word.strip().lower() for word in args.only.split(",")]
        selected = [case for case in selected if any(word in case.name.lower() for word in words)]
    outcomes = []
    for case in selected:
        with tempfile.TemporaryDirectory(prefix="flowdev-probe-") as workdir:
            outcome = run_case(case, Path(workdir))
        outcomes.append(outcome)
        if not args.json:
            mark = "ok " if outcome.answered else "BAD"
            why = (
                ""
                if outcome.answered
                else " ("
                + ", ".join(
                    reason
                    for reason, bad in (
                        (f"exit {outcome.exit_code}", outcome.exit_code not in (1, 2)),
                        ("traceback", outcome.traceback),
                        ("no location", not outcome.located),
                    )
                    if bad
                )
                + ")"
            )
            print(f"{mark} {case.name:<52} {outcome.seconds:5.1f}s{why}  {outcome.first_line}")
            sys.stdout.flush()
    answered = sum(outcome.answered for outcome in outcomes)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "case": o.case.name,
                        "answered": o.answered,
                        "exit_code": o.exit_code,
                        "traceback": o.traceback,
                        "located": o.located,
                        "first_line": o.first_line,
                    }
                    for o in outcomes
                ],
                indent=2,
            )
        )
    else:
        print(f"\n{answered} of {len(outcomes)} bad inputs answered with a located message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
