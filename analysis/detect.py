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

from analysis.rise import (
    NONE,
    STEP,
    VOID,
    WAIT,
    Verdict,
    flat_onset,
    judge_rise,
    late_level_onset,
    level_onset,
    refine_onset,
)
from daq.debounce import sustained
from daq.noise import noise_sigma


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


def _quantum(x: np.ndarray) -> float:
    """Smallest nonzero step between samples: the quantisation of a digitised signal (or ~0)."""
    d = np.abs(np.diff(x))
    d = d[d > 0]
    return float(d.min()) if d.size else 0.0


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


@dataclass
class _VoidSegment:
    t0: float
    i_ref: float
    charge: float = 0.0
    last_t: float | None = None
    hist: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)  # t, η, q
    n_hist: int = 0
    plateau: float | None = None
    level: float = 0.0
    threshold: float = 0.0
    carry_up: int = 0
    carry_down: int = 0
    n_watch: int = 0
    next_n: int = 0
    steps: list[float] = field(default_factory=list)
    done: bool = False
    #: the same half before current interruptions: pieces (t, η, q), resume times, steps
    prior: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    resumes: list[float] = field(default_factory=list)
    prior_steps: list[float] = field(default_factory=list)
    origin: float | None = None  # start of the first piece (t0 when never interrupted)
    prior_healthy: float | None = None
    watched: bool = True  # False: a half only measured for its plateau (see ``healthy``)
    #: the healthy |V| the onset's ``onset_rise`` is a fraction of (VoidOnsetDetector._baseline)
    healthy: float | None = None
    voided: bool = False  # a void was called in it
    #: (earlier half, onset dated in this one) when a void confirmed here was traced back
    #: (VoidOnsetDetector._trace_back)
    lookback: tuple[_VoidSegment, float] | None = None

    @property
    def start(self) -> float:
        """Run time the half began (before any current interruption)."""
        return self.origin if self.origin is not None else self.t0

    def window(self, upto: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t, polarisation sign(I)·V, charge) of the first ``upto`` samples since the settle time."""
        if len(self.hist) > 1:
            self.hist = [tuple(np.concatenate(c) for c in zip(*self.hist, strict=True))]
        t, y, q = self.hist[0]
        return t[:upto], y[:upto], q[:upto]

    def resume_from(self, before: _VoidSegment) -> None:
        """Continue the half ``before`` was watching when a current interruption cut it."""
        t, y, q = before.window(before.n_hist) if before.n_hist else (np.empty(0),) * 3
        self.prior = [*before.prior, (t, y, q)]
        self.resumes = [*before.resumes, self.t0]
        self.prior_steps = [*before.prior_steps, *before.steps]
        self.origin = before.start
        self.prior_healthy = before.prior_healthy or before.healthy
        self.charge = before.charge

    def whole(self, upto: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`window` with the pieces before the interruptions in front of it."""
        pieces = [*self.prior, self.window(upto)]
        return tuple(np.concatenate(c) for c in zip(*pieces, strict=True))


#: Confidence = logistic(c0 + c·void_evidence(...)); fitted on TUNING_SEEDS of
#: analysis.validation (``python bench/bench_detect.py --fit``), never on the held-out seeds.
VOID_CONFIDENCE = (20.448, 0.679, -0.761, 2.781, -6.461, -1.031)
#: Soft-short confidence = logistic(c0 + c1·ln(drop/limit)); fitted the same way.
SOFT_CONFIDENCE = (-0.596, 8.524)


def void_evidence(time: float, values: dict[str, float]) -> np.ndarray:
    """The predictors of a void call's confidence, from its event time and values: ln F,
    ln(fitted rise / threshold), ln(threshold / |plateau|) (how noisy the segment is), hours from
    the segment start to the onset, ln(s from the onset to the confirmation + 10)."""
    v = values
    return np.array(
        [
            np.log(max(v["f_stat"], 1e-9)),
            np.log(max(v["rise_V"] / v["threshold_V"], 1e-9)),
            np.log(max(v["threshold_V"] / max(abs(v["plateau_V"]), 1e-12), 1e-9)),
            (time - v["segment_start"]) / 3600.0,
            np.log(max(v["time_confirmed"] - time, 0.0) + 10.0),
        ]
    )


def _logistic(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))))


