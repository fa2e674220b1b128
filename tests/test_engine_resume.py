"""Run files: recording through RunWriter, and resume after a SIGKILL into the same file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from protocols_fakes import FakePotentiostat, FakePressureRig, FakeStation

from daq.clock import VirtualClock
from daq.runfile import RunFileError, RunReader
from daq.session import execute, resume
from protocols.loader import load_protocol_text

PROTOCOL = """\
name: resume test
sample: {area: 1 cm2, electrolyte: LLZO}
limits: {voltage: {min: -1 V, max: 1 V}}
tracks:
  echem:
    - {type: wait, until: event, event: pressure_1}
    - type: loop
      count: 6
      steps:
        - {type: galvanostatic, current_density: 0.1 mA/cm2, end: [{time: 5 s}]}
        - {type: galvanostatic, current_density: -0.1 mA/cm2, end: [{time: 5 s}]}
  press:
    - {type: pressure_schedule, pressures: [2 MPa], hold: 1 s}
"""

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from daq.clock import VirtualClock
    from protocols.loader import load_protocol_text
    from daq.session import execute
    from protocols_fakes import FakeStation, FakePotentiostat, FakePressureRig
    text = Path(sys.argv[1]).read_text()
    clock = VirtualClock(acceleration=float(sys.argv[3]))
    station = FakeStation(clock, FakePotentiostat(clock), FakePressureRig())
    execute(load_protocol_text(text), text, station, sys.argv[2], detectors=False)
    """
)


def _events(path: Path):
    with RunReader(path) as reader:
        return reader.events()


def _step_ends(events):
    return list(events.loc[events["kind"] == "step_end", "data"])


def test_run_file_holds_samples_events_and_protocol(tmp_path):
    protocol = load_protocol_text(PROTOCOL)
    station = FakeStation.full()
    out = execute(protocol, PROTOCOL, station, tmp_path / "r.h5", detectors=False)
    assert out.result.status == "success"
    with RunReader(out.path) as reader:
        assert reader.status == "success"
        assert reader.protocol["sha256"] == protocol.sha256()
        assert reader.protocol["source"] == PROTOCOL
        assert reader.sample["area_m2"] == pytest.approx(1e-4)
        electro = reader.stream("electro")
        assert len(electro) >= 590 and set(electro["cycle"]) == set(range(1, 7))
        assert reader.stream("pressure")["pressure"].max() == pytest.approx(2e6, rel=0.02)
        kinds = set(reader.events()["kind"])
    assert {"segment_start", "step_start", "step_end", "signal", "run_end"} <= kinds


def test_resume_after_sigkill_continues_after_the_last_completed_step(tmp_path):
    path = _killed_run(tmp_path, PROTOCOL, step_ends=5)

    with RunReader(path) as reader:
        assert reader.status == "interrupted"
    before = _step_ends(_events(path))

    clock = VirtualClock()
    out = resume(
        path, FakeStation(clock, FakePotentiostat(clock), FakePressureRig()), detectors=False
    )
    assert out.result.status == "success"
    with RunReader(path) as reader:
        assert reader.status == "success"
        electro = reader.stream("electro")
        events = reader.events()
    ends = _step_ends(events)
    # the 12 galvanostatic half cycles each complete exactly once across both segments
    galv = [(e["path"], e["state"]["loops"]) for e in ends if ".steps[" in e["path"]]
    assert len(galv) == 12 and len(set(map(str, galv))) == 12
    assert len(ends) > len(before) > 4
    assert list(events["kind"]).count("segment_start") == 2
    assert set(electro["segment"]) == {0, 1}
    assert np.all(np.diff(electro["time"]) > 0)  # the resumed segment continues the clock


HELD = """\
name: held pressure
sample: {area: 1 cm2, electrolyte: LLZO}
limits: {voltage: {min: -1 V, max: 1 V}}
steps:
  - {type: set_pressure, pressure: 5 MPa}
  - type: loop
    count: 20
    steps:
      - {type: galvanostatic, current_density: 0.1 mA/cm2, end: [{time: 5 s}]}
      - {type: galvanostatic, current_density: -0.1 mA/cm2, end: [{time: 5 s}]}
"""


def _killed_run(tmp_path: Path, text: str, step_ends: int) -> Path:
    """Run ``text`` on fakes in a child process and SIGKILL it after ``step_ends`` step ends."""
    proto = tmp_path / "p.yaml"
    proto.write_text(text)
    path = tmp_path / "killed.h5"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(Path.cwd())]),
    }
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(proto), str(path), "10"], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if path.exists() and len(_step_ends(_events(path))) >= step_ends:
                    break
            except (OSError, KeyError, ValueError, RunFileError):
                pass
            time.sleep(0.1)
        else:
            pytest.fail("the child run never got going")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    return path


@pytest.mark.parametrize(("text", "pressure"), [(HELD, 5e6), (PROTOCOL, 2e6)])
def test_resume_restores_the_held_stack_pressure_before_continuing(tmp_path, text, pressure):
    """A restarted rig starts unloaded: resume drives back to the held pressure first."""
    path = _killed_run(tmp_path, text, 3)
    clock = VirtualClock()
    rig = FakePressureRig()
    out = resume(path, FakeStation(clock, FakePotentiostat(clock), rig), detectors=False)
    assert out.result.status == "success", out.result.reason
    with RunReader(path) as reader:
        p = reader.stream("pressure")
        electro = reader.stream("electro")
    p1, e1 = p[p["segment"] == 1], electro[electro["segment"] == 1]
    assert np.allclose(p1["setpoint"], pressure)
    # every current sample of the resumed segment is taken under the held pressure
    at_first_sample = p1[p1["time"] <= e1["time"].iloc[0]]["pressure"].iloc[-1]
    assert at_first_sample == pytest.approx(pressure, rel=0.02)
    assert p1["pressure"].iloc[-1] == pytest.approx(pressure, rel=0.02)
