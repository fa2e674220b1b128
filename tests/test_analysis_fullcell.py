"""Full-cell cycling metrics against the twin's ground truth (issue 14 item 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import capacity, fullcell, segment
from sim_instruments import calibration_cells as cc
from sim_instruments import constants as C

NOISE = {"noise_V": C.NOISE_VOLTAGE_V, "noise_I_A": C.NOISE_CURRENT_A,
         "noise_I_relative": C.NOISE_CURRENT_RELATIVE}  # fmt: skip
SAMPLE_S = 10.0


def cycle_twin(cell: str, rates: list[float], **config):
    """CC cycles on the twin; the recorded samples and the true charge of each half cycle."""
    clock, world = cc.new_cell_world(cell, **NOISE, **config)
    nominal = world.truth()["cathode_capacity_C"]
    truth = []
    for rate in rates:
        current = rate * nominal / 3600.0
        for sign, cutoff in ((1, cc.CHARGE_CUTOFF_V), (-1, cc.DISCHARGE_CUTOFF_V)):
            t0 = clock.now()
            half = cc.constant_current(world, clock, sign * current, cutoff, 3 * 3600 / rate,
                                       SAMPLE_S)  # fmt: skip
            truth.append(current * (clock.now() - t0))
            assert half.reached_cutoff or "penetration_after_C_per_m2" in config
            cc.rest(world, clock, 600.0)
    t, v, i, _ = world.electro_samples(0.0, clock.now(), SAMPLE_S)
    electro = pd.DataFrame({"time": t, "voltage": v, "current": i})
    return electro, np.array(truth), nominal, world


def tables(electro):
    steps = segment.step_table(electro, cycle_start="strip")
    cycles = segment.cycle_table(steps, ce_of="discharge/charge")
    return steps, capacity.cathode_cycles(steps, cycles)


def test_capacity_per_cycle_matches_the_ground_truth_within_0p1_percent():
    electro, truth, nominal, world = cycle_twin("full_miec", [0.2, 0.2])
    steps, cycles = tables(electro)
    mass = world.config.cathode_loading_kg_per_m2 * world.config.area_m2
    out = fullcell.capacity_columns(cycles, mass, world.config.area_m2)
    measured = np.column_stack([out["q_charge"], out["q_discharge"]]).ravel()
    np.testing.assert_allclose(measured, truth, rtol=1e-3)
    assert out["q_discharge_mAh_g"].iloc[-1] == pytest.approx(157.0, rel=0.03)
    assert out["q_discharge_mAh_cm2"].iloc[-1] == pytest.approx(truth[-1] / 3.6 / 1.0, rel=1e-3)
    assert out["retention"].iloc[-1] == pytest.approx(truth[-1] / truth[1], rel=1e-3)
    curve = fullcell.dqdv(fullcell.half_cycle(electro, steps, int(cycles["cycle"].iloc[-1]),
                                              "discharge"))  # fmt: skip
    peak = curve["voltage"][curve["dqdv"].idxmax()]
    assert 3.0 < peak < 3.43  # the LFP plateau, shifted down by the discharge polarization
    assert curve["dqdv"].sum() * 0.005 == pytest.approx(truth[-1], rel=0.01)


def test_rate_table_orders_the_capacities():
    electro, truth, nominal, _ = cycle_twin("full_miec", [0.1, 0.2])
    steps, cycles = tables(electro)
    table = fullcell.rate_table(cycles, steps, nominal)
    assert list(table["c_rate"]) == [0.1, 0.2]
    assert table["relative_to_slowest"].iloc[1] < 1.0
    np.testing.assert_allclose(table["q_discharge"], truth[1::2], rtol=1e-3)


def test_rate_table_of_a_cc_cv_rate_test_on_the_twin_falls_with_c_rate():
    """Rate test as labs run it (CC-CV charge, CC discharge) at 0.1-2 C: the analysis finds each
    rate, its capacity against the twin's truth within 0.1 %, falling but > 0 at 1 and 2 C."""
    rates = [0.1, 0.2, 0.5, 1.0, 2.0]
    clock, world = cc.new_cell_world("full_miec", **NOISE)
    nominal = world.truth()["cathode_capacity_C"]
    truth = []
    for rate in rates:
        current = rate * nominal / 3600.0
        cc.constant_current(world, clock, current, cc.CHARGE_CUTOFF_V, 3 * 3600 / rate, SAMPLE_S)
        cc.constant_voltage(world, clock, cc.CHARGE_CUTOFF_V, current, 0.05 * nominal / 3600,
                            3 * 3600 / rate, SAMPLE_S)  # fmt: skip
        cc.rest(world, clock, 600.0)
        t0 = clock.now()
        cc.constant_current(world, clock, -current, cc.DISCHARGE_CUTOFF_V, 3 * 3600 / rate,
                            SAMPLE_S)  # fmt: skip
        truth.append(current * (clock.now() - t0))
        cc.rest(world, clock, 600.0)
    t, v, i, _ = world.electro_samples(0.0, clock.now(), SAMPLE_S)
    steps, cycles = tables(pd.DataFrame({"time": t, "voltage": v, "current": i}))
    mass = world.config.cathode_loading_kg_per_m2 * world.config.area_m2
    cycles = fullcell.capacity_columns(cycles, mass, world.config.area_m2)
    table = fullcell.rate_table(cycles, steps, nominal)
    assert list(table["c_rate"]) == rates
    np.testing.assert_allclose(table["q_discharge"], truth, rtol=1e-3)
    q = table["q_discharge_mAh_g"].to_numpy()
    assert np.all(np.diff(q) < 0) and q[3] > 0.5 * q[0] and q[4] > 0.3 * q[0]


