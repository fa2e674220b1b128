"""Equivalent-circuit fits of impedance spectra and the Li|SE|Li quantities they give.

Fitting is weighted (modulus) complex non-linear least squares (scipy ``least_squares``,
trust-region reflective) in log space for every positive parameter, with bounds, so
resistances of 0.1 ohm and capacitances of 1 nF converge alike. Standard errors come from the
Jacobian at the optimum (σ² from the residual). Initial values for the default circuit are read
off the spectrum (high-frequency intercept, low-frequency width, arc apex frequency).

Quantities (docs/analysis.md "Impedance"): ``R_bulk`` = R0 (the electrolyte, bulk + grain
boundary when that arc lies above the measured range); ``R_interface`` = the sum of the arc
resistances; for a symmetric cell both interfaces are taken as equal, so per interface
``R_interface / 2`` and ``ASR_interface = R_interface / 2 × area`` (Ω cm²). An arc's effective
capacitance is C = (R Q)^(1/n) / R (Hsu & Mansfeld).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from analysis.impedance import ImpedanceDataError, KKResult, Spectrum, lin_kk
from analysis.impedance_circuits import Circuit, li_se_li_circuit, parse_circuit


@dataclass(frozen=True)
class FitResult:
    """Best-fit parameters (SI) with standard errors, the fit curve and its quality."""

    circuit: Circuit
    values: dict[str, float]
    errors: dict[str, float]
    z_fit: np.ndarray
    rms_relative: float  # rms of (Z - Z_fit) / |Z|
    kk: KKResult | None
    warnings: list[str] = field(default_factory=list)


def _positive(name: str) -> bool:
    return not name.endswith("_n")


def _label_number(name: str) -> str:
    """``"CPE2_Q"`` -> ``"2"``: the number that pairs an arc's R with its CPE or C."""
    return "".join(ch for ch in name.split("_")[0] if ch.isdigit())


def _initial(circuit: Circuit, s: Spectrum) -> dict[str, float]:
    """Starting values read off the spectrum: R0 the high-frequency intercept, the arcs share
    the width of the spectrum before any low-frequency tail, the first arc's apex sets its
    time constant and later arcs start 1.5 decades lower each."""
    zr, zi = s.z.real, s.z.imag
    r_hf = float(max(zr[0], 1e-6 * np.abs(s.z).max()))
    valley = int(np.argmin(np.where(s.frequency < s.frequency[0] / 10, -zi, np.inf)))
    width = max(float(zr[: valley + 1].max() - r_hf), 1e-3 * r_hf)
    arcs = sorted({_label_number(n) for n in circuit.names if n[0] == "R" and n != "R0"})
    share = width / max(len(arcs), 1)
    apex = float(s.frequency[int(np.argmax(-zi))])
    guess: dict[str, float] = {}
    for name in circuit.names:
        number = _label_number(name)
        f_arc = apex * 10.0 ** (-1.5 * (arcs.index(number) if number in arcs else 0))
        if name == "R0":
            guess[name] = r_hf
        elif name.endswith("_n"):
            guess[name] = 0.9
        elif name[0] == "R":
            guess[name] = share
        elif name.endswith("_Q") or name[0] == "C":
            guess[name] = 1.0 / (share * 2 * np.pi * f_arc)
        elif name[0] == "W":
            guess[name] = max(0.5 * abs(zi[-1]) * math.sqrt(2 * np.pi * s.frequency[-1]), 1e-6 * r_hf)  # fmt: skip
        else:  # inductance
            guess[name] = 1e-7
    return guess


