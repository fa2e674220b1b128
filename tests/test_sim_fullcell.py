"""Host half cells and LiFePO4 full cells of the twin reproduce the seeds' numbers (issue 14)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from daq.station import Station, parse_station_config
from sim_instruments import calibration_cells as cc
from sim_instruments import constants as C
from sim_instruments.electrodes import LfpCathode, butler_volmer, sphere_eigenvalues
from sim_instruments.lab import sim_config

T55 = C.FULL_CELL_REFERENCE_TEMPERATURE_K


def test_full_cell_capacity_ce_and_polarization_at_0p1_c():
    cycles = cc.full_cell_cycles("full_miec", [0.1, 0.1])
    second = cycles[1]
    assert second.charge.reached_cutoff and second.discharge.reached_cutoff
    assert second.discharge_mAh_per_g == pytest.approx(164.0, rel=0.03)
    assert second.ce == pytest.approx(0.9983, abs=0.001)
    assert second.polarization_V == pytest.approx(0.25, rel=0.2)


def test_capacity_falls_with_c_rate():
    slow, fast = (cc.full_cell_cycles("full_miec", [r, r])[1] for r in (0.1, 0.2))
    assert fast.discharge_mAh_per_g == pytest.approx(157.0, rel=0.03)
    assert fast.discharge_mAh_per_g < slow.discharge_mAh_per_g
    assert fast.polarization_V > slow.polarization_V


def test_rate_test_capacity_falls_monotonically_and_stays_above_zero_at_1_and_2_c():
    """CC-CV charge, CC discharge at each rate (as labs run rate tests): smooth fall, no collapse."""
    rates = [0.1, 0.2, 0.5, 1.0, 2.0]
    q = [c.discharge_mAh_per_g for c in cc.rate_capability("full_miec", rates)]
    assert q[0] == pytest.approx(164.0, rel=0.03)
    assert all(a > b for a, b in zip(q, q[1:], strict=False)), q
    assert q[3] > 0.5 * q[0]  # 1 C: reduced but substantial
    assert q[4] > 0.3 * q[0]  # 2 C: still well above zero


def test_polarization_grows_sublinearly_and_cc_capacity_stays_above_zero_at_1_c():
    """Butler-Volmer kinetics: doubling the current adds far less than double the polarization;
    a symmetric CC cycle at 1 C still delivers (the linear model gave ~0 above 0.2 C)."""
    pol = {r: cc.full_cell_cycles("full_miec", [r, r])[1] for r in (0.1, 0.2, 1.0)}
    assert pol[0.2].polarization_V < 1.6 * pol[0.1].polarization_V
    assert pol[1.0].polarization_V < 4.0 * pol[0.1].polarization_V
    assert 0.5 * 164 < pol[1.0].discharge_mAh_per_g < pol[0.2].discharge_mAh_per_g


def test_warmer_peo_cell_delivers_more_at_1_c_with_less_polarization():
    cold, warm = (cc.full_cell_cycles("full_miec", [1.0, 1.0], temperature_K=t)[1]
                  for t in (T55 - 10.0, T55 + 10.0))  # fmt: skip
    assert warm.discharge_mAh_per_g > cold.discharge_mAh_per_g + 10.0
    assert warm.polarization_V < cold.polarization_V - 0.05


def _sphere_surface_offset(r: float, tau: float, t: float, terms: int = 3000) -> float:
    """Surface minus initial fraction of a sphere under constant flux (Crank eq. 6.40)."""
    a2 = sphere_eigenvalues(terms) ** 2
    return -r * t - r * tau / 3.0 * (0.2 - 2.0 * np.sum(np.exp(-a2 * t / tau) / a2))


@pytest.mark.parametrize("t", [30.0, 600.0, 3000.0])
def test_cathode_diffusion_follows_the_analytic_sphere_solution(t):
    cathode = LfpCathode(C.LFP_LOADING_KG_PER_M2, C.PRESETS["peo"])
    j = 1.0 * cathode.capacity / 3600.0  # 1 C
    x0 = cathode.x_surface
    for _ in range(10):
        cathode.step(j, t / 10, T55)
    tau = C.LFP_PARTICLE_RADIUS_M**2 / C.LFP_DIFFUSIVITY_M2_PER_S
    expected = _sphere_surface_offset(j / cathode.capacity, tau, t)
    assert cathode.x_surface - x0 == pytest.approx(expected, rel=5e-3)
    assert cathode.x_mean == pytest.approx(x0 - j / cathode.capacity * t, abs=1e-12)


def test_cathode_overpotential_is_butler_volmer_plus_the_composite_ionic_asr():
    cathode = LfpCathode(C.LFP_LOADING_KG_PER_M2, C.PRESETS["peo"])
    j0 = C.LFP_EXCHANGE_CURRENT_A_PER_KG * C.LFP_LOADING_KG_PER_M2
    for j in (0.1, 1.0, 10.0):
        assert cathode.overpotential(j, T55) == pytest.approx(
            2 * C.GAS_CONSTANT_J_PER_MOL_K * T55 / C.FARADAY_C_PER_MOL * math.asinh(j / (2 * j0))
            + j * cathode.ionic_asr_ohm_m2(T55)
        )
        assert cathode.overpotential(-j, T55) == pytest.approx(-cathode.overpotential(j, T55))
    # the composite's PEO path: tens of ohm cm2 at 4 mg/cm2, 55 degC; higher when colder
    assert 10e-4 < cathode.ionic_asr_ohm_m2(T55) < 100e-4
    assert cathode.ionic_asr_ohm_m2(T55 - 20) > 2 * cathode.ionic_asr_ohm_m2(T55)
    # Tafel: a decade of current adds ~2.303 * 2RT/F at high overpotential
    slope = butler_volmer(1e3 * j0, j0, T55) - butler_volmer(1e2 * j0, j0, T55)
    assert slope == pytest.approx(2.303 * 2 * 0.028278, rel=0.01)


def test_2d_control_polarizes_more_and_fades_once_the_excess_is_spent():
    cycles = cc.full_cell_cycles("full_2d", [0.1] * 7, rest_s=60.0, sample_s=30.0)
    assert cycles[1].polarization_V == pytest.approx(0.45, rel=0.2)
    ce = [c.ce for c in cycles]
    assert min(ce[1:4]) > 0.998  # the 1x excess makes up the dead Li ...
    assert next(k for k, x in enumerate(ce) if k and x < 0.99) + 1 in (5, 6)  # ... 5-6 cycles
    assert ce[-1] == pytest.approx(0.8222, abs=0.001)  # then the seed's 82.22 % (creep §2.4)
    assert cycles[-1].discharge.charge_C < 0.8 * cycles[1].discharge.charge_C


@pytest.mark.parametrize(("host", "volts", "ce"), [("miec", 0.039, 0.9712), ("2d", 0.250, 0.7434)])
def test_half_cell_overpotential_and_ce(host, volts, ce):
    result = cc.half_cell(host)[-1]
    assert result.overpotential_V == pytest.approx(volts, rel=0.2)
    assert result.ce == pytest.approx(ce, abs=0.001)


def test_mixed_host_keeps_the_stack_height_2d_foil_swells():
    for host, swells in (("miec", False), ("2d", True)):
        clock, world = cc.new_cell_world(f"full_{host}")
        world.electro_source("current", 0.2 * world.truth()["cathode_capacity_C"] / 3600, 5.0)
        clock.advance(3600.0)
        change = world.truth()["stack_thickness_change_m"][-1]
        assert bool(change > 0.1e-6) is swells, host


def test_li_penetration_gives_a_charge_that_never_reaches_the_cutoff():
    reached, ratio = cc.runaway_charge(0.3 * cc.MAH_PER_CM2, rate=0.2)
    assert not reached
    assert ratio > 2.9  # the experiment's 3x time limit ended the charge, not the cut-off


def test_no_penetration_reaches_the_cutoff():
    cycles = cc.full_cell_cycles("full_miec", [0.2], sample_s=60.0)
    assert cycles[0].charge.reached_cutoff


def test_alloy_anode_at_constant_gap_swings_the_pressure_by_mpa():
    swings = cc.alloy_pressure_swing_MPa(rate=0.2, cycles=2)
    assert all(0.3 <= s <= 5.0 for s in swings)


def test_station_keys_for_the_cells_parse_with_units_and_refuse_bad_ones():
    cfg = sim_config(
        {"preset": "peo", "cell": "full_miec", "cathode_loading": "5 mg/cm2",
         "li_excess": 1, "penetration_after": "1 mAh/cm2"}
    )  # fmt: skip
    assert cfg.cathode_loading_kg_per_m2 == pytest.approx(0.05)
    assert cfg.penetration_after_C_per_m2 == pytest.approx(36000.0)
    with pytest.raises(ValueError, match="simulation.cathode_loading"):
        sim_config({"cell": "full_miec", "cathode_loading": "5 mAh"})
    with pytest.raises(ValueError, match="simulation.cell"):
        sim_config({"cell": "full_lfp"})
    with pytest.raises(ValueError, match="simulation.li_excess"):
        sim_config({"cell": "full_miec", "li_excess": -1})


STATION = """\
name: full-cell
simulation: {preset: peo, cell: full_miec, area: 1 cm2, seed: 1}
instruments:
  cell: {driver: keithley2450, resource: "sim://keithley2450", settings: {voltage_limit: 5 V}}
"""


def test_the_keithley_twin_serves_the_full_cell():
    with Station.open(parse_station_config(STATION)) as station:
        cell = station.potentiostat
        cell.set_current(6.8e-5, voltage_limit=5.0)  # 0.1 C charge of 0.68 mAh
        station.clock.sleep(600.0)
        reading = cell.read()
        assert 3.4 < reading.voltage < 3.7  # on the LFP plateau + polarization
        assert reading.current == pytest.approx(6.8e-5, rel=0.02)