def test_runaway_charge_is_detected_and_a_normal_cycle_is_not():
    electro, _, nominal, _ = cycle_twin("full_miec", [0.2], penetration_after_C_per_m2=3000.0)
    steps, _ = tables(electro)
    found = fullcell.runaway_charges(steps, nominal, cutoff_V=cc.CHARGE_CUTOFF_V)
    assert len(found) == 1 and found["ratio_to_nominal"].iloc[0] > 2.5
    normal, _, _, _ = cycle_twin("full_miec", [0.2])
    assert fullcell.runaway_charges(tables(normal)[0], nominal, cc.CHARGE_CUTOFF_V).empty


def test_pressure_change_per_cycle_and_per_mah():
    steps = pd.DataFrame({"cycle": [1, 1, 2, 2], "start_time": [0.0, 10.0, 20.0, 30.0],
                          "end_time": [10.0, 20.0, 30.0, 40.0]})  # fmt: skip
    cycles = pd.DataFrame({"cycle": [1, 2], "q_charge": [3.6, 7.2]})
    t = np.arange(0.0, 40.0, 1.0)
    pressure = pd.DataFrame({"time": t, "pressure": 1e6 + 1e4 * np.where(t < 20, t, 40 - t)})
    out = fullcell.pressure_per_cycle(cycles, steps, pressure)
    assert out["p_swing"].tolist() == pytest.approx([1.9e5, 1.9e5])
    assert out["p_swing_per_mAh"].tolist() == pytest.approx([1.9e5, 0.95e5])


def run_data(electro, mass_loading: float | None = 0.04):
    from analysis.model import RunData

    cathode = {"active_material": "LiFePO4", "specific_capacity": 612000.0}
    if mass_loading is not None:
        cathode["mass_loading"] = mass_loading
    sample = {"area_m2": 1e-4, "electrodes": "LiFePO4|PEO|Li", "cathode": cathode}
    return RunData({"electro": electro}, metadata={"sample": sample}, source="twin")


def test_the_pipeline_reports_capacity_per_gram_and_the_runaway_charge():
    from analysis.pipeline import AnalysisOptions, analyze_run

    electro, truth, nominal, _ = cycle_twin("full_miec", [0.2], penetration_after_C_per_m2=3000.0)
    result = analyze_run(run_data(electro))
    assert result.summary["runaway_charges"] == 1
    assert any("runaway charge" in w for w in result.warnings)
    normal, truth, _, _ = cycle_twin("full_miec", [0.2])
    summary = analyze_run(run_data(normal)).summary
    assert summary["runaway_charges"] == 0
    assert summary["capacity_discharge_first_mAh_g"] == pytest.approx(
        truth[1] / 3.6 / 4e-3, rel=1e-3
    )
    # an imported file has no recorded mass: the user's --mass gives it
    imported = analyze_run(run_data(normal, None), AnalysisOptions(active_mass_kg=4e-6)).summary
    assert imported["capacity_discharge_first_mAh_g"] == pytest.approx(
        summary["capacity_discharge_first_mAh_g"]
    )


