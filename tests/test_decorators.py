"""`@asset` and `@multi_asset`: every argument, parameter role inference, and what the
definitions they build do when materialized."""

import json
import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flowdev import (
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    AssetSpec,
    Backoff,
    Config,
    ConfigurableResource,
    Definitions,
    FreshnessPolicy,
    In,
    InMemoryIOManager,
    IOManager,
    Jitter,
    MaterializeResult,
    MetadataValue,
    Out,
    Output,
    RetryPolicy,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
    apply_freshness_policy,
    asset,
    asset_check,
    build_asset_context,
    define_asset_job,
    graph,
    job,
    load_assets_from_modules,
    map_asset_specs,
    multi_asset,
    op,
)
from flowdev.errors import InvalidDefinitionError, UnsupportedArgumentError
from flowdev.events import EventKind
from flowdev.execution.materialize import materialize


class Warehouse(ConfigurableResource):
    url: str = "sqlite://default"


class Limits(Config):
    limit: int = 10
    label: str = "all"


def keys_of(assets_def: AssetsDefinition) -> set[str]:
    return {key.to_user_string() for key in assets_def.keys}


def dep_strings(assets_def: AssetsDefinition, key: str | None = None) -> set[str]:
    spec = assets_def.specs_by_key[AssetKey.from_user_string(key)] if key else assets_def.specs[0]
    return {k.to_user_string() for k in spec.dep_keys}


def materialized_keys(result: Any) -> list[str]:
    return [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]


# -- keys ------------------------------------------------------------------------------


def test_asset_key_defaults_to_the_function_name() -> None:
    @asset
    def orders() -> int:
        return 1

    assert orders.key == AssetKey("orders")


def test_name_and_key_prefix_build_the_key() -> None:
    @asset(name="orders_v2", key_prefix=["warehouse", "marts"])
    def build_orders() -> int:
        return 1

    @asset(key_prefix="raw")
    def events() -> int:
        return 1

    assert build_orders.key == AssetKey(["warehouse", "marts", "orders_v2"])
    assert events.key == AssetKey(["raw", "events"])


@pytest.mark.parametrize("key", [AssetKey(["a", "b"]), "a/b", ["a", "b"]])
def test_key_accepts_a_key_a_slash_string_or_parts(key: Any) -> None:
    @asset(key=key)
    def anything() -> int:
        return 1

    assert anything.key == AssetKey(["a", "b"])


def test_key_with_name_or_key_prefix_is_refused() -> None:
    with pytest.raises(InvalidDefinitionError, match="pass key= or name=/key_prefix=, not both"):

        @asset(key="a/b", name="b")
        def anything() -> int:
            return 1


# -- upstream inputs and deps ----------------------------------------------------------


def test_ins_with_key_and_key_prefix_load_those_upstream_values(storage_dir: str) -> None:
    @asset(key_prefix=["raw", "shop"])
    def orders() -> list[int]:
        return [1, 2, 3]

    @asset(ins={"rows": AssetIn(key="raw/shop/orders")})
    def order_count(rows: list[int]) -> int:
        return len(rows)

    @asset(ins={"orders": AssetIn(key_prefix=["raw", "shop"])})
    def order_total(orders: list[int]) -> int:
        return sum(orders)

    assert order_count.input_keys == {"rows": AssetKey(["raw", "shop", "orders"])}
    assert order_total.input_keys == {"orders": AssetKey(["raw", "shop", "orders"])}
    assert dep_strings(order_count) == {"raw/shop/orders"}

    result = materialize([orders, order_count, order_total], storage_dir=storage_dir)

    assert result.output_for("order_count") == 3
    assert result.output_for("order_total") == 6


def test_ins_naming_a_missing_parameter_is_refused() -> None:
    with pytest.raises(InvalidDefinitionError, match=r"ins= names \['nope'\]"):

        @asset(ins={"nope": AssetIn(key="x")})
        def anything(x: int) -> int:
            return x


def test_deps_accept_definitions_keys_strings_specs_and_asset_deps() -> None:
    @asset
    def first() -> int:
        return 1

    @asset(key_prefix="p")
    def second() -> int:
        return 2

    @asset(
        deps=[
            first,
            AssetKey(["p", "second"]),
            "lake/third",
            AssetSpec(["lake", "fourth"]),
            AssetDep("fifth"),
            AssetDep(first),  # the same key twice counts once
        ]
    )
    def combined() -> None:
        return None

    assert dep_strings(combined) == {"first", "p/second", "lake/third", "lake/fourth", "fifth"}
    assert len(combined.specs[0].deps) == 5
    assert combined.input_keys == {}  # deps order the asset; they do not load values


