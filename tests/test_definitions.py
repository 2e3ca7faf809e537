"""`Definitions` validation: every error says what is wrong, where, and how to fix it."""

import itertools
import re
from datetime import timedelta
from typing import Any

import pytest
from flowdev import (
    AssetCheckResult,
    AssetKey,
    AssetOut,
    AssetSelection,
    AssetSpec,
    Backoff,
    ConfigurableResource,
    Definitions,
    FreshnessPolicy,
    MaterializeResult,
    Out,
    RetryPolicy,
    ScheduleDefinition,
    asset,
    asset_check,
    define_asset_job,
    job,
    multi_asset,
    op,
    schedule,
    sensor,
)
from flowdev.defs.jobs import graph
from flowdev.errors import (
    CycleError,
    DefinitionsError,
    DuplicateKeyError,
    InvalidDefinitionError,
    InvalidKeyError,
    MissingResourceError,
)
from flowdev.execution.materialize import materialize


class Warehouse(ConfigurableResource):
    path: str = "w.db"


def line_of(assets_def: Any) -> str:
    filename, line = assets_def.source
    return f"{filename}:{line}"


@asset
def orders() -> int:
    return 1


# -- duplicate keys --------------------------------------------------------------------


def test_duplicate_key_names_both_definitions_file_and_line() -> None:
    @asset(name="orders")
    def orders_again() -> int:
        return 2

    with pytest.raises(DuplicateKeyError) as caught:
        Definitions(assets=[orders, orders_again])

    message = str(caught.value)
    assert "asset key 'orders' is defined twice" in message
    assert line_of(orders) in message
    assert line_of(orders_again) in message
    assert "Rename one (name=, key=) or give it a key_prefix=" in message


def test_duplicate_key_between_a_definition_and_a_spec() -> None:
    with pytest.raises(DuplicateKeyError, match=re.escape("AssetSpec('orders')")):
        Definitions(assets=[orders, AssetSpec("orders")])


def test_duplicate_key_inside_multi_assets() -> None:
    @multi_asset(outs={"orders": AssetOut()})
    def more_orders() -> int:
        return 1

    with pytest.raises(DuplicateKeyError, match="'orders' is defined twice"):
        Definitions(assets=[orders, more_orders])


# -- cycles ----------------------------------------------------------------------------


def test_cycle_lists_its_path_upstream_to_downstream() -> None:
    @asset(deps=["b"])
    def a() -> None: ...

    @asset(deps=["a"])
    def b() -> None: ...

    with pytest.raises(CycleError) as caught:
        Definitions(assets=[a, b])

    assert "a -> b -> a" in str(caught.value) or "b -> a -> b" in str(caught.value)
    assert "Remove one of these dependencies" in str(caught.value)


def test_cycle_path_leaves_out_keys_outside_the_cycle() -> None:
    # c reads a, a reads b, b reads c: the edges run b -> a -> c -> b.
    @asset(deps=["b"])
    def a() -> None: ...

    @asset(deps=["c"])
    def b() -> None: ...

    @asset(deps=["a", "source"])
    def c() -> None: ...

    @asset
    def source() -> None: ...

    @asset(deps=["a"])
    def after_a() -> None: ...

    with pytest.raises(CycleError) as caught:
        Definitions(assets=[after_a, a, b, c, source])

    path = caught.value.path
    assert path[0] == path[-1]
    assert sorted(path[:-1]) == ["a", "b", "c"]
    # Each key is upstream of the next: its successor depends on it.
    parents = {"a": {"b"}, "b": {"c"}, "c": {"a", "source"}, "after_a": {"a"}}
    for upstream, downstream in itertools.pairwise(path):
        assert upstream in parents[downstream]
    assert " -> ".join(path) in str(caught.value)


def test_self_dependency_is_a_cycle() -> None:
    @asset(deps=["loop"])
    def loop() -> None: ...

    with pytest.raises(CycleError, match="loop -> loop"):
        Definitions(assets=[loop])


# -- keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_name", ["bad key", "naïve", "semi;colon", ".."])
def test_invalid_key_part_names_the_part_and_where(bad_name: str) -> None:
    @asset(name=bad_name)
    def anything() -> None: ...

    with pytest.raises(InvalidKeyError) as caught:
        Definitions(assets=[anything])

    message = str(caught.value)
    assert f"the part {bad_name!r}" in message
    assert line_of(anything) in message
    assert "letters, digits, '_', '-' or '.'" in message


