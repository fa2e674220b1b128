"""Classify a rise of |V| in a constant-current segment: void divergence, resistance step, or neither.

The void detector calls :func:`judge_rise` when |V| has left its plateau. The window since the
end of the settle time is binned (at most ``bins`` bins, so the cost does not grow with the
sampling rate) and compared against a *null* model of what a healthy segment does —
a constant, a linear drift, logarithmic and exponential relaxations from the step start
(``ln(x + τ)``, τ = 3, 30, 300 s; ``e^(-x/τ)``, τ = 20, 60, 150, 400 s) and the resistance
steps already found —
and two alternatives on top of it:

- a *divergence* starting at x_on, A > 0: ``A·max(0, x - x_on)^p`` (p = 1.5, 2.5, 4) or
  ``A·(e^(max(0, x - x_on)/τ) - 1)`` (τ = 200, 600 s) — convex;
- a *step* ``B·[x > x_s]``: a jump in resistance (crack, contact change) or a short releasing.

The F-like statistic of each is its drop in squared error over the residual variance per bin,
so slow (1/f) wander in the residual lowers it rather than passing as signal. Relaxations,
drift and steps — concave, linear or discontinuous — are what the null and the step absorb; a
void is the convex remainder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOID, STEP, WAIT, NONE = "void", "step", "wait", "none"
#: Divergence shapes tried: power-law hinges ("p", exponent) and exponential ones ("e", τ in s).
_SHAPES = (("p", 1.5), ("p", 2.5), ("p", 4.0), ("e", 200.0), ("e", 600.0))
_RELAX_LOG_S, _RELAX_EXP_S = (20.0,), (60.0, 300.0)


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`judge_rise`; times in run seconds, ``rise_V`` the fitted excess now."""

    kind: str
    time: float = float("nan")
    f_stat: float = 0.0
    rise_V: float = 0.0
    slope_V_s: float = 0.0


