"""Checks on the warehouse tables."""

from flowdev import AssetCheckResult, asset_check

from taxi.resources import Warehouse


@asset_check(asset="trips_clean", description="Every clean trip has a positive fare.")
def trips_have_positive_fares(warehouse: Warehouse) -> AssetCheckResult:
    (bad,) = warehouse.query("SELECT count(*) FROM trips_clean WHERE fare <= 0")[0]
    return AssetCheckResult(passed=bad == 0, metadata={"bad_rows": bad})
