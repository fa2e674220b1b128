"""How a run ended: recorded outcomes, shorts in the last seconds, aborts, truncated cycles."""

import numpy as np
import pytest

from analysis.load import load_run
from analysis.pipeline import analyze_run
from analysis.synthetic import SynthSpec, synthetic_run
from daq.runfile import RunWriter

RAMP = [0.5, 1.0, 2.0, 4.0, 8.0]  # A/m², one cycle per level, plate first, 600 s halves
SHORT_T = 4 * 2 * 600 + 300.0  # in the J = 8 plating step


def _write(tmp_path, electro, events=(), status="success", name="run.h5"):
    """A run file as the engine writes it: electro stream, sample, events, exit status."""
    path = tmp_path / name
    fields = {"voltage": "V", "current": "A", "current_density": "A/m2", "step": "", "cycle": ""}
    with RunWriter(path, {"electro": fields}, sample={"area_m2": 1e-4, "electrolyte": "LLZO"}) as w:
        w.append("electro", {k: electro[k].to_numpy() for k in ("time", *fields)})
        for time, kind, data in events:
            w.event(time, kind, kind, data=data)
        w.close(status)
    return path


def _ramp(end_s, **kw):
    run, _ = synthetic_run(SynthSpec(j=RAMP, half_s=600, **kw))
    e = run.electro
    return e[e["time"] <= end_s]


def test_recorded_outcome_and_short_in_last_seconds_give_live_ccd(tmp_path):
    electro = _ramp(SHORT_T + 8.0, short_time=SHORT_T)
    outcome = {"result": "ccd_failure", "failure_mode": "short", "j_crit": 8.0}
    with_outcome = _write(tmp_path, electro, [(SHORT_T + 8.0, "outcome", outcome)], name="a.h5")
    res = analyze_run(load_run(with_outcome))
    assert res.ccd["failure_mode"] == "short"
    assert res.ccd["j_crit"] == pytest.approx(8.0)
    assert res.ccd["j_last_pass"] == pytest.approx(4.0)
    # without the recorded outcome the detector must still see the collapse at the very end
    plain = analyze_run(load_run(_write(tmp_path, electro, name="b.h5")))
    assert plain.summary["hard_short_time"] == pytest.approx(SHORT_T, abs=2.0)
    assert plain.ccd["failure_mode"] == "short"
    assert plain.ccd["j_crit"] == pytest.approx(8.0)


def test_aborted_ramp_is_not_reached_and_truncated_cycle_is_excluded(tmp_path):
    abort_t = 2 * 2 * 600 + 100.0  # 100 s into the J = 2 plating step
    electro = _ramp(abort_t, noise_v=1e-5).copy()
    last = electro["time"] > abort_t - 30  # a cut step ends at its max |V|, like a limit
    electro.loc[last, "voltage"] *= 1.5
    path = _write(tmp_path, electro, [(abort_t, "abort", {})], status="aborted")
    res = analyze_run(load_run(path))
    assert res.ccd["failure_mode"] == "aborted"
    assert np.isnan(res.ccd["j_crit"])
    assert res.ccd["j_last_pass"] == pytest.approx(1.0)
    assert list(res.cycles["complete"]) == [True, True, False]
    assert res.summary["n_incomplete_cycles"] == 1


def test_truncated_last_half_cycle_is_left_out_of_ce(tmp_path):
    run, _ = synthetic_run(SynthSpec(n_cycles=4, half_s=600, ce=0.98))
    e = run.electro
    end = 3 * 2 * 600 + 600 + 0.3 * 600 * 0.98  # a third of the last strip, then the run died
    path = _write(tmp_path, e[e["time"] <= end], status="interrupted")
    s = analyze_run(load_run(path)).summary
    assert s["ce_mean"] == pytest.approx(0.98, abs=2e-3)
    assert s["ce_cumulative"] == pytest.approx(0.98**3, abs=5e-3)
    assert s["li_loss_C"] > 0
    assert s["n_incomplete_cycles"] == 1
    # a plating half ended early (e.g. by a limit) is caught by its charge alone
    t6 = e.loc[e["step"] == 6, "time"].min()
    cut = e[(e["step"] != 6) | (e["time"] < t6 + 60)].copy()
    cut.loc[cut["step"] > 6, "time"] -= 540.0
    s2 = analyze_run(load_run(_write(tmp_path, cut, name="c.h5"))).summary
    assert s2["ce_mean"] == pytest.approx(0.98, abs=2e-3)
    assert s2["n_incomplete_cycles"] == 1


def test_soft_short_onset_reported_beside_j_crit(tmp_path):
    from analysis.report import write_report

    run, _ = synthetic_run(
        SynthSpec(j=RAMP, half_s=600, noise_v=1e-5, soft_times=[2 * 2 * 600 + 300.0],
                  short_time=SHORT_T)
    )  # fmt: skip
    res = analyze_run(run)
    assert res.ccd["j_soft_onset"] == pytest.approx(2.0)
    assert res.ccd["j_crit"] == pytest.approx(8.0)
    assert res.summary["ccd_j_soft_onset"] == pytest.approx(2.0)
    text = write_report(run, res, tmp_path / "rep").read_text(encoding="utf-8")
    assert "first soft short at J = 0.2 mA cm⁻²" in text
    assert "J_crit = 0.8 mA cm⁻² (failure mode: short)" in text