def test_invalid_key_of_an_undefined_dependency_names_who_depends_on_it() -> None:
    @asset(deps=[AssetKey(["lake", "has space"])])
    def reader() -> None: ...

    with pytest.raises(InvalidKeyError, match="a dependency of 'reader'"):
        Definitions(assets=[reader])


def test_dependency_on_an_undefined_key_becomes_an_external_asset() -> None:
    @asset(deps=["raw/orders", "orders"])
    def cleaned() -> None: ...

    defs = Definitions(assets=[orders, cleaned])

    missing = AssetKey(["raw", "orders"])
    assert defs.undefined_dependency_keys == (missing,)
    assert defs.asset_graph.node(missing).is_external
    assert defs.is_external(missing)
    assert not defs.is_external(AssetKey("orders"))
    assert defs.asset_graph.parents(AssetKey("cleaned")) == (missing, AssetKey("orders"))
    with pytest.raises(KeyError):
        defs.get_assets_def(missing)


# -- resources -------------------------------------------------------------------------


def test_missing_resource_names_asset_key_and_fix() -> None:
    @asset
    def report(warehouse: Warehouse) -> None: ...

    with pytest.raises(MissingResourceError) as caught:
        Definitions(assets=[report], resources={"wharehouse": Warehouse(), "other": 1})

    message = str(caught.value)
    assert "asset 'report'" in message
    assert line_of(report) in message
    assert "requires the resource 'warehouse'" in message
    assert "(it has: other, wharehouse)" in message
    assert "Did you mean 'wharehouse'?" in message
    assert "Add `warehouse=...` to `resources`." in message


def test_missing_resource_from_required_resource_keys_and_io_manager_key() -> None:
    @asset(required_resource_keys={"slack"})
    def notify() -> None: ...

    @asset(io_manager_key="s3_io")
    def archived() -> None: ...

    with pytest.raises(
        MissingResourceError, match=r"requires the resource 'slack'.*\(it has: none\)"
    ):
        Definitions(assets=[notify])
    with pytest.raises(MissingResourceError, match=re.escape("Add `s3_io=...`")):
        Definitions(assets=[archived])
    Definitions(assets=[notify, archived], resources={"slack": object(), "s3_io": object()})


def test_missing_resource_of_an_asset_check() -> None:
    @asset_check(asset=orders)
    def positive(warehouse: Warehouse) -> AssetCheckResult:
        return AssetCheckResult(passed=True)

    with pytest.raises(
        MissingResourceError, match=r"asset check 'orders:positive'.*`warehouse=\.\.\.`"
    ):
        Definitions(assets=[orders], asset_checks=[positive])


# -- checks, jobs, schedules, sensors --------------------------------------------------


def test_check_on_an_unknown_asset_suggests_a_close_match() -> None:
    @asset_check(asset="ordres")
    def not_empty() -> AssetCheckResult:
        return AssetCheckResult(passed=True)

    with pytest.raises(InvalidDefinitionError) as caught:
        Definitions(assets=[orders], asset_checks=[not_empty])

    assert str(caught.value) == (
        "asset check 'not_empty' targets 'ordres', which no asset defines. Did you mean 'orders'?"
    )


def test_duplicate_check_is_refused() -> None:
    @asset_check(asset=orders, name="not_empty")
    def first() -> AssetCheckResult:
        return AssetCheckResult(passed=True)

    @asset_check(asset=orders, name="not_empty")
    def second() -> AssetCheckResult:
        return AssetCheckResult(passed=True)

    with pytest.raises(DuplicateKeyError, match="'orders:not_empty' is defined twice"):
        Definitions(assets=[orders], asset_checks=[first, second])


def test_schedule_targeting_an_unknown_job() -> None:
    nightly = define_asset_job("nightly", selection="orders")
    by_name = ScheduleDefinition(name="hourly", job_name="nigthly", cron_schedule="0 * * * *")

    with pytest.raises(InvalidDefinitionError) as caught:
        Definitions(assets=[orders], jobs=[nightly], schedules=[by_name])

    message = str(caught.value)
    assert "schedule 'hourly' targets the job 'nigthly'" in message
    assert "Did you mean 'nightly'?" in message
    assert "Add the job to `jobs`." in message