def test_deps_run_upstream_first_without_passing_values(storage_dir: str) -> None:
    order: list[str] = []

    @asset
    def upstream() -> int:
        order.append("upstream")
        return 1

    @asset(deps=[upstream])
    def downstream() -> int:
        order.append("downstream")
        return 2

    # Listed downstream first: the plan, not the list, decides the order.
    result = materialize([downstream, upstream], storage_dir=storage_dir)

    assert result.success
    assert order == ["upstream", "downstream"]


# -- descriptive arguments -------------------------------------------------------------


def test_group_name_defaults_to_default() -> None:
    @asset
    def plain() -> int:
        return 1

    @asset(group_name="marts")
    def grouped() -> int:
        return 1

    defs = Definitions(assets=[plain, grouped])

    assert plain.group_names_by_key == {AssetKey("plain"): "default"}
    assert defs.asset_graph.node(AssetKey("plain")).group_name == "default"
    assert defs.asset_graph.node(AssetKey("grouped")).group_name == "marts"


def test_description_defaults_to_the_docstring() -> None:
    @asset
    def documented() -> int:
        """Orders per day."""
        return 1

    @asset(description="Explicit wins.")
    def explicit() -> int:
        """Ignored."""
        return 1

    @asset
    def undocumented() -> int:
        return 1

    assert documented.specs[0].description == "Orders per day."
    assert explicit.specs[0].description == "Explicit wins."
    assert undocumented.specs[0].description is None


def test_a_multi_line_docstring_description_is_dedented() -> None:
    @asset
    def documented() -> int:
        """Orders per day.

        Counted at midnight.
        """
        return 1

    assert documented.specs[0].description == "Orders per day.\n\nCounted at midnight."


def test_docstrings_of_checks_ops_jobs_schedules_and_sensors_are_dedented() -> None:
    import flowdev as dg

    expected = "First line.\n\n    Indented example.\nLast line."

    def documented() -> None:
        """First line.

            Indented example.
        Last line.
        """

    @dg.asset
    def target() -> int:
        return 1

    @dg.op
    def step() -> None:
        pass

    @dg.job
    def nightly() -> None:
        """First line.

            Indented example.
        Last line.
        """
        step()

    assert dg.op(documented).description == expected
    assert nightly.description == expected
    assert dg.asset_check(asset=target)(documented).spec.description == expected
    assert dg.schedule("0 * * * *", job=nightly)(documented).description == expected
    assert dg.sensor(job=nightly)(documented).description == expected


def test_metadata_tags_kinds_owners_and_code_version_land_on_the_spec() -> None:
    @asset(
        metadata={"owner_team": "data", "rows": 3},
        tags={"tier": "gold"},
        kinds={"sqlite", "python"},
        owners=["team:analytics", "ada@example.com"],
        code_version="v3",
    )
    def described() -> int:
        return 1

    spec = described.specs[0]
    assert spec.metadata == {"owner_team": "data", "rows": 3}
    assert spec.tags == {"tier": "gold"}
    assert spec.kinds == frozenset({"sqlite", "python"})
    assert spec.owners == ("team:analytics", "ada@example.com")
    assert described.code_version_of(described.key) == "v3"
    node = Definitions(assets=[described]).asset_graph.node(described.key)
    assert node.tags == {"tier": "gold"}
    assert node.kinds == frozenset({"sqlite", "python"})
    assert node.owners == ("team:analytics", "ada@example.com")


def test_freshness_policy_in_both_forms() -> None:
    @asset(freshness_policy=FreshnessPolicy(maximum_lag_minutes=90, cron_schedule="0 9 * * *"))
    def legacy() -> int:
        return 1

    @asset(
        freshness_policy=FreshnessPolicy.time_window(
            fail_window=timedelta(hours=2), warn_window=timedelta(minutes=30)
        )
    )
    def windowed() -> int:
        return 1

    legacy_policy = legacy.specs[0].freshness_policy
    assert legacy_policy is not None
    assert legacy_policy.fail_window == timedelta(minutes=90)
    assert legacy_policy.maximum_lag_minutes == 90
    assert legacy_policy.cron_schedule == "0 9 * * *"
    windowed_policy = windowed.specs[0].freshness_policy
    assert windowed_policy is not None
    assert windowed_policy.fail_window == timedelta(hours=2)
    assert windowed_policy.warn_window == timedelta(minutes=30)
    assert windowed_policy.maximum_lag_minutes == 120
    defs = Definitions(assets=[legacy, windowed])
    assert defs.get_spec(windowed.key).freshness_policy == windowed_policy


