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


def row_strip(view: RunLogView, needle: str):
    return next(
        view.render_line(y) for y in range(view.size.height) if needle in view.render_line(y).text
    )


def style_of(view: RunLogView, needle: str):
    """The style of the segment that holds ``needle``, on screen."""
    strip = row_strip(view, needle)
    return next(segment.style for segment in strip if needle in segment.text)


@pytest.mark.anyio
async def test_ansi_colour_codes_become_styles_never_text() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(RunLogView)
        view.append([output("\x1b[31mred\x1b[0m then \x1b[1;32mbold green\x1b[0m plain")])
        await pilot.pause()
        text = screen_text(view)
        assert "red then bold green plain" in text
        assert "\x1b" not in text and "[31m" not in text
        assert style_of(view, "red").color.number == 1
        green = style_of(view, "bold green")
        assert green.color.number == 2 and green.bold
        assert style_of(view, " plain").color.number is None  # the codes ended


@pytest.mark.anyio
async def test_a_carriage_return_progress_bar_shows_its_last_state() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(RunLogView)
        view.append([output("loading  10%\rloading  50%\rloading 100%"), output("done\r")])
        await pilot.pause()
        assert view.row_count == 2
        text = screen_text(view)
        assert "loading 100%" in text and "10%" not in text and "50%" not in text
        assert "│ done" in text  # a line ended by \r (CRLF) keeps what it said


@pytest.mark.anyio
async def test_wide_characters_are_measured_in_cells() -> None:
    app = LogApp()
    async with app.run_test(size=(60, 10)) as pilot:
        view = app.query_one(RunLogView)
        view.append([output("日本語のログ" * 10)])  # 60 characters, 120 cells
        await pilot.pause()
        assert view.virtual_size.width == 9 + 19 + 2 + 120
        view.scroll_to(x=view.max_scroll_x, animate=False, immediate=True)
        await pilot.pause()
        strip = view.render_line(0)
        assert strip.cell_length == view.size.width
        assert strip.text.rstrip().endswith("ログ")  # the end is reachable, not cut off


@pytest.mark.anyio
async def test_only_max_lines_rows_are_kept_and_filters_and_search_follow() -> None:
    class SmallLogApp(App[None]):
        def compose(self) -> ComposeResult:
            yield RunLogView(max_lines=50)

    app = SmallLogApp()
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(RunLogView)
        view.search = "needle"
        for batch in range(3):
            view.append([output(f"line {batch * 40 + n}", step="ab"[n % 2]) for n in range(40)])
        view.append([output("a needle"), output("b needle", step="b")])
        await pilot.pause()
        assert view.kept_count == 50 and view.row_count == 50
        view.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert "line 72" in screen_text(view) and "line 71" not in screen_text(view)
        assert view.match_count == 2
        view.step_filter = "b"
        await pilot.pause()
        assert view.row_count == 25
        view.append([output(f"more {n}", step="b") for n in range(10)])
        await pilot.pause()
        assert view.kept_count == 50
        assert all(view._rows[i].line.step_key == "b" for i in view._shown or [])
        view.max_lines = 5
        await pilot.pause()
        assert view.kept_count == 5 and "more 9" in screen_text(view)


@pytest.mark.anyio
async def test_the_log_pane_reads_its_maximum_from_the_environment() -> None:
    from flowdev.tui.widgets.log_pane import LogPane, max_lines_setting

    assert max_lines_setting({}) == (100_000, None)
    assert max_lines_setting({"FLOWDEV_LOG_MAX_LINES": "500"}) == (500, None)
    assert max_lines_setting({"FLOWDEV_LOG_MAX_LINES": "0"}) == (None, None)
    kept, problem = max_lines_setting({"FLOWDEV_LOG_MAX_LINES": "lots"})
    assert kept == 100_000 and problem is not None and "'lots'" in problem

    class PaneApp(App[None]):
        def compose(self) -> ComposeResult:
            yield LogPane(environ={"FLOWDEV_LOG_MAX_LINES": "7"})

    app = PaneApp()
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.query_one(RunLogView)
        view.append([output(f"line {n}") for n in range(20)])
        await pilot.pause()
        assert view.max_lines == 7 and view.kept_count == 7


@pytest.mark.anyio
async def test_level_colours_come_from_the_theme() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(RunLogView)
        view.append(
            [event(EventKind.LOG, "careful", level="WARNING"), event(EventKind.LOG, "bad", "ERROR")]
        )
        await pilot.pause()
        for needle, variable in (("careful", "text-warning"), ("bad", "text-error")):
            expected = app.theme_variables[variable]
            assert style_of(view, needle).color.triplet.hex == expected.lower()[:7]
        before = style_of(view, "careful").color
        app.theme = "textual-light"
        await pilot.pause()
        assert style_of(view, "careful").color != before


@pytest.mark.anyio
async def test_no_color_keeps_warnings_and_errors_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        output("plain"),
        event(EventKind.LOG, "careful", level="WARNING"),
        event(EventKind.LOG, "bad", level="ERROR"),
    ]
    app = LogApp()
    async with app.run_test(size=(80, 10)) as pilot:
        app.query_one(RunLogView).append(lines)
        await pilot.pause()
        assert not style_of(app.query_one(RunLogView), "careful").bold
    monkeypatch.setenv("NO_COLOR", "1")
    app = LogApp()
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(RunLogView)
        view.append(lines)
        await pilot.pause()
        assert app.no_color
        assert style_of(view, "careful").bold and not style_of(view, "plain").bold
        assert style_of(view, "bad").underline
