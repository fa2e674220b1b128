"""End to end on the simulated station: CLI -> station (sim://) -> real drivers -> emulators."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from daq.cli import main
from daq.runfile import RunReader

ROOT = Path(__file__).resolve().parents[1]
SIM_STATION = ROOT / "examples" / "stations" / "sim.yaml"

PROTOCOL = """\
name: sim smoke
sample: {area: 1 cm2, electrolyte: LLZO}
sampling: {rate: 5 Hz, slow_rate: 1 Hz}
limits: {voltage: {min: -2 V, max: 2 V}, current_density: 5 mA/cm2%s}
tracks:
  echem:
    - {type: wait, until: event, event: pressure_1, timeout: 5 min}
    - {type: rest, end: [{time: 10 s}]}
    - {type: galvanostatic, current_density: 0.2 mA/cm2, end: [{capacity: 0.002 mAh/cm2}, {time: 2 min}]}
    - {type: galvanostatic, current_density: -0.2 mA/cm2, end: [{time: 36 s}]}
  pressure:
    - {type: pressure_schedule, pressures: [2 MPa], hold: 1 s}
"""


def _files(tmp_path: Path, extra_limits: str = "", faults: str = "") -> tuple[Path, Path]:
    proto = tmp_path / "p.yaml"
    proto.write_text(PROTOCOL % extra_limits)
    station = SIM_STATION
    if faults:
        station = tmp_path / "station.yaml"
        text = SIM_STATION.read_text().replace("  seed: 1\n", f"  seed: 1\n  faults: {faults}\n")
        text = text.replace(
            "      voltage_limit: 5 V\n", "      voltage_limit: 5 V\n      timeout: 0.2 s\n"
        )
        station.write_text(text)
    return proto, station


def _run(tmp_path: Path, proto: Path, station: Path) -> tuple[int, Path]:
    code = main(
        ["run", str(proto), "--station", str(station), "--out", str(tmp_path / "runs"), "--quiet"]
    )
    (path,) = (tmp_path / "runs").glob("*.h5")
    return code, path


def test_run_on_simulated_station_records_and_analyses(tmp_path, capsys):
    proto, station = _files(tmp_path)
    assert main(["validate", str(proto), "--station", str(station)]) == 0
    assert "expected duration" in capsys.readouterr().out
    code, path = _run(tmp_path, proto, station)
    assert code == 0
    with RunReader(path) as reader:
        assert reader.status == "success"
        electro = reader.stream("electro")
        pressure = reader.stream("pressure")
        assert reader.station["cell"]["driver"] == "keithley2450"
    strip = electro[electro["current"] > 0]
    assert len(strip) > 10
    assert strip["current"].median() == pytest.approx(2e-4, rel=0.05)
    assert pressure["pressure"].iloc[-5:].mean() == pytest.approx(2e6, rel=0.1)
    from analysis.load import load_run
    from analysis.pipeline import analyze_run

    analysis = analyze_run(load_run(path))
    assert len(analysis.steps) >= 3


def test_safety_trip_on_simulated_station(tmp_path):
    proto, station = _files(tmp_path, extra_limits=", charge: 0.5 mC")
    code, path = _run(tmp_path, proto, station)
    assert code == 1
    with RunReader(path) as reader:
        assert reader.status == "tripped"
        events = reader.events()
    assert "limit_trip" in set(events["kind"])


def test_persistent_instrument_fault_fails_safely(tmp_path):
    faults = textwrap.dedent(
        '{keithley2450: [{kind: timeout, match: "TRAC:DATA", skip: 3, times: -1}]}'
    )
    proto, station = _files(tmp_path, faults=faults)
    code, path = _run(tmp_path, proto, station)
    assert code == 1
    with RunReader(path) as reader:
        assert reader.status == "failed"
        assert "fetch" in reader.exit_reason
        kinds = list(reader.events()["kind"])
    assert kinds[-1] == "run_end"


TEM_STATION = (Path(__file__).resolve().parents[1] / "examples/stations/sim_tem.yaml").read_text()
TEM_PROTOCOL = """\
name: tem
sampling: {rate: 5 Hz, slow_rate: 1 Hz}
limits: {bias: 11 V}
steps:
  - {type: tem_sequence, threshold_current: 5 pA, probe_bias: -2 V, coarse_steps: 60, approach_step: 10 nm,
     max_travel: 1 um, plate_time: 20 s, strip_time: 20 s, cycles: 2, current_limit: 100 nA,
     overflow_bias: 10 V, overflow_time: 5 s, overflow_current_limit: 1 uA}
