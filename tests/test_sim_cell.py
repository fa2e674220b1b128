"""Cell physics: the calibration targets of issue 3 as numbers and trends."""

from __future__ import annotations

import numpy as np
import pytest

from sim_instruments import calibration as cal
from sim_instruments import constants as C
from sim_instruments.calibration import MA_PER_CM2, MAH_PER_CM2, new_world

DOUX_OHM = {5: 110.0, 10: 50.0, 15: 40.0, 20: 35.0, 25: 32.0}  # ees §2.7


def test_nernst_stress_is_7_41_MPa_per_mV():
    assert cal.nernst_stress_MPa_per_mV() == pytest.approx(7.41, rel=2e-3)
    # ees §0 eq 2: 100 mV -> ~750 MPa, 33 mV -> ~250 MPa (the LLZO fracture stress)
    assert pytest.approx(742e6, rel=0.01) == C.NERNST_STRESS_PA_PER_V * 0.100
    assert (
        pytest.approx(C.PRESETS["llzo"].fracture_stress_median_Pa, rel=0.05)
        == C.NERNST_STRESS_PA_PER_V * 0.033
    )


def test_dense_li_is_4_85_um_per_mAh_cm2():
    assert pytest.approx(4.85e-6, rel=2e-3) == C.LI_THICKNESS_M_PER_C_PER_M2 * MAH_PER_CM2


@pytest.mark.parametrize("pressure_MPa", sorted(DOUX_OHM))
def test_contact_resistance_vs_pressure_within_20_percent_of_doux(pressure_MPa):
    r = cal.contact_resistance_ohm("lpscl", pressure_MPa * 1e6)
    assert r == pytest.approx(DOUX_OHM[pressure_MPa], rel=0.2)


def test_contact_resistance_above_500_ohm_at_1_MPa_and_falls_with_pressure():
    values = [cal.contact_resistance_ohm("lpscl", p * 1e6) for p in (1, 5, 10, 25)]
    assert values[0] > 500
    assert all(b < a for a, b in zip(values, values[1:], strict=False))


def test_pre_pressing_keeps_the_low_resistance_after_release():
    """Doux: pressing at 25 MPa then releasing to 5 MPa keeps the low impedance (ees §2.7)."""
    clock, world = new_world(preset="lpscl", initial_pressure_Pa=25e6, noise_V=0.0)
    steps = round(-20e6 * 1e-4 / (C.FRAME_STIFFNESS_N_PER_M * world.actuator_step_size_m()))
    world.actuator_move_steps(steps)
    clock.advance(60.0)
    assert world.stack_force_true_N() / 1e-4 < 6e6
    world.electro_source("current", 1e-6, 5.0)
    r_released = world.electro_measure()[0] / 1e-6
    assert r_released < 0.5 * cal.contact_resistance_ohm("lpscl", 5e6)


def test_stripping_below_the_supply_limit_is_stable():
    res = cal.stripping_test("llzo", 0.05 * MA_PER_CM2, 0.0, 1.0 * MAH_PER_CM2)
    assert not res.diverged and not res.shorted and res.void_onset_s is None
    assert res.v_end == pytest.approx(res.v_start, rel=0.05)


def test_stripping_above_the_supply_limit_diverges_within_1_mAh_cm2():
    res = cal.stripping_test("llzo", 0.3 * MA_PER_CM2, 0.0, 1.0 * MAH_PER_CM2)
    assert res.diverged and not res.shorted
    assert res.v_end > 10 * res.v_start
    assert res.void_onset_s is not None and res.void_onset_s < 0.2 * MAH_PER_CM2 / (
        0.3 * MA_PER_CM2
    )


def test_void_onset_in_truth_precedes_the_voltage_rise():
    clock, world = new_world(preset="llzo")
    world.electro_source("current", 0.3 * MA_PER_CM2 * 1e-4, 5.0)
    clock.advance(3 * 3600.0)
    truth = world.truth()
    onset = truth["void_onset_times_we"][0]
    v = truth["V"]
    v_at_onset = np.interp(onset, truth["t"], v)
    assert v_at_onset < 1.1 * v[1] < v[-1]
    assert truth["contact_fraction_we"][-1] < 0.05 and truth["contact_fraction_ce"][-1] == 1.0


def test_stack_pressure_raises_the_stripping_limit():
    at_0 = cal.stripping_test("llzo", 0.3 * MA_PER_CM2, 0.0, 1.0 * MAH_PER_CM2)
    at_3 = cal.stripping_test("llzo", 0.3 * MA_PER_CM2, 3e6, 1.0 * MAH_PER_CM2)
    assert at_0.diverged and not at_3.diverged and at_3.void_onset_s is None


