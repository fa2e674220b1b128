"""The Doux experiment on the twin: impedance vs stack pressure, measured through the driver."""

from __future__ import annotations

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