"""


def test_tem_sequence_on_simulated_holder_with_frames(tmp_path):
    (tmp_path / "s.yaml").write_text(TEM_STATION)
    (tmp_path / "p.yaml").write_text(TEM_PROTOCOL)
    code, path = _run(tmp_path, tmp_path / "p.yaml", tmp_path / "s.yaml")
    assert code == 0
    with RunReader(path) as reader:
        bias = reader.stream("bias")
        frames = len(reader.frame_times("camera"))
        approach = reader.events().query("kind == 'approach'")
    assert approach["data"].iloc[0]["contact"] is True
    assert set(bias["voltage"].round(3)) >= {-2.0, 2.0, 10.0}
    plating = bias[bias["voltage"] == -2.0]["current"]
    assert (plating < 0).mean() > 0.5  # Li plates into the tubule under -2 V
    assert frames >= 20


@pytest.mark.parametrize(
    "example", sorted((ROOT / "examples" / "protocols").glob("*.yaml")), ids=lambda p: p.stem
)
def test_example_protocols_validate(example, capsys):
    declared = re.search(r"^# station: (\S+)", example.read_text(encoding="utf-8"), re.M)
    station = ["--station", str(ROOT / declared.group(1))] if declared else []  # its own station
    assert main(["validate", str(example), *station]) == 0, capsys.readouterr().out


@pytest.mark.slow
def test_demo_runs_and_reports(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "J_crit" in out and "report:" in out
    (run,) = tmp_path.glob("*.h5")
    with RunReader(run) as reader:
        assert reader.status == "stopped"
        assert reader.stream("pressure")["pressure"].max() > 4e6
    assert (tmp_path / "report" / "report.html").exists()


def test_cli_resume_after_sigkill_without_station_file(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    proto = tmp_path / "p.yaml"
    proto.write_text(
        "name: resume\nsample: {area: 1 cm2}\nsampling: {rate: 2 Hz, slow_rate: 1 Hz}\n"
        "limits: {voltage: {min: -2 V, max: 2 V}}\n"
        "steps: [{type: plating_stripping, current_density: 0.2 mA/cm2, half_cycle_time: 1 min, cycles: 5}]\n"
    )
    out = tmp_path / "runs"
    code = "import sys; from daq.cli import main; sys.exit(main(sys.argv[1:]))"
    child = subprocess.Popen([sys.executable, "-c", code, "run", str(proto), "--station", str(SIM_STATION),
                              "--out", str(out), "--quiet"], cwd=ROOT)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        ends = 0
        while ends < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
            for path in out.glob("*.h5"):
                try:
                    with RunReader(path) as reader:
                        ends = int((reader.events()["kind"] == "step_end").sum())
                except Exception:  # noqa: BLE001 - the file may be mid-creation
                    continue
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert ends >= 3
    (path,) = out.glob("*.h5")
    assert main(["resume", str(path), "--quiet"]) == 0
    with RunReader(path) as reader:
        assert reader.status == "success"
        events = reader.events()
        electro = reader.stream("electro")
    ends = list(events.loc[events["kind"] == "step_end", "data"])
    assert len(ends) == 10 and len({(e["path"], str(e["state"])) for e in ends}) == 10
    assert set(electro["segment"]) == {0, 1}


def test_speed_paces_a_simulated_run_and_the_progress_line_shows_the_pace(
    tmp_path, capsys, monkeypatch
):
    import functools

    from protocols_fakes import HandWall

    import daq.clock
    import protocols.console
    import protocols.pace

    wall = HandWall(step=0.001)  # the clock's wall: 1 ms per look, not the real one
    monkeypatch.setattr(
        daq.clock, "VirtualClock", functools.partial(daq.clock.VirtualClock, wall=wall)
    )
    monkeypatch.setattr(  # the progress line measures the pace on the same wall
        protocols.console, "PaceMeter", functools.partial(protocols.pace.PaceMeter, wall=wall)
    )
    proto, station = _files(tmp_path)
    code = main(["run", str(proto), "--station", str(station), "--sim", "--speed", "400",
                 "--out", str(tmp_path / "runs")])  # fmt: skip
    assert code == 0
    (path,) = (tmp_path / "runs").glob("*.h5")
    with RunReader(path) as reader:
        run_t = float(reader.events()["time"].iloc[-1])
    assert run_t > 60.0  # the protocol ran its minutes of run time ...
    assert run_t <= 400.0 * wall.t + 1.0  # ... never ahead of 400 run s per (clock) wall s
    err = capsys.readouterr().err
    assert re.search(r"\d+× real time", err), err[-500:]


def test_speed_is_refused_for_a_real_station(tmp_path, capsys):
    proto, _ = _files(tmp_path)
    real = tmp_path / "real.yaml"
    real.write_text(SIM_STATION.read_text().replace("sim://keithley2450", "TCPIP0::192.0.2.1::5025::SOCKET")
                    .replace("sim://loadcell_actuator", "ASRL/dev/ttyUSB9::INSTR"))  # fmt: skip
    code = main(["run", str(proto), "--station", str(real), "--speed", "5", "--out", str(tmp_path)])
    assert code == 2
    assert (
        "--speed 5: only a simulated station (--sim, or sim:// resources)"
        in capsys.readouterr().err
    )
    assert not list(tmp_path.glob("*.h5"))