def test_sensor_targeting_an_unknown_job() -> None:
    @sensor(job_name="missing_job")
    def watcher() -> None: ...

    with pytest.raises(
        InvalidDefinitionError, match="sensor 'watcher' targets the job 'missing_job'"
    ):
        Definitions(assets=[orders], sensors=[watcher])


def test_a_schedules_own_job_joins_the_definitions() -> None:
    nightly = define_asset_job("nightly", selection="orders")

    @schedule("@daily", job=nightly)
    def every_day() -> dict[str, Any]:
        return {}

    defs = Definitions(assets=[orders], schedules=[every_day])

    assert [j.name for j in defs.jobs] == ["nightly"]
    assert defs.get_job_def("nightly") is nightly


def test_duplicate_job_names() -> None:
    with pytest.raises(DuplicateKeyError, match="two jobs are named 'nightly'"):
        Definitions(
            assets=[orders],
            jobs=[define_asset_job("nightly"), define_asset_job("nightly", selection="orders")],
        )


def test_duplicate_schedule_names() -> None:
    nightly = define_asset_job("nightly")
    schedules = [
        ScheduleDefinition(name="tick", job=nightly, cron_schedule="@hourly"),
        ScheduleDefinition(name="tick", job=nightly, cron_schedule="@daily"),
    ]

    with pytest.raises(DuplicateKeyError, match="two schedules are named 'tick'"):
        Definitions(assets=[orders], jobs=[nightly], schedules=schedules)


@pytest.mark.parametrize(
    "selection", ["ordres", ["ordres"], AssetSelection.assets("ordres")], ids=str
)
def test_asset_job_with_an_unknown_key(selection: Any) -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        Definitions(assets=[orders], jobs=[define_asset_job("nightly", selection=selection)])

    assert "job 'nightly'" in str(caught.value)
    assert "'ordres'" in str(caught.value)
    assert "Did you mean 'orders'?" in str(caught.value)


def test_unknown_job_lookup_suggests_a_close_match() -> None:
    defs = Definitions(assets=[orders], jobs=[define_asset_job("nightly")])

    with pytest.raises(
        InvalidDefinitionError, match=re.escape("no job named 'nigthly'. Did you mean 'nightly'?")
    ):
        defs.get_job_def("nigthly")


@pytest.mark.parametrize("cron", ["every day", "0 9 * *", "61 * * * * *", "0 9 * * * extra"])
def test_invalid_cron_explains_the_format(cron: str) -> None:
    nightly = define_asset_job("nightly")

    with pytest.raises(InvalidDefinitionError) as caught:
        ScheduleDefinition(name="bad", job=nightly, cron_schedule=cron)

    assert f"schedule 'bad': {cron!r} is not a cron schedule" in str(caught.value)
    assert "'0 9 * * *'" in str(caught.value)


@pytest.mark.parametrize("cron", ["0 9 * * *", "*/5 * * * 1-5", "@daily", "@hourly"])
def test_valid_cron_is_accepted(cron: str) -> None:
    assert ScheduleDefinition(job=define_asset_job("j"), cron_schedule=cron).name == "j_schedule"


# -- policies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: FreshnessPolicy(), "needs maximum_lag_minutes="),
        (lambda: FreshnessPolicy(maximum_lag_minutes=0), "must be positive"),
        (lambda: FreshnessPolicy(maximum_lag_minutes=-5), "must be positive"),
        (
            lambda: FreshnessPolicy.time_window(
                fail_window=timedelta(hours=1), warn_window=timedelta(hours=2)
            ),
            r"warn_window \(2:00:00\) must be shorter than fail_window \(1:00:00\)",
        ),
        (
            lambda: FreshnessPolicy(maximum_lag_minutes=10, cron_schedule="daily"),
            r"FreshnessPolicy\(cron_schedule=...\): 'daily' is not a cron schedule",
        ),
        (lambda: RetryPolicy(max_retries=-1), r"RetryPolicy\(max_retries=-1\): must be 0 or more"),
        (lambda: RetryPolicy(delay=-0.5), r"RetryPolicy\(delay=-0.5\): must be 0 or more"),
        (
            lambda: RetryPolicy(max_retries=2, backoff=Backoff.LINEAR),
            "backoff= needs a delay= to grow from",
        ),
    ],
)
def test_policy_arguments_are_validated(make: Any, message: str) -> None:
    with pytest.raises(InvalidDefinitionError, match=message):
        make()


