"""Impedance analysis: fits against the twin's ground truth, lin-KK, shorts, voids, bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from analysis.impedance import ImpedanceDataError, lin_kk, recognise_short, spectrum
from analysis.impedance_circuits import CircuitError, parse_circuit
from analysis.impedance_fit import arc_capacitance, fit_spectrum, quantities
from analysis.impedance_table import SweepRecord, impedance_table, interface_rises
from daq.clock import VirtualClock
from sim_instruments.impedance import noisy
from sim_instruments.world import SimConfig, SimWorld

FREQ = np.logspace(np.log10(2e5), -1, 60)


def _measured(circuit, noise=0.002, seed=0, freq=FREQ):
    rng = np.random.default_rng(seed)
    z = np.array([noisy(x, noise, rng) for x in circuit.impedance(freq)])
    return spectrum(freq, z.real, z.imag, "test sweep")


GRID = [(preset, p, t, noise) for preset in ("lpscl", "llzo") for p in (2e6, 10e6, 25e6)
        for t in (298.15, 333.15) for noise in (0.002, 0.01)]  # fmt: skip


@pytest.mark.parametrize(("preset", "pressure", "temperature", "noise"), GRID)
def test_fits_recover_the_twins_circuit(preset, pressure, temperature, noise):
    world = SimWorld(VirtualClock(), SimConfig(preset=preset, initial_pressure_Pa=pressure,
                                               temperature_K=temperature))  # fmt: skip
    truth = world.impedance_circuit()
    fit = fit_spectrum(_measured(truth, noise), "R0-p(R1,CPE1)-W1")
    q = quantities(fit, world.config.area_m2)
    scale = 0.03 * (truth.r_bulk + truth.r_gb + truth.r_interface_total)  # 3 % of the spectrum
    assert q.r_bulk == pytest.approx(truth.r_bulk + truth.r_gb, rel=0.05, abs=scale)
    assert q.r_interface == pytest.approx(truth.r_interface_total, rel=0.05, abs=scale)
    assert q.asr_interface_ohm_cm2 == pytest.approx(q.r_interface / 2 * 1.0)  # 1 cm2, per side
    assert 0 < q.r_interface_err < 0.2 * q.r_interface
    c, c_err = q.capacitances["R1"]
    expected = arc_capacitance(truth.r_interface[0], truth.q_interface[0], truth.n_interface) / 2
    assert expected / 2 < c < 2 * expected and c_err > 0  # two equal arcs in series


def test_interphase_growth_needs_and_gets_two_arcs():
    world = SimWorld(VirtualClock(), SimConfig(preset="latp"))
    world.clock.advance(10 * 3600.0)
    truth = world.impedance_circuit()
    fit = fit_spectrum(_measured(truth), "R0-p(R1,CPE1)-p(R2,CPE2)-W1")
    q = quantities(fit, 1e-4)
    assert q.r_interface == pytest.approx(truth.r_interface_total, rel=0.05)
    assert fit.kk.valid


def test_a_void_during_stripping_shows_as_an_interface_resistance_rise():
    world = SimWorld(VirtualClock(), SimConfig(preset="llzo", initial_pressure_Pa=0.0))
    records = [SweepRecord(_measured(world.impedance_circuit()), {"time_s": 0.0, "cycle": 0})]
    world.electro_source("current", 3e-4, 5.0)  # 0.3 mA/cm2 > the ~0.1 mA/cm2 Li supply
    for k in range(1, 4):
        world.clock.advance(600.0)
        records.append(SweepRecord(_measured(world.impedance_circuit(), seed=k),
                                   {"time_s": world.clock.now(), "cycle": 1}))  # fmt: skip
    onset = world.truth()["void_onset_times_we"]
    assert onset, "the twin opened no void"
    table = impedance_table(records, 1e-4)
    rises = interface_rises(table)
    assert rises and rises[0].time_s >= onset[0]
    assert "void signature" in rises[0].message
    assert not table["shorted"].any()


def test_a_short_is_recognised_and_a_healthy_cell_is_not():
    world = SimWorld(VirtualClock(), SimConfig(preset="lpscl", initial_pressure_Pa=5e6))
    healthy = _measured(world.impedance_circuit())
    assert not recognise_short(healthy).shorted
    world.cell.short_state = 2
    shorted = _measured(world.impedance_circuit(), seed=1)
    verdict = recognise_short(shorted, previous_ohm=float(healthy.z.real[-1]))
    assert verdict.shorted and verdict.resistance < 1.1 and "shorted" in verdict.reason
    table = impedance_table([SweepRecord(healthy), SweepRecord(shorted)], 1e-4)
    assert list(table["shorted"]) == [False, True]


def test_kk_valid_data_pass_and_inconsistent_data_fail_with_a_message():
    world = SimWorld(VirtualClock(), SimConfig(preset="lpscl", initial_pressure_Pa=5e6))
    good = _measured(world.impedance_circuit())
    assert lin_kk(good).valid
    other = replace(world.impedance_circuit(), r_interface=(5.0, 5.0))
    mixed = good.z.real + 1j * other.impedance(good.frequency).imag  # Z' and Z'' disagree
    bad = spectrum(good.frequency, mixed.real, mixed.imag, "run.h5 sweep 3")
    result = lin_kk(bad)
    assert not result.valid
    assert "run.h5 sweep 3: FAILS the Kramers-Kronig test" in result.message(bad)
    with pytest.raises(ImpedanceDataError, match="Kramers-Kronig"):
        fit_spectrum(bad, strict_kk=True)
    assert fit_spectrum(bad).warnings  # not strict: fitted, with the warning kept


@pytest.mark.parametrize(("text", "message"), [
    ("R0-p(R1,", "expected an element or p("),
    ("R0-X1", "unknown element 'X1'"),
    ("R0-R0", "appears twice"),
    ("", "empty circuit"),
    ("R0-p(R1)", "needs two or more branches"),
    ("R0 p(R1,C1)", "expected '-' or the end"),
    ("R0-p(R1,C1))", "expected '-' or the end"),
    ("R0-$", "unexpected '$' at position 4"),
])  # fmt: skip
def test_bad_circuit_strings_name_the_problem(text, message):
    with pytest.raises(CircuitError, match=message.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")):  # fmt: skip
        parse_circuit(text)


def test_user_circuits_and_bad_spectra_get_clear_messages():
    c = parse_circuit("R0-p(R1,CPE1)-W1")
    assert c.names == ("R0", "R1", "CPE1_Q", "CPE1_n", "W1")
    f = FREQ[:4]
    with pytest.raises(ImpedanceDataError, match="4 usable points; a spectrum needs at least 5"):
        spectrum(f, np.ones(4), -np.ones(4))
    z = parse_circuit("R0-p(R1,C1)")(np.array([10.0, 50.0, 1e-6]), FREQ)
    with pytest.raises(ImpedanceDataError, match="looks like -Z''"):
        spectrum(FREQ, z.real, -z.imag)
    with pytest.raises(ImpedanceDataError, match="frequencies must be > 0"):
        spectrum(np.r_[FREQ[:-1], 0.0], z.real, z.imag)
    s = spectrum(FREQ, z.real, z.imag)
    with pytest.raises(ImpedanceDataError, match="5 points cannot fit the 11 parameters"):
        fit_spectrum(spectrum(FREQ[:5], z.real[:5], z.imag[:5]),
                     "R0-p(R1,CPE1)-p(R2,CPE2)-p(R3,CPE3)-W1")  # fmt: skip
    with pytest.raises(ImpedanceDataError, match="R9 not parameters"):
        fit_spectrum(s, "R0-p(R1,C1)", initial={"R9": 1.0})
    fit = fit_spectrum(s, "R0-p(R1,C1)", bounds={"R0": (1.0, 20.0)})
    assert fit.values["R1"] == pytest.approx(50.0, rel=1e-6)
