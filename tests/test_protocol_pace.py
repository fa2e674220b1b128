"""The pace of a simulated run: run seconds per wall second over a sliding wall-time window."""

from __future__ import annotations

import pytest

from protocols.pace import PaceMeter, show_pace


class Wall:
    """A hand-driven wall clock."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_pace_is_run_time_over_wall_time_within_the_window():
    wall = Wall()
    meter = PaceMeter(window_s=5.0, wall=wall)
    assert meter.add(0.0) is None  # nothing measured yet
    pace = None
    for k in range(1, 101):  # 10 s of wall time at 1000x
        wall.t = 0.1 * k
        pace = meter.add(100.0 * k)
    assert pace == pytest.approx(1000.0)
    for k in range(1, 61):  # then paused: 6 s of wall time at 1x
        wall.t = 10.0 + 0.1 * k
        pace = meter.add(10_000.0 + 0.1 * k)
    assert pace == pytest.approx(1.0, rel=0.05)  # the old 1000x has left the window


def test_show_pace():
    assert show_pace(None) == ""
    assert show_pace(1234.4) == "1234× real time"
    assert show_pace(0.93) == "0.93× real time"
