"""The progress bar: a refreshed line on a terminal (quiet under the pause prompt), plain lines
every 10 % elsewhere."""

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


def test_piped_progress_is_a_line_every_tenth_without_carriage_returns():
    out = io.StringIO()
    _feed(ProgressBar(out))
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 11
    assert lines[0].startswith("  0%") and lines[-1].startswith("100%")


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
