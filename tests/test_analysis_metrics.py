"""Metrics against synthetic truth: overpotential, ASR, interrupt R, CE, growth, CCD, pressure, imaging."""

import numpy as np
import pandas as pd
import pytest

from analysis import ccd, ce, growth, imaging, interrupt, overpotential, pressure
from analysis.model import Frames, make_run
from analysis.pipeline import AnalysisOptions, analyze_run
from analysis.segment import cycle_table, step_table
from analysis.synthetic import SynthSpec, synthetic_run


def test_overpotential_plateau_asr_and_hysteresis():
    spec = SynthSpec(n_cycles=3, half_s=1200, rest_s=60, noise_v=5e-4)
    run, _ = synthetic_run(spec)
    steps = step_table(run.electro)
    eta = overpotential.step_overpotentials(run.electro, steps)
    steps = pd.concat([steps, eta], axis=1)
    expected = spec.j * spec.area_m2 * (spec.r_ohm + spec.r_int)
    active = steps[steps["type"] != "rest"]
    np.testing.assert_allclose(np.abs(active["eta_plateau"]), expected, rtol=0.01)
    np.testing.assert_allclose(active["asr"], (spec.r_ohm + spec.r_int) * spec.area_m2, rtol=0.01)
    cyc = overpotential.cycle_overpotentials(steps)
    np.testing.assert_allclose(cyc["hysteresis"], 2 * expected, rtol=0.01)


def test_rest_reference_and_bad_options():
    run, _ = synthetic_run(SynthSpec(n_cycles=2, half_s=600, rest_s=30))
    steps = step_table(run.electro)
    rest_ref = overpotential.step_overpotentials(run.electro, steps, ocv="rest")
    zero_ref = overpotential.step_overpotentials(run.electro, steps)
    assert not np.allclose(rest_ref["eta_plateau"].dropna(), zero_ref["eta_plateau"].dropna())
    with pytest.raises(ValueError, match="ocv"):
        overpotential.step_overpotentials(run.electro, steps, ocv="ocp")


def test_nernst_stress_matches_paper_numbers():
    assert overpotential.nernst_stress(0.135) == pytest.approx(1.0e9, rel=0.01)
    assert overpotential.nernst_stress(1e-3) == pytest.approx(7.41e6, rel=0.002)


def test_current_interrupt_separates_ohmic_and_interfacial():
    spec = SynthSpec(n_cycles=2, half_s=600, rest_s=200, tau_relax=10.0, noise_v=1e-5)
    run, _ = synthetic_run(spec)
    steps = step_table(run.electro)
    table = interrupt.interrupt_resistances(run.electro, steps, relax_s=150, area_m2=spec.area_m2)
    assert len(table) == 4
    np.testing.assert_allclose(table["r_ohm"], spec.r_ohm, rtol=0.02)
    np.testing.assert_allclose(table["r_int"], spec.r_int, rtol=0.02)
    np.testing.assert_allclose(table["r_total"], spec.r_ohm + spec.r_int, rtol=0.01)


def test_ce_summary_and_li_loss():
    run, _ = synthetic_run(SynthSpec(n_cycles=4, half_s=3600, ce=0.99))
    cycles = cycle_table(step_table(run.electro))
    s = ce.ce_summary(cycles, 1e-4)
    assert s["ce_mean"] == pytest.approx(0.99, abs=5e-4)
    assert s["ce_cumulative"] == pytest.approx(0.99**4, abs=2e-3)
    q_lost = 4 * 0.01 * 5 * 1e-4 * 3600
    assert s["li_loss_C"] == pytest.approx(q_lost, rel=0.05)
    assert s["li_loss_m"] == pytest.approx(q_lost / 1e-4 / 36000 * 4.85e-6, rel=0.05)


def _steps_from(kinds_charges):
    rows = []
    t = 0.0
    for k, (kind, q) in enumerate(kinds_charges):
        rows.append({"step": k, "type": kind, "charge": q, "start_time": t, "end_time": t + 1})
        t += 1
    return pd.DataFrame(rows)


def test_reservoir_ce_adams_method():
    # formation (plate 1, strip 0.8), reservoir 5, 10 cycles of 1 / 0.99, final strip 4.6
    seq = [("plate", -1.0), ("strip", 0.8), ("plate", -5.0)]
    seq += [("plate", -1.0), ("strip", 0.99)] * 10 + [("strip", 4.6)]
    res = ce.reservoir_ce(_steps_from(seq))
    assert res["ce_reservoir"] == pytest.approx((10 * 0.99 + 4.6) / (10 * 1.0 + 5.0))
    assert res["n_cycles"] == 10
    assert ce.reservoir_ce(_steps_from([("plate", -1.0), ("strip", 0.99)] * 5)) is None
    with pytest.raises(ValueError, match="not a strip step"):
        ce.reservoir_ce(_steps_from(seq), reservoir_step=2, final_step=3)


