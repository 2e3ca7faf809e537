"""Raw data, generated deterministically so the project runs offline."""

import random
from datetime import date, datetime, timedelta

from flowdev import AssetSpec, MaterializeResult, MetadataValue, Output, asset

BOROUGHS = ["Manhattan", "Brooklyn", "Queens", "Bronx", "Staten Island"]
FIRST_DAY = date(2026, 11, 1)
DAYS = 7

# Published by the city and loaded by another team: flowdev never materializes it.
fare_rates = AssetSpec(
    "fare_rates",
    description="Official fare rates, published by the city.",
    owners=["team:pricing"],
    kinds={"csv"},
)


@asset(kinds={"python"}, owners=["team:ingest"], tags={"source": "generated"})
def raw_zones() -> list[dict]:
    """Taxi zones: an id, a name and the borough each belongs to."""
    rng = random.Random(7)
    return [
        {"zone_id": i, "name": f"Zone {i:02d}", "borough": rng.choice(BOROUGHS)}
        for i in range(1, 41)
    ]


@asset(kinds={"python"}, owners=["team:ingest"], tags={"source": "generated"})
def raw_trips(raw_zones: list[dict]) -> Output:
    """A week of taxi trips, a few of them invalid on purpose."""
    rng = random.Random(42)
    zone_ids = [z["zone_id"] for z in raw_zones]
    trips = []
    for trip_id in range(5000):
        pickup = datetime.combine(FIRST_DAY, datetime.min.time()) + timedelta(
            minutes=rng.randrange(DAYS * 24 * 60)
        )
        distance = round(rng.expovariate(1 / 3.0), 2)
        minutes = max(1, int(distance * rng.uniform(2.5, 5.0)))
        fare = round(3.0 + distance * 2.5 + rng.gauss(0, 1.5), 2)
        if rng.random() < 0.02:
            fare = -fare  # refunds leak into the feed
        trips.append(
            {
                "trip_id": trip_id,
                "pickup_at": pickup.isoformat(),
                "pickup_zone": rng.choice(zone_ids),
                "dropoff_zone": rng.choice(zone_ids),
                "distance_miles": distance,
                "duration_minutes": minutes,
                "fare": fare,
            }
        )
    preview = "\n".join(
        f"| {t['trip_id']} | {t['pickup_at']} | {t['distance_miles']} | {t['fare']} |"
        for t in trips[:5]
    )
    return Output(
        trips,
        metadata={
            "row_count": len(trips),
            "preview": MetadataValue.md(
                "| trip | pickup | miles | fare |\n|---|---|---|---|\n" + preview
            ),
        },
    )


@asset(kinds={"python"}, owners=["team:ingest"])
def raw_weather() -> MaterializeResult:
    """Daily weather for the week of trips."""
    rng = random.Random(3)
    days = [
        {
            "day": (FIRST_DAY + timedelta(days=i)).isoformat(),
            "rain_mm": round(max(0.0, rng.gauss(2, 3)), 1),
            "temp_c": round(rng.uniform(2, 14), 1),
        }
        for i in range(DAYS)
    ]
    return MaterializeResult(value=days, metadata={"row_count": len(days)})
