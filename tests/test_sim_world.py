"""SimWorld API contract: sampling grid, source modes and compliance, determinism, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from daq.clock import VirtualClock
from sim_instruments.world import SimConfig, SimWorld

MA = 1e-3


def make(**kw) -> tuple[VirtualClock, SimWorld]:
    clock = VirtualClock()
    return clock, SimWorld(clock, SimConfig(**kw))


def test_samples_lie_on_the_grid_in_half_open_interval():
    clock, world = make(initial_pressure_Pa=3e6)
    world.electro_source("current", 0.1 * MA, 5.0)
    clock.advance(10.0)
    t, v, i, c = world.electro_samples(0.0, 10.0, 0.5)
    assert np.allclose(t, np.arange(1, 21) * 0.5)
    assert v.shape == i.shape == c.shape == (20,)
    assert np.all(v > 0) and np.allclose(i, 0.1 * MA, rtol=1e-3)
    assert not c.any()


def test_samples_of_the_past_match_a_jump_in_the_source():
    clock, world = make(initial_pressure_Pa=3e6, noise_V=0.0, noise_I_A=0.0, noise_I_relative=0.0)
    world.electro_source("current", 0.1 * MA, 5.0)
    clock.advance(100.0)
    world.electro_source("current", -0.1 * MA, 5.0)
    clock.advance(100.0)
    t, v, i, _ = world.electro_samples(0.0, 200.0, 50.0)
    assert list(t) == [50.0, 100.0, 150.0, 200.0]
    assert v[0] > 0 and v[1] < 0 and v[2] < 0  # the later knot wins at the switching time
    assert i[0] == pytest.approx(0.1 * MA, rel=1e-4) and i[3] == pytest.approx(-0.1 * MA, rel=1e-4)


def test_future_and_bad_arguments_are_refused():
    clock, world = make()
    with pytest.raises(ValueError, match="future"):
        world.electro_samples(0.0, 5.0, 1.0)
    with pytest.raises(ValueError, match="interval"):
        world.electro_samples(0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="mode"):
        world.electro_source("power", 1.0, 1.0)
    with pytest.raises(ValueError, match="limit"):
        world.electro_source("current", 1e-4, 0.0)
    with pytest.raises(ValueError, match="SimConfig.preset"):
        SimWorld(clock, SimConfig(preset="glass"))
    with pytest.raises(ValueError, match="thermal setpoint"):
        world.thermal_setpoint(500.0)


def test_current_mode_compliance_clamps_voltage_and_reduces_current():
    clock, world = make(initial_pressure_Pa=3e6, noise_V=0.0, noise_I_A=0.0, noise_I_relative=0.0)
    world.electro_source("current", 50 * MA, 1.0)  # far above what 1 V can drive
    v, i, comp = world.electro_measure()
    assert comp and v == pytest.approx(1.0) and 0 < i < 50 * MA


def test_voltage_mode_is_potentiostatic_and_current_limited():
    clock, world = make(initial_pressure_Pa=3e6, noise_V=0.0, noise_I_A=0.0, noise_I_relative=0.0)
    world.electro_source("voltage", 0.05, 1.0)
    v, i, comp = world.electro_measure()
    assert not comp and v == 0.05 and i > 0
    world.electro_source("voltage", 0.05, i / 2)
    v2, i2, comp2 = world.electro_measure()
    assert comp2 and i2 == pytest.approx(i / 2) and 0 < v2 < 0.05


def test_same_time_calls_do_not_advance_and_runs_are_deterministic():
    def run(seed: int) -> np.ndarray:
        clock, world = make(seed=seed, initial_pressure_Pa=3e6)
        world.electro_source("current", 0.2 * MA, 5.0)
        for _ in range(5):
            clock.advance(600.0)
            world.electro_measure()
            world.electro_measure()
        return world.electro_samples(0.0, 3000.0, 1.0)[1]

    a, b, c = run(1), run(1), run(2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_concurrent_ports_are_serialised():
    clock, world = make(initial_pressure_Pa=3e6)
    world.electro_source("current", 0.1 * MA, 5.0)
    errors: list[BaseException] = []

    def hammer(fn) -> None:
        try:
            for _ in range(200):
                fn()
        except BaseException as exc:  # noqa: BLE001 - surface any failure to the test
            errors.append(exc)

    threads = [
        threading.Thread(target=hammer, args=(fn,))
        for fn in (
            world.electro_measure,
            world.load_cell_force_N,
            world.holder_measure,
            world.thermal_read_K,
            lambda: clock.advance(1.0),
        )
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    truth = world.truth()
    assert np.all(np.diff(truth["t"]) >= 0)


def test_block_samples_agree_with_point_measurements_while_the_state_changes():
    """Interpolating between knots reproduces what per-sample reads see (voids diverging)."""
    quiet = {"noise_V": 0.0, "noise_I_A": 0.0, "noise_I_relative": 0.0}
    clock_a, block = make(**quiet)
    clock_b, point = make(**quiet)
    for w in (block, point):
        w.electro_source("current", 0.3 * MA * 1.0, 10.0)  # 0.3 mA/cm2 on 1 cm2, no pressure
    reads = []
    for _ in range(300):
        clock_b.advance(30.0)
        reads.append(point.electro_measure()[0])
    clock_a.advance(9000.0)
    _, v, _, _ = block.electro_samples(0.0, 9000.0, 30.0)
    assert reads[-1] > 5 * reads[0]  # the voltage really diverged over the window
    assert np.allclose(v, reads, rtol=0.02)


def test_thermal_setpoint_changes_the_cell_through_the_port():
    clock, world = make(preset="peo", noise_V=0.0)
    world.electro_source("current", 0.05 * MA, 5.0)
    v_55 = world.electro_measure()[0]
    world.thermal_setpoint(308.15)  # 55 -> 35 degC
    clock.advance(3 * 3600.0)
    assert world.thermal_read_K() == pytest.approx(308.15, abs=0.2)
    assert world.electro_measure()[0] > 2 * v_55  # Arrhenius bulk and interfaces
