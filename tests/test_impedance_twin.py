"""The Doux experiment on the twin: impedance vs stack pressure, measured through the driver."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eis_support import twin_sweep

from analysis.impedance import spectrum
from analysis.impedance_fit import fit_spectrum, quantities

#: Doux et al. (ees §2.7): Li|LPS-Cl|Li cell impedance, ohm at 1 cm2, vs stack pressure, MPa
DOUX_OHM = {5: 110.0, 10: 50.0, 15: 40.0, 20: 35.0, 25: 32.0}


def test_doux_impedance_vs_pressure_is_recovered_from_fitted_spectra():
    fitted, simulated = {}, {}
    for mpa in (1, 5, 10, 15, 20, 25):
        measured, truth = twin_sweep("lpscl", mpa * 1e6, 1.0, 36)
        s = spectrum(measured.frequency, measured.z_real, measured.z_imag, f"{mpa} MPa")
        q = quantities(fit_spectrum(s, "R0-p(R1,CPE1)-W1"), 1e-4)
        fitted[mpa] = q.r_bulk + q.r_interface
        simulated[mpa] = truth["r_electrolyte"] + truth["r_interface_total"]
    for mpa, value in fitted.items():
        assert value == pytest.approx(simulated[mpa], rel=0.10), mpa  # fit vs the twin's truth
    assert fitted[1] > 500.0  # Doux: > 500 ohm at 1 MPa
    for mpa, doux in DOUX_OHM.items():
        assert fitted[mpa] == pytest.approx(doux, rel=0.20), mpa  # the model vs the paper


def test_the_doux_example_protocol_end_to_end_gives_r_against_pressure(tmp_path):
    """examples/protocols/eis_vs_stack_pressure.yaml on its station (pressure rig + MethodSCRIPT
    twins): the run file's sweeps, fitted, against the pressure stream and the twin's truth."""
    from analysis.impedance_report import interface_figure, sweeps_of
    from analysis.impedance_table import impedance_table
    from analysis.load import load_run
    from daq.session import execute
    from daq.station import Station, load_station_config
    from protocols.loader import load_protocol

    root = Path(__file__).resolve().parents[1]
    example = root / "examples/protocols/eis_vs_stack_pressure.yaml"
    config = load_station_config(root / "examples/stations/sim_eis.yaml")
    with Station.open(config) as station:
        protocol = load_protocol(example)
        out = execute(protocol, example.read_text(), station, tmp_path / "doux.h5", detectors=False)
        truth = station.lab.world.truth()["eis_sweeps"]
    assert out.result.status == "success", out.result
    table = impedance_table(sweeps_of(load_run(out.path)), 1e-4)
    levels = np.array([1, 5, 10, 15, 20, 25]) * 1e6
    np.testing.assert_allclose(table["pressure_Pa"], levels, rtol=0.02)  # from the pressure stream
    simulated = [s["circuit_start"]["r_electrolyte"] + s["circuit_start"]["r_interface_total"] for s in truth]  # fmt: skip
    measured = table["r_bulk_ohm"] + table["r_interface_ohm"]
    np.testing.assert_allclose(measured, simulated, rtol=0.10)
    assert measured.iloc[0] > 500.0 and np.all(np.diff(table["r_interface_ohm"]) < 0)
    for mpa, doux in DOUX_OHM.items():
        assert measured.iloc[list(levels / 1e6).index(mpa)] == pytest.approx(doux, rel=0.20), mpa
    assert interface_figure(table, tmp_path / "r_int.png").stat().st_size > 10_000
