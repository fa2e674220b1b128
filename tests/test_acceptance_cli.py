"""Acceptance: user journeys through the `ssbench` command, checked on real outputs and physics.

Each test is one thing an electrochemist does at the bench or at the desk: validate, run on the
simulated twins, inspect, analyse, import a cycler export, pause with Ctrl-C, serve the twins
to a second program. Numbers are checked against physical ranges (sign convention, ASR of a
1 mm LLZO pellet, the LLZO preset's anode-free CE), not against the code's own output.
"""

from __future__ import annotations

import csv
import os
import pty
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_support import wait_for_recording

from daq.cli import main
from daq.runfile import RunReader

ROOT = Path(__file__).resolve().parents[1]
SIM_STATION = ROOT / "examples" / "stations" / "sim.yaml"
SSBENCH = [sys.executable, "-m", "daq.cli"]

CYCLING = """\
name: acceptance cycling
sample: {area: 1 cm2, electrolyte: LLZO, electrodes: Li|LLZO|Li, thickness: 1 mm}
sampling: {rate: 2 Hz}
limits:
  voltage: {min: -1 V, max: 1 V}
  current_density: 1 mA/cm2
steps:
  - {type: set_pressure, pressure: 5 MPa, timeout: 10 min}
  - {type: rest, end: [{time: 10 s}]}
  - type: plating_stripping
    current_density: 0.2 mA/cm2
    half_cycle_time: %s
    cycles: %d
    rest: 10 s
    cutoff: 0.5 V
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _summary(folder: Path) -> list[dict[str, str]]:
    with open(folder / "summary.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _one_line_error(err: str) -> str:
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    return err


def test_every_subcommand_has_help(capsys):
    for command in (
        ["run"], ["demo"], ["validate"], ["resume"], ["info"], ["analyze"], ["import"],
        ["station", "check"], ["sim", "serve"], ["gui"], ["drivers"],
    ):  # fmt: skip
        with pytest.raises(SystemExit) as done:
            main([*command, "--help"])
        assert done.value.code == 0
        assert f"usage: ssbench {' '.join(command)}" in capsys.readouterr().out


def test_drivers_lists_every_role_with_its_twin(capsys):
    assert main(["drivers"]) == 0
    out = capsys.readouterr().out
    for role in ("potentiostat", "pressure_rig", "bias_holder", "frame_source", "thermal"):
        assert role in out
    assert out.count("[sim:") >= 6


def test_symmetric_cycling_validate_run_info_analyze(tmp_path, capsys):
    proto = _write(tmp_path / "cycling.yaml", CYCLING % ("1 min", 2))
    assert main(["validate", str(proto), "--station", str(SIM_STATION)]) == 0
    out = capsys.readouterr().out
    assert "is valid" in out
    # 10 s rest + 2 cycles x (2 x 60 s + 2 x 10 s rest); 2 x 0.2 mA x 1 min = 0.00667 mAh
    assert "expected duration: 0:04:50" in out
    assert "plated 0.006667 mAh, stripped 0.006667 mAh" in out

    runs = tmp_path / "runs"
    assert main(["run", str(proto), "--station", str(SIM_STATION), "--sim", "--out", str(runs),
                 "--quiet"]) == 0  # fmt: skip
    assert "status: success (protocol completed)" in capsys.readouterr().out
    (path,) = runs.glob("*.h5")

    assert main(["info", str(path)]) == 0
    info = capsys.readouterr().out
    assert "status    success" in info and "thickness_m=0.001" in info
    with RunReader(path) as reader:
        electro = reader.stream("electro")
        pressure = reader.stream("pressure")
        units = reader.units("electro")
    assert units["voltage"] == "V" and units["current"] == "A"
    plate = electro[electro["current"] < -1e-5]
    strip = electro[electro["current"] > 1e-5]
    # sign convention: plating on WE is I < 0 and V(WE) - V(CE) < 0
    assert (plate["voltage"] < 0).all() and (strip["voltage"] > 0).all()
    assert plate["current"].median() == pytest.approx(-2e-4, rel=0.01)
    assert pressure["pressure"].iloc[-20:].mean() == pytest.approx(5e6, rel=0.05)

    out_dir = tmp_path / "analysis"
    assert main(["analyze", str(runs), "-o", str(out_dir), "--jobs", "1"]) == 0
    (row,) = _summary(out_dir)
    assert row["status"] == "ok"
    assert int(float(row["n_cycles"])) == 2
    # Li|LLZO|Li, 1 mm, 5 MPa: ASR of order 10^2 ohm cm2 (the summary is in display units)
    asr = float(row["asr_plate_median_ohm_cm2"])
    assert 50 < asr < 1000
    assert float(row["eta_plate_median_mV"]) < 0 < float(row["eta_strip_median_mV"])
    assert float(row["ce_mean_pct"]) == pytest.approx(100.0, abs=1)  # symmetric cell
    report = Path(row["report"])
    assert report.is_file() and "<html" in report.read_text(encoding="utf-8").lower()
    figures = list((report.parent / "figures").glob("*.png"))
    assert {f.name for f in figures} >= {"voltage.png", "cycles.png", "pressure.png"}
    assert all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in figures)


def test_anode_free_coulombic_efficiency_on_the_llzo_twin(tmp_path, capsys):
    station = tmp_path / "anode_free.yaml"
    text = SIM_STATION.read_text(encoding="utf-8")
    station.write_text(text.replace("  seed: 1\n", "  seed: 1\n  cell: anode_free\n"))
    proto = _write(tmp_path / "ce.yaml", """\
