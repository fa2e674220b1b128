"""Stack-pressure rig model: stiffness, actuator, load cell, creep relaxation, thickness change."""

from __future__ import annotations

import numpy as np
import pytest

from sim_instruments import constants as C
from sim_instruments.calibration import MA_PER_CM2, new_world

AREA = 1e-4


def test_initial_pressure_and_actuator_steps_through_the_frame_stiffness():
    clock, world = new_world(initial_pressure_Pa=3e6)
    assert world.stack_force_true_N() == pytest.approx(300.0)
    world.actuator_move_steps(1000)
    assert world.actuator_steps() == 0  # the screw takes time to turn
    clock.advance(1000 / C.ACTUATOR_SPEED_STEPS_PER_S / 2)
    assert world.actuator_steps() == pytest.approx(500, abs=1)
    clock.advance(10.0)
    assert world.actuator_steps() == 1000
    expected = 300.0 + C.FRAME_STIFFNESS_N_PER_M * 1000 * world.actuator_step_size_m()
    assert world.stack_force_true_N() == pytest.approx(expected, rel=1e-3)


def test_backing_off_unloads_the_stack_to_zero_not_tension():
    clock, world = new_world(initial_pressure_Pa=1e6)
    world.actuator_move_steps(-5000)
    clock.advance(10.0)
    assert world.stack_force_true_N() == 0.0


def test_load_cell_has_noise_and_drift_around_the_true_force():
    clock, world = new_world(initial_pressure_Pa=5e6, seed=2)
    early = []
    for _ in range(200):
        clock.advance(1.0)
        early.append(world.load_cell_force_N() - world.stack_force_true_N())
    assert np.std(early) == pytest.approx(C.LOAD_CELL_NOISE_N, rel=0.3)
    clock.advance(48 * 3600.0)
    late = np.mean([world.load_cell_force_N() - world.stack_force_true_N() for _ in range(50)])
    assert abs(late - np.mean(early)) > 3 * C.LOAD_CELL_NOISE_N / np.sqrt(50)  # it drifted


def test_li_creep_relaxes_high_stack_pressure_at_fixed_displacement():
    relaxed = {}
    for p in (5e6, 25e6):
        clock, world = new_world(preset="lpscl", initial_pressure_Pa=p)
        clock.advance(3600.0)
        relaxed[p] = world.stack_force_true_N() / (p * AREA)
    assert relaxed[5e6] > 0.99  # Li hardly flows at 5 MPa
    assert relaxed[25e6] < 0.9  # and flows out quickly at 25 MPa (power law, n = 6.5)


def test_plating_into_a_stack_with_voids_raises_the_force():
    """Voids keep the stripped electrode's height while the other grows: thickness -> force."""
    clock, world = new_world(preset="llzo", initial_pressure_Pa=1e6)
    f0 = world.stack_force_true_N()
    world.electro_source("current", 0.4 * MA_PER_CM2 * AREA, 5.0)
    clock.advance(1800.0)
    truth = world.truth()
    dz = truth["stack_thickness_change_m"][-1]
    assert dz > 0 and truth["void_depth_we_m"][-1] > 0
    assert world.stack_force_true_N() - f0 == pytest.approx(
        C.FRAME_STIFFNESS_N_PER_M * dz, rel=0.05
    )


def test_electrode_thickness_changes_4_85_um_per_mAh_cm2():
    clock, world = new_world(preset="llzo", initial_pressure_Pa=3e6)
    world.electro_source("current", -0.1 * MA_PER_CM2 * AREA, 5.0)  # plate the WE
    clock.advance(36000.0)  # 1 mAh/cm2
    truth = world.truth()
    grown = truth["li_we_m"][-1] - truth["li_we_m"][0]
    shrunk = truth["li_ce_m"][0] - truth["li_ce_m"][-1]
    assert grown == pytest.approx(4.85e-6, rel=2e-3) and shrunk == pytest.approx(grown)


def test_thermal_stage_follows_the_setpoint_with_a_lag():
    clock, world = new_world(preset="llzo")
    world.thermal_setpoint(328.15)
    clock.advance(C.THERMAL_TIME_CONSTANT_S)
    mid = world.thermal_read_K()
    assert 298.15 + 0.55 * 30 < mid < 298.15 + 0.7 * 30
    clock.advance(10 * C.THERMAL_TIME_CONSTANT_S)
    assert world.thermal_read_K() == pytest.approx(328.15, abs=0.1)
