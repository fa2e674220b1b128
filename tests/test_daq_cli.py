"""The ssbench command: help, info, station check; bad input gets one line and a non-zero exit."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from daq.cli import main
from daq.documents import StreamDescriptor
from daq.runfile import RunWriter

ROOT = Path(__file__).resolve().parents[1]


def test_console_help_lists_subcommands():
    out = subprocess.run(
        [sys.executable, "-m", "daq.cli", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0
    for command in ("station", "info", "drivers"):
        assert command in out.stdout


def test_info_summarises_a_run(tmp_path, capsys):
    path = tmp_path / "run.h5"
    electro = StreamDescriptor.build(
        "electro", {"voltage": "V", "current": "A"}, "potentiostat", "cell"
    )
    with RunWriter(path, [electro], sample={"area_m2": 1e-4}) as w:
        w.append("electro", {"time": np.arange(100.0), "voltage": 0.01, "current": -1e-5})
        w.event(5.0, "limit_trip", "voltage above 5 V", data={"quantity": "voltage"})
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "status    success" in out
    assert "electro from cell (potentiostat): 100 samples, t = 0.000 … 99.000 s" in out
    assert "limit_trip: 1" in out
    assert "limit_trip  voltage above 5 V" in out


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"garbage", "not a readable HDF5 run file"), (b"", "not a readable HDF5 run file")],
)
def test_info_on_bad_files_is_one_line(tmp_path, capsys, content, fragment):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(content)
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err
    assert bad.read_bytes() == content  # nothing overwritten


def test_station_check_validates_without_connecting(capsys):
    assert main(["station", "check", "--no-connect", str(ROOT / "examples/stations/sim.yaml")]) == 0
    assert "2 instrument(s) valid" in capsys.readouterr().out


def test_station_check_reports_bad_station(tmp_path, capsys):
    bad = tmp_path / "bench.yaml"
    bad.write_text("name: b\ninstruments:\n  cell:\n    driver: keithly2450\n    resource: x\n")
    assert main(["station", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: instruments.cell.driver: unknown driver 'keithly2450'" in err


def test_station_check_connects_to_simulated_twins(capsys):
    assert main(["station", "check", str(ROOT / "examples/stations/sim.yaml")]) == 0
    out = capsys.readouterr().out
    assert "KEITHLEY" in out.upper()


def test_station_check_no_connect_refuses_bad_settings_and_simulation(tmp_path, capsys):
    text = (ROOT / "examples/stations/sim.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bench.yaml"
    bad.write_text(text.replace("preset: llzo", "preset: llzoo").replace("30 MPa", "30 mA"))
    assert main(["station", "check", "--no-connect", str(bad)]) == 2
    captured = capsys.readouterr()
    assert "valid" not in captured.out
    assert "simulation.preset: unknown 'llzoo'" in captured.err
    assert "instruments.press.settings.max_pressure: expected a pressure" in captured.err
    assert "internal error" not in captured.err


def test_station_check_tries_every_instrument_and_fails_with_one_line_each(tmp_path):
    station = tmp_path / "bench.yaml"
    station.write_text(
        "name: mixed\n"
        "instruments:\n"
        "  cell: {driver: keithley2450, resource: 'TCPIP0::127.0.0.1::1::SOCKET'}\n"
        "  press: {driver: loadcell_actuator_rig, resource: 'sim://loadcell_actuator',\n"
        "          settings: {area: 1 cm2, max_pressure: 30 MPa, step_size: 0.1 um,\n"
        "                     stiffness: 10 N/um}}\n"
        "  oven: {driver: thermal_controller, resource: 'socket://127.0.0.1:1',\n"
        "         settings: {timeout: 0.1 s, retries: 0}}\n"
    )
    # a subprocess, so the retry WARNING log lines would really reach its stderr
    done = subprocess.run(
        [sys.executable, "-m", "daq.cli", "station", "check", str(station)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()[1:]
    assert [line.split()[:2] for line in lines] == [
        ["FAIL", "cell"],
        ["OK", "press"],
        ["FAIL", "oven"],
    ]
    assert "Connection refused" in lines[0] and "load cell" in lines[1]
    assert done.stderr.strip() == "ssbench: 2 of 3 instrument(s) failed"


def test_station_check_gpib_without_gpib_support_is_one_line(tmp_path, capsys):
    station = tmp_path / "bench.yaml"
    station.write_text(
        "name: g\ninstruments:\n  cell: {driver: keithley2450, resource: 'GPIB0::24::INSTR'}\n"
    )
    assert main(["station", "check", str(station)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1].split()[:2] == ["FAIL", "cell"]


@pytest.mark.parametrize("value", ["0", "-2", "abc", "inf", "nan"])
def test_speed_must_be_a_positive_number(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "p.yaml", "--station", "s.yaml", "--sim", "--speed", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert (
        f"argument --speed: must be a number > 0 (run seconds per wall second), got '{value}'"
        in err
    )
