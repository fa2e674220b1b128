"""Live-plot frame time at 1 M and 10 M samples, and memory over a long run, against baselines.

Frame = one redraw of the live plot grid: "data" is ``LivePlots.refresh`` (query the stores,
hand the curves their points), "data + paint" adds a full software paint of the whole grid via
``grab`` (offscreen, 1400x900; on screen Qt repaints only what changed). Compared in the same run, on the same widget (same paint cost), with
  * naive: the V and J curves given every sample with ``setData`` (no downsampling), and
  * pyqtgraph's own ``autoDownsample`` + ``clipToView`` on those full arrays.
Memory: RSS while a simulated run of ``--long`` samples streams through the GUI's data path
(``LiveData.add_samples`` in engine-sized blocks), against keeping every sample (what a plain
growing array costs). Target: frame <= 50 ms at 10 M samples; memory bounded.

    QT_QPA_PLATFORM=offscreen python bench/bench_gui.py [--sizes 1e6 1e7] [--long 3e7]
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.live import LiveData  # noqa: E402
from gui.plots import LivePlots  # noqa: E402

AREA = 1e-4
RATE = 10.0
WIDTH, HEIGHT = 1400, 900


def synthetic(n: int, start: int = 0) -> dict[str, np.ndarray]:
    """Galvanostatic cycling at 10 Hz: 30-min half cycles, a slow drift, noise, a rare spike."""
    k = np.arange(start, start + n)
    t = k / RATE
    half = (k // int(1800 * RATE)) % 2
    i = np.where(half == 0, 2e-5, -2e-5)
    rng = np.random.default_rng(start)
    v = np.where(half == 0, 0.05, -0.05) * (1 + t / 3e6) + rng.normal(0, 2e-4, n)
    v[k % 1_000_003 == 0] = 1.2
    return {"time": t, "voltage": v, "current": i, "step": k // int(1800 * RATE)}


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def median_ms(fn, repeat: int = 7) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def live_plots(data: LiveData) -> LivePlots:
    plots = LivePlots()
    plots.timer.stop()
    plots.resize(WIDTH, HEIGHT)
    plots.set_streams(("electro",))
    plots.set_data(data)
    plots.show()
    return plots


def frame_times(n: int) -> dict[str, float]:
    """Frame time (ms) of the GUI plots and the two baselines with ``n`` samples."""
    block = synthetic(n)
    data = LiveData(AREA)
    chunk = 1 << 20
    for a in range(0, n, chunk):
        data.add_samples("electro", {k: v[a : a + chunk] for k, v in block.items()})
    plots = live_plots(data)
    QApplication.processEvents()

    def prepare() -> None:
        plots.refresh(force=True)

    def redraw() -> None:
        plots.refresh(force=True)
        plots.grab()

    out = {
        "gui full view: data": median_ms(prepare),
        "gui full view: data + paint": median_ms(redraw),
    }
    vb = plots.time_plots[("electro", "voltage")].getViewBox()
    span = block["time"][-1] / 3600
    vb.setXRange(0.9 * span, span, padding=0)
    out["gui zoomed (last 10 %): data"] = median_ms(prepare)
    out["gui zoomed (last 10 %): data + paint"] = median_ms(redraw)
    vb.enableAutoRange()
    state = {"start": n}

    def live_frame() -> None:  # append one engine tick, then redraw: the live case
        blk = synthetic(10, state["start"])
        state["start"] += 10
        data.add_samples("electro", blk)
        redraw()

    out["gui live (append 1 tick + data + paint)"] = median_ms(live_frame)

    # baselines on the same widget (same paint cost): every sample handed to the V and J curves
    x = block["time"] / 3600
    full = {"voltage": block["voltage"], "current_density": block["current"] / AREA * 0.1}
    curves = {ch: plots.curves[("electro", ch)] for ch in full}

    def naive_data() -> None:
        for ch, curve in curves.items():
            curve.setData(x, full[ch])

    def naive_frame() -> None:
        naive_data()
        plots.grab()

    out["naive setData (all samples): data"] = median_ms(naive_data, repeat=3)
    out["naive setData (all samples): data + paint"] = median_ms(naive_frame, repeat=3)
    for curve in curves.values():
        curve.setDownsampling(auto=True, method="peak")
        curve.setClipToView(True)
    out["pyqtgraph autoDownsample+clip: data + paint"] = median_ms(naive_frame, repeat=3)
    plots.close()
    QApplication.processEvents()
    return out


def memory(long: int, naive: bool = False, chunk: int = 1000) -> list[tuple[int, float, float]]:
    """Live allocations (tracemalloc, MB) and RSS growth (MB) after every tenth of a
    ``long``-sample run streamed through LiveData in engine-sized blocks (``naive``: kept in
    a growing list of blocks instead, as a plot fed with every sample must)."""
    tracemalloc.start()
    base_rss = rss_mb()
    data = LiveData(AREA)
    kept: list[dict[str, np.ndarray]] = []
    marks, step = [], max(long // 10, chunk)
    done = 0
    while done < long:
        block = synthetic(chunk, done)
        if naive:
            kept.append(block)
        else:
            data.add_samples("electro", block)
        done += chunk
        if done % step < chunk:
            marks.append((done, tracemalloc.get_traced_memory()[0] / 1e6, rss_mb() - base_rss))
    tracemalloc.stop()
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    parser.add_argument("--long", type=float, default=2e7, help="samples in the memory run")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    app.processEvents()
    n = int(args.long)
    print(f"memory over a {n:,d}-sample run (every sample kept as t, V, I, J float64 would be "
          f"{n * 4 * 8 / 1e6:,.0f} MB)")  # fmt: skip
    print(f"  LiveData arrays: {LiveData(AREA).nbytes / 1e6:.1f} MB, fixed at construction")
    for done, live_mb, rss in memory(n):
        print(f"  after {done:>12,d}: live allocations {live_mb:7.1f} MB, RSS +{rss:7.1f} MB")
    short = min(n, 5_000_000)
    print(f"naive baseline in the same run: every block kept ({short:,d} samples)")
    for done, live_mb, rss in memory(short, naive=True):
        print(f"  after {done:>12,d}: live allocations {live_mb:7.1f} MB, RSS +{rss:7.1f} MB")
    print(f"frame time (median ms, {WIDTH}x{HEIGHT} offscreen; target <= 50 ms)")
    for n in (int(s) for s in args.sizes):
        results = frame_times(n)
        print(f"  {n:>11,d} samples:")
        for name, ms in results.items():
            print(f"    {name:<46s} {ms:9.1f} ms")


if __name__ == "__main__":
    main()
