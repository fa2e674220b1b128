"""Anode-free (Li|Cu) cells on the simulator: the Li-depletion end of each strip is no void."""

from pathlib import Path

import pandas as pd
import pytest

from analysis.live import strip_sign_for
from analysis.load import load_run
from analysis.pipeline import analyze_run
from daq.cli import main

ROOT = Path(__file__).resolve().parents[1]

PROTOCOL = """\
name: anode-free CE, electrodes not stated
sample: {area: 1 cm2, electrolyte: LLZO}
sampling: {rate: 2 Hz}
limits: {voltage: {min: -1 V, max: 1.5 V}, current_density: 2 mA/cm2}
steps:
  - {type: set_pressure, pressure: 5 MPa, timeout: 10 min}
  - {type: ce_cutoff, current_density: 0.5 mA/cm2, plate_capacity: 0.02 mAh/cm2, cutoff: 1 V,
     cycles: 2, rest: 5 s}
"""


@pytest.mark.parametrize("electrodes", ["Li|LLZO|Cu", "Li/LLZO/Cu", "Li-LLZO-Cu", "anode-free"])
def test_li_cu_spellings_watch_only_the_li_counter_electrode(electrodes):
    assert strip_sign_for({"electrodes": electrodes}) == -1
    assert strip_sign_for({"electrodes": "Li|LLZO|Li"}) == 1  # WE strips only in Li|SE|Li


def test_no_void_call_at_the_end_of_anode_free_strips(tmp_path):
    station = tmp_path / "anode_free.yaml"
    text = (ROOT / "examples" / "stations" / "sim.yaml").read_text(encoding="utf-8")
    station.write_text(text.replace("  seed: 1\n", "  seed: 1\n  cell: anode_free\n"))
    proto = tmp_path / "ce.yaml"
    proto.write_text(PROTOCOL)
    runs = tmp_path / "runs"
    assert main(["run", str(proto), "--station", str(station), "--sim", "--out", str(runs),
                 "--quiet"]) == 0  # fmt: skip
    (path,) = runs.glob("*.h5")
    run = load_run(path)
    res = analyze_run(run)  # the cell type comes from the simulated station
    assert res.summary["n_void_onsets"] == 0
    assert res.summary["n_cycles"] == 2
    out = tmp_path / "an"
    assert main(["analyze", str(runs), "-o", str(out), "--jobs", "1", "--no-report"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary["n_void_onsets"].tolist() == [0]
    run.metadata["station"] = {}  # a real station: the cell type is inferred from the data
    res = analyze_run(run)
    assert res.summary["n_void_onsets"] == 0
    assert any("anode-free" in w for w in res.warnings)
