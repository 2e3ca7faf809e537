"""The definitions snapshot: plain data that survives JSON and describes the project."""

import json
from pathlib import Path

from conftest import TAXI_ASSETS
from flowdev import AssetKey
from flowdev.project.project import find_project, load_definitions
from flowdev.project.snapshot import AssetSnapshot, DefinitionsSnapshot, build_snapshot


def _snapshot(root: Path) -> DefinitionsSnapshot:
    return build_snapshot(load_definitions(find_project(root)))


def test_sample_project_snapshot_round_trips_through_json(sample_project: Path) -> None:
    snapshot = _snapshot(sample_project)
    again = DefinitionsSnapshot.from_json(json.loads(json.dumps(snapshot.to_json())))
    assert again == snapshot
    assert again.code_fingerprint == snapshot.code_fingerprint
    assert {a.key.to_user_string() for a in snapshot.assets if not a.is_external} == TAXI_ASSETS


def test_snapshot_describes_each_asset(sample_project: Path) -> None:
    snapshot = _snapshot(sample_project)
    summary = snapshot.get(AssetKey("daily_summary"))
    assert summary.group == "report"
    assert summary.freshness_policy is not None
    assert summary.freshness_policy["fail_window_seconds"] == 24 * 3600
    assert summary.source_file is not None
    assert summary.source_file.endswith("report.py")
    assert summary.source == f"{summary.source_file}:{summary.source_line}"
    assert AssetKey("borough_stats") in summary.deps
    fare_rates = snapshot.get(AssetKey("fare_rates"))
    assert fare_rates.is_external and fare_rates.code_version is None
    # Topological order: every dependency comes before the asset.
    seen: set[AssetKey] = set()
    for asset in snapshot.assets:
        assert set(asset.deps) <= seen
        seen.add(asset.key)
    assert [job.name for job in snapshot.jobs] == ["refresh_everything"]
    assert snapshot.schedules[0].cron_schedule == "0 6 * * *"
    assert "warehouse" in snapshot.resource_keys


def test_code_fingerprint_changes_with_code_only(write_project) -> None:
    source = """
        from flowdev import asset, Definitions

        @asset
        def a():
            return BODY

        defs = Definitions(assets=[a])
    """
    fingerprints = {}
    for name, body in [("base", "1  # a"), ("comment", "1  # b"), ("edit", "2  # a")]:
        module = f"defs_{name}"
        root = write_project({f"{module}.py": source.replace("BODY", body)}, module=module)
        fingerprints[name] = _snapshot(root).code_fingerprint
    assert fingerprints["comment"] == fingerprints["base"]
    assert fingerprints["edit"] != fingerprints["base"]


def test_snapshot_graph_answers_selections(sample_project: Path) -> None:
    from flowdev.selection.syntax import select

    snapshot = _snapshot(sample_project)
    selected = select(snapshot.asset_graph, "key:daily_summary+0 or +key:zones")
    names = {key.to_user_string() for key in selected}
    assert names == {"daily_summary", "zones", "raw_zones"}


def test_asset_json_leaves_out_defaults_and_still_reads_the_full_form() -> None:
    asset = AssetSnapshot(
        key=AssetKey(["marts", "orders"]),
        deps=(AssetKey("raw"),),
        op_name="marts__orders",
        io_manager_key="io_manager",
        tags={"team": "data"},
    )
    full = {
        "key": "marts/orders",
        "deps": ["raw"],
        "group": "default",
        "description": None,
        "tags": {"team": "data"},
        "kinds": [],
        "owners": [],
        "metadata": {},
        "is_external": False,
        "op_name": "marts__orders",
        "code_version": None,
        "source_file": None,
        "source_line": None,
        "freshness_policy": None,
        "retry_policy": None,
        "io_manager_key": "io_manager",
        "checks": [],
        "required_resource_keys": [],
    }

    assert asset.to_json() == {
        "key": "marts/orders",
        "deps": ["raw"],
        "tags": {"team": "data"},
        "op_name": "marts__orders",
        "io_manager_key": "io_manager",
    }
    assert AssetSnapshot.from_json(asset.to_json()) == asset
    assert AssetSnapshot.from_json(full) == asset
