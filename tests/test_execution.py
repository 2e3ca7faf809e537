"""In-process execution: the sample project end to end, failure and retry semantics, and
secrets kept out of every event."""

import importlib
import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TAXI_ASSETS
from flowdev import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    Config,
    ConfigurableResource,
    Definitions,
    EnvVar,
    Failure,
    MaterializeResult,
    Output,
    RetryPolicy,
    RetryRequested,
    asset,
    asset_check,
    multi_asset,
)
from flowdev.events import EventKind, RunEvent
from flowdev.execution.materialize import ExecuteInProcessResult, materialize

FAST_MODEL = {
    "ops": {"trip_duration_model": {"config": {"iterations": 2, "seconds_per_iteration": 0}}}
}


def forget_modules(prefix: str) -> None:
    for name in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
        del sys.modules[name]


@pytest.fixture
def taxi(sample_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The sample project importable as ``taxi``, its warehouse in ``tmp_path``."""
    forget_modules("taxi")
    monkeypatch.syspath_prepend(str(sample_project))
    monkeypatch.setenv("TAXI_WAREHOUSE_PATH", str(tmp_path / "warehouse.db"))
    monkeypatch.delenv("TAXI_FAIL_ANOMALIES", raising=False)
    yield sample_project
    forget_modules("taxi")


def load_taxi() -> Definitions:
    return importlib.import_module("taxi.definitions").defs


def materialized(result: ExecuteInProcessResult) -> list[str]:
    return [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]


def metadata_value(result: ExecuteInProcessResult, key: str, name: str) -> Any:
    (event,) = result.asset_materializations_for(key)
    return event.data["metadata"][name]["value"]


def line_containing(path: Path, text: str) -> int:
    lines = path.read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


# -- the sample project ----------------------------------------------------------------


def test_sample_project_materializes_every_asset(taxi: Path, tmp_path: Path) -> None:
    defs = load_taxi()

    result = materialize(defs, run_config=FAST_MODEL, storage_dir=str(tmp_path / "storage"))

    assert result.success
    assert sorted(materialized(result)) == sorted(TAXI_ASSETS)  # each exactly once
    assert "fare_rates" not in materialized(result)  # external: never materialized
    assert not result.get_step_failure_events()
    order = materialized(result)
    graph = defs.asset_graph
    for key in result.get_asset_materialization_events():
        for parent in graph.parents(key.asset_key):
            if parent.to_user_string() in TAXI_ASSETS:
                assert order.index(parent.to_user_string()) < order.index(
                    key.asset_key.to_user_string()
                )


def test_sample_project_records_row_counts_and_checks(taxi: Path, tmp_path: Path) -> None:
    result = materialize(load_taxi(), run_config=FAST_MODEL, storage_dir=str(tmp_path / "s"))

    raw_trips = result.output_for("raw_trips")
    assert metadata_value(result, "raw_trips", "row_count") == len(raw_trips)
    assert metadata_value(result, "raw_weather", "row_count") == len(
        result.output_for("raw_weather")
    )
    assert metadata_value(result, "zones", "row_count") == len(result.output_for("raw_zones"))
    clean = metadata_value(result, "trips_clean", "row_count")
    assert clean + metadata_value(result, "trips_clean", "dropped_rows") == len(raw_trips)
    assert metadata_value(result, "borough_stats", "row_count") == len(
        result.output_for("borough_stats")
    )
    with sqlite3.connect(tmp_path / "warehouse.db") as db:
        (enriched,) = db.execute("SELECT count(*) FROM trips_enriched").fetchone()
    assert metadata_value(result, "trips_enriched", "row_count") == enriched
    lineage = metadata_value(result, "trips_enriched", "column_lineage")
    assert lineage["fare"] == [{"asset_key": "trips_clean", "column_name": "fare"}]

    (check,) = result.get_asset_check_evaluations()
    assert check.asset_key.to_user_string() == "trips_clean"
    assert check.data["check_name"] == "trips_have_positive_fares"
    assert check.data["passed"] is True
    assert check.data["metadata"]["bad_rows"] == {"type": "int", "value": 0}

    logs = [e.message for e in result.all_events if e.kind is EventKind.LOG]
    dropped = len(raw_trips) - clean
    assert f"dropped {dropped} invalid trips of {len(raw_trips)}" in logs
    assert any(m.startswith("iteration 2/2: slope=") for m in logs)  # the run config applied
    assert not any("iteration 3/" in m for m in logs)


def test_sample_project_daily_summary(taxi: Path, tmp_path: Path) -> None:
    result = materialize(load_taxi(), run_config=FAST_MODEL, storage_dir=str(tmp_path / "s"))

    summary = result.output_for("daily_summary")
    assert summary.startswith("# Taxi week\n")
    for borough, trips, fare in result.output_for("borough_stats"):
        assert f"| {borough} | {trips} | {fare} |" in summary
    hour, count, _ = max(result.output_for("hourly_stats"), key=lambda row: row[1])
    assert f"Busiest hour: {hour}:00 ({count} trips)." in summary
    rain = sum(day["rain_mm"] for day in result.output_for("raw_weather"))
    assert f"Rain: {rain:.1f} mm." in summary
    report = taxi / "data" / "reports" / "daily_summary.md"
    assert report.read_text() == summary
    assert metadata_value(result, "daily_summary", "report") == summary
    assert metadata_value(result, "daily_summary", "trips") == sum(
        n for _, n, _ in result.output_for("borough_stats")
    )


def test_sample_project_failure_is_contained(
    taxi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAXI_FAIL_ANOMALIES", "1")
    defs = load_taxi()

    result = materialize(
        defs, run_config=FAST_MODEL, storage_dir=str(tmp_path / "s"), raise_on_error=False
    )

    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "fare_anomalies"
    report_py = taxi / "taxi" / "assets" / "report.py"
    raise_line = line_containing(report_py, 'raise RuntimeError("anomaly detector crashed')
    assert f'File "{report_py}", line {raise_line}, in fare_anomalies' in failure.data["traceback"]
    assert failure.data["file"] == str(report_py)
    assert failure.data["line"] == raise_line
    assert failure.data["error_type"] == "RuntimeError"
    assert "anomaly detector crashed" in failure.message
    assert failure.level == "ERROR"
    # Nothing is downstream of fare_anomalies: everything else still materialized.
    assert sorted(materialized(result)) == sorted(TAXI_ASSETS - {"fare_anomalies"})
    assert not [e for e in result.all_events if e.kind is EventKind.STEP_SKIPPED]


# -- failure semantics -----------------------------------------------------------------


def test_a_failure_skips_downstream_and_independent_branches_still_run(
    storage_dir: str,
) -> None:
    ran: list[str] = []

    @asset
    def source() -> int:
        ran.append("source")
        raise ValueError("source exploded")

    @asset
    def middle(source: int) -> int:
        ran.append("middle")
        return source

    @asset(deps=[middle])
    def leaf() -> int:
        ran.append("leaf")
        return 1

    @asset
    def independent() -> int:
        ran.append("independent")
        return 7

    result = materialize(
        [source, middle, leaf, independent], storage_dir=storage_dir, raise_on_error=False
    )

    assert not result.success
    assert sorted(ran) == ["independent", "source"]
    assert materialized(result) == ["independent"]
    skipped = {e.step_key: e for e in result.all_events if e.kind is EventKind.STEP_SKIPPED}
    assert set(skipped) == {"middle", "leaf"}
    assert "upstream step 'source' did not succeed" in skipped["middle"].message
    assert "upstream step 'middle' did not succeed" in skipped["leaf"].message
    assert skipped["middle"].data["upstream"] == ["source"]
    (failure,) = result.get_step_failure_events()
    assert failure.data["error_message"] == "source exploded"
    assert failure.data["line"] is not None and failure.data["file"] == __file__


def test_raise_on_error_raises_the_original_error_after_the_run(storage_dir: str) -> None:
    ran: list[str] = []

    @asset
    def broken() -> int:
        raise KeyError("missing column")

    @asset
    def fine() -> int:
        ran.append("fine")
        return 1

    with pytest.raises(KeyError, match="missing column"):
        materialize([broken, fine], storage_dir=storage_dir)

    assert ran == ["fine"]


def test_failure_with_allow_retries_false_is_not_retried(storage_dir: str) -> None:
    calls: list[int] = []

    @asset(retry_policy=RetryPolicy(max_retries=3))
    def validated() -> int:
        calls.append(1)
        raise Failure(description="bad input file", metadata={"rows": 3}, allow_retries=False)

    result = materialize([validated], storage_dir=storage_dir, raise_on_error=False)

    assert calls == [1]
    (failure,) = result.get_step_failure_events()
    assert failure.data["error_message"] == "bad input file"
    assert failure.data["metadata"] == {"rows": {"type": "int", "value": 3}}


def test_retry_requested_retries_the_step(storage_dir: str) -> None:
    attempts: list[int] = []

    @asset
    def polls(context: AssetExecutionContext) -> str:
        attempts.append(context.retry_number)
        if len(attempts) < 3:
            raise RetryRequested(max_retries=2)
        return "ready"

    result = materialize([polls], storage_dir=storage_dir)

    assert result.output_for("polls") == "ready"
    assert attempts == [0, 1, 2]
    retries = [e for e in result.all_events if e.kind is EventKind.STEP_UP_FOR_RETRY]
    assert [e.data["attempt"] for e in retries] == [1, 2]
    starts = [e.message for e in result.all_events if e.kind is EventKind.STEP_START]
    assert starts == ["started polls", "started polls (retry 1)", "started polls (retry 2)"]


def test_retry_requested_fails_once_its_retries_run_out(storage_dir: str) -> None:
    attempts: list[int] = []

    @asset
    def never_ready() -> str:
        attempts.append(1)
        raise RetryRequested(max_retries=1)

    result = materialize([never_ready], storage_dir=storage_dir, raise_on_error=False)

    assert not result.success
    assert len(attempts) == 2
    (failure,) = result.get_step_failure_events()
    assert failure.data["error_type"] == "RetryRequested"


def test_a_multi_asset_that_misses_a_required_output_fails(storage_dir: str) -> None:
    @multi_asset(specs=[AssetSpec("one"), AssetSpec("two")])
    def partial():  # type: ignore[no-untyped-def]
        yield MaterializeResult(asset_key="one", value=1)

    result = materialize([partial], storage_dir=storage_dir, raise_on_error=False)

    (failure,) = result.get_step_failure_events()
    assert "did not return a value for ['two']" in failure.data["error_message"]
    assert materialized(result) == []  # nothing is stored from a failed step


# -- secrets ---------------------------------------------------------------------------

SECRET = "tok-5f3a9c-SECRET"


class Api(ConfigurableResource):
    token: str


def all_event_text(events: tuple[RunEvent, ...]) -> str:
    return "\n".join(json.dumps(e.to_json(), default=str) for e in events)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setenv("API_TOKEN", SECRET)
    return Api(token=EnvVar("API_TOKEN"))


def test_env_var_secrets_never_appear_in_events(api: Api, storage_dir: str) -> None:
    calls: list[int] = []

    @asset
    def leaky(context: AssetExecutionContext, api: Api) -> MaterializeResult:
        context.log.info(f"calling the API with {api.token}")
        context.log.warning("token=%s", api.token)
        return MaterializeResult(
            value={"token": api.token},
            metadata={"token": api.token, "nested": {"header": f"Bearer {api.token}"}},
        )

    @asset(retry_policy=RetryPolicy(max_retries=1))
    def raiser(api: Api) -> int:
        calls.append(1)
        raise PermissionError(f"token {api.token} was refused")

    result = materialize(
        [leaky, raiser], resources={"api": api}, storage_dir=storage_dir, raise_on_error=False
    )

    text = all_event_text(result.all_events)
    assert SECRET not in text
    assert len(calls) == 2  # the retry message was redacted too
    logs = [e.message for e in result.all_events if e.kind is EventKind.LOG]
    assert logs == ["calling the API with ***", "token=***"]
    (failure,) = result.get_step_failure_events()
    assert failure.data["error_message"] == "token *** was refused"
    assert "token *** was refused" in failure.data["traceback"]
    assert metadata_value(result, "leaky", "token") == "***"
    assert result.output_for("leaky") == {"token": SECRET}  # the value itself is untouched


def test_secrets_in_failure_metadata_are_redacted(api: Api, storage_dir: str) -> None:
    @asset
    def refused(api: Api) -> int:
        raise Failure(description="refused", metadata={"request": f"Bearer {api.token}"})

    result = materialize(
        [refused], resources={"api": api}, storage_dir=storage_dir, raise_on_error=False
    )

    assert SECRET not in all_event_text(result.all_events)


def test_secrets_in_asset_check_results_are_redacted(api: Api, storage_dir: str) -> None:
    @asset
    def endpoint() -> int:
        return 1

    @asset_check(asset=endpoint)
    def described(api: Api) -> AssetCheckResult:
        return AssetCheckResult(passed=False, description=f"token {api.token} expired")

    @asset_check(asset=endpoint)
    def crashing(api: Api) -> AssetCheckResult:
        raise ConnectionError(f"could not reach with {api.token}")

    result = materialize(
        [endpoint, described, crashing],
        resources={"api": api},
        storage_dir=storage_dir,
    )

    assert len(result.get_asset_check_evaluations()) == 2
    assert SECRET not in all_event_text(result.all_events)


# -- asset checks during a run ---------------------------------------------------------


def test_a_failing_check_is_recorded_and_does_not_fail_the_run(storage_dir: str) -> None:
    @asset
    def prices() -> list[int]:
        return [3, -1]

    @asset_check(asset=prices, description="No negative prices.")
    def no_negatives(prices: list[int]) -> AssetCheckResult:
        bad = sum(p < 0 for p in prices)
        return AssetCheckResult(passed=bad == 0, metadata={"bad": bad})

    @asset_check(asset=prices)
    def returns_junk(prices: list[int]) -> Any:
        return "not a result"

    result = materialize([prices, no_negatives, returns_junk], storage_dir=storage_dir)

    assert result.success
    checks = {e.data["check_name"]: e for e in result.get_asset_check_evaluations()}
    assert checks["no_negatives"].data["passed"] is False
    assert checks["no_negatives"].data["metadata"] == {"bad": {"type": "int", "value": 1}}
    assert checks["no_negatives"].level == "WARNING"
    assert checks["returns_junk"].data["passed"] is False
    assert "not AssetCheckResult" in checks["returns_junk"].data["description"]


def test_a_failed_blocking_check_stops_downstream_assets(storage_dir: str) -> None:
    ran: list[str] = []

    @asset
    def upstream() -> int:
        return 1

    @asset_check(asset=upstream, blocking=True)
    def gate(upstream: int) -> AssetCheckResult:
        return AssetCheckResult(passed=False)

    @asset
    def downstream(upstream: int) -> int:
        ran.append("downstream")
        return upstream + 1

    result = materialize(
        [upstream, gate, downstream], storage_dir=storage_dir, raise_on_error=False
    )

    assert ran == []
    assert not result.success
    assert materialized(result) == ["upstream"]


def test_check_results_returned_with_the_materialization_are_recorded(
    storage_dir: str,
) -> None:
    @asset(check_specs=[AssetCheckSpec("non_empty", asset="orders")])
    def orders() -> MaterializeResult:
        return MaterializeResult(
            value=[1], check_results=[AssetCheckResult(passed=True, check_name="non_empty")]
        )

    result = materialize([orders], storage_dir=storage_dir)

    (check,) = result.get_asset_check_evaluations()
    assert check.data["check_name"] == "non_empty"
    assert check.data["passed"] is True


def test_a_blocking_check_declared_on_the_asset_fails_its_step(storage_dir: str) -> None:
    @asset(check_specs=[AssetCheckSpec("non_empty", asset="orders", blocking=True)])
    def orders() -> MaterializeResult:
        return MaterializeResult(
            value=[], check_results=[AssetCheckResult(passed=False, check_name="non_empty")]
        )

    @asset
    def report(orders: list[int]) -> int:
        return len(orders)

    result = materialize([orders, report], storage_dir=storage_dir, raise_on_error=False)

    assert not result.success
    assert materialized(result) == ["orders"]  # the value stays stored, as in Dagster
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "orders"
    assert "'orders:non_empty'" in failure.data["error_message"]
    assert failure.data["file"] == orders.source[0]
    (skipped,) = [e for e in result.all_events if e.kind is EventKind.STEP_SKIPPED]
    assert skipped.step_key == "report"


def test_a_blocking_check_failing_with_severity_warn_does_not_block(storage_dir: str) -> None:
    @asset
    def upstream() -> int:
        return 1

    @asset_check(asset=upstream, blocking=True)
    def advisory(upstream: int) -> AssetCheckResult:
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN)

    @asset
    def downstream(upstream: int) -> int:
        return upstream + 1

    result = materialize([upstream, advisory, downstream], storage_dir=storage_dir)

    assert result.success
    assert materialized(result) == ["upstream", "downstream"]


def test_a_blocking_check_that_raises_blocks_and_points_at_the_check(storage_dir: str) -> None:
    @asset
    def upstream() -> int:
        return 1

    @asset_check(asset=upstream, blocking=True)
    def broken(upstream: int) -> AssetCheckResult:
        raise ValueError("cannot tell")

    with pytest.raises(Exception, match="blocking asset check"):
        materialize([upstream, broken], storage_dir=storage_dir)
    result = materialize([upstream, broken], storage_dir=storage_dir, raise_on_error=False)
    (failure,) = result.get_step_failure_events()
    assert failure.data["file"] == broken.fn.__code__.co_filename
    assert failure.data["line"] == broken.fn.__code__.co_firstlineno
    (check,) = result.get_asset_check_evaluations()
    assert check.data["blocking"] is True
    assert "cannot tell" in check.data["description"]


def test_check_results_yielded_by_the_asset_are_recorded(storage_dir: str) -> None:
    @asset(check_specs=[AssetCheckSpec("positive", asset="price")])
    def price():  # type: ignore[no-untyped-def]
        yield Output(3)
        yield AssetCheckResult(passed=True)  # the one declared check: no name needed

    result = materialize([price], storage_dir=storage_dir)

    (check,) = result.get_asset_check_evaluations()
    assert check.data["check_name"] == "positive"
    assert check.asset_key == price.key


def test_a_declared_check_without_a_result_fails_the_step(storage_dir: str) -> None:
    @asset(check_specs=[AssetCheckSpec("non_empty", asset="orders")])
    def orders() -> list[int]:
        return [1]

    result = materialize([orders], storage_dir=storage_dir, raise_on_error=False)

    (failure,) = result.get_step_failure_events()
    assert "'non_empty'" in failure.data["error_message"]
    assert "check_results=" in failure.data["error_message"]
    assert materialized(result) == []


def test_a_result_for_an_undeclared_check_is_refused_with_a_suggestion(storage_dir: str) -> None:
    @asset(check_specs=[AssetCheckSpec("non_empty", asset="orders")])
    def orders() -> MaterializeResult:
        return MaterializeResult(
            value=[1], check_results=[AssetCheckResult(passed=True, check_name="non_emtpy")]
        )

    result = materialize([orders], storage_dir=storage_dir, raise_on_error=False)

    (failure,) = result.get_step_failure_events()
    assert "'non_emtpy'" in failure.data["error_message"]
    assert "did you mean" in failure.data["error_message"].lower()


def test_secrets_hidden_in_numbers_and_metadata_keys_are_redacted(
    monkeypatch: pytest.MonkeyPatch, storage_dir: str
) -> None:
    class Db(ConfigurableResource):
        port: int
        password: str

    monkeypatch.setenv("DB_PORT", "54329")
    monkeypatch.setenv("DB_PASSWORD", 'pa"ss\\word')  # escaped differently in JSON
    db = Db(port=EnvVar.int("DB_PORT"), password=EnvVar("DB_PASSWORD"))

    @asset
    def connected(db: Db) -> MaterializeResult:
        return MaterializeResult(
            value=1, metadata={"port": db.port, db.password: "key", "dsn": f"x:{db.password}"}
        )

    result = materialize([connected], resources={"db": db}, storage_dir=storage_dir)

    text = all_event_text(result.all_events)
    assert "54329" not in text
    assert 'pa\\"ss' not in text and "ss\\\\word" not in text
    assert metadata_value(result, "connected", "port") == "***"


def test_a_user_file_beside_the_package_is_reported_as_where_the_step_failed(
    storage_dir: str,
) -> None:
    # A directory that merely starts with flowdev's own path is the user's, not flowdev's.
    import flowdev

    filename = str(Path(flowdev.__file__).parent) + "_project/assets.py"
    namespace: dict[str, Any] = {"asset": asset}
    source = "@asset\ndef broken():\n    raise ValueError('no')\n"
    exec(compile(source, filename, "exec"), namespace)

    result = materialize([namespace["broken"]], storage_dir=storage_dir, raise_on_error=False)

    (failure,) = result.get_step_failure_events()
    assert (failure.data["file"], failure.data["line"]) == (filename, 3)


def test_materialize_removes_the_temporary_storage_it_made(tmp_path, monkeypatch) -> None:
    import tempfile

    from flowdev import asset, materialize

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    @asset
    def numbers() -> list[int]:
        return [1, 2]

    @asset
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    result = materialize([numbers, total])

    assert result.output_for("total") == 3  # kept in memory
    assert list(tmp_path.iterdir()) == []


def test_a_failure_raised_inside_flowdev_points_at_the_users_line(storage_dir: str) -> None:
    # The error is raised deep in flowdev's resources code; the user wants the line of
    # their asset that called it, whichever of flowdev's subpackages the stack crosses.
    class Settings(Config):
        rows: int

    @asset
    def builds_settings() -> int:
        return Settings(rows="many").rows  # type: ignore[arg-type]  # raises ConfigError

    result = materialize([builds_settings], storage_dir=storage_dir, raise_on_error=False)

    (failure,) = result.get_step_failure_events()
    assert failure.data["error_type"] == "ConfigError"
    assert failure.data["file"] == __file__
    assert failure.data["line"] == line_containing(Path(__file__), "# raises ConfigError")
