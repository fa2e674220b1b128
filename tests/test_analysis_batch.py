"""Batch re-analysis: folders, parallel workers, bad files, summary CSV/Parquet, reports, Dask."""

import sys

import numpy as np
import pandas as pd
import pytest

from analysis.batch import run_batch
from analysis.errors import AnalysisError
from analysis.export import write_run
from analysis.synthetic import SynthSpec, synthetic_run


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    (root / "sub").mkdir()
    specs = {
        "plain": SynthSpec(n_cycles=4, half_s=1800, rest_s=60, pressure_pa=5e6),
        "void": SynthSpec(n_cycles=4, half_s=3600, void_step=3, void_after_s=1500),
        "sub/short": SynthSpec(
            n_cycles=4, half_s=1800, short_time=2 * 3600 + 900, j=[1.0, 2.0, 4.0, 8.0]
        ),
    }
    truths = {}
    for name, spec in specs.items():
        run, truths[name] = synthetic_run(spec)
        write_run(run, root / f"{name}.h5")
    (root / "broken.h5").write_text("not hdf5")
    (root / "notes.txt").write_text("ignored in folders")
    return root, truths


def test_batch_over_folder_in_two_processes(archive, tmp_path):
    root, truths = archive
    table = run_batch([root], tmp_path / "out", jobs=2)
    assert len(table) == 4
    by = table.set_index(table["file"].str.extract(r"([^/]+)\.h5$")[0])
    assert (
        by.loc["broken", "status"] == "error" and "not a readable HDF5" in by.loc["broken", "error"]
    )
    assert (by.drop(index="broken")["status"] == "ok").all()
    assert by.loc["void", "void_onset_time"] == pytest.approx(truths["void"]["void_time"], abs=300)
    assert by.loc["short", "hard_short_time"] == pytest.approx(
        truths["sub/short"]["short_time"], abs=2
    )
    assert by.loc["short", "ccd_failure_mode"] == "short"
    assert by.loc["short", "ccd_j_crit"] == pytest.approx(4.0)
    parquet = pd.read_parquet(tmp_path / "out" / "summary.parquet")
    assert len(parquet) == 4 and np.isfinite(parquet["n_cycles"].dropna()).all()
    report = tmp_path / "out" / "runs" / "void" / "report.html"
    html = report.read_text()
    assert "figures/voltage.png" in html and "figures/void_onset.png" in html
    assert (tmp_path / "out" / "runs" / "short" / "figures" / "ccd.png").stat().st_size > 1000
    assert (tmp_path / "out" / "runs" / "plain" / "figures" / "pressure.png").exists()


def test_no_runs_and_missing_path(tmp_path):
    with pytest.raises(AnalysisError, match="no run files"):
        run_batch([tmp_path], tmp_path / "o")
    with pytest.raises(AnalysisError, match="no such file"):
        run_batch([tmp_path / "missing"], tmp_path / "o")


def test_scheduler_without_dask_says_so(archive, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(AnalysisError, match="Dask, which is not installed"):
        run_batch([archive[0] / "plain.h5"], tmp_path / "o", scheduler="tcp://127.0.0.1:1")


def test_dask_scheduler_runs_the_same_work(archive, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        table = run_batch(
            [archive[0] / "plain.h5"],
            tmp_path / "o",
            scheduler=cluster.scheduler_address,
            report=False,
        )
    assert list(table["status"]) == ["ok"] and table["n_cycles"].iat[0] == 4


def test_analyze_cli_exit_codes(archive, tmp_path, capsys):
    from daq.cli import main

    root, _ = archive
    assert (
        main(
            [
                "analyze",
                str(root / "plain.h5"),
                "-o",
                str(tmp_path / "a"),
                "--no-report",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    assert main(["analyze", str(root / "broken.h5"), "-o", str(tmp_path / "b"), "--jobs", "1"]) == 1
    assert "failed: " in capsys.readouterr().out


def test_summary_counts_are_integers_units_listed_and_float_noise_rounded(archive, tmp_path):
    from analysis.columns import tidy, unit_of

    root, _ = archive
    run_batch([root], tmp_path / "out", jobs=1, report=False)
    text = (tmp_path / "out" / "summary.csv").read_text().splitlines()
    header = text[0].split(",")
    col = header.index("n_cycles")
    assert {line.split(",")[col] for line in text[1:]} <= {"", *map(str, range(1000))}
    units = pd.read_csv(tmp_path / "out" / "summary_units.csv").set_index("column")["unit"]
    assert units["ccd_j_crit_mA_cm2"] == "mA cm⁻²" and units["eta_plate_median_mV"] == "mV"
    assert units["asr_plate_median_ohm_cm2"] == "Ω cm²" and units["duration_h"] == "h"
    assert units["li_loss_mAh_cm2"] == "mAh cm⁻²" and units["li_loss_um"] == "µm"
    shown = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert shown["ccd_j_crit_mA_cm2"].max() == pytest.approx(0.4)  # 4 A/m² in the SI table
    run_batch([root], tmp_path / "si", jobs=1, report=False, si=True)
    units = pd.read_csv(tmp_path / "si" / "summary_units.csv").set_index("column")["unit"]
    assert units["ccd_j_crit"] == "A/m2" and units["eta_plate_median"] == "V"
    assert units["asr_plate_median"] == "ohm m2" and units["duration_s"] == "s"
    assert units["li_loss_C_m2"] == "C/m2" and unit_of("front_speed_plating_px_s") == "px/s"
    noisy = tidy(pd.DataFrame({"ccd_j_crit": [44.99999999998], "n_cycles": [3.0]}))
    assert noisy.to_csv(index=False).splitlines()[1] == "45.0,3"
