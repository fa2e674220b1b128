"""Run-file throughput, load time and size, against a CSV writer and a raw h5py ceiling.

Prints figures; asserts nothing. Targets (issue 2): >= 1e6 samples/s for batches >= 1000,
within 2x of the raw h5py ceiling and >= 20x a CSV writer; 10 M samples into pandas <= 1 s.

    python bench/bench_runfile.py [--samples 2000000]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from daq.runfile import RunReader, RunWriter

FIELDS = {f"f{i}": "V" for i in range(7)}  # + time = 8 float64 fields


def _data(n: int) -> dict[str, np.ndarray]:
    """Realistic signals: a smooth trace plus 16-bit-quantised noise (as ADCs deliver)."""
    rng = np.random.default_rng(0)
    t = np.arange(n, dtype=float)
    cols = {"time": t}
    for i, f in enumerate(FIELDS):
        noise = np.round(rng.normal(size=n) * 100) / 100
        cols[f] = np.sin(t / (1000.0 * (i + 1))) + 1e-3 * noise
    return cols


def runwriter_rate(path: Path, data: dict[str, np.ndarray], batch: int, compression=None) -> float:
    n = len(data["time"])
    t0 = time.perf_counter()
    with RunWriter(path, {"s": FIELDS}, compression=compression, overwrite=True) as w:
        for i in range(0, n, batch):
            w.append("s", {k: v[i : i + batch] for k, v in data.items()})
    return n / (time.perf_counter() - t0)


def csv_rate(path: Path, data: dict[str, np.ndarray], batch: int) -> float:
    """A plain CSV writer, one row per sample (how PyMeasure's Results store data)."""
    n = len(data["time"])
    keys = list(data)
    t0 = time.perf_counter()
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(keys)
        for i in range(0, n, batch):
            block = np.column_stack([data[k][i : i + batch] for k in keys])
            writer.writerows(block.tolist())
            f.flush()
    return n / (time.perf_counter() - t0)


def raw_h5py_rate(path: Path, data: dict[str, np.ndarray]) -> float:
    """Ceiling: one preallocated dataset per field, each written once."""
    n = len(data["time"])
    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            f.create_dataset(k, data=v)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=2_000_000)
    parser.add_argument("--load-samples", type=int, default=10_000_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ssbench-bench-"))
    data = _data(args.samples)
    ceiling = raw_h5py_rate(tmp / "raw.h5", data)
    print(f"raw h5py, one preallocated write (ceiling): {ceiling:,.0f} samples/s")
    for batch, n in ((1, 50_000), (100, 500_000), (1_000, args.samples), (10_000, args.samples)):
        sub = {k: v[:n] for k, v in data.items()}
        ours = runwriter_rate(tmp / f"b{batch}.h5", sub, batch)
        plain = csv_rate(
            tmp / f"b{batch}.csv", {k: v[: min(n, 200_000)] for k, v in sub.items()}, batch
        )
        print(
            f"batch {batch:>6}: RunWriter {ours:>12,.0f} samples/s  "
            f"({ours / ceiling:5.2f}x ceiling)  CSV {plain:>10,.0f} samples/s  "
            f"RunWriter/CSV {ours / plain:6.1f}x"
        )

    big = _data(args.load_samples)
    path = tmp / "load.h5"
    runwriter_rate(path, big, 100_000)
    t0 = time.perf_counter()
    np.stack(list(big.values()))  # same bytes into fresh memory: this machine's floor
    print(
        f"baseline: copy {args.load_samples:,} x 8 float64 into new memory: {time.perf_counter() - t0:.3f} s"
    )
    del big
    t0 = time.perf_counter()
    with RunReader(path) as run:
        df = run.stream("s")
    load = time.perf_counter() - t0
    print(f"load {len(df):,} samples x {df.shape[1]} fields into pandas: {load:.3f} s")

    million = {k: v[:1_000_000] for k, v in data.items()}
    for compression in (None, "lzf", "gzip"):
        p = tmp / f"size_{compression}.h5"
        rate = runwriter_rate(p, million, 10_000, compression=compression)
        print(
            f"compression {compression!s:>5}: {p.stat().st_size / 1e6:7.2f} MB per million "
            f"8-field samples, {rate:,.0f} samples/s"
        )


if __name__ == "__main__":
    main()