def test_growth_exponent_recovered():
    t = np.linspace(600, 3.6e5, 200)
    r = 10 + 2 * t**0.3
    out = growth.growth_exponent(
        t, r * (1 + 0.002 * np.random.default_rng(0).standard_normal(t.size))
    )
    assert out["exponent"] == pytest.approx(0.3, abs=0.03)
    assert out["spearman_rho"] > 0.9
    assert "exponent" not in growth.growth_exponent(t, 10 - 1e-5 * t)


def test_pipeline_growth_from_step_asr():
    run, _ = synthetic_run(SynthSpec(n_cycles=10, half_s=1800, growth_n=0.35, growth_t0=3600.0))
    res = analyze_run(run)
    assert res.growth["exponent"] == pytest.approx(0.35, abs=0.05)


def test_ccd_ramp_short_and_polarization():
    ramp = [0.5, 1.0, 2.0, 4.0, 8.0]
    run, _ = synthetic_run(
        SynthSpec(j=ramp, half_s=1800, short_time=3 * 3600 + 900)
    )  # in J=4 plating
    res = analyze_run(run)
    assert res.ccd["failure_mode"] == "short"
    assert res.ccd["j_crit"] == pytest.approx(4.0)
    assert res.ccd["j_last_pass"] == pytest.approx(2.0)
    assert [lv["cycles_completed"] for lv in res.ccd["levels"]] == [1, 1, 1, 0, 0]
    table = overpotential.by_current_density(res.steps[res.steps["end_time"] < 3 * 3600])
    np.testing.assert_allclose(table["j"], [0.5, 1.0, 2.0])
    np.testing.assert_allclose(table["asr"], 50.0 * 1e-4, rtol=0.02)  # (R_ohm + R_int) * area
    # polarization: the J=8 stripping step hits a voltage limit after 10 min
    e = run.electro
    clean, _ = synthetic_run(SynthSpec(j=ramp, half_s=1800))
    e = clean.electro
    cut = (e["step"] == 9) & (e["time"] > 9 * 1800 + 600)
    limited = e.loc[~cut].copy()
    limited.loc[limited["step"] == 9, "voltage"] *= np.linspace(
        1, 3, int((limited["step"] == 9).sum())
    )
    steps = step_table(limited)
    out = ccd.ccd_analysis(steps, None)
    assert out["failure_mode"] == "polarization"
    assert out["j_crit"] == pytest.approx(8.0)


def test_pressure_excursions_and_correlation():
    p = 5e6 + 1e3 * np.random.default_rng(1).standard_normal(2000)
    p[800:810] += 1e6  # a 100 s spike
    p[1200:] -= 2e6  # a set-point change is no excursion
    t = np.arange(2000) * 10.0
    ex = pressure.pressure_excursions(pd.DataFrame({"time": t, "pressure": p}))
    assert len(ex) == 1
    assert ex["start_time"].iat[0] == 8000 and ex["peak_deviation"].iat[0] == pytest.approx(
        1e6, rel=0.01
    )
    eta = 0.05 - 4e-9 * np.linspace(1e6, 1e7, 8)
    corr = pressure.overpotential_pressure_correlation(eta, np.linspace(1e6, 1e7, 8))
    assert corr["pearson_r"] < -0.99 and corr["slope_V_per_Pa"] == pytest.approx(-4e-9)


def _tubule_frames(velocity_px_s=2.0, n=40, width=120, dt=0.5):
    times = np.arange(n) * dt
    images = np.full((n, 30, width), 200.0)
    x = np.arange(width)
    for k, tk in enumerate(times):
        front = 10 + velocity_px_s * tk
        images[k, 10:20, :] = np.where(x < front, 60.0, 200.0)  # Li is darker
    return Frames(
        times, images + np.random.default_rng(0).normal(0, 3, images.shape), pixel_size_m=5e-9
    )


def test_kymograph_front_velocity_and_filling_efficiency():
    fr = _tubule_frames()
    kymo = imaging.kymograph(fr)
    assert kymo.shape == (40, 120)
    pos = imaging.front_positions(kymo, fr.pixel_size_m)
    v = imaging.front_velocity(fr.time, pos)
    assert np.median(v) == pytest.approx(2.0 * 5e-9, rel=0.1)
    d, dx = 100e-9, 1e-6
    q = np.pi * (d / 2) ** 2 * dx / imaging.LI_M3_PER_C
    # the front advances dx while 2q passes, then retreats (stripping does not count)
    front, charge = [0.0, dx / 2, dx, 0.0], [0.0, q, 2 * q, 0.0]
    assert imaging.filling_efficiency(front, charge, d) == pytest.approx(0.5)


