"""Independent Li|SE|Li galvanostatic traces with ground truth, drawn from a seed.

Written apart from ``sim_instruments`` and ``analysis.synthetic`` (imports neither, shares no
functional form) so the detectors can be scored on shapes they were not built around:

- relaxation after every current change, one form per trace: exponential ``1 - e^(-t/τ)``,
  logarithmic ``ln(1 + t/τ) / ln(1 + t_sat/τ)`` (saturating at t_sat) or power law
  ``1 - (1 + t/τ)^(-α)``; nucleation overshoot decaying on plating halves;
- slow drift: a logarithmic resistance growth, a temperature-like sinusoidal wobble of the
  resistance and a linear offset drift of the voltmeter;
- resistance steps (cracks), white and 1/f noise, rare single-sample spikes, quantisation,
  sampling jitter and gaps, short current interruptions (I = 0 for seconds);
- voids: in one WE-stripping half the interfacial overpotential diverges from a start time
  as ``e^x - 1``, ``x^p`` or a contact-loss ``1/c - 1`` with ``c = 1 - x^q``; later WE
  strips void again, earlier; the step ends at the voltage limit like a real protocol.
  The true **onset** is when the void's own excess reaches :data:`ONSET_REL_RISE` of the
  healthy plateau polarisation (the same definition as the simulator set's, bench/bench_detect.py);
  the start of the divergence (excess 0) is kept as ``void_starts``;
- contact loss on the Li counter electrode during WE-plating halves (not a WE void);
- soft shorts: episodes where a parallel filament path drops |V| by 20–80 % for seconds, with
  erratic depth; some weld into a hard short.

Half cycles are 1 h. Sign convention: V = V(WE) - V(CE), I > 0 strips the WE.
Parameter ranges are engineering guesses spanning published symmetric-cell behaviour
(physics-reviews.md §3 items 1–4, physics-ees.md §3 items 1–4), not fitted to any detector.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Seeds the detector parameters and the confidence calibration may be tuned on.
TUNING_SEEDS = range(0, 100_000)
#: Seeds used only for scoring; disjoint from :data:`TUNING_SEEDS`.
HELDOUT_SEEDS = range(1_000_000, 1_100_000)

HALF_S = 3600.0  #: half-cycle length (s)
AREA_M2 = 1e-4  #: electrode area (1 cm²)
V_LIMIT_FACTOR = 3.0  #: a step ends when |V| exceeds this × its plateau (voltage limit)
#: A void's onset: its own excess polarisation reaches this fraction of the healthy plateau.
#: (Excess 0 — the divergence's start — is not observable for smooth forms such as x^3.)
ONSET_REL_RISE = 0.01


@dataclass
class Truth:
    """What really happened in one trace (times in s of run time)."""

    half_starts: np.ndarray
    half_current_A: np.ndarray
    void_onsets: list[float] = field(default_factory=list)
    void_halves: list[int] = field(default_factory=list)
    void_starts: list[float] = field(default_factory=list)
    ce_void_onsets: list[float] = field(default_factory=list)
    soft_shorts: list[tuple[float, float]] = field(default_factory=list)
    hard_short: float | None = None
    interruptions: list[tuple[float, float]] = field(default_factory=list)
    resistance_steps: list[float] = field(default_factory=list)
    forms: dict[str, str] = field(default_factory=dict)

    def half_of(self, time: float) -> int:
        """Index of the half cycle containing run time ``time``."""
        return int(np.searchsorted(self.half_starts, time, side="right") - 1)

    @property
    def first_void(self) -> float | None:
        """The first WE void onset (what a detector should report first), or None."""
        return self.void_onsets[0] if self.void_onsets else None


@dataclass(frozen=True)
class _Cell:
    """The randomly drawn cell and instrument for one trace."""

    n_halves: int
    first_sign: float
    current_A: float
    r_ohm: float
    r_int: float
    relax: str
    tau_s: float
    shape: float
    dip: float
    dip_tau_s: float
    growth: float
    wobble: float
    wobble_period_s: float
    offset_drift_V_h: float
    dt_s: float
    jitter: float
    white_V: float
    pink_V: float
    quantum_V: float


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _draw_cell(rng: np.random.Generator) -> _Cell:
    j = _log_uniform(rng, 0.5, 10.0)  # A/m² (0.05–1 mA/cm²)
    r_ohm = _log_uniform(rng, 5.0, 200.0)
    r_int = r_ohm * _log_uniform(rng, 0.2, 5.0)
    relax = str(rng.choice(["exp", "log", "power"]))
    tau, shape = {
        "exp": (_log_uniform(rng, 3.0, 120.0), 0.0),
        "log": (_log_uniform(rng, 0.5, 20.0), _log_uniform(rng, 60.0, 900.0)),
        "power": (_log_uniform(rng, 2.0, 60.0), rng.uniform(0.5, 1.2)),
    }[relax]
    plateau = j * AREA_M2 * (r_ohm + r_int)
    white = min(_log_uniform(rng, 2e-5, 2e-3), 0.03 * plateau)
    return _Cell(
        n_halves=2 * int(rng.integers(3, 7)),
        first_sign=float(rng.choice([-1.0, 1.0])),
        current_A=j * AREA_M2,
        r_ohm=r_ohm,
        r_int=r_int,
        relax=relax,
        tau_s=tau,
        shape=float(shape),
        dip=rng.uniform(0.1, 0.5) if rng.random() < 0.4 else 0.0,
        dip_tau_s=_log_uniform(rng, 5.0, 60.0),
        growth=rng.uniform(0.0, 0.08) if rng.random() < 0.5 else 0.0,
        wobble=rng.uniform(0.0, 0.004),
        wobble_period_s=rng.uniform(1800.0, 7200.0),
        offset_drift_V_h=rng.normal(0.0, 0.003 * plateau),
        dt_s=float(rng.choice([0.5, 1.0, 1.0, 2.0, 5.0])),
        jitter=rng.uniform(0.0, 0.3) if rng.random() < 0.5 else 0.0,
        white_V=white,
        pink_V=rng.uniform(0.0, 0.003) * plateau,
        quantum_V=float(rng.choice([q for q in (1e-6, 1e-5, 1e-4, 1e-3) if q <= plateau / 50])),
    )


def _relax(cell: _Cell, t: np.ndarray) -> np.ndarray:
    """Fraction of the way from the old to the new interfacial state, ``t`` s after a change."""
    t = np.maximum(t, 0.0)
    if cell.relax == "exp":
        return 1.0 - np.exp(-t / cell.tau_s)
    if cell.relax == "log":
        return np.minimum(1.0, np.log1p(t / cell.tau_s) / np.log1p(cell.shape / cell.tau_s))
    return 1.0 - (1.0 + t / cell.tau_s) ** (-cell.shape)


def _divergence(form: str, x: np.ndarray, p: float) -> np.ndarray:
    """Void overpotential growth (dimensionless) ``x`` = (t - onset)/τ after the onset."""
    x = np.maximum(x, 0.0)
    if form == "exp":
        return np.expm1(np.minimum(x, 30.0))
    if form == "power":
        return x**p
    contact = np.maximum(1.0 - x**p, 0.02)  # contact fraction falling from 1
    return 1.0 / contact - 1.0


def _divergence_inverse(form: str, y: float, p: float) -> float:
    """The ``x`` at which :func:`_divergence` reaches ``y`` > 0."""
    if form == "exp":
        return float(np.log1p(y))
    if form == "power":
        return float(y ** (1.0 / p))
    return float((y / (1.0 + y)) ** (1.0 / p))


@dataclass(frozen=True)
class _Void:
    onset_s: float
    form: str
    tau_s: float
    p: float
    amp: float  # excess scale as a fraction of the plateau (exp/power) or of η_int (contact)


def _draw_void(rng: np.random.Generator, onset_s: float) -> _Void:
    form = str(rng.choice(["exp", "power", "contact"]))
    if form == "contact":
        return _Void(onset_s, form, rng.uniform(600.0, 3000.0), rng.uniform(1.0, 2.0), 1.0)
    p = rng.uniform(1.5, 3.0) if form == "power" else 1.0
    return _Void(onset_s, form, rng.uniform(150.0, 1200.0), p, rng.uniform(0.03, 0.3))


def _void_term(
    cell: _Cell, void: _Void, start: float, t_run: np.ndarray, plateau: np.ndarray
) -> tuple[np.ndarray, float]:
    """The void's excess |V| over a half (from run time ``start``) and its onset time: the
    excess reaches ONSET_REL_RISE × the healthy plateau (taken at the start)."""
    scale = cell.current_A * cell.r_int if void.form == "contact" else plateau
    excess = void.amp * scale * _divergence(void.form, (t_run - start) / void.tau_s, void.p)
    p0 = float(np.interp(start, t_run, plateau))
    s0 = cell.current_A * cell.r_int if void.form == "contact" else p0
    y = ONSET_REL_RISE * p0 / (void.amp * s0)
    return excess, start + void.tau_s * _divergence_inverse(void.form, y, void.p)


def _pink(rng: np.random.Generator, n: int, rms: float) -> np.ndarray:
    """1/f noise of the given rms over ``n`` samples (spectrally shaped white noise)."""
    if rms <= 0 or n < 4:
        return np.zeros(n)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    x = np.fft.irfft(spec / np.sqrt(f), n)
    return rms * (x - x.mean()) / x.std()


def make_trace(seed: int) -> tuple[pd.DataFrame, Truth]:
    """One trace: an electro frame (time, voltage, current, step, cycle) and its truth."""
    rng = np.random.default_rng([seed, 0x5EB0])
    cell = _draw_cell(rng)
    signs = cell.first_sign * (-1.0) ** np.arange(cell.n_halves)
    we_strips = np.flatnonzero(signs > 0)
    plating = np.flatnonzero(signs < 0)
    has_void = rng.random() < 0.6
    void_half = int(rng.choice(we_strips)) if has_void else None
    first_void = _draw_void(rng, rng.uniform(300.0, 0.85 * HALF_S)) if has_void else None
    ce_half = int(rng.choice(plating)) if rng.random() < 0.25 else None
    ce_void = _draw_void(rng, rng.uniform(300.0, 0.85 * HALF_S)) if ce_half is not None else None
    n_steps = int(rng.integers(0, 3))
    step_times = np.sort(rng.uniform(0.0, cell.n_halves * HALF_S, n_steps))
    step_fracs = rng.uniform(0.02, 0.15, n_steps)
    truth = Truth(np.zeros(cell.n_halves), signs * cell.current_A)
    truth.forms = {"relax": cell.relax}
    if first_void is not None:
        truth.forms["void"] = first_void.form
    ts, vs, cs, steps = [], [], [], []
    eta = 0.0  # interfacial overpotential carried across current changes (signed, V)
    t_half = 0.0
    void = first_void
    for k, s in enumerate(signs):
        truth.half_starts[k] = t_half
        n = int(HALF_S / cell.dt_s)
        local = np.arange(n) * cell.dt_s
        if cell.jitter:
            local[1:] += rng.uniform(-cell.jitter, cell.jitter, n - 1) * cell.dt_s
        pieces = [(0.0, s * cell.current_A)]
        for _ in range(int(rng.poisson(0.4))):
            start = rng.uniform(120.0, HALF_S - 120.0)
            dur = rng.uniform(1.0, 30.0)
            pieces += [(start, 0.0), (start + dur, s * cell.current_A)]
            truth.interruptions.append((t_half + start, t_half + start + dur))
        pieces.sort()
        t_run = t_half + local
        r_scale = (
            (1.0 + cell.growth * np.log1p(t_run / 3600.0))
            * (1.0 + cell.wobble * np.sin(2 * np.pi * t_run / cell.wobble_period_s))
            * np.prod(1.0 + step_fracs[None, :] * (t_run[:, None] >= step_times), axis=1)
        )
        current = np.empty(n)
        v = np.empty(n)
        for p, (p0, ip) in enumerate(pieces):
            p1 = pieces[p + 1][0] if p + 1 < len(pieces) else np.inf
            sel = (local >= p0) & (local < p1)
            target = ip * cell.r_int
            g = _relax(cell, local[sel] - p0)
            v_int = eta + (target - eta) * g
            current[sel] = ip
            v[sel] = (ip * cell.r_ohm + v_int) * r_scale[sel]
            if ip < 0 and cell.dip and p == 0:
                v[sel] += ip * cell.r_int * cell.dip * np.exp(-(local[sel] - p0) / cell.dip_tau_s)
            if sel.any():
                eta = float(v_int[-1])
        plateau = cell.current_A * (cell.r_ohm + cell.r_int) * r_scale
        if void is not None and s > 0 and k >= (void_half or 0):
            start = t_half + void.onset_s
            excess, onset = _void_term(cell, void, start, t_run, plateau)
            v += s * excess * (current != 0)
            if onset < t_half + HALF_S:
                truth.void_onsets.append(onset)
                truth.void_halves.append(k)
                truth.void_starts.append(start)
            earlier = (
                rng.uniform(0.3, 0.9) * void.onset_s
            )  # voids accumulate: the next comes sooner
            void = _Void(earlier, void.form, void.tau_s, void.p, void.amp)
        if ce_void is not None and k == ce_half:
            excess, onset = _void_term(cell, ce_void, t_half + ce_void.onset_s, t_run, plateau)
            v += s * excess
            if onset < t_half + HALF_S:
                truth.ce_void_onsets.append(onset)
        over = np.flatnonzero((np.abs(v) > V_LIMIT_FACTOR * plateau) & (local > 60.0))
        end = int(over[0]) if over.size else n
        ts.append(t_run[:end])
        vs.append(v[:end])
        cs.append(current[:end])
        steps.append(np.full(end, k))
        t_half = t_half + (local[end] if end < n else HALF_S)
    t = np.concatenate(ts)
    v = np.concatenate(vs)
    i = np.concatenate(cs)
    step = np.concatenate(steps)
    truth.resistance_steps = [float(x) for x in step_times if x < t[-1]]
    v = _add_shorts(rng, t, v, truth)
    v = v + cell.offset_drift_V_h * t / 3600.0
    v = v + rng.normal(0.0, cell.white_V, t.size) + _pink(rng, t.size, cell.pink_V)
    if rng.random() < 0.3:
        k = rng.integers(0, t.size, int(rng.integers(1, 6)))
        v[k] += rng.choice([-1.0, 1.0], k.size) * rng.uniform(5.0, 20.0, k.size) * cell.white_V
    v = np.round(v / cell.quantum_V) * cell.quantum_V
    i = i * (1.0 + 2e-5 * rng.standard_normal(t.size)) + 1e-10 * rng.standard_normal(t.size)
    keep = np.ones(t.size, dtype=bool)
    for _ in range(int(rng.integers(0, 4))):
        g0 = rng.uniform(0.0, t[-1])
        keep &= (t < g0) | (t >= g0 + rng.uniform(5.0, 300.0))
    frame = pd.DataFrame(
        {
            "time": t[keep],
            "voltage": v[keep],
            "current": i[keep],
            "step": step[keep],
            "cycle": step[keep] // 2 + 1,
        }
    )
    return frame, truth


def _add_shorts(rng: np.random.Generator, t: np.ndarray, v: np.ndarray, truth: Truth) -> np.ndarray:
    """Soft-short episodes (|V| dropped by a parallel path), some welding into a hard short."""
    if rng.random() >= 0.25:
        return v
    v = v.copy()
    start = rng.uniform(0.4, 0.9) * t[-1]
    for _ in range(int(rng.integers(1, 7))):
        dur = float(np.clip(rng.exponential(10.0), 2.0, 120.0))
        sel = (t >= start) & (t < start + dur)
        if sel.sum() >= 2:
            depth = rng.uniform(0.2, 0.8)
            erratic = np.clip(depth * (1 + 0.2 * rng.standard_normal(sel.sum())), 0.1, 0.95)
            v[sel] *= 1.0 - erratic
            truth.soft_shorts.append((start, start + dur))
        start += dur + rng.exponential(60.0)
        if start >= t[-1]:
            break
    if truth.soft_shorts and rng.random() < 0.4 and start < t[-1]:
        v[t >= start] *= rng.uniform(0.01, 0.1)
        truth.hard_short = float(start)
        keep = [k for k, t_on in enumerate(truth.void_onsets) if t_on < start]
        truth.void_onsets = [truth.void_onsets[k] for k in keep]  # no voids in a shorted cell
        truth.void_halves = [truth.void_halves[k] for k in keep]
        truth.void_starts = [truth.void_starts[k] for k in keep]
    return v