name: acceptance CE
sample: {area: 1 cm2, electrolyte: LLZO, electrodes: Li|LLZO|Cu}
sampling: {rate: 1 Hz}
limits: {voltage: {min: -1 V, max: 1.5 V}, current_density: 2 mA/cm2}
steps:
  - {type: set_pressure, pressure: 5 MPa, timeout: 10 min}
  - {type: ce_cutoff, current_density: 1 mA/cm2, plate_capacity: 0.02 mAh/cm2, cutoff: 1 V,
     cycles: 2, rest: 5 s}
""")  # fmt: skip
    runs = tmp_path / "runs"
    assert main(["run", str(proto), "--station", str(station), "--sim", "--out", str(runs),
                 "--quiet"]) == 0  # fmt: skip
    out_dir = tmp_path / "an"
    assert main(["analyze", str(runs), "-o", str(out_dir), "--jobs", "1", "--no-report"]) == 0
    (row,) = _summary(out_dir)
    assert int(float(row["n_cycles"])) == 2
    # dead Li on Cu: the LLZO preset loses ~10 % per cycle (docs/analysis.md validation table)
    assert 85 < float(row["ce_mean_pct"]) < 95
    assert float(row["li_loss_mAh"]) > 0
    assert float(row["eta_plate_median_mV"]) < 0


def _start_run(tmp_path: Path, stdin: int = subprocess.PIPE) -> tuple[subprocess.Popen, Path]:
    proto = _write(tmp_path / "cycling.yaml", CYCLING % ("1 min", 4))
    runs = tmp_path / "runs"
    child = subprocess.Popen(
        [*SSBENCH, "run", str(proto), "--station", str(SIM_STATION), "--sim", "--out", str(runs)],
        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    path = wait_for_recording(runs, child)  # the engine (and its Ctrl-C handler) runs
    return child, path


def _events(path: Path) -> list[str]:
    with RunReader(path) as reader:
        return list(reader.events()["kind"])


def test_ctrl_c_pauses_asks_and_resumes_to_the_end(tmp_path):
    terminal, stdin = pty.openpty()  # a person at a terminal answers the prompt
    try:
        child, path = _start_run(tmp_path, stdin)
        child.send_signal(signal.SIGINT)
        wait_for_recording(path.parent, child, "pause")  # the deferred pause: at the step's end
        assert child.poll() is None  # Ctrl-C pauses, it does not kill
        os.write(terminal, b"r\n")
        out, err = child.communicate(timeout=60)
    finally:
        os.close(terminal)
        os.close(stdin)
    assert child.returncode == 0, err[-500:]
    assert "paused at the next safe point" in out + err
    assert "Traceback" not in err
    assert "status: success" in out
    kinds = _events(path)
    assert kinds.index("pause_requested") < kinds.index("pause") < kinds.index("resume")
    with RunReader(path) as reader:
        assert reader.status == "success"


def test_second_ctrl_c_aborts_and_leaves_a_readable_file(tmp_path, capsys):
    child, path = _start_run(tmp_path)
    child.send_signal(signal.SIGINT)
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 1
    assert "Traceback" not in err
    assert "status: aborted (aborted by the operator)" in out
    with RunReader(path) as reader:
        assert reader.status == "aborted"
        assert len(reader.stream("electro")) > 0
    assert "abort" in _events(path)
    assert main(["info", str(path)]) == 0
    assert "status    aborted" in capsys.readouterr().out


def _biologic_export(path: Path) -> Path:
    """EC-Lab GCPL export (decimal commas, area in the header): 1 cm2, 250 ohm, +-0.2 mA."""
    header = [
        "EC-Lab ASCII FILE", "Nb header lines : 6", "",
        "Galvanostatic Cycling with Potential Limitation", "Electrode surface area : 1,000 cm²",
        "mode\tox/red\terror\tcontrol changes\tNs changes\ttime/s\tcontrol/mA\tEwe/V\tI/mA\tNs",
    ]  # fmt: skip
    rows, t = [], 0.0
    for ns, sign in enumerate((-1, 1, -1, 1)):  # plate first
        for _ in range(90):
            i_ma = 0.2 * sign
            rows.append(f"1\t{int(sign > 0)}\t0\t0\t0\t{t:.3f}\t{i_ma:.4f}\t{i_ma * 0.25:.6f}"
                        f"\t{i_ma:.6f}\t{ns}".replace(".", ","))  # fmt: skip
            t += 10.0
    path.write_text("\n".join(header + rows) + "\n", encoding="latin-1")
    return path


def test_biologic_import_info_analyze(tmp_path, capsys):
    mpt = _biologic_export(tmp_path / "cell7.mpt")
    out = tmp_path / "cell7.h5"
    assert main(["import", str(mpt), "-o", str(out), "--electrolyte", "LLZO"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "area_m2=0.0001" in info and "electro: 360 samples" in info
    # a second import never overwrites silently
    assert main(["import", str(mpt), "-o", str(out)]) == 2
    assert "refusing to overwrite" in _one_line_error(capsys.readouterr().err)

    an = tmp_path / "an"
    assert main(["analyze", str(out), str(mpt), "-o", str(an), "--jobs", "1", "--no-report"]) == 0
    rows = _summary(an)
    assert len(rows) == 2
    for row in rows:  # the .h5 and the raw .mpt give the same numbers
        assert int(float(row["n_steps"])) == 4
        assert float(row["asr_plate_median_ohm_cm2"]) == pytest.approx(250, rel=0.01)
        assert float(row["eta_plate_median_mV"]) == pytest.approx(-50, rel=0.01)


def test_generic_csv_with_unit_map_import_and_analyze(tmp_path, capsys):
    t_s = np.arange(720) * 15.0
    current_ua = np.where((np.arange(720) // 120) % 2 == 0, 100.0, -100.0)  # strip first
    voltage_mv = current_ua * 1e-6 * 300.0 * 1e3  # 300 ohm
    lines = ["Time (h),Voltage (mV),Current (uA)"]
    rows = zip(t_s, voltage_mv, current_ua, strict=True)
    lines += [f"{t / 3600:.6f},{v:.4f},{i:.3f}" for t, v, i in rows]
    src = _write(tmp_path / "export.csv", "\n".join(lines) + "\n")
    out = tmp_path / "export.h5"
    column_map = "time=Time (h):h,voltage=Voltage (mV):mV,current=Current (uA):uA"
    args = ["import", str(src), "-o", str(out), "--area", "0.5 cm2", "--format", "csv"]
    assert main([*args, "--map", column_map]) == 0
    capsys.readouterr()
    with RunReader(out) as reader:
        electro = reader.stream("electro")
        assert reader.sample["area_m2"] == pytest.approx(5e-5)
    assert electro["time"].iloc[-1] == pytest.approx(719 * 15.0, abs=0.01)
    assert electro["current"].max() == pytest.approx(1e-4)
    assert electro["voltage"].max() == pytest.approx(0.03)

    an = tmp_path / "an"
    assert main(["analyze", str(out), "-o", str(an), "--jobs", "1", "--no-report"]) == 0
    (row,) = _summary(an)
    assert int(float(row["n_cycles"])) == 3
    assert float(row["asr_strip_median_ohm_cm2"]) == pytest.approx(150, rel=0.01)
    assert float(row["ce_mean_pct"]) == pytest.approx(100.0, abs=0.1)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (("pressure: 5 MPa,", "pressure: 5 MPaa,"),
         ":8: steps[0].pressure: cannot parse '5 MPaa' as a pressure"),
        (("pressure: 5 MPa,", "pressure: 5 mA,"),
         ":8: steps[0].pressure: '5 mA' is not a valid pressure"),
        (("type: plating_stripping", "type: plating_striping"),
         ":10: steps[2]: unknown step type 'plating_striping'"),
        (("half_cycle_time: 1 min", "half_cycle_time: 1"),
         ":12: steps[2].half_cycle_time: 1 is not a valid time"),
        (("cycles: 2", "cycles: 0"), ":13: steps[2].cycles:"),
        (("- {type: rest, end: [{time: 10 s}]}", "- {type: rest, end: [{time: 10 s}]"),
         "not valid YAML"),
    ],
)  # fmt: skip
def test_bad_protocol_is_one_line_naming_file_line_field(tmp_path, capsys, edit, fragment):
    good = CYCLING % ("1 min", 2)
    assert edit[0] in good
    bad = _write(tmp_path / "bad.yaml", good.replace(edit[0], edit[1]))
    for command in (["validate", str(bad)], ["run", str(bad), "--station", str(SIM_STATION),
                                              "--sim", "--out", str(tmp_path / "runs")]):  # fmt: skip
        assert main(command) == 2
        err = _one_line_error(capsys.readouterr().err)
        assert err.startswith(f"ssbench: error: {bad}") and fragment in err, err
    assert not (tmp_path / "runs").exists()  # nothing started, nothing written


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["validate", "{tmp}/missing.yaml"], "missing.yaml: cannot read the file"),
        (["run", "{proto}", "--station", "{tmp}/missing.yaml", "--sim"], "missing.yaml: cannot read"),
        (["import", "{csv}", "-o", "{tmp}/x.h5", "--area", "1 cm2", "--format", "csv", "--map",
          "time=Time (s):s,voltage=Voltage (mV):mV,current=Current (uA):uA"],
         "user column map does not fit this file: missing time (looked for 'Time (s)'"),
        (["import", "{csv}", "-o", "{tmp}/x.h5", "--area", "5 MPa", "--format", "csv", "--map",
          "time=Time (h):h,voltage=Voltage (mV):mV,current=Current (uA):uA"], "--area: expected a"),
        (["import", "{csv}", "-o", "{tmp}/x.h5", "--area", "1 cm2"], "unknown export format"),
        (["analyze", "{tmp}/nowhere", "-o", "{tmp}/an"], "nowhere: no such file or folder"),
        (["resume", "{csv}"], "not a readable HDF5 run file"),
    ],
)  # fmt: skip
def test_bad_files_and_maps_are_one_line(tmp_path, capsys, args, fragment):
    proto = _write(tmp_path / "p.yaml", CYCLING % ("1 min", 2))
    csv_file = _write(tmp_path / "e.csv", "Time (h),Voltage (mV),Current (uA)\n0,1,2\n1,1,2\n")
    fill = {"tmp": str(tmp_path), "proto": str(proto), "csv": str(csv_file)}
    assert main([a.format(**fill) for a in args]) == 2
    err = _one_line_error(capsys.readouterr().err)
    assert err.startswith("ssbench: error: ") and fragment in err, err
    assert not (tmp_path / "x.h5").exists()


def test_served_twins_answer_a_station_file_of_real_resources(tmp_path):
    serve = subprocess.Popen(
        [*SSBENCH, "sim", "serve", "--station", str(SIM_STATION), "--transport", "tcp",
         "--seconds", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        lines = []
        while not lines or not lines[-1].startswith("serving"):
            line = serve.stdout.readline()
            assert line, serve.stderr.read()
            lines.append(line)
        text = "".join(lines)
        visa = re.search(r"TCPIP0::127\.0\.0\.1::\d+::SOCKET", text).group(0)
        loadcell, actuator = re.findall(r"socket://127\.0\.0\.1:\d+", text)
        station = _write(tmp_path / "bench.yaml", f"""\
name: served bench
instruments:
  cell: {{driver: keithley2450, resource: "{visa}", settings: {{voltage_limit: 5 V}}}}
  press:
    driver: loadcell_actuator_rig
    resource: {{loadcell: "{loadcell}", actuator: "{actuator}"}}
    settings: {{area: 1 cm2, max_pressure: 30 MPa, step_size: 0.1 um, stiffness: 10 N/um}}
""")  # fmt: skip
        check = subprocess.run([*SSBENCH, "station", "check", str(station)], capture_output=True,
                               text=True, cwd=ROOT, timeout=60)  # fmt: skip
        assert check.returncode == 0, check.stderr
        assert "MODEL 2450" in check.stdout and "Load cell indicator" in check.stdout
    finally:
        serve.send_signal(signal.SIGINT)
        serve.communicate(timeout=30)
    assert serve.returncode == 0


def test_console_script_is_installed_and_runs():
    script = Path(sys.executable).with_name("ssbench")
    if not script.exists():
        pytest.skip("ssbench console script not installed next to this interpreter")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                          env={**os.environ}, timeout=30)  # fmt: skip
    assert done.returncode == 0 and re.match(r"ssbench \d+\.\d+", done.stdout)
