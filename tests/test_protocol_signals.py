"""SIGTERM / SIGHUP during `ssbench run` abort like a second Ctrl-C: safe state, `aborted`."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import wait_for_recording

from daq.runfile import RunReader

ROOT = Path(__file__).resolve().parents[1]
SIM_STATION = ROOT / "examples" / "stations" / "sim.yaml"
CYCLING = """\
name: signal cycling
sample: {area: 1 cm2, electrolyte: LLZO, electrodes: Li|LLZO|Li, thickness: 1 mm}
sampling: {rate: 2 Hz}
limits: {voltage: {min: -1 V, max: 1 V}, current_density: 1 mA/cm2}
steps:
  - {type: set_pressure, pressure: 5 MPa, timeout: 10 min}
  - type: plating_stripping
    current_density: 0.2 mA/cm2
    half_cycle_time: 10 min
    cycles: 20
"""


def start_run(
    tmp_path: Path, text: str = CYCLING, stdin: int = subprocess.PIPE
) -> tuple[subprocess.Popen, Path]:
    """``ssbench run --sim`` in a child process; returns once the engine runs and records."""
    proto = tmp_path / "p.yaml"
    proto.write_text(text, encoding="utf-8")
    runs = tmp_path / "runs"
    child = subprocess.Popen(
        [sys.executable, "-m", "daq.cli", "run", str(proto), "--station", str(SIM_STATION),
         "--sim", "--out", str(runs)],
        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    return child, wait_for_recording(runs, child)  # the engine (and its handlers) runs


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_terminating_signals_abort_to_the_safe_state(tmp_path, signum):
    child, path = start_run(tmp_path)
    child.send_signal(signum)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 1, err[-500:]
    assert "Traceback" not in err
    assert f"status: aborted (aborted by {signal.Signals(signum).name})" in out
    with RunReader(path) as reader:
        assert reader.status == "aborted"
        kinds = list(reader.events()["kind"])
        assert len(reader.stream("electro")) > 0
    assert "abort" in kinds and "safe_state_failed" not in kinds
    assert kinds[-1] == "run_end"


def test_ctrl_c_says_how_long_until_the_pause_and_offers_an_immediate_one(tmp_path):
    terminal, stdin = pty.openpty()  # standard input is a terminal: the prompt is offered
    try:
        child, path = start_run(tmp_path, stdin=stdin)
        child.send_signal(signal.SIGINT)
        os.write(terminal, b"i\na\n")
        out, err = child.communicate(timeout=60)
    finally:
        os.close(terminal)
        os.close(stdin)
    assert child.returncode == 1, err[-500:]
    assert re.search(r"pausing at the end of the current step \(≈ \d+:\d\d:\d\d", err), err[-800:]
    assert "[i]mmediate pause" in err
    assert "\r" not in err  # stderr is a pipe here: plain progress lines, no carriage returns
    with RunReader(path) as reader:
        events = reader.events()
    pauses = list(events.loc[events["kind"] == "pause", "data"])
    assert pauses and pauses[0]["kind"] == "immediate"
    assert list(events["kind"])[-2:] == ["abort", "run_end"]


@pytest.mark.parametrize("stdin", [subprocess.DEVNULL, subprocess.PIPE])
def test_without_a_terminal_ctrl_c_pauses_says_how_to_go_on_sigusr1_resumes_a_second_aborts(
    tmp_path, stdin
):
    child, path = start_run(tmp_path, stdin=stdin)
    child.send_signal(signal.SIGINT)
    wait_for_recording(path.parent, child, kind="pause")  # neither aborted nor waiting on input
    child.send_signal(signal.SIGUSR1)
    wait_for_recording(path.parent, child, kind="resume")
    child.send_signal(signal.SIGINT)  # pauses again (at the next boundary) ...
    wait_for_recording(path.parent, child, kind="pause_requested", count=2)
    child.send_signal(signal.SIGINT)  # ... and the second one aborts
    out, err = child.communicate(timeout=60)
    assert child.returncode == 1, err[-500:]
    assert "Traceback" not in err and "[i]mmediate" not in err
    assert f"resume with `kill -USR1 {child.pid}`" in err and "SIGUSR1: resuming" in err
    assert "status: aborted (aborted by the operator)" in out
    with RunReader(path) as reader:
        events = reader.events()
    kinds = list(events["kind"])
    pause = events.loc[events["kind"] == "pause"].iloc[0]
    assert pause["data"]["kind"] == "deferred"
    assert kinds.index("pause") < kinds.index("resume") < kinds.index("abort")
    assert kinds[-1] == "run_end"