def test_temperature_raises_the_supply_and_lowers_the_bulk_resistance():
    cold = cal.stripping_test("llzo", 0.2 * MA_PER_CM2, 0.0, 1.0 * MAH_PER_CM2)
    warm = cal.stripping_test(
        "llzo", 0.2 * MA_PER_CM2, 0.0, 1.0 * MAH_PER_CM2, temperature_K=338.15
    )
    assert cold.diverged and not warm.diverged
    assert warm.v_start < 0.6 * cold.v_start


def test_ccd_on_llzo_at_3_MPa_is_between_0_1_and_1_2_mA_cm2():
    for seed in (0, 1, 2):
        res = cal.ccd_ramp("llzo", 3e6, seed=seed)
        assert res.failure is not None
        assert 0.1 <= res.ccd_A_per_m2 / MA_PER_CM2 <= 1.2


def test_ccd_rises_with_pressure():
    ccd = [cal.ccd_ramp("llzo", p * 1e6).ccd_A_per_m2 for p in (0.0, 3.0, 10.0)]
    assert ccd[0] < ccd[1] < ccd[2]


def test_voids_accumulate_over_cycles_and_pressure_at_rest_heals_them():
    clock, world = new_world(preset="llzo", initial_pressure_Pa=0.0)
    j = 0.15 * MA_PER_CM2 * 1e-4
    depth = []
    for _ in range(4):
        for sign in (1.0, -1.0):  # strip the WE, then plate it back
            world.electro_source("current", sign * j, 5.0)
            clock.advance(1800.0)
        world.sync()
        depth.append(world.cell.interfaces[0].void_depth_m)
    assert all(b > a for a, b in zip(depth, depth[1:], strict=False))
    world.electro_source("off", 0.0, 0.0)
    steps = round(5e6 * 1e-4 / (C.FRAME_STIFFNESS_N_PER_M * world.actuator_step_size_m()))
    world.actuator_move_steps(steps)
    clock.advance(3600.0)
    world.sync()
    assert world.cell.interfaces[0].void_depth_m < 0.1 * depth[-1]


def test_filament_shorts_are_stochastic_and_reproducible_under_a_seed():
    def short_time(seed: int) -> float:
        clock, world = new_world(preset="llzo", seed=seed, initial_pressure_Pa=3e6)
        world.electro_source("current", -2.0 * MA_PER_CM2 * 1e-4, 5.0)  # plate the WE hard
        clock.advance(4 * 3600.0)
        truth = world.truth()
        assert truth["short_cause"] == "filament"
        assert truth["filament_nucleation_times_we"][0] < truth["short_time"]
        return truth["short_time"]

    a, b, c = short_time(3), short_time(3), short_time(4)
    assert a == b and a != c


def test_soft_short_is_erratic_then_hard_short_collapses_to_ohms():
    clock, world = new_world(preset="llzo", seed=5, initial_pressure_Pa=3e6, noise_V=0.0)
    current = -2.0 * MA_PER_CM2 * 1e-4
    world.electro_source("current", current, 5.0)
    clock.advance(6 * 3600.0)
    truth = world.truth()
    t_soft, t_hard = truth["short_time"], truth["hard_short_time"]
    assert t_soft < t_hard
    t, v, _, _ = world.electro_samples(t_soft, t_hard, 1.0)
    healthy = np.interp(t_soft - 1.0, truth["t"], truth["V"])
    dropped = np.abs(v) < 0.5 * abs(healthy)
    assert dropped.any() and not dropped.all()  # intermittent drops
    assert np.count_nonzero(np.diff(dropped.astype(int))) >= 2
    v_end = world.electro_measure()[0]
    assert v_end == pytest.approx(current * C.HARD_SHORT_RESISTANCE_OHM, rel=0.05)


def test_sulfide_ccd_rises_with_pressure_until_the_creep_short_window():
    ccd = [cal.ccd_ramp("lpscl", p * 1e6) for p in (1.0, 5.0, 25.0)]
    assert all(r.cause == "filament" for r in ccd)
    assert ccd[0].ccd_A_per_m2 < ccd[1].ccd_A_per_m2 < ccd[2].ccd_A_per_m2
    over = cal.ccd_ramp("lpscl", 75e6)
    assert over.cause == "creep" and over.time_s < 1800.0  # shorted in the first half cycle
