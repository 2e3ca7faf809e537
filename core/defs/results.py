"""What an asset function may return or raise to say more than its value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flowdev.keys import AssetKey, to_asset_key
from flowdev.records import EMPTY, builder, freeze, record


@record(init=False)
class Output:
    """A value plus metadata; ``output_name`` picks the output of a multi-asset."""

    value: Any
    output_name: str = "result"
    metadata: Mapping[str, Any] | None = None
    data_version: str | None = None

    def __new__(
        cls,
        value: Any,
        output_name: str = "result",
        metadata: Mapping[str, Any] | None = None,
        data_version: str | None = None,
    ) -> Output:
        frozen = None if metadata is None else freeze(metadata)
        return builder(cls)(
            value=value, output_name=output_name, metadata=frozen, data_version=data_version
        )


@record(init=False)
class MaterializeResult:
    """Metadata for a materialization; ``value``, when given, is stored by the IO manager."""

    asset_key: AssetKey | None = None
    metadata: Mapping[str, Any] | None = None
    check_results: Sequence[Any] = ()
    data_version: str | None = None
    value: Any = None

    def __new__(
        cls,
        *,
        asset_key: Any = None,
        metadata: Mapping[str, Any] | None = None,
        check_results: Sequence[Any] | None = None,
        data_version: str | None = None,
        value: Any = None,
    ) -> MaterializeResult:
        return builder(cls)(
            asset_key=None if asset_key is None else to_asset_key(asset_key),
            metadata=None if metadata is None else freeze(metadata),
            check_results=tuple(check_results or ()),
            data_version=data_version,
            value=value,
        )


@record(init=False)
class AssetMaterialization:
    """A materialization an op reports for an asset it wrote itself."""

    asset_key: AssetKey
    description: str | None = None
    metadata: Mapping[str, Any] = EMPTY

    def __new__(
        cls,
        asset_key: Any,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AssetMaterialization:
        return builder(cls)(
            asset_key=to_asset_key(asset_key), description=description, metadata=freeze(metadata)
        )


class RetryRequested(Exception):
    """Raise from an asset to retry its step, up to ``max_retries`` times."""

    def __init__(self, max_retries: int = 1, seconds_to_wait: float | None = None) -> None:
        super().__init__(f"retry requested (up to {max_retries}, wait {seconds_to_wait or 0}s)")
        self.max_retries = max_retries
        self.seconds_to_wait = seconds_to_wait


class Failure(Exception):
    """Raise from an asset to fail its step with a description and metadata."""

    def __init__(
        self,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        allow_retries: bool = True,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.metadata = dict(metadata or {})
        self.allow_retries = allow_retries
