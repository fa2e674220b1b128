"""The report's impedance section: spectra from the run's impedance stream, figures, table."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from analysis.model import make_run
from analysis.pipeline import analyze_run
from analysis.report import write_report
from analysis.synthetic import SynthSpec, synthetic_run
from sim_instruments.impedance import CellCircuit

BASE = CellCircuit(7.0, 1e-10, 0.0, 1e-9, (20.0, 20.0), (1e-6, 1e-6), 0.9, (0.0, 0.0),
                   (1e-5, 1e-5), 0.0, float("inf"))  # fmt: skip
FREQ = np.logspace(5, -1, 31)


def impedance_stream(r_interface: list[float]) -> pd.DataFrame:
    rows = []
    for sweep, r in enumerate(r_interface):
        z = replace(BASE, r_interface=(r / 2, r / 2)).impedance(FREQ)
        for i, (f, zk) in enumerate(zip(FREQ, z, strict=True)):
            rows.append({"time": 1000.0 * sweep + i, "frequency": f, "z_real": zk.real,
                         "z_imag": zk.imag, "modulus": abs(zk), "phase": np.degrees(np.angle(zk)),
                         "dc_level": 0.0, "step": 2, "cycle": sweep + 1, "sweep": sweep})  # fmt: skip
    return pd.DataFrame(rows)


def test_report_has_spectra_r_interface_and_the_void_signature(tmp_path):
    run, _ = synthetic_run(SynthSpec())
    streams = {**run.streams, "impedance": impedance_stream([40.0, 41.0, 39.0, 70.0])}
    run = make_run(streams, events=run.events, metadata=run.metadata, source="synthetic")
    text = write_report(run, analyze_run(run), tmp_path / "rep").read_text(encoding="utf-8")
    assert "Impedance (4 sweeps)" in text
    assert "void signature: R_interface" in text
    assert "no voltage-based void onset before it" in text  # the synthetic run has none
    assert (tmp_path / "rep" / "figures" / "spectra.png").stat().st_size > 10_000
    assert (tmp_path / "rep" / "figures" / "r_interface.png").exists()
    table = pd.read_csv(tmp_path / "rep" / "impedance.csv")
    np.testing.assert_allclose(table["r_interface_ohm"], [40.0, 41.0, 39.0, 70.0], rtol=1e-3)
    np.testing.assert_allclose(table["r_bulk_ohm"], 7.0, rtol=1e-3)
    assert list(table["cycle"]) == [1, 2, 3, 4]
    peaks = pd.read_csv(tmp_path / "rep" / "drt_peaks.csv")
    assert list(peaks["sweep"]) == [0, 1, 2, 3] and not peaks["outside"].any()  # one arc each
    np.testing.assert_allclose(peaks["r_ohm"], [40.0, 41.0, 39.0, 70.0], rtol=0.05)
    tau = [(r / 2 * 1e-6) ** (1 / 0.9) for r in (40.0, 41.0, 39.0, 70.0)]  # (R Q)^(1/n)
    np.testing.assert_allclose(peaks["tau_s"], tau, rtol=0.1)
    assert (tmp_path / "rep" / "figures" / "drt.png").exists() and "DRT peaks" in text