def fit_spectrum(
    s: Spectrum,
    circuit: str | None = None,
    *,
    initial: dict[str, float] | None = None,
    bounds: dict[str, tuple[float, float]] | None = None,
    kk: bool = True,
    strict_kk: bool = False,
) -> FitResult:
    """Fit ``circuit`` (default: Li|SE|Li, one arc) to ``s``; errors say what went wrong."""
    c = parse_circuit(circuit or li_se_li_circuit())
    names = c.names
    if len(s.frequency) * 2 <= len(names):
        raise ImpedanceDataError(f"{s.where}: {len(s.frequency)} points cannot fit the {len(names)} parameters of {c.text!r}")  # fmt: skip
    unknown = sorted(set(initial or {}) - set(names)) + sorted(set(bounds or {}) - set(names))
    if unknown:
        raise ImpedanceDataError(f"{s.where}: {', '.join(unknown)} not parameters of {c.text!r} (it has {', '.join(names)})")  # fmt: skip
    check = lin_kk(s) if kk else None
    warnings = [] if check is None or check.valid else [check.message(s)]
    if strict_kk and warnings:
        raise ImpedanceDataError(warnings[0])
    start = {**_initial(c, s), **(initial or {})}
    lo, hi = [], []
    for name in names:
        default = (0.0, 1.0) if not _positive(name) else (0.0, math.inf)
        if name.endswith("_n"):
            default = (0.3, 1.0)
        low, high = (bounds or {}).get(name, default)
        if not low < high or not low <= start[name] <= high:
            start[name] = min(max(start[name], low), high)
        if not low < high:
            raise ImpedanceDataError(f"{s.where}: bounds of {name} must have low < high, got ({low}, {high})")  # fmt: skip
        lo.append(math.log(max(low, 1e-300)) if _positive(name) else low)
        hi.append(math.log(high) if _positive(name) and math.isfinite(high) else (math.inf if _positive(name) else high))  # fmt: skip
    x0 = np.array([math.log(max(start[n], 1e-300)) if _positive(n) else start[n] for n in names])
    x0 = np.clip(x0, np.array(lo) + 1e-12, np.array(hi) - 1e-12)
    positive = np.array([_positive(n) for n in names])
    omega = 2 * np.pi * s.frequency
    weight = 1.0 / np.abs(s.z)

    def unpack(x: np.ndarray) -> np.ndarray:
        return np.where(positive, np.exp(np.minimum(x, 700.0)), x)

    def residual(x: np.ndarray) -> np.ndarray:
        diff = (c.impedance(unpack(x), omega) - s.z) * weight
        return np.concatenate([diff.real, diff.imag])

    with np.errstate(all="ignore"):
        result = least_squares(residual, x0, bounds=(lo, hi), method="trf", x_scale="jac")
    if not np.all(np.isfinite(result.fun)):
        raise ImpedanceDataError(f"{s.where}: the fit of {c.text!r} diverged (non-finite residuals)")  # fmt: skip
    params = unpack(result.x)
    dof = max(2 * len(s.frequency) - len(names), 1)
    sigma2 = float(result.fun @ result.fun) / dof
    try:
        cov = np.linalg.pinv(result.jac.T @ result.jac) * sigma2
        err_x = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:  # pragma: no cover - pinv rarely fails
        err_x = np.full(len(names), np.nan)
    errors = np.where(positive, params * err_x, err_x)
    z_fit = c.impedance(params, omega)
    rms = float(np.sqrt(np.mean(np.abs((s.z - z_fit) * weight) ** 2)))
    if not result.success:
        warnings.append(f"{s.where}: the fit stopped without converging ({result.message})")
    return FitResult(c, dict(zip(names, map(float, params), strict=True)),
                     dict(zip(names, map(float, errors), strict=True)), z_fit, rms, check, warnings)  # fmt: skip


@dataclass(frozen=True)
class Quantities:
    """Li|SE|Li results of one fit (SI: ohm, F; ASR in ohm cm2 as labs quote it)."""

    r_bulk: float
    r_bulk_err: float
    r_interface: float  # all arcs together
    r_interface_err: float
    r_interface_per_interface: float
    asr_interface_ohm_cm2: float  # per interface
    asr_interface_err_ohm_cm2: float
    capacitances: dict[str, tuple[float, float]]  # arc -> (C, sigma C)


def arc_capacitance(r: float, q: float, n: float) -> float:
    """Effective capacitance of an R‖CPE arc: (R Q)^(1/n) / R."""
    return (r * q) ** (1.0 / n) / r


def quantities(fit: FitResult, area_m2: float, symmetric: bool = True) -> Quantities:
    """R_bulk, R_interface (total, per interface, ASR) and arc capacitances from ``fit``."""
    if not area_m2 > 0:
        raise ImpedanceDataError(f"electrode area must be > 0 m2, got {area_m2!r}")
    v, e = fit.values, fit.errors
    if "R0" not in v:
        raise ImpedanceDataError(f"circuit {fit.circuit.text!r} has no R0 (the bulk resistance)")
    arcs = [n for n in v if n.startswith("R") and n != "R0"]
    r_int = float(sum(v[n] for n in arcs))
    r_int_err = float(math.sqrt(sum(e[n] ** 2 for n in arcs)))
    share = 2.0 if symmetric else 1.0
    area_cm2 = area_m2 * 1e4
    caps: dict[str, tuple[float, float]] = {}
    for name in arcs:
        label = name[1:]
        q, n = v.get(f"CPE{label}_Q"), v.get(f"CPE{label}_n")
        if q is None:
            if f"C{label}" in v:
                caps[name] = (v[f"C{label}"], e[f"C{label}"])
            continue
        c = arc_capacitance(v[name], q, n)
        rel = math.sqrt((e[name] / v[name] * (1 / n - 1)) ** 2 + (e[f"CPE{label}_Q"] / q / n) ** 2
                        + (e[f"CPE{label}_n"] * math.log(v[name] * q) / n**2) ** 2)  # fmt: skip
        caps[name] = (c, c * rel)
    return Quantities(v["R0"], e["R0"], r_int, r_int_err, r_int / share,
                      r_int / share * area_cm2, r_int_err / share * area_cm2, caps)  # fmt: skip
