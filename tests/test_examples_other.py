"""Example protocols of examples/protocols/ run end to end through `ssbench run --sim`,
shortened copies in tmp_path; assertions on the run file's data, never on wall time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from daq.cli import main
from daq.runfile import RunReader

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _shortened(tmp_path: Path, name: str, edits: dict[str, str]) -> Path:
    """A copy of example ``name`` with each ``old`` text replaced by ``new`` (must occur)."""
    text = (EXAMPLES / "protocols" / f"{name}.yaml").read_text(encoding="utf-8")
    for old, new in edits.items():
        assert old in text, f"{name}.yaml no longer contains {old!r}"
        text = text.replace(old, new)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(tmp_path: Path, protocol: Path, station: str, capsys) -> Path:
    runs = tmp_path / "runs"
    args = ["run", str(protocol), "--station", str(EXAMPLES / "stations" / station), "--sim",
            "--out", str(runs), "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert "status: success (protocol completed)" in capsys.readouterr().out
    (path,) = runs.glob("*.h5")
    return path


def test_tem_sequence_example_records_every_frame_once_and_each_bias_phase(tmp_path, capsys):
    proto = _shortened(tmp_path, "tem_sequence", {
        "cycles: 10": "cycles: 2", "plate_time: 60 s": "plate_time: 10 s",
        "strip_time: 60 s": "strip_time: 10 s", "overflow_time: 20 s": "overflow_time: 4 s",
    })  # fmt: skip
    path = _run(tmp_path, proto, "sim_tem.yaml", capsys)
    with RunReader(path) as reader:
        bias = reader.stream("bias")
        frame_t = reader.frame_times("camera")
        approach = reader.events().query("kind == 'approach'")
    assert approach["data"].iloc[0]["contact"] is True
    # 10 Hz bias samples throughout: the poll cadence is the protocol's sampling rate
    assert np.diff(bias["time"].to_numpy()).max() == pytest.approx(0.1, abs=1e-6)
    volts = bias["voltage"].round(3)
    for level in (-2.0, 2.0, 10.0):  # plate, strip, overflow test
        assert (volts == level).sum() >= 35
    plating = bias[volts == -2.0]["current"]
    assert (plating < 0).mean() > 0.5  # Li plates into the tubule under -2 V
    overflow = bias[volts == 10.0]["current"]
    assert overflow.abs().max() <= 1e-6 * 1.01  # held at the 1 uA compliance
    # frames only while the sequence captures (sim_tem: one frame per 2 s), none twice
    assert len(np.unique(frame_t)) == len(frame_t) >= 15
    assert (np.diff(frame_t) > 0).all()
    span = bias["time"].iloc[-1] - bias["time"].iloc[0]
    assert len(frame_t) <= span / 2.0 + 1


def test_ccd_pressure_map_example_ramps_at_each_pressure_in_turn(tmp_path, capsys):
    proto = _shortened(tmp_path, "ccd_pressure_map", {
        "pressures: [1 MPa, 3 MPa, 5 MPa, 10 MPa]": "pressures: [1 MPa, 3 MPa]",
        "maximum: 3 mA/cm2": "maximum: 0.3 mA/cm2", "half_cycle_time: 30 min": "half_cycle_time: 15 s",
    })  # fmt: skip
    path = _run(tmp_path, proto, "sim_lpscl.yaml", capsys)
    with RunReader(path) as reader:
        events = reader.events()
        electro = reader.stream("electro")
        pressure = reader.stream("pressure")
    signals = events.query("kind == 'signal'")
    assert [m.split("'")[1].rsplit(":", 1)[-1] for m in signals["message"]] == ["map_1_done", "map_2_done"]  # fmt: skip
    ends = [0.0, *signals["time"]]
    windows = list(zip(ends[:-1], ends[1:], strict=True))
    for (start, end), setpoint in zip(windows, (1e6, 3e6), strict=True):
        ramp = electro[(electro["time"] > start) & (electro["time"] <= end)]
        driven = ramp[ramp["current"].abs() > 5e-5]
        assert len(driven) > 0
        # the ramp's levels: 0.1, 0.2, 0.3 mA on 1 cm2, each plated and stripped
        levels = set((driven["current"].abs() * 1e4).round().astype(int))
        assert levels <= {1, 2, 3} and 1 in levels
        held = pressure[(pressure["time"] >= driven["time"].iloc[0]) & (pressure["time"] <= end)]
        assert held["pressure"].median() == pytest.approx(setpoint, rel=0.05)


def test_host_half_cell_example_runs_its_72_hours_unshortened(tmp_path, capsys):
    """The long example as shipped (three plate/strip-to-1 V cycles, about 72 h of run time): a
    simulated run goes through it whole in block mode, each strip ending on its cut-off."""
    proto = EXAMPLES / "protocols" / "half_cell_host_ce.yaml"
    path = _run(tmp_path, proto, "sim_half_miec.yaml", capsys)
    with RunReader(path) as reader:
        electro = reader.stream("electro")
        events = reader.events()
    ends = events[events["kind"] == "step_end"]["message"]
    assert ends.str.contains("ended by voltage_above").sum() == 3  # every strip reached 1 V
    assert electro["time"].iloc[-1] > 60 * 3600.0
    plating = electro[electro["current"] < 0]["voltage"]
    assert plating.between(-0.1, 0.0).mean() > 0.95  # MIEC host plating near -39 mV
    assert (electro["voltage"] <= 3.5).all()  # the bare host rests below the safety limit
