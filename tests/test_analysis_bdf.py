"""Battery Data Format: export -> import gives the same analysis; labels, sidecar, CLI."""

import json

import cycler_files as cf
import numpy as np
import pandas as pd
import pytest

from analysis import bdf
from analysis.export import write_run
from analysis.importers.auto import detect_format, import_file
from analysis.load import load_run
from analysis.pipeline import analyze_run
from analysis.synthetic import SynthSpec, synthetic_run

#: Summary fields about where the data came from (the BDF file carries capacity counters).
ORIGIN = {"source", "cell_type_reason", "n_warnings", "counter_max_deviation"}


def _same_analysis(a, b):
    sa = {k: v for k, v in a.summary.items() if k not in ORIGIN}
    sb = {k: v for k, v in b.summary.items() if k not in ORIGIN}
    assert sa.keys() == sb.keys()
    for k in sa:
        if isinstance(sa[k], float):  # pressure is resampled onto BDF's one clock
            tol = (1e-3, 0.01) if "pressure" in k else (1e-9, 1e-12)
            assert sb[k] == pytest.approx(sa[k], rel=tol[0], abs=tol[1], nan_ok=True), k
        else:
            assert sb[k] == sa[k], k
    cols = ["type", "cycle", "n_samples", "charge", "start_time", "end_time"]
    pd.testing.assert_frame_equal(a.steps[cols], b.steps[cols], rtol=1e-9)
    pd.testing.assert_frame_equal(a.cycles, b.cycles, rtol=1e-9)


@pytest.mark.parametrize("suffix", [".bdf.csv", ".bdf.parquet"])
def test_li_metal_run_round_trips_through_bdf(tmp_path, suffix):
    run, _ = synthetic_run(SynthSpec(n_cycles=3, half_s=1200, rest_s=60, pressure_pa=5e6))
    h5 = write_run(run, tmp_path / "cell.h5")
    original = load_run(h5)
    out, side = bdf.write_bdf(
        original, tmp_path / f"cell{suffix}", steps=analyze_run(original).steps
    )
    assert detect_format(out) == "bdf"
    back = import_file(out, area_m2=None)  # the area comes from the sidecar
    assert back.area_m2 == pytest.approx(original.area_m2)
    _same_analysis(analyze_run(original), analyze_run(back))
    np.testing.assert_allclose(back.streams["pressure"]["pressure"].iloc[::50], 5e6, rtol=0.05)


def test_cathode_export_has_the_bda_labels_and_metadata(tmp_path):
    run = import_file(cf.arbin_csv(tmp_path), area_m2=1e-4, sample={"name": "cell 7"})
    res = analyze_run(run)
    out, side = bdf.write_bdf(run, tmp_path / "c.bdf.csv", steps=res.steps)  # no spectra
    frame = pd.read_csv(out)
    labels = {"Test Time / s", "Voltage / V", "Current / A", "Step Count / 1", "Unix Time / s"}
    assert labels <= set(frame.columns)
    assert frame["Unix Time / s"].iat[0] == pytest.approx(
        pd.Timestamp(cf.START).timestamp() + 10.0  # first sample 10 s into the test
    )
    assert {"Cycle Count / 1", "Charging Capacity / Ah", "Discharging Capacity / Ah"} <= set(frame)
    last = frame.iloc[-1]
    assert last["Charging Capacity / Ah"] == pytest.approx(
        3 * cf.I_A * cf.CHARGE_S / 3600, rel=0.01
    )
    meta = json.loads(side.read_text())
    assert meta["sample"]["name"] == "cell 7" and meta["sample"]["area_m2"] == 1e-4
    _same_analysis(res, analyze_run(import_file(out, area_m2=None)))


def test_export_cli_writes_bdf_and_tables(tmp_path, capsys):
    from daq.cli import main

    run, _ = synthetic_run(SynthSpec(n_cycles=2, half_s=600, rest_s=60))
    h5 = write_run(run, tmp_path / "r.h5")
    assert main(["export", str(h5), "--format", "bdf"]) == 0
    assert (tmp_path / "r.bdf.csv").is_file() and (tmp_path / "r.bdf.csv.metadata.json").is_file()
    assert main(["export", str(h5), "--format", "bdf"]) == 2  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["export", str(h5), "--format", "tables-csv"]) == 0
    cycles = pd.read_csv(tmp_path / "r_cycles.csv")
    assert {"q_plate_mAh", "q_strip_mAh", "ce_pct"} <= set(cycles.columns)
    assert main(["export", str(h5), "--format", "tables-xlsx", "-o", str(tmp_path / "t.xlsx")]) == 0
    assert set(pd.read_excel(tmp_path / "t.xlsx", sheet_name=None)) == {"steps", "cycles"}


def test_impedance_spectra_round_trip_with_bda_labels(tmp_path):
    run, _ = synthetic_run(SynthSpec(n_cycles=2, half_s=600, rest_s=60))
    f = np.logspace(6, -1, 15)
    z = 50 + 200 / (1 + 1j * f / 1e3)
    sweeps = pd.concat(
        [
            pd.DataFrame(
                {
                    "time": t0 + np.arange(f.size),
                    "frequency": f,
                    "z_real": z.real,
                    "z_imag": z.imag,
                    "modulus": np.abs(z),
                    "phase": np.degrees(np.angle(z)),
                    "sweep": k + 1,
                }
            )  # fmt: skip
            for k, t0 in enumerate((10.0, 1500.0))
        ],
        ignore_index=True,
    )
    run.streams["impedance"] = sweeps
    paths = bdf.write_bdf(run, tmp_path / "e.bdf.csv")
    assert [p.name for p in paths] == [
        "e.bdf.csv",
        "e.bdf.csv.metadata.json",
        "e.impedance.bdf.csv",
    ]
    labels = pd.read_csv(paths[2]).columns
    assert {"Frequency / Hz", "Real Impedance / ohm", "Imaginary Impedance / ohm"} <= set(labels)
    back = import_file(paths[0], area_m2=None).streams["impedance"]
    pd.testing.assert_frame_equal(back[sweeps.columns], sweeps, check_dtype=False)