#: How long before a refitted onset the |V| level its 1 % is taken of is measured (s).
_LEVEL_BEFORE_S = 300.0


class VoidOnsetDetector:
    """Onset of a diverging |V| during constant-current stripping (contact loss by voids).

    Per segment: skip ``settle_s``, take the plateau (median |V|) and noise σ (MAD of first
    differences, floored by the quantisation step) over the next ``baseline_s``. Then watch for
    |V| off the current level by ``max(k_sigma·σ, rel_rise·plateau, min_rise_v)`` for
    ``confirm`` consecutive samples (at least ``min_fit`` watched): a fall re-bases the level;
    a rise is judged by :func:`analysis.rise.judge_rise` on the whole window since the settle
    time — void (convex divergence beyond relaxation, drift and steps, F >= ``f_crit``), step
    (added to the healthy model), wait (judged again after more data) or none (re-based).
    The onset is where the divergence reaches ``onset_rise`` of the healthy |V| — the plateau,
    or with ``symmetric`` (Li|SE|Li) the lower of it and the previous half's plateau at the same
    |I| — dated on the data from the half's start (:func:`analysis.rise.level_onset`) or by a
    segmented refit on the last ``window_s``; charge, capacity and J are at it.
    ``strip_sign`` picks the stripping polarity watched: +1 = WE stripping (I > 0), -1 = CE
    stripping, 0 = both. With ``interphase_n`` > 0 (electrolytes that grow an interphase with
    Li) a divergence whose relative rate an interphase R ∝ t^n with n <= ``interphase_n`` could
    produce at this run age (d ln|V|/dt <= n/t) is no void. A current interruption (a rest of at
    most ``resume_gap_s``, then the same current) does not start the half afresh: the void is
    confirmed on the piece after the resume, then dated on the whole half, the first
    ``resume_skip_s`` after each resume (the relaxation back) left out. A half that ends
    unresolved with |V| above its plateau by the threshold is judged once more on all its data
    when the next segment starts, a void then accepted only if it bends up from the half's
    start (:func:`analysis.rise.level_onset` dates it); the call is confirmed at the half's end.
    A void that bends up from the start of its half is traced back through up to
    ``lookback_strips`` earlier watched halves that ended uncalled, as long as each bent up from
    its start past the onset excess too: the onset is dated in the first of them.
    """

    kind = "void_onset"

    def __init__(
        self,
        *,
        area_m2: float | None = None,
        strip_sign: int = 1,
        rest_current: float = 1e-9,
        level_tol: float = 0.05,
        settle_s: float = 10.0,
        baseline_s: float = 30.0,
        k_sigma: float = 4.0,
        rel_rise: float = 0.01,
        min_rise_v: float = 5e-5,
        confirm: int = 5,
        min_fit: int = 60,
        f_crit: float = 40.0,
        window_s: float = 1800.0,
        interphase_n: float = 0.0,
        onset_rise: float = 0.01,
        resume_gap_s: float = 120.0,
        resume_skip_s: float = 120.0,
        symmetric: bool = True,
        lookback_strips: int = 4,
    ) -> None:
        self.area_m2 = area_m2
        self.symmetric = symmetric
        self.resume_gap_s, self.resume_skip_s = resume_gap_s, resume_skip_s
        self._cut: _VoidSegment | None = None
        self.onset_rise = onset_rise
        self.interphase_n = interphase_n
        self._t_first: float | None = None
        self.strip_sign = strip_sign
        self.settle_s, self.baseline_s = settle_s, baseline_s
        self.k_sigma, self.rel_rise, self.min_rise_v = k_sigma, rel_rise, min_rise_v
        self.confirm, self.min_fit, self.f_crit = confirm, min_fit, f_crit
        self.window_s = window_s
        self._tracker = SegmentTracker(rest_current, level_tol)
        self._seg: _VoidSegment | None = None
        self._prev_plateau: tuple[float, float] | None = None  # (I, plateau) of the last half
        #: the watched halves since the last void call that ended unresolved, newest last
        self._strips: deque[_VoidSegment] = deque(maxlen=lookback_strips)

    def update(self, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> list[Event]:
        """Consume one block of samples; return void-onset events confirmed in it."""
        t, v, i = (np.asarray(a, dtype=float) for a in (t, v, i))
        events: list[Event] = []
        if self._t_first is None and t.size:
            self._t_first = float(t[0])
        for new, sl in self._tracker.split(t, i):
            if new:
                ev = self._start_segment(float(t[sl.start]), float(i[sl.start]))
                if ev is not None:
                    events.append(ev)
            if self._seg is not None and not self._seg.done:
                ev = self._feed(self._seg, t[sl], v[sl], i[sl])
                if ev is not None:
                    events.append(ev)
        return events

    def _start_segment(self, t0: float, i0: float) -> Event | None:
        """A new constant-current piece: watch it if it strips the watched electrode; a rest
        keeps the half it cut, and the same current back within ``resume_gap_s`` continues it.
        A half that ends here unresolved is judged once more on all its data (:meth:`_close`)."""
        rest = abs(i0) <= self._tracker.rest_current
        cut, self._cut = self._cut, None
        if rest:
            seg = self._seg
            self._cut = seg if seg is not None and not seg.done and seg.last_t is not None else None
            self._seg = None
            return self._closed(cut)
        ended = self._seg
        watched = self.strip_sign == 0 or np.sign(i0) == self.strip_sign
        self._seg = _VoidSegment(t0=t0, i_ref=i0, watched=bool(watched))
        if (
            cut is not None
            and t0 - cut.last_t <= self.resume_gap_s
            and np.sign(i0) == np.sign(cut.i_ref)
            and self._same_current(i0, cut.i_ref)
        ):
            self._seg.resume_from(cut)
            cut = None
        return self._closed(ended) or self._closed(cut)

    def _closed(self, seg: _VoidSegment | None) -> Event | None:
        """:meth:`_close`, then keep a watched half that ended without a void call for the
        look-back (:meth:`_trace_back`); a void call empties it."""
        ev = self._close(seg)  # a call (here or earlier) has emptied the look-back already
        if seg is not None and seg.watched and seg.plateau is not None and not seg.voided:
            self._strips.append(seg)
        return ev

    def _same_current(self, a: float, b: float) -> bool:
        """Are |a| and |b| (A) one current level, within ``level_tol``?"""
        return abs(abs(a) - abs(b)) <= self._tracker.level_tol * abs(b)

    def _close(self, seg: _VoidSegment | None) -> Event | None:
        """Judge a half that ended without a verdict once more, on all its data, if |V| ended
        more than the threshold above the plateau. Why: after a *none* the level is re-based
        onto a rise that is still slow, and a void opening in the second half of a strip may
        never cross a new threshold before the strip ends (SimWorld void grid, LLZO: called
        only one WE strip later); the judge sees the whole half either way."""
        if seg is None or seg.done or seg.plateau is None or seg.n_watch < self.min_fit:
            return None
        seg.done = True
        _, yy, _ = seg.window(seg.n_hist)
        if _median(yy[-self.confirm :]) - seg.plateau <= seg.threshold:
            return None
        verdict = self._judge(seg, seg.n_hist, from_start=True)
        if verdict.kind != VOID:
            return None
        return self._event(seg, verdict, float(seg.last_t), seg.n_hist)

    def _feed(self, seg: _VoidSegment, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> Event | None:
        prev_t = seg.last_t if seg.last_t is not None else t[0]
        q = seg.charge + np.cumsum(np.abs(i) * np.diff(t, prepend=prev_t))
        seg.charge, seg.last_t = float(q[-1]), float(t[-1])
        keep = t - seg.t0 >= self.settle_s
        t, av, q = t[keep], np.sign(seg.i_ref) * v[keep], q[keep]
        if t.size == 0:
            return None
        first = seg.n_hist  # window index of this block's first sample
        seg.hist.append((t, av, q))
        seg.n_hist += t.size
        k = 0
        if seg.plateau is None:
            after = np.flatnonzero(t - seg.t0 >= self.settle_s + self.baseline_s)
            if after.size == 0 or first + after[0] < max(5, self.confirm):
                return None
            k = int(after[0])
            _, base, _ = seg.window(first + k)
            self._baseline(seg, base)
            if not seg.watched:
                seg.done = True
                return None
        while k < t.size:
            excess = av[k:] - seg.level
            ready = seg.n_watch + np.arange(1, excess.size + 1) >= max(self.min_fit, seg.next_n)
            up, seg.carry_up = sustained(excess > seg.threshold, seg.carry_up, self.confirm, ready)
            down, seg.carry_down = sustained(-excess > seg.threshold, seg.carry_down, self.confirm)
            if up < 0 and down < 0:
                seg.n_watch += excess.size
                return None
            hit = down if up < 0 or (0 <= down < up) else up
            seg.n_watch += hit + 1
            end = k + hit + 1
            seg.carry_up = seg.carry_down = 0
            recent = _median(av[max(k, end - self.confirm) : end])
            if hit == down:
                seg.level, k = recent, end
                continue
            verdict = self._judge(seg, first + end)
            if verdict.kind == VOID:
                seg.done = True
                return self._event(seg, verdict, float(t[end - 1]), first + end)
            if verdict.kind == WAIT:
                seg.next_n = seg.n_watch + max(self.confirm, seg.n_watch // 32)
            else:
                if verdict.kind == STEP:
                    seg.steps.append(verdict.time)
                seg.level = recent
            k = end
        return None

    def _baseline(self, seg: _VoidSegment, base: np.ndarray) -> None:
        """Plateau, noise threshold and healthy |V| of a segment from its baseline samples (an
        unwatched half only needs its plateau, the next half's bound).

        In a symmetric cell (Li|SE|Li) both directions have the same healthy |V| at the same
        |I|, so the healthy part is at most the previous half's plateau: voids left by the
        other electrode's strip raise this half's plateau but were not there when the previous
        half started (SimWorld LLZO: 58 mV at the start of the CE's strip, 68 mV at the WE's).
        """
        seg.plateau = seg.level = seg.healthy = _median(base)
        if seg.watched:
            seg.threshold = max(
                self.k_sigma * max(noise_sigma(base, order=2), _quantum(base)),
                self.rel_rise * seg.plateau,
                self.min_rise_v,
            )
        if seg.prior:  # a piece after an interruption: its half's first piece set the reference
            return
        prev, self._prev_plateau = self._prev_plateau, (seg.i_ref, seg.plateau)
        if self.symmetric and prev is not None and self._same_current(prev[0], seg.i_ref):
            seg.healthy = min(seg.plateau, prev[1])

    def _judge(self, seg: _VoidSegment, upto: int, from_start: bool = False) -> Verdict:
        """:func:`judge_rise` on the window, a void dated; ``from_start``: only a rise bending
        up from the half's start (dated by ``level_onset``) counts as a void."""
        traced = None
        tt, yy, _ = seg.window(upto)
        at = self.onset_rise * seg.healthy
        verdict = judge_rise(
            tt, yy, seg.t0, seg.steps, seg.threshold, f_crit=self.f_crit, onset_excess=at
        )
        if verdict.kind == VOID:
            if seg.prior:  # interrupted half: date the rise on the data before the cuts too,
                tt, yy, _ = seg.whole(upto)  # less the relaxation back after each resume
                back = np.zeros(tt.size, dtype=bool)
                for r in seg.resumes:
                    back |= (tt >= r) & (tt < r + self.resume_skip_s)
                tt, yy = tt[~back], yy[~back]
                at = self.onset_rise * (seg.prior_healthy or seg.healthy)
            # a rise bending up from the start of the half is dated against that start's level;
            t_on = level_onset(tt, yy, at)
            if t_on is not None:
                t_on, traced = self._trace_back(t_on, seg.i_ref)
            if t_on is None and from_start:  # only a rise bending up from the start counts
                return Verdict(NONE, f_stat=verdict.f_stat, rise_V=verdict.rise_V)
            if t_on is None:  # else the segmented refit, on the recent window only (old
                recent = tt >= tt[-1] - self.window_s  # structure, steps, wander cannot pull it)
                t_on = self._refit(seg, tt[recent], yy[recent], at)
            if t_on is not None:
                verdict = Verdict(VOID, t_on, verdict.f_stat, verdict.rise_V, verdict.slope_V_s)
        if verdict.kind == VOID and self.interphase_n > 0:
            age = max(float(tt[-1]) - self._t_first, 1.0)
            if verdict.slope_V_s / (seg.plateau + verdict.rise_V) <= self.interphase_n / age:
                verdict = Verdict(NONE, f_stat=verdict.f_stat, rise_V=verdict.rise_V)
        seg.lookback = traced if verdict.kind == VOID else None
        return verdict

    def _refit(self, seg: _VoidSegment, t: np.ndarray, y: np.ndarray, at: float) -> float | None:
        """Onset of a void that does not bend up from its half's start (a relaxation came first):
        the segmented refit (:func:`analysis.rise.refine_onset`), its 1 % rescaled to the level
        |V| held just before it, and bounded below by the onset over the latest flat stretch
        and over the lowest level since a start the rise bends up from. Why: the plateau was
        taken 10-40 s into the half, while the interface still relaxed (independent traces: a
        third to a half of the level it reaches), and the refit's healthy model may hand the
        relaxation's end to the hinge (dated up to 15 min early)."""
        steps = seg.prior_steps + seg.steps
        t_on = refine_onset(t, y, seg.start, steps, at)
        if t_on is None:
            return None
        near = (t >= t_on - _LEVEL_BEFORE_S) & (t < t_on)
        if near.sum() >= self.confirm and self.onset_rise * _median(y[near]) > at:
            at = self.onset_rise * _median(y[near])
            t_on = refine_onset(t, y, seg.start, steps, at) or t_on
        bounds = [b for b in (flat_onset(t, y, at), late_level_onset(t, y, at)) if b is not None]
        return max([t_on, *bounds])

    def _trace_back(
        self, t_on: float, i_ref: float
    ) -> tuple[float, tuple[_VoidSegment, float] | None]:
        """Onset of a void that bends up from the start of its half (at current ``i_ref``),
        traced back through the unresolved strips before it at the same |I| while each of them
        bent up from its start past the onset excess too (:func:`analysis.rise.level_onset`):
        (onset, (the strip it was traced to, the onset dated in its own half) or None). Why: a void opening in the last minutes of a strip is confirmed only in
        a later one (SimWorld void grid: 16 % of void onsets lie in the last 8 min of their half),
        but the strip it opened in already shows its rise, too small for the threshold."""
        own, traced = t_on, None
        for prev in reversed(self._strips):
            if not self._same_current(prev.i_ref, i_ref):
                break
            tp, yp, _ = prev.whole(prev.n_hist)
            t_prev = level_onset(tp, yp, self.onset_rise * (prev.prior_healthy or prev.healthy))
            if t_prev is None:
                break
            t_on, traced = t_prev, (prev, own)
        return t_on, traced

    def _event(self, seg: _VoidSegment, verdict: Verdict, t_confirm: float, upto: int) -> Event:
        seg.voided = True
        self._strips.clear()
        src, t_own = seg.lookback or (seg, verdict.time)
        tt, _, qq = src.whole(src.n_hist if seg.lookback else upto)
        seg.hist, seg.prior = [], []
        start = src.start
        t_on = float(np.clip(verdict.time, start, t_confirm))
        q_on = float(np.interp(t_on, tt, qq))
        values = {
            "charge_C": q_on,
            "current_A": seg.i_ref,
            "plateau_V": seg.plateau,
            "segment_start": start,
            "time_confirmed": t_confirm,
            "rise_V": verdict.rise_V,
            "threshold_V": seg.threshold,
            "f_stat": verdict.f_stat,
        }
        c = np.asarray(VOID_CONFIDENCE)
        # the evidence is the confirming half's: a trace-back moves the date, it adds no evidence
        t_own = float(np.clip(t_own, seg.start, t_confirm))
        own = void_evidence(t_own, values | {"segment_start": seg.start})
        confidence = _logistic(float(c[0] + c[1:] @ own))
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
    tail_times: np.ndarray = field(default_factory=lambda: np.empty(0))
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
        self._last_t: float | None = None

    def update(self, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> list[Event]:
        """Consume one block of samples; return short events confirmed in it."""
        t, v, i = (np.asarray(a, dtype=float) for a in (t, v, i))
        events: list[Event] = []
        if t.size:
            self._last_t = float(t[-1])
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
        av = np.sign(seg.i_ref) * v  # polarisation: > 0 for a healthy cell, relaxing monotonically
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
                m = max(1, base.size // 3)
                moved = _median(base[-m:]) - _median(base[:m])  # still relaxing: not shorted
                flat = expected is None or moved < 0.5 * self.hard_frac * expected
                # a shorted cell's polarisation is I·R_short >= 0; a reversal relaxes up from < 0
                shorted = level > -4.0 * noise_sigma(base, order=2)
                if expected is not None and level < self.hard_frac * expected and flat and shorted:
                    return self._hard(seg, float(t[done[0]]), level, expected, at_start=True)
                seg.level, seg.base_v = level, []
                seg.sigma = max(noise_sigma(base, order=2), _quantum(base))
                sign = float(np.sign(seg.i_ref))
                if level > 0 and flat:
                    self._resistances[sign].append(level / abs(seg.i_ref))
                    self._r_ref[sign] = _median(self._resistances[sign])
        if not seg.soft_done:
            soft = self._soft(seg, t, av)
            if soft is not None:
                events.append(soft)
        expected = self._expected(seg)
        if expected is None:
            return events
        watch = el >= self.settle_s
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

    def quiet_for(self) -> dict[str, float]:
        """Run time (s) after the last sample fed in which no hard short can be called, by
        event kind: a call needs a sudden low stretch held ``hold_s`` (or, at a segment's
        start, its baseline), so a block of samples ending sooner cannot hold one — the
        engine's block mode ends blocks there and sees the call at the tick-by-tick sample.
        Soft shorts come without warning and are not listed."""
        if self.hard_time is not None:
            return {"hard_short": np.inf}
        fresh = self.settle_s + min(self.baseline_s, self.hold_s)  # a segment starting next
        seg, last = self._seg, self._last_t
        if seg is None or last is None:
            return {"hard_short": fresh}
        held = seg.low_start is not None and seg.low_sudden
        low_from = seg.low_start if held else max(last, seg.t0 + self.settle_s)
        call = low_from + self.hold_s
        if seg.level is None:
            call = min(call, seg.t0 + self.settle_s + self.baseline_s)
        return {"hard_short": max(min(call - last, fresh), 0.0)}

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

    def _soft(self, seg: _ShortSegment, t: np.ndarray, av: np.ndarray) -> Event | None:
        """First sample after the segment's baseline whose polarisation, and the next one's,
        lies below the mean of the ``window`` samples before it by more than the limit (a
        one-sample spike is no short). The window's history is kept from the segment's start,
        so blocks of any size (live) and the whole stream at once (offline) give one answer."""
        w = self.window
        n_tail = seg.tail.size
        full = np.concatenate((seg.tail, av))
        times = np.concatenate((seg.tail_times, t))
        seg.tail, seg.tail_times = full[-(w + 1) :], times[-(w + 1) :]
        if seg.level is None or full.size <= w + 1:
            return None
        c = np.cumsum(np.concatenate(([0.0], full)))
        mean = (c[w:-2] - c[: -w - 2]) / w  # mean of the w samples before index k = w .. n-2
        drop = mean - full[w:-1]
        limit = max(self.k_sigma * seg.sigma, self.soft_frac * seg.level)
        fresh = np.arange(w, full.size - 1) >= n_tail - 1  # not judged in an earlier block
        after_base = times[w:-1] - seg.t0 >= self.settle_s + self.baseline_s
        ok = fresh & after_base & (drop > limit) & (mean - full[w + 1 :] > limit)
        k = np.flatnonzero(ok)
        if k.size == 0:
            return None
        k0 = int(k[0])
        seg.soft_done = True
        t_drop = float(times[w + k0])
        ratio = float(drop[k0] / limit)
        return Event(
            "soft_short",
            t_drop,
            f"sudden |V| drop of {drop[k0]:.3g} V (> {limit:.3g} V) at {seg.i_ref:.4g} A",
            {
                "drop_V": float(drop[k0]),
                "limit_V": float(limit),
                "level_V": float(seg.level),
                "current_A": seg.i_ref,
            },
            _logistic(SOFT_CONFIDENCE[0] + SOFT_CONFIDENCE[1] * np.log(ratio)),
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


def voids_before_hard_short(
    voids: list[Event], shorts: list[Event], margin_s: float = 60.0
) -> list[Event]:
    """Void calls from ``margin_s`` before the first hard short on are the shorting path
    switching (its first episodes precede detection), not voids: keep only those before.
    Soft-short calls never suppress void calls (a spurious one must not hide a later void)."""
    hard = [s.time for s in shorts if s.kind == "hard_short"]
    if not hard:
        return voids
    return [v for v in voids if v.time < min(hard) - margin_s]
