"""Schedules and sensors as definitions (their evaluation belongs to the automation daemon)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any

from flowdev.defs.descriptions import description_of
from flowdev.defs.policies import validate_cron
from flowdev.errors import InvalidDefinitionError
from flowdev.frames import called_from
from flowdev.records import EMPTY, builder, freeze, record


class DefaultScheduleStatus(Enum):
    """Whether a schedule starts running as soon as it is loaded."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class DefaultSensorStatus(Enum):
    """Whether a sensor starts running as soon as it is loaded."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


@record(init=False)
class RunRequest:
    """A request, from a schedule or sensor, to launch a run."""

    run_key: str | None = None
    run_config: Mapping[str, Any] = EMPTY
    tags: Mapping[str, str] = EMPTY
    job_name: str | None = None
    asset_selection: tuple[Any, ...] | None = None

    def __new__(
        cls,
        run_key: str | None = None,
        run_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        job_name: str | None = None,
        asset_selection: Sequence[Any] | None = None,
    ) -> RunRequest:
        selection = None if asset_selection is None else tuple(asset_selection)
        return builder(cls)(
            run_key=run_key,
            run_config=freeze(run_config),
            tags=freeze(tags),
            job_name=job_name,
            asset_selection=selection,
        )


@record
class SkipReason:
    """Returned by a schedule or sensor that decides not to request a run."""

    skip_message: str | None = None


def _job_name(job: Any, job_name: str | None, where: str) -> str | None:
    if job is not None and job_name is not None:
        raise InvalidDefinitionError(f"{where}: pass job= or job_name=, not both")
    return job.name if job is not None else job_name


@record(init=False)
class ScheduleDefinition:
    """Launch a job on a cron schedule."""

    name: str
    cron_schedule: str
    job_name: str | None = None
    job: Any = None
    run_config: Any = None
    execution_fn: Callable[..., Any] | None = None
    execution_timezone: str | None = None
    description: str | None = None
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED
    tags: Mapping[str, str] = EMPTY
    source: tuple[str, int] | None = None  # where it is written, for load errors

    def __new__(
        cls,
        name: str | None = None,
        *,
        cron_schedule: str,
        job: Any = None,
        job_name: str | None = None,
        target: Any = None,
        run_config: Any = None,
        execution_fn: Callable[..., Any] | None = None,
        execution_timezone: str | None = None,
        description: str | None = None,
        default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
        tags: Mapping[str, str] | None = None,
    ) -> ScheduleDefinition:
        job = job if job is not None else target
        resolved_job_name = _job_name(job, job_name, f"schedule {name!r}")
        if resolved_job_name is None:
            raise InvalidDefinitionError(
                f"schedule {name!r} targets no job; pass job= or job_name="
            )
        schedule_name = name or f"{resolved_job_name}_schedule"
        validate_cron(cron_schedule, f"schedule {schedule_name!r}")
        return builder(cls)(
            name=schedule_name,
            cron_schedule=cron_schedule,
            job_name=resolved_job_name,
            job=job,
            run_config=run_config,
            execution_fn=execution_fn,
            execution_timezone=execution_timezone,
            description=description,
            default_status=default_status,
            tags=freeze(tags),
            source=_defined_at(execution_fn),
        )


def _defined_at(fn: Callable[..., Any] | None) -> tuple[str, int] | None:
    """Where a schedule is written, for load errors: its function, else the first caller
    outside flowdev."""
    code = getattr(fn, "__code__", None)
    if code is not None:
        return code.co_filename, code.co_firstlineno
    return called_from()


def schedule(
    cron_schedule: str,
    *,
    job: Any = None,
    job_name: str | None = None,
    target: Any = None,
    name: str | None = None,
    execution_timezone: str | None = None,
    description: str | None = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., Any]], ScheduleDefinition]:
    """Declare a schedule whose function returns run config, a `RunRequest` or `SkipReason`."""

    def decorate(fn: Callable[..., Any]) -> ScheduleDefinition:
        return ScheduleDefinition(
            name=name or fn.__name__,
            cron_schedule=cron_schedule,
            job=job if job is not None else target,
            job_name=job_name,
            execution_fn=fn,
            execution_timezone=execution_timezone,
            description=description_of(fn, description),
            default_status=default_status,
            tags=tags,
        )

    return decorate


@record
class SensorDefinition:
    """Evaluate a function every ``minimum_interval_seconds`` and launch the runs it asks for."""

    name: str
    evaluation_fn: Callable[..., Any]
    job_name: str | None = None
    job: Any = None
    minimum_interval_seconds: int = 30
    description: str | None = None
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED
    asset_selection: Any = None


def sensor(
    job: Any = None,
    *,
    job_name: str | None = None,
    target: Any = None,
    name: str | None = None,
    minimum_interval_seconds: int = 30,
    description: str | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    asset_selection: Any = None,
) -> Callable[[Callable[..., Any]], SensorDefinition]:
    """Declare a sensor whose function yields `RunRequest`s or returns a `SkipReason`."""

    def decorate(fn: Callable[..., Any]) -> SensorDefinition:
        sensor_name = name or fn.__name__
        target_job = job if job is not None else target
        resolved = _job_name(target_job, job_name, f"sensor {sensor_name!r}")
        if resolved is None and asset_selection is None:
            raise InvalidDefinitionError(
                f"sensor {sensor_name!r} targets nothing; pass job=, job_name= or asset_selection="
            )
        if minimum_interval_seconds < 1:
            raise InvalidDefinitionError(
                f"sensor {sensor_name!r}: minimum_interval_seconds must be at least 1"
            )
        return SensorDefinition(
            name=sensor_name,
            evaluation_fn=fn,
            job_name=resolved,
            job=target_job,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description_of(fn, description),
            default_status=default_status,
            asset_selection=asset_selection,
        )

    return decorate
