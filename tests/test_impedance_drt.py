"""The distribution of relaxation times: against the analytic DRT of ZARC / RC arcs and the twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
from eis_support import twin_sweep

from analysis.impedance import ImpedanceDataError, spectrum
from analysis.impedance_drt import drt

F = np.logspace(6, -2, 81)


def zarc(r: float, tau0: float, n: float, f: np.ndarray = F) -> np.ndarray:
    """R‖CPE written with its time constant: R / (1 + (jωτ0)^n); n = 1 is an RC."""
    return r / (1 + (2j * np.pi * f * tau0) ** n)


def zarc_gamma(r: float, tau0: float, n: float, tau: np.ndarray) -> np.ndarray:
    """Its analytic DRT (Fuoss-Kirkwood): γ(ln τ) = R/(2π) sin((1-n)π) / (cosh(n ln(τ/τ0)) - cos((1-n)π))."""
    x = np.log(tau / tau0)
    return r / (2 * np.pi) * np.sin((1 - n) * np.pi) / (np.cosh(n * x) - np.cos((1 - n) * np.pi))


def noisy(z: np.ndarray, relative: float = 0.002, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return z + relative * np.abs(z) * (
        rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size)
    )


@pytest.mark.parametrize("n", [1.0, 0.9, 0.8, 0.7])
@pytest.mark.parametrize("tau0", [1e-5, 1e-3])
def test_one_arc_gives_one_peak_at_its_time_constant_holding_its_resistance(n, tau0):
    z = noisy(10.0 + zarc(50.0, tau0, n))
    result = drt(spectrum(F, z.real, z.imag))
    (peak,) = result.peaks
    assert peak.tau_s == pytest.approx(tau0, rel=0.05)
    assert peak.frequency_Hz == pytest.approx(1 / (2 * math.pi * peak.tau_s))
    assert peak.resistance_ohm == pytest.approx(50.0, rel=0.03) and not peak.outside
    assert result.r_inf == pytest.approx(10.0, rel=0.02)
    assert result.rms_relative < 0.005  # at the noise level
    if n <= 0.8:  # a broad arc: γ itself follows the analytic distribution
        truth = zarc_gamma(50.0, tau0, n, result.tau_s)
        assert np.abs(result.gamma_ohm - truth).max() < 0.1 * truth.max()


def test_two_arcs_three_decades_apart_are_two_peaks():
    z = noisy(10.0 + zarc(40.0, 1e-5, 0.9) + zarc(60.0, 1e-2, 0.85))
    fast, slow = drt(spectrum(F, z.real, z.imag)).peaks
    assert fast.tau_s == pytest.approx(1e-5, rel=0.05) and fast.resistance_ohm == pytest.approx(40.0, rel=0.05)  # fmt: skip
    assert slow.tau_s == pytest.approx(1e-2, rel=0.05) and slow.resistance_ohm == pytest.approx(60.0, rel=0.05)  # fmt: skip


def test_the_choice_of_lambda_does_not_depend_on_the_cells_resistance():
    z = noisy(10.0 + zarc(50.0, 1e-4, 0.85))
    small, large = drt(spectrum(F, z.real, z.imag)), drt(spectrum(F, 1e3 * z.real, 1e3 * z.imag))
    assert small.lam == large.lam
    assert large.peaks[0].resistance_ohm == pytest.approx(1e3 * small.peaks[0].resistance_ohm, rel=1e-6)  # fmt: skip


def test_too_few_points_are_refused():
    z = zarc(50.0, 1e-3, 0.9, F[::10])
    with pytest.raises(ImpedanceDataError, match="9 points are too few for a DRT"):
        drt(spectrum(F[::10], z.real, z.imag, "short.csv"))


@pytest.mark.parametrize(("preset", "mpa"), [("lpscl", 10), ("lpscl", 3), ("llzo", 10)])
def test_twin_spectra_the_interface_peak_is_the_twins_arcs(preset, mpa):
    measured, truth = twin_sweep(preset, mpa * 1e6, 0.1, 50)
    result = drt(spectrum(measured.frequency, measured.z_real, measured.z_imag))
    r_int, q, n = truth["r_interface"][0], truth["q_interface"][0], truth["n_interface"]
    inside = [p for p in result.peaks if not p.outside]
    (interface,) = inside  # both (equal) interfaces relax together
    assert interface.tau_s == pytest.approx((r_int * q) ** (1 / n), rel=0.10)
    assert interface.resistance_ohm == pytest.approx(2 * r_int, rel=0.10)
    tau_gb = truth["r_gb"] * truth["c_gb"]
    assert tau_gb < 1 / (2 * math.pi * 2e5)  # the grain-boundary arc lies above the range ...
    electrolyte = result.r_inf + sum(p.resistance_ohm for p in result.peaks if p.outside)
    assert electrolyte == pytest.approx(truth["r_electrolyte"], rel=0.15)  # ... R_inf + outside