# -- retries ---------------------------------------------------------------------------


def test_retry_policy_delays_grow_with_backoff_and_stay_within_jitter() -> None:
    linear = RetryPolicy(max_retries=3, delay=0.5, backoff=Backoff.LINEAR)
    exponential = RetryPolicy(max_retries=3, delay=0.5, backoff=Backoff.EXPONENTIAL)
    full = RetryPolicy(max_retries=3, delay=1.0, backoff=Backoff.EXPONENTIAL, jitter=Jitter.FULL)

    assert [linear.delay_for(n) for n in (1, 2, 3)] == [0.5, 1.0, 1.5]
    assert [exponential.delay_for(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    rng = random.Random(1)
    jittered = [full.delay_for(3, rng) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in jittered)
    assert len(set(jittered)) > 1  # jitter actually varies the delay


def test_retry_policy_retries_a_failing_asset_until_it_succeeds(storage_dir: str) -> None:
    attempts: list[int] = []
    policy = RetryPolicy(max_retries=3, delay=0.001, backoff=Backoff.LINEAR, jitter=Jitter.FULL)

    @asset(retry_policy=policy)
    def flaky(context: AssetExecutionContext) -> str:
        attempts.append(context.retry_number)
        if len(attempts) <= 2:
            raise ConnectionError(f"attempt {len(attempts)} failed")
        return "ok"

    assert flaky.retry_policy == policy
    result = materialize([flaky], storage_dir=storage_dir)

    assert result.success
    assert result.output_for("flaky") == "ok"
    assert attempts == [0, 1, 2]
    retries = [e for e in result.all_events if e.kind is EventKind.STEP_UP_FOR_RETRY]
    assert [e.data["attempt"] for e in retries] == [1, 2]
    assert "attempt 1 failed" in retries[0].message
    assert not result.get_step_failure_events()


def test_retry_policy_gives_up_after_max_retries(storage_dir: str) -> None:
    calls: list[int] = []

    @asset(retry_policy=RetryPolicy(max_retries=2, delay=0))
    def broken() -> int:
        calls.append(1)
        raise ValueError("always")

    result = materialize([broken], storage_dir=storage_dir, raise_on_error=False)

    assert not result.success
    assert len(calls) == 3  # the first try and two retries
    (failure,) = result.get_step_failure_events()
    assert failure.data["error_type"] == "ValueError"


# -- IO managers and resources ---------------------------------------------------------


class RecordingIOManager(IOManager):
    def __init__(self) -> None:
        self.stored: dict[AssetKey, Any] = {}
        self.loaded: list[AssetKey] = []

    def handle_output(self, context: Any, obj: Any) -> None:
        self.stored[context.asset_key] = obj

    def load_input(self, context: Any) -> Any:
        self.loaded.append(context.asset_key)
        return self.stored[context.asset_key]


def test_io_manager_key_routes_the_value_through_that_io_manager(storage_dir: str) -> None:
    recorder = RecordingIOManager()

    @asset(io_manager_key="recorder")
    def special() -> dict[str, int]:
        return {"a": 1}

    @asset
    def plain() -> int:
        return 2

    result = materialize(
        [special, plain], resources={"recorder": recorder}, storage_dir=storage_dir
    )

    assert result.success
    assert recorder.stored == {AssetKey("special"): {"a": 1}}
    stored_files = {p.name for p in Path(storage_dir).iterdir()}
    assert stored_files == {"plain"}  # the default IO manager never saw `special`


def test_downstream_of_a_custom_io_manager_loads_from_it_in_a_later_run(
    storage_dir: str,
) -> None:
    recorder = RecordingIOManager()

    @asset(io_manager_key="recorder")
    def special() -> int:
        return 20

    @asset
    def doubled(special: int) -> int:
        return special * 2

    materialize([special, doubled], resources={"recorder": recorder}, storage_dir=storage_dir)
    result = materialize(
        [special, doubled],
        resources={"recorder": recorder},
        storage_dir=storage_dir,
        selection=["doubled"],
    )

    assert result.output_for("doubled") == 40
    assert recorder.loaded == [AssetKey("special")]


def test_required_resource_keys_expose_resources_on_the_context(storage_dir: str) -> None:
    @asset(required_resource_keys={"warehouse"})
    def reads_context(context: AssetExecutionContext) -> str:
        return context.resources.warehouse.url

    assert reads_context.required_resource_keys == frozenset({"warehouse"})
    result = materialize(
        [reads_context],
        resources={"warehouse": Warehouse(url="sqlite://prod")},
        storage_dir=storage_dir,
    )

    assert result.output_for("reads_context") == "sqlite://prod"


# -- parameter roles -------------------------------------------------------------------


def test_parameter_roles_are_inferred_from_names_and_annotations(storage_dir: str) -> None:
    @asset
    def numbers() -> list[int]:
        return [5, 6, 7, 8]

    @asset
    def report(
        context: AssetExecutionContext, numbers: list[int], warehouse: Warehouse, config: Limits
    ) -> tuple[Any, ...]:
        return (context.asset_key, numbers[: config.limit], warehouse.url, config.label)

    assert report.context_param == "context"
    assert report.input_keys == {"numbers": AssetKey("numbers")}
    assert report.resource_params == {"warehouse": "warehouse"}
    assert report.config_param == ("config", Limits)
    assert report.required_resource_keys == frozenset({"warehouse"})
    assert dep_strings(report) == {"numbers"}

    result = materialize(
        [numbers, report],
        resources={"warehouse": Warehouse(url="duckdb://x")},
        run_config={"ops": {"report": {"config": {"limit": 2, "label": "top"}}}},
        storage_dir=storage_dir,
    )

    assert result.output_for("report") == (AssetKey("report"), [5, 6], "duckdb://x", "top")


def test_config_defaults_apply_without_run_config(storage_dir: str) -> None:
    @asset
    def configured(config: Limits) -> tuple[int, str]:
        return config.limit, config.label

    result = materialize([configured], storage_dir=storage_dir)

    assert result.output_for("configured") == (10, "all")


def test_a_context_annotation_marks_the_context_anywhere() -> None:
    @asset
    def upstream_first(numbers: list[int], ctx: AssetExecutionContext) -> int:
        return len(numbers)

    assert upstream_first.context_param == "ctx"
    assert upstream_first.input_keys == {"numbers": AssetKey("numbers")}


def test_a_context_named_parameter_that_is_not_first_is_an_upstream_asset() -> None:
    @asset
    def odd(numbers: list[int], context: Any) -> int:
        return 1

    assert odd.context_param is None
    assert set(odd.input_keys) == {"numbers", "context"}


def test_two_config_parameters_are_refused() -> None:
    with pytest.raises(InvalidDefinitionError, match="are both Config"):

        @asset
        def twice(first: Limits, second: Limits) -> int:
            return 1


def test_string_annotations_are_resolved(import_source: Any, storage_dir: str) -> None:
    module = import_source(
        """
        from __future__ import annotations

        import flowdev as dg


        class Db(dg.ConfigurableResource):
            url: str = "x"


        class Settings(dg.Config):
            factor: int = 1


        @dg.asset
        def base() -> int:
            return 4


        @dg.asset
        def scaled(context: dg.AssetExecutionContext, base: int, db: Db, config: Settings):
            return base * config.factor, db.url
        """,
        "future_annotations.py",
    )

    assert module.scaled.resource_params == {"db": "db"}
    assert module.scaled.config_param == ("config", module.Settings)
    assert module.scaled.input_keys == {"base": AssetKey("base")}
    result = materialize(
        [module.base, module.scaled],
        resources={"db": module.Db(url="pg://y")},
        run_config={"ops": {"scaled": {"config": {"factor": 3}}}},
        storage_dir=storage_dir,
    )
    assert result.output_for("scaled") == (12, "pg://y")


def test_an_asset_is_callable_with_plain_arguments() -> None:
    @asset
    def total(orders: list[int], warehouse: Warehouse, config: Limits) -> tuple[int, str]:
        return sum(orders[: config.limit]), warehouse.url

    @asset
    def named(context: AssetExecutionContext) -> str:
        return context.asset_key.to_user_string()

    assert total([1, 2, 3], Warehouse(url="u"), Limits(limit=2)) == (3, "u")
    assert total(orders=[4], warehouse=Warehouse(), config=Limits()) == (4, "sqlite://default")
    with build_asset_context(asset_key="named") as context:
        assert named(context) == "named"


# -- multi_asset -----------------------------------------------------------------------


def test_multi_asset_with_specs_yields_one_result_per_key(storage_dir: str) -> None:
    @asset
    def source() -> list[int]:
        return [1, 2, 3]

    @multi_asset(
        specs=[AssetSpec("evens", deps=[source]), AssetSpec("odds", deps=[source])],
        group_name="split",
    )
    def split(source: list[int]):  # type: ignore[no-untyped-def]
        """Split the numbers."""
        yield MaterializeResult(asset_key="evens", value=[n for n in source if n % 2 == 0])
        yield MaterializeResult(
            asset_key="odds", value=[n for n in source if n % 2], metadata={"n": 2}
        )

    assert keys_of(split) == {"evens", "odds"}
    assert set(split.group_names_by_key.values()) == {"split"}
    result = materialize([source, split], storage_dir=storage_dir)

    assert result.output_for("evens") == [2]
    assert result.output_for("odds") == [1, 3]
    (odds_event,) = result.asset_materializations_for("odds")
    assert odds_event.data["metadata"]["n"] == {"type": "int", "value": 2}


def test_multi_asset_with_outs_returns_a_tuple_in_outs_order(storage_dir: str) -> None:
    @asset
    def source() -> int:
        return 10

    @multi_asset(
        outs={
            "low": AssetOut(),
            "high": AssetOut(key_prefix="bands", group_name="bands", kinds={"python"}),
        },
        group_name="numbers",
    )
    def bands(source: int) -> tuple[int, int]:
        return source - 1, source + 1

    assert keys_of(bands) == {"low", "bands/high"}
    assert bands.group_names_by_key == {
        AssetKey("low"): "numbers",
        AssetKey(["bands", "high"]): "bands",
    }
    assert dep_strings(bands, "low") == dep_strings(bands, "bands/high") == {"source"}
    result = materialize([source, bands], storage_dir=storage_dir)

    assert result.output_for("low") == 9
    assert result.output_for("bands/high") == 11


def test_multi_asset_that_cannot_subset_runs_whole(storage_dir: str) -> None:
    calls: list[int] = []

    @multi_asset(outs={"left": AssetOut(), "right": AssetOut()})
    def pair() -> tuple[str, str]:
        calls.append(1)
        return "L", "R"

    result = materialize([pair], selection=["left"], storage_dir=storage_dir)

    assert calls == [1]
    assert sorted(materialized_keys(result)) == ["left", "right"]


def test_multi_asset_with_can_subset_materializes_only_the_selection(storage_dir: str) -> None:
    seen: list[frozenset[AssetKey]] = []

    @multi_asset(outs={"left": AssetOut(), "right": AssetOut()}, can_subset=True)
    def pair(context: AssetExecutionContext):  # type: ignore[no-untyped-def]
        seen.append(context.selected_asset_keys)
        for key in sorted(context.selected_asset_keys):
            yield Output(key.name.upper(), output_name=key.name)

    result = materialize([pair], selection=["right"], storage_dir=storage_dir)

    assert seen == [frozenset({AssetKey("right")})]
    assert materialized_keys(result) == ["right"]
    assert result.output_for("right") == "RIGHT"


def test_internal_asset_deps_narrow_each_outputs_deps() -> None:
    @multi_asset(
        outs={"a": AssetOut(), "b": AssetOut()},
        deps=["x", "y"],
        internal_asset_deps={"a": [AssetKey("x")], "b": {AssetKey("y"), AssetKey("a")}},
    )
    def two() -> tuple[int, int]:
        return 1, 2

    assert dep_strings(two, "a") == {"x"}
    assert dep_strings(two, "b") == {"y", "a"}


def test_multi_asset_needs_exactly_one_of_specs_or_outs() -> None:
    with pytest.raises(InvalidDefinitionError, match="exactly one of specs= or outs="):
        multi_asset()
    with pytest.raises(InvalidDefinitionError, match="exactly one of specs= or outs="):
        multi_asset(specs=[AssetSpec("a")], outs={"a": AssetOut()})


# -- `import flowdev as dg` ------------------------------------------------------------


def test_dagster_style_module_alias_works(storage_dir: str) -> None:
    import flowdev as dg

    @dg.asset(group_name="g")
    def one() -> int:
        return 1

    @dg.asset
    def two(one: int) -> int:
        return one + 1

    defs = dg.Definitions(assets=[one, two])
    result = materialize(defs, storage_dir=storage_dir)

    assert result.output_for("two") == 2
    assert isinstance(dg.AssetKey("x"), dg.AssetKey)


def test_public_names_are_never_shadowed_by_submodules() -> None:
    # Importing a submodule binds it on the package, over a lazily resolved public name of
    # the same spelling; so no module in core/ may be named after a public name.
    script = """
import json, pkgutil, types
import flowdev as dg
dg.Definitions  # imports flowdev.defs.definitions, which imports flowdev.selection.graph
import flowdev.execution.materialize, flowdev.selection.graph  # as the worker or a test might
from flowdev import *
modules = {m.name for m in pkgutil.iter_modules(dg.__path__)}
print(json.dumps({
    "clashing modules": sorted(modules & set(dg.__all__)),
    "dg.graph": isinstance(dg.graph, types.ModuleType),
    "dg.materialize": isinstance(dg.materialize, types.ModuleType),
    "star graph": isinstance(graph, types.ModuleType),
    "star materialize": isinstance(materialize, types.ModuleType),
}))
"""
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    shadowed = json.loads(completed.stdout)

    assert shadowed == {
        "clashing modules": [],
        "dg.graph": False,
        "dg.materialize": False,
        "star graph": False,
        "star materialize": False,
    }


# -- external assets and spec mapping --------------------------------------------------


def test_asset_spec_alone_is_an_external_asset_loaded_through_the_io_manager(
    storage_dir: str,
) -> None:
    rates = AssetSpec("fare_rates", description="Published by the city.", kinds={"csv"})
    memory = InMemoryIOManager()
    memory.values[AssetKey("fare_rates")] = {"base": 3.0}

    @asset
    def fares(fare_rates: dict[str, float]) -> float:
        return fare_rates["base"] * 2

    defs = Definitions(assets=[rates, fares])
    result = materialize(defs, resources={"io_manager": memory}, storage_dir=storage_dir)

    assert defs.is_external(AssetKey("fare_rates"))
    assert defs.asset_graph.node(AssetKey("fare_rates")).is_external
    assert defs.get_spec(AssetKey("fare_rates")).description == "Published by the city."
    assert result.output_for("fares") == 6.0
    assert materialized_keys(result) == ["fares"]


def test_map_asset_specs_changes_specs_of_definitions_and_specs() -> None:
    @asset(owners=["a@example.com"])
    def orders() -> int:
        return 1

    external = AssetSpec("raw_orders")

    def change(spec: AssetSpec) -> AssetSpec:
        merged = spec.merge_attributes(owners=["team:data"], tags={"env": "prod"})
        return merged.replace_attributes(group_name="mapped")

    mapped = map_asset_specs(change, [orders, external])

    mapped_orders, mapped_external = mapped
    assert isinstance(mapped_orders, AssetsDefinition)
    assert mapped_orders.specs[0].owners == ("a@example.com", "team:data")
    assert mapped_orders.specs[0].group_name == "mapped"
    assert mapped_external.tags == {"env": "prod"}
    assert orders.specs[0].group_name is None  # the original is untouched
    with pytest.raises(InvalidDefinitionError, match="cannot rename asset 'orders'"):
        map_asset_specs(lambda spec: spec.replace_attributes(key="other"), [orders])


def test_apply_freshness_policy_respects_overwrite_existing() -> None:
    hourly = FreshnessPolicy(maximum_lag_minutes=60)
    daily = FreshnessPolicy.time_window(fail_window=timedelta(days=1))

    @asset
    def bare() -> int:
        return 1

    @asset(freshness_policy=hourly)
    def fresh() -> int:
        return 1

    kept = apply_freshness_policy([bare, fresh], daily, overwrite_existing=False)
    replaced = apply_freshness_policy([bare, fresh], daily)

    assert [a.specs[0].freshness_policy for a in kept] == [daily, hourly]
    assert [a.specs[0].freshness_policy for a in replaced] == [daily, daily]


# -- load_assets_from_modules ----------------------------------------------------------

LOADED_SOURCE = """
import flowdev as dg

outside = dg.AssetSpec("outside")


@dg.asset
def base() -> int:
    return 2


@dg.asset
def squared(base: int) -> int:
    return base * base


@dg.asset(deps=[squared, "outside"])
def after() -> str:
    return "done"


also_in_a_list = [dg.AssetSpec("listed")]
"""


def test_load_assets_from_modules_prefixes_keys_and_internal_deps(
    import_source: Any, storage_dir: str
) -> None:
    module = import_source(LOADED_SOURCE, "loaded.py")

    loaded = load_assets_from_modules([module], group_name="lake", key_prefix=["lake", "v1"])

    by_key = {k.to_user_string(): a for a in loaded for k in a.keys}
    assert set(by_key) == {"lake/v1/base", "lake/v1/squared", "lake/v1/after"}
    assert all(a.group_names_by_key == dict.fromkeys(a.keys, "lake") for a in loaded)
    assert by_key["lake/v1/squared"].input_keys == {"base": AssetKey(["lake", "v1", "base"])}
    # `outside` is not loaded here, so a dependency on it keeps its key.
    assert dep_strings(by_key["lake/v1/after"]) == {"lake/v1/squared", "outside"}

    result = materialize(Definitions(assets=[*loaded, module.outside]), storage_dir=storage_dir)
    assert result.output_for("lake/v1/squared") == 4


def test_load_assets_from_modules_with_specs_and_source_prefix(import_source: Any) -> None:
    module = import_source(LOADED_SOURCE, "loaded_specs.py")

    loaded = load_assets_from_modules(
        [module], include_specs=True, key_prefix="p", source_key_prefix="src"
    )

    spec_keys = {a.key.to_user_string() for a in loaded if isinstance(a, AssetSpec)}
    assert spec_keys == {"p/outside", "p/listed"}
    after = next(a for a in loaded if isinstance(a, AssetsDefinition) and a.key.name == "after")
    assert dep_strings(after) == {"p/squared", "p/outside"}
    without = load_assets_from_modules([module])
    assert {k.to_user_string() for a in without for k in a.keys} == {"base", "squared", "after"}


# -- metadata in materialization events -----------------------------------------------


def test_output_and_materialize_result_metadata_is_recorded(storage_dir: str) -> None:
    lineage = TableColumnLineage(
        deps_by_column={"fare": [TableColumnDep(asset_key="raw/trips", column_name="fare")]}
    )

    @asset
    def with_output() -> Output:
        return Output(
            [1, 2],
            metadata={
                "report": MetadataValue.md("# Title"),
                "rows": MetadataValue.int(2),
                "ratio": MetadataValue.float(0.5),
                "note": MetadataValue.text("fine"),
                "file": MetadataValue.path("/data/out.csv"),
                "link": MetadataValue.url("https://example.com/run"),
                "blob": MetadataValue.json({"a": [1, 2]}),
            },
        )

    @asset
    def with_result(context: AssetExecutionContext) -> MaterializeResult:
        context.add_output_metadata({"added": 7})
        return MaterializeResult(
            value="x",
            metadata={
                "count": 3,
                "share": 0.25,
                "label": "plain",
                "nested": {"k": "v"},
                "lineage": lineage,
                "lineage_value": MetadataValue.column_lineage(lineage),
            },
        )

    result = materialize([with_output, with_result], storage_dir=storage_dir)

    (output_event,) = result.asset_materializations_for("with_output")
    metadata = output_event.data["metadata"]
    assert metadata["report"] == {"type": "md", "value": "# Title"}
    assert metadata["rows"] == {"type": "int", "value": 2}
    assert metadata["ratio"] == {"type": "float", "value": 0.5}
    assert metadata["note"] == {"type": "text", "value": "fine"}
    assert metadata["file"] == {"type": "path", "value": "/data/out.csv"}
    assert metadata["link"] == {"type": "url", "value": "https://example.com/run"}
    assert metadata["blob"] == {"type": "json", "value": {"a": [1, 2]}}
    json.dumps(output_event.to_json())  # stored as JSON

    (result_event,) = result.asset_materializations_for("with_result")
    metadata = result_event.data["metadata"]
    assert metadata["count"] == {"type": "int", "value": 3}
    assert metadata["share"] == {"type": "float", "value": 0.25}
    assert metadata["label"] == {"type": "text", "value": "plain"}
    assert metadata["nested"] == {"type": "json", "value": {"k": "v"}}
    assert metadata["added"] == {"type": "int", "value": 7}
    expected_lineage = {
        "type": "table_column_lineage",
        "value": {"fare": [{"asset_key": "raw/trips", "column_name": "fare"}]},
    }
    assert metadata["lineage"] == expected_lineage
    assert metadata["lineage_value"] == expected_lineage
    assert result.output_for("with_result") == "x"


def _orders() -> None:
    """Orders."""


def _check_orders(orders: Any) -> None:
    """A check."""


def _one_op_job() -> None:
    pass


# Each Dagster argument flowdev accepts by name but does not implement: given, it is
# refused with an error naming the argument and the definition it was given to.
UNSUPPORTED = {
    "asset config_schema": (
        lambda: asset(config_schema={"n": int})(_orders),
        "config_schema",
        "@asset '_orders'",
    ),
    "asset dagster_type": (lambda: asset(_orders, dagster_type=int), "dagster_type", "_orders"),
    "asset partitions_def": (
        lambda: asset(key=["marts", "orders"], partitions_def=object()),
        "partitions_def",
        "@asset 'marts/orders'",
    ),
    "multi_asset config_schema": (
        lambda: multi_asset(specs=[AssetSpec("a")], config_schema={"n": int})(_orders),
        "config_schema",
        "@multi_asset '_orders'",
    ),
    "multi_asset partitions_def": (
        lambda: multi_asset(specs=[AssetSpec("a")], partitions_def=object())(_orders),
        "partitions_def",
        "@multi_asset '_orders'",
    ),
    "AssetOut dagster_type": (
        lambda: AssetOut(key="orders", dagster_type=int),
        "dagster_type",
        "AssetOut 'orders'",
    ),
    "AssetSpec partitions_def": (
        lambda: AssetSpec("orders", partitions_def=object()),
        "partitions_def",
        "AssetSpec 'orders'",
    ),
    "AssetDep partition_mapping": (
        lambda: AssetDep("raw", partition_mapping=object()),
        "partition_mapping",
        "AssetDep('raw')",
    ),
    "AssetIn partition_mapping": (
        lambda: AssetIn("raw", partition_mapping=object()),
        "partition_mapping",
        "AssetIn",
    ),
    "AssetIn dagster_type": (lambda: AssetIn("raw", dagster_type=int), "dagster_type", "AssetIn"),
    "asset_check additional_ins": (
        lambda: asset_check(asset="orders", additional_ins={"raw": AssetIn("raw")})(_check_orders),
        "additional_ins",
        "@asset_check '_check_orders'",
    ),
    "AssetCheckSpec metadata": (
        lambda: AssetCheckSpec("positive", asset="orders", metadata={"a": 1}),
        "metadata",
        "AssetCheckSpec 'positive' on 'orders'",
    ),
    "op config_schema": (lambda: op(config_schema={"n": int})(_orders), "config_schema", "@op"),
    "op pool": (lambda: op(name="load", pool="db")(_orders), "pool", "@op 'load'"),
    "In dagster_type": (lambda: In(dagster_type=int), "dagster_type", "In"),
    "In default_value": (lambda: In(default_value=3), "default_value", "In"),
    "Out dagster_type": (lambda: Out(dagster_type=int), "dagster_type", "Out"),
    "Out is_required": (lambda: Out(is_required=False), "is_required", "Out"),
    "Out io_manager_key": (lambda: Out(io_manager_key="warehouse"), "io_manager_key", "Out"),
    "job resource_defs": (
        lambda: job(name="nightly", resource_defs={"db": object()})(_one_op_job),
        "resource_defs",
        "@job 'nightly'",
    ),
    "define_asset_job partitions_def": (
        lambda: define_asset_job("nightly", partitions_def=object()),
        "partitions_def",
        "define_asset_job('nightly')",
    ),
    "define_asset_job hooks": (
        lambda: define_asset_job("nightly", hooks={object()}),
        "hooks",
        "define_asset_job('nightly')",
    ),
    "define_asset_job op_retry_policy": (
        lambda: define_asset_job("nightly", op_retry_policy=RetryPolicy()),
        "op_retry_policy",
        "define_asset_job('nightly')",
    ),
    "Definitions loggers": (lambda: Definitions(loggers={"x": object()}), "loggers", "Definitions"),
    "TableSchema constraints": (
        lambda: TableSchema([], constraints=object()),
        "constraints",
        "TableSchema",
    ),
}


@pytest.mark.parametrize("case", UNSUPPORTED.values(), ids=list(UNSUPPORTED))
def test_an_unsupported_dagster_argument_is_refused_by_name(case: Any) -> None:
    define, argument, where = case

    with pytest.raises(UnsupportedArgumentError) as raised:
        define()

    assert raised.value.argument == argument
    message = str(raised.value)
    assert f"{argument}= is not supported yet" in message and where in message


def test_an_unsupported_argument_at_its_default_is_accepted() -> None:
    # What a project writes when it spells the defaults out: nothing to refuse.
    spelled_out = asset(
        _orders, config_schema=None, dagster_type=None, pool=None, partitions_def=None
    )

    assert spelled_out.key == AssetKey("_orders")
    assert Out(io_manager_key="io_manager", is_required=True) == Out()
    assert AssetDep("raw", partition_mapping=None) == AssetDep("raw")
    assert Definitions(executor=None, loggers=None).assets == ()


def test_an_unsupported_graph_to_job_argument_is_refused() -> None:
    @op
    def load() -> int:
        return 1

    @graph
    def pipeline() -> None:
        load()

    with pytest.raises(UnsupportedArgumentError, match="resource_defs= is not supported yet"):
        pipeline.to_job("nightly", resource_defs={"db": object()})
    assert pipeline.to_job("nightly", tags={"a": "b"}).tags == {"a": "b"}
