"""The asset panel: everything about the asset under the cursor.

Status and why, freshness with a live age, the definition (description, group, tags,
kinds, owners, code version, source), its neighbours, the latest materialization's
metadata (markdown rendered), and its history as sparklines of duration and of every
numeric metadata key. The parent sets ``asset``, ``status`` and ``history``; the panel
reads nothing itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flowdev.durations import duration
from flowdev.instance.event_log import MaterializationRecord
from flowdev.instance.status import AssetStatus
from flowdev.project.snapshot import AssetSnapshot
from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import var
from textual.widget import Widget
from textual.widgets import Label, Sparkline, Static

STATUS_STYLE = {
    "missing": "dim",
    "fresh": "green",
    "stale": "yellow",
    "overdue": "dark_orange",
    "failed": "red",
    "queued": "cyan",
    "running": "bold cyan",
    "check_failed": "magenta",
    "external": "blue",
}
_NUMERIC_TYPES = frozenset({"int", "float"})


class AssetPanel(VerticalScroll):
    """Details of one asset; set ``asset``, ``status`` and ``history`` to update it."""

    DEFAULT_CSS = """
    AssetPanel { padding: 0 1; }
    AssetPanel .sparkline-label { color: $text-muted; margin-top: 1; }
    AssetPanel Sparkline { height: 2; margin-bottom: 0; }
    """

    asset: var[AssetSnapshot | None] = var(None)
    status: var[AssetStatus | None] = var(None)
    history: var[Sequence[MaterializationRecord]] = var(())
    children_keys: var[Sequence[str]] = var(())
    project_root: var[str | None] = var(None)
    clock: Callable[[], float] = time.time

    def compose(self) -> ComposeResult:
        yield Static(id="panel-header")
        yield Static(id="panel-freshness")
        yield Static(id="panel-definition")
        yield Static(id="panel-metadata")
        yield VerticalScroll(id="panel-history")

    def on_mount(self) -> None:
        # The age of the latest materialization ticks while the panel shows.
        self.set_interval(1.0, self._refresh_freshness)

    def watch_asset(self) -> None:
        self._refresh_all()

    def watch_status(self) -> None:
        self._refresh_all()

    def watch_history(self) -> None:
        self._refresh_metadata()
        self.call_later(self._refresh_history)

    def _refresh_all(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#panel-header", Static).update(self._header())
        self._refresh_freshness()
        self.query_one("#panel-definition", Static).update(self._definition())

    # -- sections ------------------------------------------------------------------------

    def _header(self) -> RenderableType:
        asset, status = self.asset, self.status
        if asset is None:
            return Text("no asset under the cursor", style="dim")
        text = Text(asset.key.to_user_string(), style="bold")
        if status is not None:
            text.append("  ")
            text.append(status.status.value.replace("_", " "), STATUS_STYLE[status.status.value])
            for reason in status.stale_reasons:
                text.append(f"\n  · {reason}", "yellow")
            if status.failure_message:
                text.append(f"\n  {status.failure_message.splitlines()[0]}", "red")
            for check in status.failed_checks:
                text.append(f"\n  check failed: {check}", "magenta")
        return text

    def _refresh_freshness(self) -> None:
        if self.is_mounted:
            self.query_one("#panel-freshness", Static).update(self._freshness())

    def _freshness(self) -> RenderableType:
        asset, status = self.asset, self.status
        if asset is None or status is None:
            return ""
        table = _grid()
        now = self.clock()
        if status.last_materialized is None:
            table.add_row("materialized", Text("never", "dim"))
        else:
            table.add_row(
                "materialized",
                f"{duration(now - status.last_materialized)} ago"
                + (f" · took {status.duration:.2f}s" if status.duration is not None else ""),
            )
        policy = asset.freshness_policy
        if policy:
            window = duration(float(policy["fail_window_seconds"]))
            cron = f" by {policy['cron_schedule']}" if policy.get("cron_schedule") else ""
            table.add_row("freshness", f"at most {window} old{cron}")
            if status.overdue_at is not None:
                left = status.overdue_at - now
                table.add_row(
                    "overdue",
                    Text(f"for {duration(-left)}", "dark_orange")
                    if left <= 0
                    else f"in {duration(left)}",
                )
        return table

    def _definition(self) -> RenderableType:
        asset, status = self.asset, self.status
        if asset is None:
            return ""
        table = _grid()
        if asset.description:
            table.add_row("", Text(asset.description, "italic"))
        table.add_row("group", asset.group)
        if asset.kinds:
            table.add_row("kinds", ", ".join(asset.kinds))
        if asset.owners:
            table.add_row("owners", ", ".join(asset.owners))
        if asset.tags:
            table.add_row("tags", ", ".join(f"{k}={v}" if v else k for k, v in asset.tags.items()))
        if asset.code_version:
            version = Text(asset.code_version)
            if status is not None and status.code_changed:
                version.append("  changed since the last materialization", "yellow")
            table.add_row("code version", version)
        if asset.is_external:
            table.add_row("external", "declared only: flowdev never materializes it")
        if asset.source_file:
            table.add_row("source", f"{self._relative(asset.source_file)}:{asset.source_line}")
        table.add_row("upstream", ", ".join(d.to_user_string() for d in asset.deps) or "—")
        table.add_row("downstream", ", ".join(self.children_keys) or "—")
        if asset.checks:
            table.add_row("checks", ", ".join(asset.checks))
        return table

    def _relative(self, path: str) -> str:
        root = self.project_root
        if root and path.startswith(root.rstrip("/") + "/"):
            return path[len(root.rstrip("/")) + 1 :]
        return path

    def _refresh_metadata(self) -> None:
        if not self.is_mounted:
            return
        latest = self.history[0] if self.history else None
        widget = self.query_one("#panel-metadata", Static)
        if latest is None or not latest.metadata:
            widget.update("")
            return
        widget.update(metadata_renderable(latest.metadata))

    async def _refresh_history(self) -> None:
        container = self.query_one("#panel-history", VerticalScroll)
        await container.remove_children()
        history = list(reversed(self.history))  # oldest first, as a sparkline reads
        if len(history) < 2:
            return
        series: dict[str, list[float]] = {
            "duration (s)": [r.duration or 0.0 for r in history],
        }
        for record in history:
            for key, value in record.metadata.items():
                if isinstance(value, dict) and value.get("type") in _NUMERIC_TYPES:
                    series.setdefault(key, [])
        for key in list(series)[1:]:
            series[key] = [_number(r.metadata.get(key)) for r in history]
        widgets: list[Widget] = []
        for label, values in series.items():
            widgets.append(
                Label(
                    f"{label}: {_fmt(values[-1])} (last {len(values)}: min {_fmt(min(values))}, "
                    f"max {_fmt(max(values))})",
                    classes="sparkline-label",
                )
            )
            widgets.append(Sparkline(values, summary_function=max))
        await container.mount_all(widgets)


def metadata_renderable(metadata: Mapping[str, Any]) -> RenderableType:
    """The stored metadata as a key/value grid; markdown and tables rendered."""
    table = _grid()
    extra: list[RenderableType] = []
    for key, entry in metadata.items():
        kind = entry.get("type") if isinstance(entry, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else entry
        if kind == "md":
            extra.append(Text(key, "bold"))
            extra.append(Markdown(str(value)))
        elif kind == "table" and isinstance(value, dict):
            extra.append(Text(key, "bold"))
            extra.append(_records_table(value.get("records") or []))
        elif kind == "table_schema" and isinstance(value, dict):
            columns = value.get("columns") or []
            table.add_row(key, ", ".join(f"{c.get('name')}: {c.get('type')}" for c in columns))
        elif kind in _NUMERIC_TYPES and isinstance(value, int | float):
            table.add_row(key, f"{value:,}" if kind == "int" else f"{value:,.4g}")
        else:
            table.add_row(key, str(value))
    return Group(Text("latest materialization", "bold"), table, *extra)


def _records_table(records: list[dict[str, Any]]) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    columns = list(records[0]) if records else []
    for column in columns:
        table.add_column(str(column))
    for record in records[:10]:
        table.add_row(*(str(record.get(c, "")) for c in columns))
    return table


def _grid() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    return table


def _number(entry: Any) -> float:
    if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
        return float(entry["value"])
    return 0.0


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) and abs(value) >= 10 else f"{value:.3g}"