def test_definitions_refuses_things_that_are_not_assets() -> None:
    with pytest.raises(InvalidDefinitionError, match="pass @asset / @multi_asset definitions"):
        Definitions(assets=[lambda: 1])


def test_every_validation_error_is_a_definitions_error() -> None:
    for error in (
        DuplicateKeyError,
        CycleError,
        InvalidKeyError,
        MissingResourceError,
        InvalidDefinitionError,
    ):
        assert issubclass(error, DefinitionsError)


# -- ops, graphs and jobs --------------------------------------------------------------


@op
def load_rows() -> list[int]:
    return [1, 2]


@op
def double(rows: list[int]) -> list[int]:
    return [r * 2 for r in rows]


@op
def combine(context: Any, left: list[int], right: list[int]) -> list[int]:
    return left + right


@op(out={"evens": Out(), "odds": Out()})
def split_rows() -> tuple[list[int], list[int]]:
    return [2], [1]


def test_job_body_records_nodes_and_edges() -> None:
    @job(tags={"team": "data"})
    def pipeline() -> None:
        rows = load_rows()
        combine(double(rows), double(rows))
        evens, odds = split_rows()
        combine.alias("merge_split")(evens, right=odds)

    assert list(pipeline.graph.nodes) == [
        "load_rows",
        "double",
        "double_2",
        "combine",
        "split_rows",
        "merge_split",
    ]
    assert pipeline.graph.nodes["double_2"] is double
    assert set(pipeline.graph.edges) == {
        ("load_rows", "double"),
        ("load_rows", "double_2"),
        ("double", "combine"),
        ("double_2", "combine"),
        ("split_rows", "merge_split"),
    }
    assert pipeline.tags == {"team": "data"}
    assert combine.input_names == ("left", "right")  # context is not an input
    assert load_rows() == [1, 2]  # outside a graph, an op is a plain function


def test_graph_becomes_a_job() -> None:
    @graph
    def doubled() -> None:
        """Double the rows."""
        double(load_rows())

    as_job = doubled.to_job(name="doubled_job")

    assert doubled.edges == (("load_rows", "double"),)
    assert as_job.name == "doubled_job"
    assert as_job.graph is doubled
    assert as_job.description == "Double the rows."
    assert Definitions(jobs=[as_job]).get_job_def("doubled_job") is as_job


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda: double(load_rows(), load_rows()), r"op 'double' takes inputs \['rows'\]"),
        (lambda: double([1, 2]), "pass only the outputs of other ops"),
        (lambda: None, "calls no ops"),
    ],
)
def test_bad_job_bodies_are_refused(body: Any, message: str) -> None:
    with pytest.raises(InvalidDefinitionError, match=message):
        job(body, name="bad")


# -- multi-asset selection -------------------------------------------------------------


def test_selecting_part_of_a_multi_asset_that_cannot_subset_runs_it_whole(
    storage_dir: str,
) -> None:
    calls: list[str] = []

    @multi_asset(specs=[AssetSpec("left"), AssetSpec("right")])
    def pair():  # type: ignore[no-untyped-def]
        calls.append("pair")
        yield MaterializeResult(asset_key="left", value=1)
        yield MaterializeResult(asset_key="right", value=2)

    @asset(deps=["right"])
    def after_right() -> int:
        return 3

    defs = Definitions(assets=[pair, after_right])
    result = materialize(defs, selection=["left"], storage_dir=storage_dir)

    assert calls == ["pair"]
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"left", "right"}  # not after_right: it was not selected


def test_two_definitions_with_the_same_op_name_are_refused() -> None:
    # A run keys its steps by op name: merged silently, one asset would never run.
    @asset(key=["a", "b"])
    def nested() -> int:
        return 1

    @asset(name="a__b")
    def flat() -> int:
        return 2

    with pytest.raises(DuplicateKeyError) as caught:
        Definitions(assets=[nested, flat])

    message = str(caught.value)
    assert "op name 'a__b'" in message
    assert "asset 'a/b' at " in message and "asset 'a__b' at " in message
    for assets_def in (nested, flat):
        filename, line = assets_def.source
        assert f"{filename}:{line}" in message