def _binned(t: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Means over equal-count bins, the newest sample always in the last bin."""
    m = max(1, -(-t.size // bins))
    nb = t.size // m
    start = t.size - nb * m
    return t[start:].reshape(nb, m).mean(axis=1), y[start:].reshape(nb, m).mean(axis=1)


def _null_columns(x: np.ndarray, steps: list[float]) -> np.ndarray:
    """The healthy-segment model's columns at segment times ``x`` (s), unit norm."""
    cols = [np.ones_like(x), x / max(float(x[-1]), 1.0)]
    cols += [np.log(x + tau) for tau in _RELAX_LOG_S]
    cols += [np.exp(-x / tau) for tau in _RELAX_EXP_S]
    cols += [(x > s).astype(float) for s in steps]
    a = np.column_stack(cols)
    return a / np.maximum(np.linalg.norm(a, axis=0), 1e-300)


def _null_basis(x: np.ndarray, steps: list[float]) -> np.ndarray:
    """Orthonormal basis of the healthy-segment model at segment times ``x`` (s)."""
    a = _null_columns(x, steps)
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    return u[:, s > 1e-6 * s[0]]


def _columns(dx: np.ndarray, shape: tuple[str, float]) -> np.ndarray:
    """Candidate columns at offsets ``dx`` = x - onset: a step ("s"), power or exponential hinge."""
    kind, k = shape
    if kind == "s":
        return (dx > 0).astype(float)
    d = np.maximum(dx, 0.0)
    return d**k if kind == "p" else np.expm1(np.minimum(d / k, 15.0))


def _best(
    q: np.ndarray, y: np.ndarray, x: np.ndarray, cand: np.ndarray, shape: tuple[str, float]
) -> tuple[float, float, float, np.ndarray]:
    """Largest squared-error drop of one extra column (a step, or a hinge with positive
    amplitude) over the onset candidates: (gain, candidate x, amplitude, gain per candidate)."""
    h = _columns(x[:, None] - cand[None, :], shape)
    p = 0 if shape[0] == "s" else 1
    h -= q @ (q.T @ h)
    num = h.T @ y
    den = np.einsum("ij,ij->j", h, h)
    ok = den > 1e-12 * max(float(den.max()), 1e-300)
    coef = np.where(ok, num / np.where(ok, den, 1.0), 0.0)
    gain = np.where(ok & ((coef > 0) | (p == 0)), num * coef, 0.0)
    k = int(np.argmax(gain))
    return float(gain[k]), float(cand[k]), float(coef[k]), gain


def _reach(shape: tuple[str, float], amp: float, excess: float) -> float:
    """Time after the hinge at which ``amp``·column reaches ``excess`` (V)."""
    kind, k = shape
    y = max(excess, 0.0) / amp
    return float(y ** (1.0 / k) if kind == "p" else k * np.log1p(y))


def _subsets(n: int) -> list[tuple[int, ...]]:
    """Every non-empty subset of range(n) (the active sets of a tiny non-negative fit)."""
    return [tuple(j for j in range(n) if m >> j & 1) for m in range(1, 1 << n)]


#: Divergence shapes of the onset refinement: non-negative polynomials in d = t - t_start
#: (d, d², d³ and any mix: contact loss starts linearly, power laws curve) and exponentials.
_POLY_SETS = _subsets(3)
_REFINE_EXP_S = (100.0, 200.0, 400.0, 800.0)


def _poly_reach(coef: np.ndarray, excess: float) -> float:
    """Smallest d > 0 where sum(coef[j]·d^(j+1)) reaches ``excess`` (coefficients >= 0)."""
    roots = np.roots(np.concatenate((coef[::-1], [-max(excess, 0.0)])))
    real = roots[(np.abs(roots.imag) < 1e-9 * np.maximum(np.abs(roots), 1.0)) & (roots.real >= 0)]
    return float(real.real.min()) if real.size else np.inf


def refine_onset(
    t: np.ndarray,
    y: np.ndarray,
    t_seg: float,
    steps: list[float],
    onset_excess: float,
    *,
    bins: int = 200,
) -> float | None:
    """Run time at which a confirmed divergence reached ``onset_excess`` (V) over the healthy
    model — a segmented fit: for each candidate start, the null model is fitted only on the data
    before it (so the rise cannot bend it), extrapolated, and the divergence (a non-negative
    polynomial or an exponential hinge) fitted to what lies above it; the start and shape with
    the least squared error win."""
    tb, yb = _binned(t, y, bins)
    x = tb - t_seg
    c, reach = _segmented_fit(x, yb, _null_columns(x, [s - t_seg for s in steps]), onset_excess)
    if reach > float(x[-1]) - c:
        return None  # the fitted divergence does not reach it: no better than the judge's
    return t_seg + c + reach


def _segmented_fit(
    x: np.ndarray, yb: np.ndarray, a: np.ndarray, onset_excess: float
) -> tuple[float, float]:
    """The segmented fit of :func:`refine_onset` on bins ``x``, ``yb`` with null columns ``a``:
    (hinge x, time from the hinge to ``onset_excess``; inf when it is never reached)."""
    scale = max(float(x[-1] - x[0]), 1.0)
    best_sse, best_reach = np.inf, np.inf
    best_c = float(x[-1])
    for k in range(a.shape[1] + 8, x.size - 3):
        coef, *_ = np.linalg.lstsq(a[:k], yb[:k], rcond=None)
        r = yb - a @ coef
        c = float(x[k - 1])
        d = (x[k:] - c) / scale
        ra = r[k:]
        base = float(r[:k] @ r[:k]) + float(ra @ ra)
        powers = np.column_stack((d, d * d, d**3))
        for cols in _POLY_SETS:
            h = powers[:, cols]
            w, *_ = np.linalg.lstsq(h, ra, rcond=None)
            if np.any(w <= 0):
                continue
            sse = base - float(w @ (h.T @ ra))
            if sse < best_sse:
                full = np.zeros(3)
                full[list(cols)] = w
                best_sse, best_c = sse, c
                best_reach = scale * _poly_reach(full, onset_excess)
        for tau in _REFINE_EXP_S:
            h = np.expm1(np.minimum(d * scale / tau, 15.0))
            den = float(h @ h)
            amp = float(h @ ra) / den if den > 0 else 0.0
            if amp <= 0:
                continue
            sse = base - amp * amp * den
            if sse < best_sse:
                best_sse, best_c = sse, c
                best_reach = tau * float(np.log1p(max(onset_excess, 0.0) / amp))
    return best_c, best_reach


#: Window starts tried by the lower bounds on a refitted onset (flat_onset, late_level_onset).
_FLAT_STARTS, _LEVEL_STARTS = 20, 40
#: A stretch counts as flat when its linear trend is below this many standard errors.
_FLAT_TREND_T = 3.0


def flat_onset(
    t: np.ndarray, y: np.ndarray, onset_excess: float, *, bins: int = 200
) -> float | None:
    """Run time at which a divergence reached ``onset_excess`` (V) over a *constant* level: the
    segmented fit of :func:`refine_onset` with a constant null, from the earliest of
    ``_FLAT_STARTS`` window starts whose data before the fitted hinge show no linear trend.

    Why: after a relaxation |V| sits flat until a void lifts it, but the healthy model's
    relaxation and drift columns, fitted before a candidate hinge, extrapolate off that flat
    stretch and let the hinge slide back to the relaxation's end (independent traces: dated up
    to 15 min early). Used as a lower bound on the refit's onset, never alone.
    """
    for s0 in range(0, t.size - 40, max(1, t.size // _FLAT_STARTS)):
        tb, yb = _binned(t[s0:], y[s0:], bins)
        x = tb - tb[0]
        c, reach = _segmented_fit(x, yb, np.ones((x.size, 1)), onset_excess)
        pre = x <= c
        if pre.sum() < 10 or abs(_top_t(x[pre], yb[pre], 1)) >= _FLAT_TREND_T:
            continue
        return float(tb[0] + c + reach) if reach <= float(x[-1]) - c else None
    return None


def late_level_onset(t: np.ndarray, y: np.ndarray, onset_excess: float) -> float | None:
    """:func:`level_onset` from the earliest of ``_LEVEL_STARTS`` window starts where it
    answers: the crossing of a rise that bends up from some point after a relaxation. A lower
    bound on the refit's onset, like :func:`flat_onset`."""
    for s0 in range(0, t.size - 20, max(1, t.size // _LEVEL_STARTS)):
        t_on = level_onset(t[s0:], y[s0:], onset_excess)
        if t_on is not None:
            return t_on
    return None


#: Bins at the start of the window whose median is the level a void rises from (level_onset).
_LEVEL_BINS = 5
#: How clearly the data up to the level crossing must curve upward (t of the quadratic term).
_LEVEL_CONVEX_T = 3.0


def level_onset(
    t: np.ndarray, y: np.ndarray, onset_excess: float, *, bins: int = 200
) -> float | None:
    """Run time at which a confirmed divergence that bends up from the start of the window
    reached ``onset_excess`` (V) above the lowest level since the window's start, or None.

    The level is the median of the first bins, or the running minimum of the curve (a moving
    median over as many bins) where it dips below that; the answer is the first bin whose
    mean is ``onset_excess`` above the level so far — but only if the data up to that bin
    themselves curve upward (a void accelerating from the start). The minimum, not the start:
    in Li|SE|Li the other electrode, plated meanwhile, refills the voids its own strip left, so
    |V| may first fall and the void's own rise starts from the dip (SimWorld LLZO). A
    relaxation or a resistance drift rises concavely or linearly: there the starting level is
    no healthy reference and None sends the caller to the segmented fit (:func:`refine_onset`). Why: a contact loss that opens from the first
    second of a strip (SimWorld's voids, a strip whose supply never keeps up) has no hinge to
    fit, and a null model with linear drift fitted before any candidate start absorbs it.
    """
    tb, yb = _binned(t, y, bins)
    if tb.size < _LEVEL_BINS + 8:
        return None
    y0 = float(np.median(yb[:_LEVEL_BINS]))
    edge = np.pad(yb, _LEVEL_BINS // 2, mode="edge")
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(edge, _LEVEL_BINS), axis=1)
    level = np.minimum(y0, np.minimum.accumulate(smooth))
    hit = np.flatnonzero(yb - level >= onset_excess)
    if hit.size == 0 or hit[0] < 8:
        return None
    k = int(hit[0]) + 1
    return float(tb[k - 1]) if _top_t(tb[:k], yb[:k], 2) > _LEVEL_CONVEX_T else None


def _top_t(x: np.ndarray, y: np.ndarray, degree: int) -> float:
    """t statistic of the highest term of a least-squares polynomial of ``degree`` through
    (x, y): the slope (1) or the curvature (2) measured against the scatter about the fit."""
    u = (x - x.mean()) / max(float(np.ptp(x)), 1e-9)
    a = np.vander(u, degree + 1, increasing=True)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    resid = y - a @ coef
    s2 = float(resid @ resid) / max(x.size - degree - 1, 1)
    var = s2 * float(np.linalg.pinv(a.T @ a)[degree, degree])
    return float(coef[degree] / np.sqrt(max(var, 1e-300)))


def _accelerating(x: np.ndarray, y: np.ndarray, t_min: float = 3.0) -> bool:
    """Does ``y`` itself curve upward after the fitted onset (quadratic term > ``t_min`` SE)?

    A guard on the raw data: the null model's freedom can let a hinge fit part of a concave
    relaxation, but a relaxation never accelerates.
    """
    return x.size >= 5 and _top_t(x, y, 2) > t_min


def judge_rise(
    t: np.ndarray,
    y: np.ndarray,
    t_seg: float,
    steps: list[float],
    threshold: float,
    *,
    f_crit: float,
    onset_excess: float = 0.0,
    bins: int = 160,
) -> Verdict:
    """Judge the window ``t``, ``y`` (polarisation sign(I)·V) of a segment that started at ``t_seg``.

    ``steps`` are run times of resistance steps already found in it; ``threshold`` (V) is the
    least excess that counts. Void: divergence F >= ``f_crit``, beating the step, with a fitted
    rise >= ``threshold``. Step: the jump explains more than any divergence and is >= half the
    threshold. Wait: a convex rise with F >= ``f_crit``/4 that is not yet decisive. Else none.
    The void's time is when the fitted divergence reaches ``onset_excess`` (V; 0 = its start).
    """
    tb, yb = _binned(t, y, bins)
    x = tb - t_seg
    q = _null_basis(x, [s - t_seg for s in steps])
    if x.size < q.shape[1] + 8:
        return Verdict(WAIT)
    yr = yb - q @ (q.T @ yb)
    cand = x[1:-2]
    g_s, c_s, b_s, _ = _best(q, yr, x, cand, ("s", 0.0))
    fits = [(*_best(q, yr, x, cand, shape), shape) for shape in _SHAPES]
    g_v, c_v, a_v, _, shape = max(fits, key=lambda f: f[0])
    rss = float(yr @ yr) - max(g_v, g_s)
    s2 = max(rss / max(x.size - q.shape[1] - 2, 1), 1e-30)
    f_v, f_s = g_v / s2, g_s / s2
    now = np.array([x[-1] - c_v, x[-1] - c_v - 1.0])
    rise, before = a_v * _columns(now, shape)
    if f_s > f_v and abs(b_s) >= 0.5 * threshold:
        return Verdict(STEP, t_seg + c_s, f_s, b_s)
    if f_v >= f_crit and rise >= threshold:
        after = x > c_v
        seen = float(yb[-3:].mean() - yb[~after][-3:].mean())  # the rise in the data themselves
        if seen < threshold or not _accelerating(x[after], yb[after]):
            return Verdict(WAIT, t_seg + c_v, f_v, rise)
        t_on = c_v + min(_reach(shape, a_v, onset_excess), x[-1] - c_v)
        return Verdict(VOID, t_seg + t_on, f_v, rise, rise - before)
    if f_v >= 0.25 * f_crit and a_v > 0:
        return Verdict(WAIT, t_seg + c_v, f_v, rise)
    return Verdict(NONE, f_stat=f_v, rise_V=rise)
