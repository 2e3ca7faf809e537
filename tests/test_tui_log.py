"""The log pane with Pilot: batches, follow mode, filters, search, 100,000 lines."""

import time

import pytest
from flowdev.events import EventKind
from flowdev.instance.event_log import EventRecord
from flowdev.instance.runlog import LogLine
from flowdev.tui.widgets.log_view import RunLogView
from textual.app import App, ComposeResult


def output(text: str, step: str = "a") -> LogLine:
    return LogLine(timestamp=time.time(), run_id="r", step_key=step, level="OUTPUT", text=text)


def event(kind: EventKind, text: str, level: str = "INFO", step: str = "a") -> LogLine:
    record = EventRecord(
        event_id=1,
        run_id="r",
        kind=kind,
        timestamp=time.time(),
        step_key=step,
        asset_key=step,
        level=level,
        message=text,
        data={},
    )
    return LogLine(
        timestamp=record.timestamp, run_id="r", step_key=step, level=level, text=text, event=record
    )


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RunLogView(id="log")


def screen_text(view: RunLogView) -> str:
    return "\n".join(view.render_line(y).text for y in range(view.size.height))


@pytest.mark.anyio
async def test_follow_mode_shows_the_newest_lines_and_pauses_on_scroll_up() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.query_one(RunLogView)
        view.append([output(f"line {n}") for n in range(100)])
        await pilot.pause()
        assert "line 99" in screen_text(view)
        view.focus()
        await pilot.press("pageup")
        await pilot.pause()
        assert view.follow is False
        view.append([output("line 100")])
        await pilot.pause()
        assert "line 100" not in screen_text(view)  # paused: the view stays put
        await pilot.press("end")
        await pilot.pause()
        assert view.follow is True
        assert "line 100" in screen_text(view)


@pytest.mark.anyio
async def test_a_traceback_spans_rows_and_errors_are_marked() -> None:
    app = LogApp()
    async with app.run_test(size=(100, 10)) as pilot:
        view = app.query_one(RunLogView)
        failure = "a failed: ValueError: no\nTraceback (most recent call last):\n  File x"
        view.append([event(EventKind.STEP_FAILURE, failure, level="ERROR")])
        await pilot.pause()
        assert view.row_count == 3
        text = screen_text(view)
        assert "✗ a failed: ValueError: no" in text and "  File x" in text


@pytest.mark.anyio
async def test_filters_by_step_and_level() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(RunLogView)
        view.append(
            [
                output("from a", "a"),
                output("from b", "b"),
                event(EventKind.LOG, "careful", level="WARNING", step="b"),
            ]
        )
        view.step_filter = "b"
        await pilot.pause()
        assert view.row_count == 2
        assert "from a" not in screen_text(view)
        view.min_level = "WARNING"
        await pilot.pause()
        assert view.row_count == 1 and "careful" in screen_text(view)
        view.append([output("more from b", "b"), event(EventKind.LOG, "bad", "ERROR", "b")])
        await pilot.pause()
        assert view.row_count == 2  # new lines go through the same filter
        view.step_filter = None
        view.min_level = "DEBUG"
        await pilot.pause()
        assert view.row_count == 5


@pytest.mark.anyio
async def test_search_highlights_and_jumps_between_matches() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(RunLogView)
        view.append(
            [output(f"line {n}" + (" needle" if n % 250 == 0 else "")) for n in range(1000)]
        )
        view.search = "NEEDLE"
        await pilot.pause()
        assert view.match_count == 4
        assert view.follow is False
        assert "line 0 needle" in screen_text(view)
        view.focus()
        await pilot.press("n")
        await pilot.pause()
        assert "line 250 needle" in screen_text(view)
        strip = next(
            view.render_line(y)
            for y in range(view.size.height)
            if "line 250" in view.render_line(y).text
        )
        assert any(segment.style and segment.style.reverse for segment in strip)


@pytest.mark.anyio
async def test_a_hundred_thousand_lines_render_only_what_is_visible() -> None:
    app = LogApp()
    async with app.run_test(size=(120, 30)) as pilot:
        view = app.query_one(RunLogView)
        for batch in range(100):
            view.append([output(f"batch {batch} line {n}") for n in range(1000)])
        await pilot.pause()
        assert view.row_count == 100_000
        assert "batch 99 line 999" in screen_text(view)
        # Rendering is per visible row: the cache holds about a screenful, not 100k.
        assert len(view._strips) < 200
