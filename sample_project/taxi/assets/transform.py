"""Clean, join and aggregate the trips in the SQLite warehouse."""

import time

import flowdev as dg

from taxi.resources import Warehouse

TRIP_COLUMNS = [
    "trip_id",
    "pickup_at",
    "pickup_zone",
    "dropoff_zone",
    "distance_miles",
    "duration_minutes",
    "fare",
]


@dg.asset(kinds={"sqlite"}, owners=["team:analytics"])
def zones(raw_zones: list[dict], warehouse: Warehouse) -> dg.MaterializeResult:
    """The zones table in the warehouse."""
    rows = [(z["zone_id"], z["name"], z["borough"]) for z in raw_zones]
    count = warehouse.replace_table("zones", ["zone_id", "name", "borough"], rows)
    return dg.MaterializeResult(metadata={"row_count": count, "table": "zones"})


@dg.asset(kinds={"sqlite"}, owners=["team:analytics"])
def trips_clean(
    context: dg.AssetExecutionContext, raw_trips: list[dict], warehouse: Warehouse
) -> dg.MaterializeResult:
    """Trips with a positive fare and distance, in the warehouse."""
    valid = [t for t in raw_trips if t["fare"] > 0 and t["distance_miles"] > 0]
    dropped = len(raw_trips) - len(valid)
    context.log.info(f"dropped {dropped} invalid trips of {len(raw_trips)}")
    count = warehouse.replace_table(
        "trips_clean", TRIP_COLUMNS, [tuple(t[c] for c in TRIP_COLUMNS) for t in valid]
    )
    return dg.MaterializeResult(
        metadata={"row_count": count, "dropped_rows": dropped, "table": "trips_clean"}
    )


@dg.asset(
    deps=[trips_clean, zones],
    kinds={"sqlite"},
    owners=["team:analytics"],
    metadata={"table": "trips_enriched"},
)
def trips_enriched(warehouse: Warehouse) -> dg.MaterializeResult:
    """Clean trips joined with their pickup borough."""
    with warehouse.connect() as db:
        db.execute("DROP TABLE IF EXISTS trips_enriched")
        db.execute(
            """
            CREATE TABLE trips_enriched AS
            SELECT t.*, z.borough AS pickup_borough, substr(t.pickup_at, 1, 10) AS day,
                   CAST(substr(t.pickup_at, 12, 2) AS INTEGER) AS hour
            FROM trips_clean t JOIN zones z ON z.zone_id = t.pickup_zone
            """
        )
        (count,) = db.execute("SELECT count(*) FROM trips_enriched").fetchone()
    lineage = dg.TableColumnLineage(
        deps_by_column={
            "pickup_borough": [dg.TableColumnDep(asset_key="zones", column_name="borough")],
            "fare": [dg.TableColumnDep(asset_key="trips_clean", column_name="fare")],
        }
    )
    return dg.MaterializeResult(
        metadata={"row_count": count, "column_lineage": dg.MetadataValue.column_lineage(lineage)}
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec("borough_stats", deps=["trips_enriched"], kinds={"sqlite"}),
        dg.AssetSpec("hourly_stats", deps=["trips_enriched"], kinds={"sqlite"}),
    ],
)
def trip_stats(warehouse: Warehouse):
    """Per-borough and per-hour trip counts and average fares, from one scan."""
    boroughs = warehouse.query(
        "SELECT pickup_borough, count(*), round(avg(fare), 2) FROM trips_enriched "
        "GROUP BY pickup_borough ORDER BY 2 DESC"
    )
    hours = warehouse.query(
        "SELECT hour, count(*), round(avg(fare), 2) FROM trips_enriched GROUP BY hour ORDER BY hour"
    )
    yield dg.MaterializeResult(
        asset_key="borough_stats", value=boroughs, metadata={"row_count": len(boroughs)}
    )
    yield dg.MaterializeResult(
        asset_key="hourly_stats", value=hours, metadata={"row_count": len(hours)}
    )


class ModelConfig(dg.Config):
    """How long the duration model trains."""

    iterations: int = 8
    seconds_per_iteration: float = 0.4


@dg.asset(
    deps=[trips_enriched],
    kinds={"python"},
    owners=["team:science"],
    retry_policy=dg.RetryPolicy(max_retries=1, delay=0.5),
)
def trip_duration_model(
    context: dg.AssetExecutionContext, config: ModelConfig, warehouse: Warehouse
) -> dg.Output:
    """Minutes per mile, fitted slowly (it logs its progress, to show live logs)."""
    rows = warehouse.query("SELECT distance_miles, duration_minutes FROM trips_enriched")
    slope = 0.0
    for iteration in range(1, config.iterations + 1):
        # A deliberately slow gradient descent on minutes = slope * miles.
        gradient = sum((slope * d - m) * d for d, m in rows) / len(rows)
        slope -= 0.05 * gradient
        context.log.info(f"iteration {iteration}/{config.iterations}: slope={slope:.3f}")
        print(f"training... {100 * iteration // config.iterations}%", flush=True)
        time.sleep(config.seconds_per_iteration)
    return dg.Output({"minutes_per_mile": slope}, metadata={"minutes_per_mile": round(slope, 3)})
