"""MIEC tubule nanobattery (Chen et al. 2020) behind the TEM holder port, and its frames."""

from __future__ import annotations

import numpy as np
import pytest

from sim_instruments import calibration as cal
from sim_instruments import constants as C
from sim_instruments.calibration import new_world
from sim_instruments.frames import MOUTH_COL


def touch(world) -> None:
    while not world.holder_contact():
        world.holder_move("z", 50e-9)


def test_no_current_until_the_probe_touches_a_tubule():
    clock, world = new_world()
    world.holder_bias(-2.0, 1e-6)
    clock.advance(10.0)
    _, amps, _ = world.holder_measure()
    assert abs(amps) < 1e-12
    world.holder_move("y", 5e-6)  # misaligned: pushing in does not make contact
    world.holder_move("z", 3e-6)
    assert not world.holder_contact()
    assert world.holder_position()[2] == pytest.approx(C.PROBE_MAX_INDENT_M)
    world.holder_move("y", -5e-6)
    assert world.holder_contact()


def test_li_advances_at_minus_2_V_and_retracts_at_plus_2_V():
    clock, world = new_world()
    touch(world)
    world.holder_bias(-2.0, 1e-6)
    clock.advance(10.0)
    _, amps, _ = world.holder_measure()
    front = world.truth()["tubule_front_m"][:, 0]
    assert amps < 0 and front[-1] > 1e-6 and np.all(np.diff(front) >= 0)
    world.holder_bias(2.0, 1e-6)
    clock.advance(5.0)
    _, amps, _ = world.holder_measure()
    column = world.truth()
    length = column["tubule_front_m"][-1, 0] - column["tubule_start_m"][-1, 0]
    assert amps > 0 and length < front[-1]


def test_front_advance_matches_the_charge_over_100_cycles_without_degradation():
    res = cal.tubule_cycles(100, sample_s=0.5)
    assert res.charge_error < 0.02
    assert len(res.travel_m) == 100
    assert res.travel_m.min() == pytest.approx(C.TUBULE_LENGTH_M, rel=1e-6)
    assert np.ptp(res.travel_m) < 1e-3 * res.travel_m.mean()
    lo, hi = res.current_range_A
    assert lo > 1e-12 and hi < 1e-8  # pA-nA


def test_void_plug_does_not_slow_stripping():
    res = cal.tubule_cycles(30, sample_s=0.25, seed=1)
    assert res.strip_times_plug_s and res.strip_times_free_s
    assert np.mean(res.strip_times_plug_s) == pytest.approx(
        np.mean(res.strip_times_free_s), rel=0.05
    )


def test_full_tubule_overflows_at_10_V_but_not_at_2_V():
    assert cal.overflow_charge_C(2.0) == 0.0
    assert cal.overflow_charge_C(10.0) > 1e-10


def test_sodium_variant_uses_its_own_atomic_volume_and_faster_interface_diffusion():
    clock, world = new_world(tubule_metal="Na")
    li_clock, li_world = new_world(tubule_metal="Li")
    assert world.tubes.d_int > 3 * li_world.tubes.d_int  # lower melting point (creep §2.1 E9)
    res = cal.tubule_cycles(3, metal="Na", sample_s=0.25)
    assert res.charge_error < 0.02 and res.travel_m.min() > 0


def test_frames_show_the_filled_segment_darker_at_the_true_front():
    clock, world = new_world(seed=3)
    touch(world)
    world.holder_bias(-2.0, 1e-6)
    clock.advance(15.0)
    t, image = world.camera_frame()
    truth = world.truth()
    assert image.dtype == np.uint16 and image.shape == C.FRAME_SHAPE_PX
    assert t == truth["frame_times"][-1]
    drift_r, drift_c = truth["frame_drift_px"][-1]
    row = int(round(C.FRAME_SHAPE_PX[0] / 2 + drift_r))
    profile = image[row - 1 : row + 1].astype(float).mean(axis=0)
    dark = profile < 0.5 * (C.FRAME_LI_COUNTS + C.FRAME_LUMEN_COUNTS)
    cols = np.nonzero(dark)[0]
    cols = cols[cols > MOUTH_COL + drift_c + 2]  # ignore the probe left of the mouth
    front_px = cols.max() + 1 - (MOUTH_COL + drift_c)
    true_px = truth["tubule_front_m"][-1, 0] / C.FRAME_PIXEL_M
    assert front_px == pytest.approx(true_px, abs=1.5)


def test_frames_are_reproducible_under_a_seed():
    frames = []
    for _ in range(2):
        clock, world = new_world(seed=9)
        clock.advance(30.0)
        frames.append(world.camera_frame()[1])
    assert np.array_equal(frames[0], frames[1])
