"""Plating/stripping through the Potentiostat role on the MethodSCRIPT twin (sim:// station)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from daq.cli import main
from daq.runfile import RunReader

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "examples" / "stations" / "sim_eis.yaml"
PROTOCOL = """\
name: plating/stripping on the MethodSCRIPT twin
sample: {area: 1 cm2, electrolyte: LPSCl}
sampling: {rate: 2 Hz}
limits: {voltage: {min: -1 V, max: 1 V}, current_density: 1 mA/cm2}
steps:
  - {type: set_pressure, pressure: 5 MPa, timeout: 10 min}
  - {type: rest, end: [{time: 20 s}]}
  - {type: plating_stripping, current_density: 0.2 mA/cm2, half_cycle_time: 1 min, cycles: 1}
"""


def test_plating_stripping_runs_on_the_methodscript_potentiostat(tmp_path):
    proto = tmp_path / "p.yaml"
    proto.write_text(PROTOCOL)
    out = tmp_path / "runs"
    assert main(["run", str(proto), "--station", str(STATION), "--out", str(out), "--quiet"]) == 0
    (path,) = out.glob("*.h5")
    with RunReader(path) as reader:
        electro = reader.stream("electro")
    current = electro["current"].to_numpy()
    strip, plate = current > 1e-4, current < -1e-4
    assert abs(np.median(current[strip]) - 2e-4) < 1e-6
    assert abs(np.median(current[plate]) + 2e-4) < 1e-6
    voltage = electro["voltage"].to_numpy()
    # 5 MPa: R_cell ~ 108 ohm (Doux) -> ~ +/- 22 mV at 0.2 mA
    assert 0.018 < np.median(voltage[strip]) < 0.026 and -0.026 < np.median(voltage[plate]) < -0.018
    assert np.all(np.diff(electro["time"].to_numpy()) > 0)