def test_pipeline_on_frames_with_holder_current():
    fr = _tubule_frames()
    run, _ = synthetic_run(SynthSpec(n_cycles=1, half_s=30, dt=0.1))
    run.frames = fr
    run.streams["holder"] = pd.DataFrame({"time": fr.time, "bias": -2.0, "current": -1e-12})
    res = analyze_run(run, AnalysisOptions(inner_diameter_m=100e-9))
    assert res.summary["front_travel_m"] == pytest.approx(2.0 * 19.5 * 5e-9, rel=0.1)
    assert res.summary["front_speed_plating_m_s"] == pytest.approx(2.0 * 5e-9, rel=0.1)
    assert res.summary["filling_efficiency"] > 0


def test_tem_without_pixel_size_is_in_pixels_with_robust_speed_and_bias_steps():
    fr = _tubule_frames(n=60)  # 2 px/s plating for 20 s, then Li leaves: front drops to 0
    fr.images[40:, 10:20, :] = 200.0 + np.random.default_rng(1).normal(0, 3, (20, 10, 120))
    run = make_run(
        {
            "bias": pd.DataFrame(
                {
                    "time": fr.time,
                    "voltage": np.where(fr.time < 20, -2.0, 2.0),
                    "current": np.where(fr.time < 20, -1e-9, 1e-9),
                }  # fmt: skip
            )
        },
        frames=Frames(fr.time, fr.images, pixel_size_m=None),
    )
    res = analyze_run(run)
    s = res.summary
    assert not any(k.endswith("_m") or "_m_" in k for k in s)
    assert s["front_speed_plating_px_s"] == pytest.approx(2.0, rel=0.15)
    assert s["front_travel_px"] == pytest.approx(10 + 2.0 * 19.5, abs=2)  # Li leaves: from 0
    assert any("pixels" in w for w in res.warnings)
    assert s["n_bias_steps"] == 2
    assert s["holder_plated_charge_C"] == pytest.approx(20.0e-9, rel=0.05)
    plate = res.steps.iloc[0]
    assert plate["bias"] == pytest.approx(-2.0)
    assert plate["advance_per_C"] == pytest.approx(2.0 * 19.5 / 20e-9, rel=0.15)
    # with the pixel size the same columns are in metres
    run.frames = fr
    res_m = analyze_run(run, AnalysisOptions(inner_diameter_m=100e-9))
    assert res_m.summary["front_speed_plating_m_s"] == pytest.approx(2.0 * 5e-9, rel=0.15)
    plated = np.pi * (50e-9) ** 2 * 39 * 5e-9
    assert res_m.steps["filling_efficiency"].iat[0] == pytest.approx(
        plated / (20e-9 * imaging.LI_M3_PER_C), rel=0.15
    )
    assert "filling_efficiency" not in res.steps  # no pixel size: no efficiency


def test_nernst_stress_from_interfacial_overpotential_only():
    spec = SynthSpec(n_cycles=2, half_s=600, rest_s=200, tau_relax=10.0, noise_v=1e-5)
    s = analyze_run(synthetic_run(spec)[0]).summary
    eta_int = spec.j * spec.area_m2 * spec.r_int  # the bulk IR drop loads no interface
    assert s["r_bulk_source"] == "current_interrupt"
    assert s["r_bulk_ohm"] == pytest.approx(spec.r_ohm, rel=0.02)
    assert s["max_nernst_stress_Pa"] == pytest.approx(
        overpotential.nernst_stress(eta_int), rel=0.05
    )
    # no interrupts: the switch-on jump from the leading rest gives the bulk resistance
    t = np.arange(0.0, 400.0)
    i = np.where(t < 100, 0.0, 5e-4)
    v = i * 20.0 + i * 30.0 * (1 - np.exp(-np.clip(t - 100, 0, None) / 20.0))
    run = make_run(
        {"electro": pd.DataFrame({"time": t, "voltage": v, "current": i})},
        metadata={"sample": {"area_m2": 1e-4}},
    )
    s2 = analyze_run(run).summary
    assert s2["r_bulk_source"] == "initial_jump"
    assert s2["r_bulk_ohm"] == pytest.approx(20.0, rel=0.01)
    assert s2["max_nernst_stress_Pa"] == pytest.approx(
        overpotential.nernst_stress(5e-4 * 30.0), rel=0.01
    )