def test_report_figures_of_a_full_cell(tmp_path):
    from analysis.figures import all_figures
    from analysis.pipeline import analyze_run

    electro, _, _, _ = cycle_twin("full_miec", [0.2, 0.2])
    run = run_data(electro)
    t = electro["time"].to_numpy()[::10]
    run.streams["pressure"] = pd.DataFrame({"time": t, "pressure": 1e6 + 10.0 * t})
    made = all_figures(run, analyze_run(run), tmp_path)
    for name in ("cycles", "profiles", "dqdv", "pressure_soc"):
        assert made[name].stat().st_size > 10_000, name


@pytest.mark.parametrize("block", [1, 37, 100_000])
def test_live_cycle_table_is_the_offline_table_cycle_by_cycle(block):
    """The GUI's per-cycle capacities (analysis.cycle_live) are the offline analysis's numbers,
    whatever the blocks the samples arrive in; a cycle appears when the next charge starts."""
    from analysis.cycle_live import LiveCycleTable

    electro, truth, _, world = cycle_twin("full_2d", [0.1, 0.1, 0.1, 0.1])
    steps, cycles = tables(electro)
    mass, area = world.config.cathode_loading_kg_per_m2 * world.config.area_m2, 1e-4
    offline = fullcell.capacity_columns(cycles, mass, area)
    live = LiveCycleTable(mass, area)
    t, v, i = (electro[c].to_numpy() for c in ("time", "voltage", "current"))
    seen = []
    for a in range(0, t.size, block):
        live.add(t[a : a + block], v[a : a + block], i[a : a + block])
        seen.append(len(live.table))
    assert max(seen) == 3  # the last cycle waits for the end of the run
    assert live.finish() == 1
    cols = ["q_charge", "q_discharge", "ce", "energy_efficiency", "polarization",
            "q_charge_mAh_g", "q_discharge_mAh_g", "q_discharge_mAh_cm2", "retention"]  # fmt: skip
    np.testing.assert_allclose(live.table[cols], offline[cols], rtol=1e-9)
    np.testing.assert_allclose(live.table["q_discharge"], truth[1::2], rtol=1e-3)
    assert list(live.table["cycle"]) == [1, 2, 3, 4]
    assert live.unit() == ("_mAh_g", "mAh/g")


def test_the_cycle_table_and_report_carry_c_rates_pressure_per_cycle_and_rate_capability(
    tmp_path,
):
    """Issue 14: the pressure-change-per-cycle/per-mAh and rate-capability tables are part of
    what ssbench analyze writes for a full cell, not only library functions."""
    from analysis.pipeline import analyze_run
    from analysis.report import write_report

    rates = [0.1, 0.2]
    electro, truth, nominal, _ = cycle_twin("full_miec", rates)
    run = run_data(electro)
    t = electro["time"].to_numpy()[::10]
    run.streams["pressure"] = pd.DataFrame({"time": t, "pressure": 1e6 + 10.0 * t})
    res = analyze_run(run)
    cycles = res.cycles
    assert list(cycles["c_rate"]) == rates
    swing = cycles["pressure_swing_Pa"].to_numpy()
    assert swing == pytest.approx(10.0 * (cycles["end_time"] - cycles["start_time"]), rel=0.01)
    per_mah = swing / (cycles["q_charge"].to_numpy() / 3.6)
    assert cycles["pressure_swing_Pa_per_mAh"].to_numpy() == pytest.approx(per_mah)
    assert res.summary["nominal_capacity_C"] == pytest.approx(nominal)
    html = write_report(run, res, tmp_path).read_text()
    assert "<h2>Rate capability</h2>" in html and "relative_to_slowest" in html.replace(" ", "_")
    table = fullcell.rate_table(res.cycles, res.steps, nominal)
    assert table["q_discharge_mAh_g"].to_numpy() == pytest.approx(
        truth[1::2] / 3.6 / 4e-3, rel=1e-3
    )
    assert {"q_discharge_mAh", "q_discharge_mAh_cm2"} <= set(table)
