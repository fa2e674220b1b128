"""Incremental detectors: void onset and short circuit — the same code live and offline.

Each detector eats numpy blocks ``update(t, v, i)`` in time order and returns the events it
confirmed in that block. The protocol engine uses them as end conditions; the offline functions
(:func:`detect_void_onset`, :func:`detect_shorts`) feed a whole run through the same classes, so
live and offline answers agree sample for sample (tested with random block sizes).

Both work on constant-current segments, found by :class:`SegmentTracker` from jumps in the
current (a rest is a segment with |I| <= ``rest_current``).
Signatures: physics-reviews.md §3 items 1–3, physics-ees.md §3 items 1–2.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from daq.debounce import sustained


@dataclass(frozen=True)
class Event:
    """A detector finding: kind, run time (s), a message, numbers, and a confidence in [0, 1]."""

    kind: str
    time: float
    message: str
    values: dict[str, float] = field(default_factory=dict)
    confidence: float = 1.0


def _median(x: np.ndarray | deque) -> float:
    """Median of a short array by sorting (np.median's overhead dominates on tens of samples)."""
    a = np.sort(np.asarray(x, dtype=float))
    n = a.size
    return float(0.5 * (a[(n - 1) // 2] + a[n // 2]))


def _noise_sigma(x: np.ndarray) -> float:
    """Robust sample-to-sample noise: MAD of first differences, scaled to a Gaussian sigma."""
    if x.size < 3:
        return 0.0
    d = np.diff(x)
    return float(1.4826 * _median(np.abs(d - _median(d))) / np.sqrt(2.0))


class SegmentTracker:
    """Split a stream of blocks into constant-current segments (carrying state across blocks)."""

    def __init__(self, rest_current: float, level_tol: float) -> None:
        self.rest_current = rest_current
        self.level_tol = level_tol
        self._last_i: float | None = None

    def split(self, t: np.ndarray, i: np.ndarray) -> Iterator[tuple[bool, slice]]:
        """Yield (starts_new_segment, slice) pieces of the block, in order."""
        if t.size == 0:
            return
        prev = np.empty_like(i)
        prev[1:] = i[:-1]
        prev[0] = i[0] if self._last_i is None else self._last_i
        a, b = np.abs(prev), np.abs(i)
        rest_a, rest_b = a <= self.rest_current, b <= self.rest_current
        jump = (rest_a != rest_b) | (
            ~rest_b
            & (
                (np.sign(prev) != np.sign(i))
                | (np.abs(i - prev) > self.level_tol * np.maximum(a, b))
            )
        )
        if self._last_i is None:
            jump[0] = True
        cuts = np.flatnonzero(jump)
        edges = np.concatenate((cuts, [t.size]))
        if cuts.size == 0 or cuts[0] != 0:
            yield False, slice(0, int(edges[0]))
        for k in range(cuts.size):
            yield True, slice(int(edges[k]), int(edges[k + 1]))
        self._last_i = float(i[-1])


def _slope(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y(t) and its standard error."""
    tc = t - t.mean()
    sxx = float(np.dot(tc, tc))
    if sxx <= 0:
        return 0.0, np.inf
    slope = float(np.dot(tc, y - y.mean()) / sxx)
    resid = y - y.mean() - slope * tc
    dof = max(t.size - 2, 1)
    return slope, float(np.sqrt(np.dot(resid, resid) / dof / sxx))


@dataclass
class _VoidSegment:
    t0: float
    i_ref: float
    charge: float = 0.0
    last_t: float | None = None
    base_v: list[np.ndarray] = field(default_factory=list)
    base_t_end: float = 0.0
    level: float | None = None
    sigma: float = 0.0
    threshold: float = 0.0
    carry: int = 0
    n_watch: int = 0
    defer_n: int = 0
    watch: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    done: bool = False


class VoidOnsetDetector:
    """Onset of a growing |V| during constant-current stripping (contact loss by voids).

    Per segment: skip ``settle_s`` (charge-transfer transient), take the plateau level and the
    noise over the next ``baseline_s``, then watch for |V| above the plateau by
    ``max(k_sigma·σ, rel_rise·plateau, min_rise_v)`` for ``confirm`` consecutive samples, with
    at least ``min_fit`` samples watched. The rise is then classified (:meth:`_shape`): a rise
    that keeps or gains speed is a void; one that slows is re-based and watching goes on. The
    onset time is back-extrapolated to zero excess along the chord between the quarter-threshold
    and threshold crossings of the 5-sample smoothed excess; the reported charge, capacity and J
    are at that onset. ``strip_sign`` picks the stripping polarity watched: +1 = WE stripping
    (I > 0), -1 = CE stripping, 0 = both (symmetric cells).
    """

    kind = "void_onset"

    def __init__(
        self,
        *,
        area_m2: float | None = None,
        strip_sign: int = 0,
        rest_current: float = 1e-9,
        level_tol: float = 0.05,
        settle_s: float = 10.0,
        baseline_s: float = 30.0,
        k_sigma: float = 4.0,
        rel_rise: float = 0.01,
        min_rise_v: float = 5e-4,
        confirm: int = 5,
        min_fit: int = 60,
        accel: float = 1.25,
        interphase_n: float = 0.0,
    ) -> None:
        self.area_m2 = area_m2
        self.accel, self.interphase_n = accel, interphase_n
        self._t_first: float | None = None
        self.strip_sign = strip_sign
        self.settle_s, self.baseline_s = settle_s, baseline_s
        self.k_sigma, self.rel_rise, self.min_rise_v = k_sigma, rel_rise, min_rise_v
        self.confirm, self.min_fit = confirm, min_fit
        self._tracker = SegmentTracker(rest_current, level_tol)
        self._seg: _VoidSegment | None = None

    def update(self, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> list[Event]:
        """Consume one block of samples; return void-onset events confirmed in it."""
        t, v, i = (np.asarray(a, dtype=float) for a in (t, v, i))
        events: list[Event] = []
        if self._t_first is None and t.size:
            self._t_first = float(t[0])
        for new, sl in self._tracker.split(t, i):
            if new:
                i0 = i[sl.start]
                watched = abs(i0) > self._tracker.rest_current and (
                    self.strip_sign == 0 or np.sign(i0) == self.strip_sign
                )
                self._seg = _VoidSegment(t0=t[sl.start], i_ref=i0) if watched else None
            if self._seg is not None and not self._seg.done:
                ev = self._feed(self._seg, t[sl], v[sl], i[sl])
                if ev is not None:
                    events.append(ev)
        return events

    def _feed(self, seg: _VoidSegment, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> Event | None:
        prev_t = seg.last_t if seg.last_t is not None else t[0]
        dt = np.diff(t, prepend=prev_t)
        q = seg.charge + np.cumsum(np.abs(i) * dt)
        seg.charge, seg.last_t = float(q[-1]), float(t[-1])
        av = np.abs(v)
        el = t - seg.t0
        if seg.level is None:
            in_base = (el >= self.settle_s) & (el < self.settle_s + self.baseline_s)
            seg.base_v.append(av[in_base])
            after = np.flatnonzero(el >= self.settle_s + self.baseline_s)
            n_base = sum(b.size for b in seg.base_v)
            if after.size == 0 or n_base < max(5, self.confirm):
                return None
            base = np.concatenate(seg.base_v)
            seg.level = _median(base)
            seg.sigma = _noise_sigma(base)
            seg.threshold = max(
                self.k_sigma * seg.sigma, self.rel_rise * seg.level, self.min_rise_v
            )
            seg.base_t_end = float(t[after[0]])
            seg.base_v = []
            k0 = int(after[0])
            t, av, q = t[k0:], av[k0:], q[k0:]
        while t.size:
            excess = av - seg.level
            seg.watch.append((t, excess, q))
            ready = seg.n_watch + np.arange(1, t.size + 1) >= max(self.min_fit, seg.defer_n)
            seg.n_watch += t.size
            hit, seg.carry = sustained(excess > seg.threshold, seg.carry, self.confirm, ready)
            if hit < 0:
                return None
            shape = self._shape(seg, float(t[hit]))
            if shape > 0:
                seg.done = True
                return self._event(seg, float(t[hit]))
            n_at_hit = seg.n_watch - (t.size - hit - 1)
            if shape == 0:  # not yet clear: look again once the window has doubled
                seg.defer_n = 2 * n_at_hit
                seg.carry = 0
                t, av, q = t[hit + 1 :], av[hit + 1 :], q[hit + 1 :]
                seg.watch[-1] = (
                    seg.watch[-1][0][: hit + 1],
                    seg.watch[-1][1][: hit + 1],
                    seg.watch[-1][2][: hit + 1],
                )
                seg.n_watch = n_at_hit
                continue
            # a slowing or interphase-like rise is no void: re-baseline there
            tt = np.concatenate([w[0] for w in seg.watch])
            ex = np.concatenate([w[1] for w in seg.watch])
            upto = int(np.searchsorted(tt, t[hit], side="right"))
            seg.level += _median(ex[max(0, upto - self.confirm) : upto])
            seg.base_t_end = float(t[hit])
            seg.watch, seg.carry, seg.n_watch, seg.defer_n = [], 0, 0, 0
            t, av, q = t[hit + 1 :], av[hit + 1 :], q[hit + 1 :]
        return None

    def _shape(self, seg: _VoidSegment, t_hit: float) -> int:
        """Classify the rise seen since the baseline: +1 void, -1 not a void, 0 undecided yet.

        Not a void: the rise slows down (slope of the last third of the window significantly
        and ``accel`` × below the first third), or — with ``interphase_n`` > 0, for electrolytes
        that react with Li — its relative rate is one a power-law interphase growth R ∝ t^n
        with n <= ``interphase_n`` could produce at this run age (d ln R / dt <= n / t).
        A void: a significant rise that keeps or gains speed. Undecided windows are judged
        again once they have doubled.
        """
        tt = np.concatenate([w[0] for w in seg.watch])
        ex = np.concatenate([w[1] for w in seg.watch])
        keep = tt <= t_hit
        tt, ex = tt[keep], ex[keep]
        n = tt.size // 3
        if n < 3:
            return 0
        s1, e1 = _slope(tt[:n], ex[:n])
        s2, e2 = _slope(tt[-n:], ex[-n:])
        if s1 - s2 > 3.0 * np.hypot(e1, e2) and s1 > self.accel * max(s2, 0.0):
            return -1
        if s2 <= 3.0 * e2 or s2 * self.accel < s1:
            return 0
        age = max(t_hit - self._t_first, 1.0)
        level = seg.level + float(np.mean(ex[-n:]))
        return 1 if s2 / level > self.interphase_n / age else -1  # interphase_n = 0: always 1

    def _event(self, seg: _VoidSegment, t_confirm: float) -> Event:
        tt = np.concatenate([w[0] for w in seg.watch])
        ex = np.concatenate([w[1] for w in seg.watch])
        qq = np.concatenate([w[2] for w in seg.watch])
        seg.watch = []
        upto = int(np.searchsorted(tt, t_confirm, side="right"))
        tt, ex, qq = tt[:upto], ex[:upto], qq[:upto]
        m = min(5, ex.size)
        sm = np.convolve(ex, np.ones(m) / m, mode="same") if ex.size >= m else ex
        thr, knee = seg.threshold, 0.25 * seg.threshold
        below_knee = np.flatnonzero(sm <= knee)
        k_knee = int(below_knee[-1]) + 1 if below_knee.size else 0
        k_knee = min(k_knee, tt.size - 1)
        below_thr = np.flatnonzero(sm <= thr)
        k_thr = int(below_thr[-1]) + 1 if below_thr.size else tt.size - 1
        k_thr = min(max(k_thr, k_knee), tt.size - 1)
        t_knee, t_thr = tt[k_knee], tt[k_thr]
        t_on = t_knee - (t_thr - t_knee) * knee / (thr - knee)
        t_on = float(np.clip(t_on, seg.base_t_end, t_confirm))
        q_on = float(np.interp(t_on, tt, qq))
        z = ex[-1] / seg.sigma if seg.sigma > 0 else np.inf
        d = np.diff(sm[k_knee:])
        rising = float(np.mean(d > 0)) if d.size else 1.0
        confidence = float((1.0 - np.exp(-z / self.k_sigma)) * rising)
        values = {
            "charge_C": q_on,
            "current_A": seg.i_ref,
            "plateau_V": seg.level,
            "time_confirmed": t_confirm,
        }
        if self.area_m2:
            values["capacity_C_m2"] = q_on / self.area_m2
            values["current_density_A_m2"] = seg.i_ref / self.area_m2
        electrode = "WE" if seg.i_ref > 0 else "CE"
        return Event(
            self.kind,
            t_on,
            f"void onset while stripping {electrode} at {seg.i_ref:.4g} A after {q_on:.4g} C",
            values,
            confidence,
        )


@dataclass
class _ShortSegment:
    t0: float
    i_ref: float
    base_v: list[np.ndarray] = field(default_factory=list)
    level: float | None = None
    sigma: float = 0.0
    low_start: float | None = None
    low_sudden: bool | None = None
    prev: np.ndarray = field(default_factory=lambda: np.empty(0))
    tail: np.ndarray = field(default_factory=lambda: np.empty(0))
    soft_done: bool = False
    last_t: float | None = None
    expected: float | None = None


class ShortDetector:
    """Hard and soft short circuits at constant current.

    Hard: |V| stays below ``hard_frac`` of the expected polarisation for ``hold_s`` seconds of
    run time (soft-short episodes last seconds; a welded filament stays). The expectation is the
    segment's own plateau once known, otherwise ``r_ohm``·|I| when the ohmic resistance is
    given, else the median |V|/|I| of the previous ``memory`` segments times |I| (so a cell
    already shorted at the start of a step is caught too). The event time is the start of the
    low stretch. Hard shorts latch: one per run.
    Soft: a sudden drop of |V| below the mean of the previous ``window`` samples by more than
    ``max(k_sigma·σ, soft_frac·level)`` — the erratic drops of intermittent filament contacts.
    At most one per segment.
    """

    def __init__(
        self,
        *,
        rest_current: float = 1e-9,
        level_tol: float = 0.05,
        r_ohm: float | None = None,
        settle_s: float = 5.0,
        baseline_s: float = 30.0,
        hard_frac: float = 0.3,
        hold_s: float = 60.0,
        soft_frac: float = 0.1,
        k_sigma: float = 8.0,
        window: int = 10,
        memory: int = 6,
        end_hold_s: float = 2.0,
    ) -> None:
        self.r_ohm = r_ohm
        self.end_hold_s = end_hold_s
        self.settle_s, self.baseline_s = settle_s, baseline_s
        self.hard_frac, self.hold_s = hard_frac, hold_s
        self.soft_frac, self.k_sigma, self.window = soft_frac, k_sigma, window
        self._tracker = SegmentTracker(rest_current, level_tol)
        self._seg: _ShortSegment | None = None
        self._resistances = {1.0: deque(maxlen=memory), -1.0: deque(maxlen=memory)}
        self._r_ref: dict[float, float] = {}
        self.hard_time: float | None = None
        self._last_active: _ShortSegment | None = None

    def update(self, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> list[Event]:
        """Consume one block of samples; return short events confirmed in it."""
        t, v, i = (np.asarray(a, dtype=float) for a in (t, v, i))
        events: list[Event] = []
        for new, sl in self._tracker.split(t, i):
            if new:
                i0 = i[sl.start]
                active = abs(i0) > self._tracker.rest_current
                self._seg = _ShortSegment(t0=t[sl.start], i_ref=i0) if active else None
                self._last_active = self._seg or self._last_active
            if self._seg is not None and self.hard_time is None:
                events.extend(self._feed(self._seg, t[sl], v[sl]))
        return events

    def _expected(self, seg: _ShortSegment) -> float | None:
        if seg.level is not None:
            return seg.level
        if self.r_ohm is not None:
            return self.r_ohm * abs(seg.i_ref)
        ref = self._r_ref.get(float(np.sign(seg.i_ref)))
        if ref is not None:
            return ref * abs(seg.i_ref)
        return None

    def _feed(self, seg: _ShortSegment, t: np.ndarray, v: np.ndarray) -> list[Event]:
        events: list[Event] = []
        av = np.abs(v)
        el = t - seg.t0
        if seg.level is None:
            in_base = (el >= self.settle_s) & (el < self.settle_s + self.baseline_s)
            seg.base_v.append(av[in_base])
            n_base = sum(b.size for b in seg.base_v)
            done = np.flatnonzero(el >= self.settle_s + self.baseline_s)
            if done.size and n_base >= 5:
                base = np.concatenate(seg.base_v)
                level = _median(base)
                expected = self._expected(seg)
                if expected is not None and level < self.hard_frac * expected:
                    return self._hard(seg, float(t[done[0]]), level, expected, at_start=True)
                seg.level, seg.sigma, seg.base_v = level, _noise_sigma(base), []
                sign = float(np.sign(seg.i_ref))
                self._resistances[sign].append(level / abs(seg.i_ref))
                self._r_ref[sign] = _median(self._resistances[sign])
        expected = self._expected(seg)
        if expected is None:
            return events
        watch = el >= self.settle_s
        if seg.level is not None and not seg.soft_done:
            soft = self._soft(seg, t, av, watch)
            if soft is not None:
                events.append(soft)
        low = (av < self.hard_frac * expected) & watch
        sudden = self._sudden_runs(seg, av, low, expected)
        idx = np.arange(low.size)
        last_false = np.where(~low, idx, -1)
        np.maximum.accumulate(last_false, out=last_false)
        carry_start = seg.low_start if seg.low_start is not None else t[0]
        start = np.where(last_false >= 0, t[np.minimum(last_false + 1, t.size - 1)], carry_start)
        hits = np.flatnonzero(low & sudden & (t - start >= self.hold_s))
        seg.low_start = float(start[-1]) if low[-1] else None
        seg.last_t, seg.expected = float(t[-1]), expected
        if hits.size:
            k = int(hits[0])
            v_low = _median(av[max(0, k - 10) : k + 1])
            events.extend(self._hard(seg, float(start[k]), v_low, expected, at_start=False))
        return events

    def finish(self) -> list[Event]:
        """End of the data: a sudden collapse still in progress when the run ended is a hard short.

        Runs stopped by the short itself (an ``abs_voltage_below`` end condition) end seconds
        after it, before ``hold_s`` elapses; offline, a collapse lasting to the last sample for at
        least ``end_hold_s`` counts, even if the source was switched off after it (the live
        engine has its own end condition for this case).
        """
        seg = self._last_active
        if (
            seg is None
            or self.hard_time is not None
            or seg.low_start is None
            or not seg.low_sudden
            or seg.last_t is None
            or seg.expected is None
            or seg.last_t - seg.low_start < self.end_hold_s
        ):
            return []
        v_low = _median(seg.prev[-min(seg.prev.size, 10) :]) if seg.prev.size else 0.0
        return self._hard(seg, seg.low_start, v_low, seg.expected, at_start=False)

    def _sudden_runs(
        self, seg: _ShortSegment, av: np.ndarray, low: np.ndarray, expected: float
    ) -> np.ndarray:
        """Per sample: is it in a low stretch that began with a sudden fall (from >= 0.7 of the
        expected |V| within the ``window`` samples before), not a slow relaxation?"""
        w = self.window
        n_prev = seg.prev.size
        full = np.concatenate((seg.prev, av))
        seg.prev = full[-w:]
        lo_prev = np.concatenate(([seg.low_sudden is not None], low[:-1]))
        starts = np.flatnonzero(low & ~lo_prev)
        flag = np.zeros(low.size, dtype=bool)
        if starts.size:
            pos = starts + n_prev
            before = [full[max(0, p - w) : p] for p in pos]
            flag[starts] = [b.size > 0 and b.max() >= 0.7 * expected for b in before]
        run_id = np.where(low & ~lo_prev, np.arange(low.size), -1)
        np.maximum.accumulate(run_id, out=run_id)
        carried = bool(seg.low_sudden)
        out = np.where(run_id >= 0, flag[np.maximum(run_id, 0)], carried) & low
        seg.low_sudden = bool(out[-1]) if low[-1] else None
        return out

    def _soft(
        self, seg: _ShortSegment, t: np.ndarray, av: np.ndarray, watch: np.ndarray
    ) -> Event | None:
        w = self.window
        n_tail = seg.tail.size
        full = np.concatenate((seg.tail, av))
        seg.tail = full[-w:]
        if full.size <= w:
            return None
        c = np.cumsum(np.concatenate(([0.0], full)))
        drop = (c[w:-1] - c[: -w - 1]) / w - full[w:]
        limit = max(self.k_sigma * seg.sigma, self.soft_frac * seg.level)
        j = np.arange(w, full.size) - n_tail
        ok = (j >= 0) & (drop > limit)
        ok[ok] &= watch[j[ok]]
        k = np.flatnonzero(ok)
        if k.size == 0:
            return None
        k0, jj = int(k[0]), int(j[k[0]])
        seg.soft_done = True
        return Event(
            "soft_short",
            float(t[jj]),
            f"sudden |V| drop of {drop[k0]:.3g} V (> {limit:.3g} V) at {seg.i_ref:.4g} A",
            {"drop_V": float(drop[k0]), "level_V": float(seg.level), "current_A": seg.i_ref},
            float(min(1.0, drop[k0] / (2 * limit))),
        )

    def _hard(
        self, seg: _ShortSegment, time: float, v_now: float, expected: float, *, at_start: bool
    ) -> list[Event]:
        self.hard_time = time
        where = "at step start" if at_start else "during step"
        return [
            Event(
                "hard_short",
                time,
                f"|V| collapsed to {v_now:.3g} V, expected ~{expected:.3g} V ({where})",
                {"v_V": v_now, "expected_V": expected, "current_A": seg.i_ref},
                float(min(1.0, 1.0 - v_now / expected)) if expected > 0 else 1.0,
            )
        ]


def run_detector(detector: VoidOnsetDetector | ShortDetector, electro: pd.DataFrame) -> list[Event]:
    """Feed a whole electro stream through ``detector`` (the offline path of the live code)."""
    t = electro["time"].to_numpy(dtype=float)
    v = electro["voltage"].to_numpy(dtype=float)
    i = electro["current"].to_numpy(dtype=float)
    events = detector.update(t, v, i)
    if isinstance(detector, ShortDetector):
        events += detector.finish()
    return events


def detect_void_onset(electro: pd.DataFrame, **params: float) -> list[Event]:
    """Offline void-onset detection: the live :class:`VoidOnsetDetector` over the whole stream."""
    return run_detector(VoidOnsetDetector(**params), electro)


def detect_shorts(electro: pd.DataFrame, **params: float) -> list[Event]:
    """Offline short detection: the live :class:`ShortDetector` over the whole stream."""
    return run_detector(ShortDetector(**params), electro)
