"""Bounded-memory store of a growing time series and its min/max rendering per screen pixel.

A run of weeks at 10 Hz is 10 M+ samples per channel; plotting them all is slow and keeping
them all grows without bound. The store keeps the most recent ``raw_capacity`` samples at
full resolution in a ring, and the whole history as a min/max envelope of at most
``blocks`` blocks: when the envelope is full, neighbouring blocks merge pairwise and the block
length doubles. :meth:`TraceStore.render` clips to the visible time range and reduces to one
min and one max per pixel column, so a frame costs O(visible points in the best source) and
never loses a spike (a short shows even when it lasted one sample).
"""

from __future__ import annotations

import numpy as np

RAW_CAPACITY = 1 << 19
BLOCKS = 1 << 15


class TraceStore:
    """Time + named channels; samples must arrive in time order (the run clock is monotonic)."""

    def __init__(
        self, channels: tuple[str, ...], raw_capacity: int = RAW_CAPACITY, blocks: int = BLOCKS
    ) -> None:
        if raw_capacity < 2 or blocks < 4 or blocks % 2:
            raise ValueError("raw_capacity >= 2 and an even blocks >= 4 are required")
        self.channels = tuple(channels)
        self.raw_capacity = raw_capacity
        self.total = 0  # samples ever appended
        self._t = np.empty(raw_capacity)
        self._y = {c: np.empty(raw_capacity) for c in self.channels}
        self._head = 0  # ring write position
        self._filled = 0
        self.block = 1  # samples per envelope block
        self._nblocks = 0
        self._bt = np.empty((blocks, 2))  # first and last time of each block
        self._bmin = {c: np.empty(blocks) for c in self.channels}
        self._bmax = {c: np.empty(blocks) for c in self.channels}
        self._pending = 0  # samples in the open (not yet full) block
        self._pt = np.empty(2)
        self._pmin = dict.fromkeys(self.channels, np.inf)
        self._pmax = dict.fromkeys(self.channels, -np.inf)

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (fixed at construction: the store never grows)."""
        ring = self._t.nbytes + sum(a.nbytes for a in self._y.values())
        env = self._bt.nbytes + sum(a.nbytes for a in (*self._bmin.values(), *self._bmax.values()))
        return ring + env

    def __len__(self) -> int:
        return self.total

    def append(self, t: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """Add samples (``t`` ascending; one array per channel, same length as ``t``)."""
        t = np.asarray(t, dtype=float).ravel()
        n = t.size
        if n == 0:
            return
        ys = {c: np.broadcast_to(np.asarray(values[c], dtype=float), (n,)) for c in self.channels}
        self._append_ring(t, ys)
        self._append_envelope(t, ys)
        self.total += n

    def _append_ring(self, t: np.ndarray, ys: dict[str, np.ndarray]) -> None:
        cap = self.raw_capacity
        if t.size >= cap:
            t, ys = t[-cap:], {c: y[-cap:] for c, y in ys.items()}
        n = t.size
        first = min(n, cap - self._head)
        for dst, src in ((self._t, t), *((self._y[c], ys[c]) for c in self.channels)):
            dst[self._head : self._head + first] = src[:first]
            dst[: n - first] = src[first:]
        self._head = (self._head + n) % cap
        self._filled = min(self._filled + n, cap)

    def _append_envelope(self, t: np.ndarray, ys: dict[str, np.ndarray]) -> None:
        i, n, cap = 0, t.size, self._bt.shape[0]
        while i < n:
            if self._pending or n - i < self.block:
                take = min(self.block - self._pending, n - i)
                self._fill_open(t[i : i + take], {c: y[i : i + take] for c, y in ys.items()})
                i += take
                if self._pending == self.block:
                    self._close_block()
                continue
            if self._nblocks == cap:
                self._merge_pairs()
                continue
            b = self.block
            m = min((n - i) // b, cap - self._nblocks)
            k, seg = self._nblocks, slice(i, i + m * b)
            self._bt[k : k + m, 0] = t[i : i + m * b : b]
            self._bt[k : k + m, 1] = t[i + b - 1 : i + m * b : b]
            for c in self.channels:
                blocks = ys[c][seg].reshape(m, b)
                self._bmin[c][k : k + m] = blocks.min(axis=1)
                self._bmax[c][k : k + m] = blocks.max(axis=1)
            self._nblocks += m
            i += m * b

    def _fill_open(self, t: np.ndarray, ys: dict[str, np.ndarray]) -> None:
        """Add samples to the open block (never more than it still takes)."""
        if self._pending == 0:
            self._pt[0] = t[0]
        self._pt[1] = t[-1]
        for c in self.channels:
            self._pmin[c] = min(self._pmin[c], float(np.min(ys[c])))
            self._pmax[c] = max(self._pmax[c], float(np.max(ys[c])))
        self._pending += t.size

    def _close_block(self) -> None:
        if self._nblocks == self._bt.shape[0]:
            self._merge_pairs()
            # the open block is as long as the old block; it keeps filling to the new length
            if self._pending < self.block:
                return
        k = self._nblocks
        self._bt[k] = self._pt
        for c in self.channels:
            self._bmin[c][k], self._bmax[c][k] = self._pmin[c], self._pmax[c]
            self._pmin[c], self._pmax[c] = np.inf, -np.inf
        self._nblocks += 1
        self._pending = 0

    def _merge_pairs(self) -> None:
        half = self._nblocks // 2
        self._bt[:half, 0] = self._bt[0 : 2 * half : 2, 0]
        self._bt[:half, 1] = self._bt[1 : 2 * half : 2, 1]
        for c in self.channels:
            lo, hi = self._bmin[c], self._bmax[c]
            lo[:half] = np.minimum(lo[0 : 2 * half : 2], lo[1 : 2 * half : 2])
            hi[:half] = np.maximum(hi[0 : 2 * half : 2], hi[1 : 2 * half : 2])
        self._nblocks = half
        self.block *= 2

    # -- reading -----------------------------------------------------------------------------
    def raw(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The full-resolution samples still in the ring, oldest first (copies)."""
        n, cap = self._filled, self.raw_capacity
        start = (self._head - n) % cap
        idx = (start + np.arange(n)) % cap
        return self._t[idx], {c: y[idx] for c, y in self._y.items()}

    def time_range(self) -> tuple[float, float] | None:
        """First and last sample time, or None when empty."""
        if self.total == 0:
            return None
        first = self._bt[0, 0] if self._nblocks else self._pt[0]
        return float(first), float(self._t[(self._head - 1) % self.raw_capacity])

    def last(self, channel: str) -> float:
        """The most recent value of ``channel`` (NaN when empty)."""
        if self.total == 0:
            return float("nan")
        return float(self._y[channel][(self._head - 1) % self.raw_capacity])

    def _ring_slice(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Ring indices (as two contiguous pieces, time order) with t0 <= t <= t1."""
        n, cap = self._filled, self.raw_capacity
        start = (self._head - n) % cap
        pieces = [(start, min(start + n, cap)), (0, max(start + n - cap, 0))]
        out = []
        for a, b in pieces:
            seg = self._t[a:b]
            lo, hi = np.searchsorted(seg, t0, "left"), np.searchsorted(seg, t1, "right")
            out.append(np.arange(a + lo, a + hi))
        return out[0], out[1]

    def render(
        self, channel: str, t0: float, t1: float, pixels: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) to draw ``channel`` over [t0, t1] on ``pixels`` columns: at most 2 points
        per column (min then max), or the raw samples when they are fewer."""
        if self.total == 0 or t1 <= t0:
            return np.empty(0), np.empty(0)
        pixels = max(int(pixels), 1)
        ring_t0 = self._t[(self._head - self._filled) % self.raw_capacity]
        if t0 >= ring_t0 or self._nblocks == 0:
            a, b = self._ring_slice(t0, t1)
            idx = np.concatenate((a, b)) if b.size else a
            t, lo = self._t[idx], self._y[channel][idx]
            hi = lo
        else:
            t, lo, hi = self._envelope_in(channel, t0, t1)
        if t.size <= 2 * pixels:
            if hi is lo:
                return t, lo
            return _interleave(t, t, lo, hi)
        edges = np.searchsorted(t, np.linspace(t0, t1, pixels + 1)[:-1], "left")
        edges = edges[edges < t.size]
        edges = edges[np.r_[True, edges[1:] > edges[:-1]]]  # sorted already: drop repeats
        bin_lo = np.minimum.reduceat(lo, edges)
        bin_hi = np.maximum.reduceat(hi, edges)
        return _interleave(t[edges], t[edges], bin_lo, bin_hi)

    def _envelope_in(self, channel: str, t0: float, t1: float):
        """Envelope blocks overlapping [t0, t1] plus the open block, as (t, min, max)."""
        k = self._nblocks
        bt = self._bt[:k]
        a = int(np.searchsorted(bt[:, 1], t0, "left"))
        b = int(np.searchsorted(bt[:, 0], t1, "right"))
        t = 0.5 * (bt[a:b, 0] + bt[a:b, 1])
        lo, hi = self._bmin[channel][a:b], self._bmax[channel][a:b]
        if self._pending and self._pt[0] <= t1:
            t = np.append(t, 0.5 * (self._pt[0] + self._pt[1]))
            lo = np.append(lo, self._pmin[channel])
            hi = np.append(hi, self._pmax[channel])
        return t, lo, hi


def _interleave(ta: np.ndarray, tb: np.ndarray, a: np.ndarray, b: np.ndarray):
    """x = ta0, tb0, ta1, tb1 ...; y = a0, b0, a1, b1 ... (a vertical stroke per bin)."""
    x = np.empty(2 * ta.size)
    y = np.empty(2 * ta.size)
    x[0::2], x[1::2] = ta, tb
    y[0::2], y[1::2] = a, b
    return x, y
