"""Metadata attached to definitions and materializations (Dagster's `MetadataValue` family).

Every value is stored as JSON: ``{"type": "int", "value": 3}``. Table lineage and schemas
are stored and shown, not interpreted.
"""

from __future__ import annotations

import builtins
import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from flowdev.errors import InvalidDefinitionError, refuse_unsupported
from flowdev.keys import AssetKey, to_asset_key
from flowdev.records import EMPTY, builder, freeze, is_record, record


@record
class TableColumnConstraints:
    """Constraints on a table column."""

    nullable: bool = True
    unique: bool = False
    other: tuple[str, ...] = ()


@record(init=False)
class TableColumn:
    """One column of a `TableSchema`."""

    name: str
    type: str = "string"
    description: str | None = None
    constraints: TableColumnConstraints = TableColumnConstraints()
    tags: Mapping[str, str] = EMPTY

    def __new__(
        cls,
        name: str,
        type: str = "string",
        description: str | None = None,
        constraints: TableColumnConstraints | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> TableColumn:
        return builder(cls)(
            name=name,
            type=type,
            description=description,
            constraints=constraints or TableColumnConstraints(),
            tags=freeze(tags),
        )


@record(init=False)
class TableSchema:
    """The columns of a table. Dagster's table-level ``constraints=`` are not supported yet."""

    columns: tuple[TableColumn, ...] = ()

    def __new__(cls, columns: Sequence[TableColumn] = (), constraints: Any = None) -> TableSchema:
        refuse_unsupported("TableSchema", constraints=constraints)
        return builder(cls)(columns=tuple(columns))


@record(init=False)
class TableRecord:
    """One row of a table preview."""

    data: Mapping[str, Any]

    def __new__(cls, data: Mapping[str, Any]) -> TableRecord:
        return builder(cls)(data=freeze(data))


@record(init=False)
class TableColumnDep:
    """A column of an upstream asset that a column depends on."""

    asset_key: AssetKey
    column_name: str

    def __new__(cls, asset_key: Any, column_name: str) -> TableColumnDep:
        return builder(cls)(asset_key=to_asset_key(asset_key), column_name=column_name)


@record(init=False)
class TableColumnLineage:
    """Which upstream columns each column of this table comes from."""

    deps_by_column: Mapping[str, tuple[TableColumnDep, ...]]

    def __new__(cls, deps_by_column: Mapping[str, Sequence[TableColumnDep]]) -> TableColumnLineage:
        frozen = freeze({column: tuple(deps) for column, deps in deps_by_column.items()})
        return builder(cls)(deps_by_column=frozen)


@record
class MetadataValue:
    """A typed metadata value. Build one with the static constructors (``MetadataValue.md``)."""

    type: str
    value: Any

    @staticmethod
    def text(text: str) -> MetadataValue:
        """Plain text."""
        return MetadataValue("text", str(text))

    @staticmethod
    def md(markdown: str) -> MetadataValue:
        """Markdown, rendered by the app."""
        return MetadataValue("md", str(markdown))

    @staticmethod
    def int(value: int) -> MetadataValue:
        """An integer (row counts and the like; the app draws it over time)."""
        return MetadataValue("int", int(value))

    @staticmethod
    def float(value: builtins.float) -> MetadataValue:
        """A float."""
        return MetadataValue("float", float(value))

    @staticmethod
    def bool(value: builtins.bool) -> MetadataValue:
        """A boolean."""
        return MetadataValue("bool", bool(value))

    @staticmethod
    def path(path: str | os.PathLike[str]) -> MetadataValue:
        """A file system path."""
        return MetadataValue("path", os.fspath(path))

    @staticmethod
    def url(url: str) -> MetadataValue:
        """A URL."""
        return MetadataValue("url", str(url))

    @staticmethod
    def json(data: Any) -> MetadataValue:
        """Any JSON-serialisable value."""
        json.dumps(data)  # fail here, where the user wrote it, not at storage time
        return MetadataValue("json", data)

    @staticmethod
    def timestamp(value: builtins.float) -> MetadataValue:
        """A POSIX timestamp."""
        return MetadataValue("timestamp", float(value))

    @staticmethod
    def asset(asset_key: Any) -> MetadataValue:
        """A reference to another asset."""
        return MetadataValue("asset", to_asset_key(asset_key).to_user_string())

    @staticmethod
    def null() -> MetadataValue:
        """No value."""
        return MetadataValue("null", None)

    @staticmethod
    def table_schema(schema: TableSchema) -> MetadataValue:
        """A table's columns."""
        return MetadataValue("table_schema", _schema_json(schema))

    @staticmethod
    def table(records: Sequence[TableRecord], schema: TableSchema | None = None) -> MetadataValue:
        """A small table preview."""
        rows = [dict(r.data) for r in records]
        return MetadataValue(
            "table", {"records": rows, "schema": None if schema is None else _schema_json(schema)}
        )

    @staticmethod
    def column_lineage(lineage: TableColumnLineage) -> MetadataValue:
        """Column-level lineage (stored and shown, not interpreted)."""
        return MetadataValue(
            "table_column_lineage",
            {
                column: [
                    {"asset_key": d.asset_key.to_user_string(), "column_name": d.column_name}
                    for d in deps
                ]
                for column, deps in lineage.deps_by_column.items()
            },
        )

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"type": self.type, "value": self.value}


def _schema_json(schema: TableSchema) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "type": c.type,
            "description": c.description,
            "nullable": c.constraints.nullable,
            "unique": c.constraints.unique,
        }
        for c in schema.columns
    ]


def to_metadata_value(value: Any, key: str = "") -> MetadataValue:
    """Infer a `MetadataValue` for a plain Python value, as Dagster does."""
    if isinstance(value, MetadataValue):
        return value
    if value is None:
        return MetadataValue.null()
    if isinstance(value, bool):
        return MetadataValue.bool(value)
    if isinstance(value, int):
        return MetadataValue.int(value)
    if isinstance(value, float):
        return (
            MetadataValue.float(value) if math.isfinite(value) else MetadataValue.text(str(value))
        )
    if isinstance(value, str):
        return MetadataValue.text(value)
    if isinstance(value, os.PathLike):
        return MetadataValue.path(value)
    if isinstance(value, AssetKey):
        return MetadataValue.asset(value)
    if isinstance(value, TableSchema):
        return MetadataValue.table_schema(value)
    if isinstance(value, TableColumnLineage):
        return MetadataValue.column_lineage(value)
    if isinstance(value, (dict, list, tuple)) and not is_record(value):
        try:
            return MetadataValue.json(value)
        except (TypeError, ValueError) as error:
            raise InvalidDefinitionError(
                f"metadata {key!r}: {error}; pass JSON-serialisable data or MetadataValue.text()"
            ) from None
    raise InvalidDefinitionError(
        f"metadata {key!r}: cannot store a {type(value).__name__}; use a number, text, "
        "a dict/list of JSON data, or a MetadataValue"
    )


def normalize_metadata(metadata: Mapping[str, Any] | None) -> dict[str, MetadataValue]:
    """Every entry of ``metadata`` as a `MetadataValue`."""
    if not metadata:
        return {}
    return {str(key): to_metadata_value(value, str(key)) for key, value in metadata.items()}


def metadata_to_json(metadata: Mapping[str, MetadataValue]) -> dict[str, dict[str, Any]]:
    """The stored form of a normalised metadata dict."""
    return {key: value.to_json() for key, value in metadata.items()}
