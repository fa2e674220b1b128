"""Shared pieces of the GUI tests: protocols and helpers (the fixtures are in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

CYCLING = """\
name: gui cycling
sample: {area: 1 cm2, electrolyte: LLZO}
sampling: {rate: 10 Hz, slow_rate: 2 Hz}
limits:
  voltage: {min: -1.5 V, max: 1.5 V}
steps:
  - type: plating_stripping
    current_density: 0.2 mA/cm2
    cycles: CYCLES
    half_cycle_time: 10 s
    rest: 2 s
"""

TRIP = """\
name: gui trip
sample: {area: 1 cm2}
limits:
  voltage: {min: -0.05 V, max: 0.05 V}
steps:
  - {type: rest, end: [{time: 2 s}]}
  - {type: galvanostatic, current_density: 1 mA/cm2, end: [{time: 30 s}]}
"""


def cycling(cycles: int) -> str:
    return CYCLING.replace("CYCLES", str(cycles))


def set_protocol(win, text: str) -> None:
    win.protocol_panel.editor.setPlainText(text)
    win.protocol_panel.validate_now()
    assert win.protocol_panel.protocol is not None, win.protocol_panel.status.text()


def wait_finished(qtbot, win, timeout: int = 30_000) -> None:
    qtbot.waitUntil(lambda: not win.worker.running and win.state not in
                    ("running", "pausing", "paused", "stopping", "aborting"), timeout=timeout)  # fmt: skip


def screenshot_targets(tmp_path: Path, name: str = "gui-main.png",
                       env: str = "SSBENCH_SCREENSHOT") -> list[Path]:  # fmt: skip
    """Always tmp_path / ``name``; also $``env`` when set (docs/img/gui-main.png is made with
    SSBENCH_SCREENSHOT, docs/img/gui-spectra.png with SSBENCH_SPECTRA_SCREENSHOT)."""
    targets = [tmp_path / name]
    if os.environ.get(env):
        targets.append(Path(os.environ[env]))
    return targets
