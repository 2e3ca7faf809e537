"""The taxi project's definitions: what flowdev loads."""

import os

from flowdev import (
    Definitions,
    EnvVar,
    ScheduleDefinition,
    define_asset_job,
    load_asset_checks_from_modules,
    load_assets_from_modules,
)

from taxi import checks
from taxi.assets import ingest, report, transform
from taxi.resources import Warehouse

# The warehouse file is TAXI_WAREHOUSE_PATH when that is set (read when a run starts),
# else data/warehouse.db in this project.
warehouse = (
    Warehouse(path=EnvVar("TAXI_WAREHOUSE_PATH"))
    if os.environ.get("TAXI_WAREHOUSE_PATH")
    else Warehouse()
)

refresh_everything = define_asset_job("refresh_everything", selection="*")

defs = Definitions(
    assets=[
        *load_assets_from_modules([ingest], group_name="ingest", include_specs=True),
        *load_assets_from_modules([transform], group_name="transform"),
        *load_assets_from_modules([report], group_name="report"),
    ],
    asset_checks=load_asset_checks_from_modules([checks]),
    jobs=[refresh_everything],
    schedules=[ScheduleDefinition(job=refresh_everything, cron_schedule="0 6 * * *")],
    resources={"warehouse": warehouse},
)
