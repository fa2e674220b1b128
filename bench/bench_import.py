"""Benchmark of the cycler importers against a plain ``pandas.read_csv`` of the same file.

Writes an Arbin CSV (units in headers) and a Maccor text export (title lines, cp1252) of N rows,
then times ``import_file`` (encoding detection, header search, cut-number scan, unit-aware
column map, counters) and, as the baseline measured in the same run, ``pd.read_csv`` of the same
bytes with the header row given. Prints seconds and the ratio.

Usage: python bench/bench_import.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from analysis.importers.auto import import_file  # noqa: E402


def _files(folder: Path, rows: int) -> dict[str, tuple[Path, dict]]:
    t = np.arange(rows, dtype=float)
    i = np.where((t // 1800) % 2 == 0, 0.5, -0.5)
    v = 3.7 + 0.1 * np.sin(t / 900)
    arbin = pd.DataFrame(
        {"Data_Point": np.arange(rows), "Test_Time(s)": t, "Step_Index": (t // 1800).astype(int),
         "Cycle_Index": (t // 3600).astype(int) + 1, "Current(A)": i, "Voltage(V)": v,
         "Charge_Capacity(Ah)": 0.0, "Discharge_Capacity(Ah)": 0.0}
    )  # fmt: skip
    a = folder / "arbin.csv"
    arbin.to_csv(a, index=False)
    maccor = pd.DataFrame(
        {"Rec#": np.arange(rows), "Cyc#": (t // 3600).astype(int), "Step": (t // 1800).astype(int),
         "Test (Sec)": t, "Amp-hr": 0.0, "Amps": np.abs(i), "Volts": v,
         "State": np.where(i > 0, "C", "D")}
    )  # fmt: skip
    m = folder / "maccor.txt"
    title = "Today's Date\t03/20/2026\nDate of Test:\t03/14/2026\tProcedure:\tx.000\n"
    m.write_bytes((title + maccor.to_csv(index=False, sep="\t")).encode("cp1252"))
    return {"arbin": (a, {"sep": ","}), "maccor": (m, {"sep": "\t", "skiprows": 2})}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm"
        warm.mkdir()
        import_file(_files(warm, 100)["arbin"][0], area_m2=1e-4)  # pint loads once per process
        for name, (path, kw) in _files(Path(tmp), args.rows).items():
            t0 = time.perf_counter()
            pd.read_csv(path, encoding="cp1252", **kw)
            base = time.perf_counter() - t0
            t0 = time.perf_counter()
            run = import_file(path, area_m2=1e-4)
            ours = time.perf_counter() - t0
            print(
                f"{name}: {len(run.electro)} rows, {path.stat().st_size / 1e6:.0f} MB: "
                f"import_file {ours:.2f} s, pandas.read_csv {base:.2f} s (x{ours / base:.1f})"
            )


if __name__ == "__main__":
    main()
