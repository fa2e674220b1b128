"""The bounded live-plot store and the live per-cycle accumulator (no Qt needed)."""

from __future__ import annotations

import numpy as np
import pytest

from gui.live import LiveData
from gui.tracestore import TraceStore


def _fill(store: TraceStore, t: np.ndarray, v: np.ndarray, chunk: int) -> None:
    for a in range(0, t.size, chunk):
        store.append(t[a : a + chunk], {"v": v[a : a + chunk]})


@pytest.mark.parametrize("chunk", [1, 37, 1000, 100_000])
def test_memory_is_fixed_and_every_spike_survives(chunk):
    store = TraceStore(("v",), raw_capacity=512, blocks=64)
    size = store.nbytes
    t = np.arange(20_000) * 0.1
    v = np.sin(t / 50.0)
    v[2_345], v[17_777] = 9.0, -7.0  # one-sample spikes (a short, a trip)
    _fill(store, t, v, chunk)
    assert store.nbytes == size and len(store) == t.size
    x, y = store.render("v", 0.0, t[-1], 300)
    assert x.size <= 2 * 300
    assert y.max() == 9.0 and y.min() == -7.0
    assert store.time_range() == (0.0, t[-1])
    assert store.last("v") == v[-1]


def test_recent_view_is_raw_and_clipped():
    store = TraceStore(("v",), raw_capacity=1000, blocks=64)
    t = np.arange(5000) * 1.0
    v = np.random.default_rng(1).normal(size=t.size)
    _fill(store, t, v, 333)
    x, y = store.render("v", 4800.0, 4899.0, 1000)  # fewer samples than pixels: exact
    np.testing.assert_array_equal(x, t[4800:4900])
    np.testing.assert_array_equal(y, v[4800:4900])
    x, y = store.render("v", 4500.0, 4999.0, 50)  # more: one min and max per column
    assert x.size <= 100 and x.min() >= 4500.0
    assert y.max() == v[4500:].max() and y.min() == v[4500:].min()


def test_old_view_comes_from_the_envelope():
    store = TraceStore(("v",), raw_capacity=100, blocks=16)
    t = np.arange(10_000) * 1.0
    v = (t % 1000) / 1000.0
    _fill(store, t, v, 250)
    x, y = store.render("v", 0.0, 2000.0, 400)
    assert 0 < x.size <= 800 and x.max() <= 2000.0 + store.block
    assert y.min() == 0.0 and y.max() == pytest.approx(0.999)


def test_cycles_by_current_sign_ce_and_capacity_curves():
    area, rate, half, j = 1e-4, 10.0, 60.0, 2.0  # 0.2 mA/cm² = 2 A/m²
    n = int(half * rate)
    parts_v, parts_i = [], []
    for cycle in range(3):
        loss = 0.98 if cycle == 2 else 1.0  # cycle 3 strips 2 % less
        for sign, eta, scale in ((1, 0.05, loss), (0, 0.0, 0.0), (-1, 0.06, 1.0)):
            parts_v.append(np.full(n, sign * eta))
            current = np.full(n, sign * j * area * scale)
            if sign == 0:
                current[:] = 3e-10  # open-circuit leakage: not a half cycle
            parts_i.append(current)
    v, i = np.concatenate(parts_v), np.concatenate(parts_i)
    t = np.arange(v.size) / rate
    data = LiveData(area)
    for a in range(0, t.size, 77):  # blocks straddle the half-cycle boundaries
        data.add_samples("electro", {"time": t[a : a + 77], "voltage": v[a : a + 77],
                                     "current": i[a : a + 77], "step": a // n})  # fmt: skip
    data.finish()
    table = data.cycles.table()
    np.testing.assert_array_equal(table["cycle"], [1, 2, 3])
    np.testing.assert_allclose(table["ce"], [1.0, 1.0, 0.98], rtol=1e-9)
    np.testing.assert_allclose(table["eta_strip"], 0.05)
    np.testing.assert_allclose(table["eta_plate"], 0.06)
    cycle, kind, cap, _ = data.cycles.curves[-1]
    assert (cycle, kind) == (3, "plate")
    assert cap[-1] == pytest.approx(j * half)  # C/m²


def test_markers_for_trips_voids_and_shorts():
    data = LiveData(1e-4)
    data.add_event(5.0, "limit_trip", "V above 1.5 V", {})
    data.add_event(6.0, "detector", "void", {"event": "void_onset"})
    data.add_event(7.0, "detector", "short", {"event": "hard_short"})
    data.add_event(8.0, "retry", "timeout", {})
    assert [m.kind for m in data.markers] == ["trip", "void_onset", "short"]
