"""What people read: a daily summary, a leaderboard, and fare anomalies."""

import os
from datetime import timedelta

from flowdev import FreshnessPolicy, MaterializeResult, MetadataValue, asset

from taxi.resources import PROJECT_DIR, Warehouse

REPORTS_DIR = PROJECT_DIR / "data" / "reports"


@asset(
    kinds={"markdown"},
    owners=["team:analytics"],
    freshness_policy=FreshnessPolicy.time_window(fail_window=timedelta(hours=24)),
)
def daily_summary(
    borough_stats: list[tuple], hourly_stats: list[tuple], raw_weather: list[dict]
) -> MaterializeResult:
    """A markdown report of the week: trips by borough, the busiest hour, the weather."""
    busiest_hour, busiest_count, _ = max(hourly_stats, key=lambda row: row[1])
    lines = ["# Taxi week", "", "| borough | trips | avg fare |", "|---|---|---|"]
    lines += [f"| {b} | {n} | {fare} |" for b, n, fare in borough_stats]
    rain = sum(day["rain_mm"] for day in raw_weather)
    lines += ["", f"Busiest hour: {busiest_hour}:00 ({busiest_count} trips).", f"Rain: {rain:.1f} mm."]
    text = "\n".join(lines) + "\n"
    REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    path = REPORTS_DIR / "daily_summary.md"
    path.write_text(text)
    return MaterializeResult(
        value=text,
        metadata={
            "path": MetadataValue.path(path),
            "report": MetadataValue.md(text),
            "trips": sum(n for _, n, _ in borough_stats),
        },
    )


@asset(kinds={"sqlite"}, deps=["trips_enriched", "zones"])
def zone_leaderboard(warehouse: Warehouse) -> list[tuple]:
    """The ten busiest pickup zones."""
    return warehouse.query(
        "SELECT z.name, count(*) AS trips FROM trips_enriched t "
        "JOIN zones z ON z.zone_id = t.pickup_zone GROUP BY z.name ORDER BY trips DESC LIMIT 10"
    )


@asset(deps=["trips_enriched", "fare_rates"], owners=["team:pricing"])
def fare_anomalies(warehouse: Warehouse) -> MaterializeResult:
    """Trips whose fare per mile is far above the rest. Fails if TAXI_FAIL_ANOMALIES=1."""
    if os.environ.get("TAXI_FAIL_ANOMALIES") == "1":
        raise RuntimeError("anomaly detector crashed: TAXI_FAIL_ANOMALIES=1 is set")
    rows = warehouse.query(
        "SELECT trip_id, fare / distance_miles AS per_mile FROM trips_enriched "
        "WHERE distance_miles > 0.5 ORDER BY per_mile DESC LIMIT 20"
    )
    return MaterializeResult(value=rows, metadata={"row_count": len(rows)})
