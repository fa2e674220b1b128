"""The progress bar: a refreshed line on a terminal (quiet under the pause prompt), plain lines
every minute or every 1 %, whichever is less often, elsewhere."""

from __future__ import annotations

import io
import threading

from protocols.console import PROMPT, ProgressBar
from protocols.engine import EngineEvent, Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _feed(bar: ProgressBar, n: int = 200) -> None:
    for k in range(n + 1):
        bar.on_progress(Progress(elapsed=k, expected=n, steps_done=k, current={"main": "steps[0]"},
                                 state="running"))  # fmt: skip


def test_piped_progress_is_a_line_a_minute_on_a_short_run_without_carriage_returns():
    out = io.StringIO()
    _feed(ProgressBar(out))  # 200 s: 1 % is 2 s, so a line a minute (and the end)
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert [line.split()[1] for line in lines] == [
        "t=0:00:00", "t=0:01:00", "t=0:02:00", "t=0:03:00", "t=0:03:20"
    ]  # fmt: skip
    assert lines[0].startswith("  0%") and lines[-1].startswith("100%")


def test_piped_progress_of_a_long_run_shows_life_every_percent():
    """A 100-h run in a log: a line every 1 % (1 h), not 10 h of silence at '0%'."""
    out = io.StringIO()
    bar = ProgressBar(out)
    for k in range(0, 3 * 3600 + 1, 10):  # the first 3 h, a progress report every 10 s
        bar.on_progress(Progress(elapsed=k, expected=100 * 3600, steps_done=0, current={},
                                 state="running"))  # fmt: skip
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["0%", "1%", "2%", "3%"]


def test_terminal_progress_stays_off_the_pause_prompt():
    prompting = threading.Event()
    out = Terminal()
    bar = ProgressBar(out, min_interval=0.0, prompting=prompting)
    prompting.set()
    _feed(bar, 20)
    assert out.getvalue() == ""
    bar.on_event(EngineEvent(5.0, "pause", "paused at the next safe point"))
    assert out.getvalue().endswith(PROMPT)  # an event shown under the prompt asks again
    prompting.clear()
    _feed(bar, 20)
    assert "\r[" in out.getvalue()
