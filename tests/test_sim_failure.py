"""Creep shorts, interphase growth and the anode-free Li inventory."""

from __future__ import annotations

import numpy as np
import pytest

from sim_instruments import calibration as cal
from sim_instruments.calibration import HOUR, MA_PER_CM2, MAH_PER_CM2, new_world


def test_creep_short_window_of_a_soft_electrolyte():
    """Doux Li|LPS-Cl|Li: > 1000 h at 5 MPa, 48 h at 25 MPa, before cycling at 75 MPa."""
    assert cal.creep_short_time_s("lpscl", 5e6, 1000 * HOUR, period=3600.0) is None
    t25 = cal.creep_short_time_s("lpscl", 25e6, 200 * HOUR)
    assert t25 == pytest.approx(48 * HOUR, rel=0.25)
    t75 = cal.creep_short_time_s("lpscl", 75e6, 10 * HOUR)
    assert t75 < 1 * HOUR


def test_hard_garnet_does_not_creep_short():
    assert cal.creep_short_time_s("llzo", 75e6, 5 * HOUR) is None


def test_creep_short_ends_in_a_hard_short():
    clock, world = new_world(preset="lpscl", initial_pressure_Pa=75e6)
    world.electro_source("current", 0.1 * MA_PER_CM2 * 1e-4, 5.0)
    cal.hold_pressure(world, clock, 5 * HOUR, 60.0, 75e6 * 1e-4)
    truth = world.truth()
    assert truth["short_cause"] == "creep" and truth["hard_short_time"] is not None
    assert truth["short_state"][-1] == 2


def test_reactive_electrolyte_grows_an_interphase_and_never_shorts():
    """Wu Fig. 12c: Li|LATP|Li at 0.1 mA/cm2, polarization rising for 60 h, no short."""
    assert 0.2 <= cal.interphase_exponent("latp") <= 0.35
    clock, world = new_world(preset="latp", initial_pressure_Pa=3e6)
    j = 0.1 * MA_PER_CM2 * 1e-4
    peaks = []
    for _ in range(30):  # 60 h of 1 h half cycles
        for sign in (1.0, -1.0):
            world.electro_source("current", sign * j, 5.0)
            clock.advance(HOUR)
            peaks.append(abs(world.electro_measure()[0]))
    truth = world.truth()
    assert truth["short_time"] is None and not truth["compliance"].any()
    assert np.all(np.diff(peaks[::2]) > 0) and peaks[-1] > 2.5 * peaks[0]
    assert truth["eta_interphase_we_V"][-1] != 0.0


def test_interphase_grows_at_open_circuit_only_for_the_reactive_electrolyte():
    assert cal.interphase_exponent("latp", (1.0, 90.0)) == pytest.approx(0.33, abs=0.01)
    clock, world = new_world(preset="llzo")
    clock.advance(90 * HOUR)
    world.sync()
    assert world.cell.interphase_asr() == 0.0


@pytest.mark.parametrize(("preset", "ce"), [("lpscl", 0.88), ("peo", 0.7434), ("llzo", 0.90)])
def test_anode_free_coulombic_efficiency_from_dead_li(preset, ce):
    j = 0.1 * MA_PER_CM2 if preset == "lpscl" else 0.5 * MA_PER_CM2
    values, thickness = cal.anode_free_ce(preset, j, 0.5 * MAH_PER_CM2, 2)
    assert values == pytest.approx([ce, ce], abs=0.005)
    assert thickness == pytest.approx(0.5 * 4.85e-6, rel=2e-3)


def test_dead_li_accumulates_on_the_copper():
    clock, world = new_world(preset="llzo", cell="anode_free", initial_pressure_Pa=5e6)
    area = world.config.area_m2
    dead = []
    for _ in range(3):
        world.electro_source("current", -0.5 * MA_PER_CM2 * area, 5.0)
        clock.advance(3600.0)
        world.electro_source("voltage", 1.0, 0.5 * MA_PER_CM2 * area)
        clock.advance(3 * 3600.0)
        world.sync()
        dead.append(world.cell.dead_li_C_per_m2)
    delta = 0.10  # llzo preset: 1 - CE
    assert dead == pytest.approx([delta * 0.5 * MAH_PER_CM2 * k for k in (1, 2, 3)], rel=0.01)


def test_stripping_bare_copper_hits_the_voltage_limit():
    clock, world = new_world(
        preset="llzo", cell="anode_free", noise_V=0.0, noise_I_A=0.0, noise_I_relative=0.0
    )
    world.electro_source("off", 0.0, 0.0)
    assert world.electro_measure()[0] == pytest.approx(3.0)  # Cu rest potential vs Li
    world.electro_source("current", 0.1 * MA_PER_CM2 * 1e-4, 1.0)
    v, i, comp = world.electro_measure()
    assert comp and v == pytest.approx(1.0) and abs(i) < 1e-9
