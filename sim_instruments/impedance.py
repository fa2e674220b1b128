"""Small-signal impedance of the simulated cell, from the same state the DC model uses.

Z(ω) = [bulk R‖C] + [grain boundary R‖C] + Σ_interfaces [R_int‖CPE] (+ [R_ip‖C] where an
interphase grows) + Warburg tail, all in parallel with the short path when there is one.
Every resistance is the DC model's own (sim_instruments/cell.py ``Coefficients``): the
electrolyte resistance is split into bulk and grain boundary, each interface's resistance is
the charge-transfer resistance linearised at zero current plus the contact ASR (which follows
stack pressure and falls with the contact fraction as voids open), so the arc grows and
shrinks exactly as the DC overpotential does. Capacitances scale with the area in contact.
Numbers: sim_instruments/constants.py (impedance section).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from sim_instruments import constants as C
from sim_instruments.cell import Coefficients


@dataclass(frozen=True)
class CellCircuit:
    """Equivalent-circuit parameters of the cell at one instant (SI; ohm, F, F s^(n-1))."""

    r_bulk: float
    c_bulk: float
    r_gb: float
    c_gb: float
    r_interface: tuple[float, float]  # (WE, CE)
    q_interface: tuple[float, float]  # CPE coefficients
    n_interface: float
    r_interphase: tuple[float, float]
    c_interphase: tuple[float, float]
    warburg: float  # ohm s^-1/2
    r_short: float  # inf when there is no electronic path

    def impedance(self, frequency_Hz: np.ndarray) -> np.ndarray:
        """Complex Z (Z'' < 0 for capacitive arcs) at each frequency."""
        w = 2.0 * np.pi * np.asarray(frequency_Hz, dtype=float)
        jw = 1j * w
        z = self.r_bulk / (1.0 + jw * self.r_bulk * self.c_bulk)
        if self.r_gb > 0:
            z = z + self.r_gb / (1.0 + jw * self.r_gb * self.c_gb)
        for r, q in zip(self.r_interface, self.q_interface, strict=True):
            z = z + r / (1.0 + r * q * jw**self.n_interface)
        for r, c in zip(self.r_interphase, self.c_interphase, strict=True):
            if r > 0:
                z = z + r / (1.0 + jw * r * c)
        z = z + self.warburg * (1.0 - 1j) / np.sqrt(w)
        if math.isfinite(self.r_short):
            z = z * self.r_short / (z + self.r_short)
        return z

    @property
    def r_interface_total(self) -> float:
        return float(sum(self.r_interface) + sum(self.r_interphase))

    def truth(self) -> dict[str, float | list[float]]:
        """JSON-friendly parameters (tuples as lists, inf as None) plus the totals."""
        out: dict[str, float | list[float] | None] = {}
        for key, value in asdict(self).items():
            if isinstance(value, tuple):
                out[key] = list(value)
            else:
                out[key] = value if math.isfinite(value) else None
        out["r_electrolyte"] = self.r_bulk + self.r_gb
        out["r_interface_total"] = self.r_interface_total
        return out


def cell_circuit(
    coeffs: Coefficients,
    contact_fractions: tuple[float, float],
    preset: str,
    thickness_m: float,
) -> CellCircuit:
    """The circuit of a cell whose DC model has ``coeffs`` now (see the module docstring)."""
    area = coeffs.area
    gb = C.GRAIN_BOUNDARY_RESISTANCE_FRACTION[preset]
    c_bulk = C.VACUUM_PERMITTIVITY_F_PER_M * C.RELATIVE_PERMITTIVITY[preset] * area / thickness_m
    r_int, q_int = [], []
    for k in (0, 1):
        if k == 0 and coeffs.bare_we:
            asr = C.CU_BLOCKING_ASR_OHM_M2  # no Li on the Cu yet: a blocking interface
        else:
            asr = coeffs.b / (2.0 * coeffs.j0f[k]) + coeffs.asr_contact[k]
        r_int.append(asr / area)
        q_int.append(C.INTERFACE_CAPACITANCE_F_PER_M2 * area * contact_fractions[k])
    r_ip = coeffs.asr_interphase / area
    c_ip = C.INTERPHASE_CAPACITANCE_F_PER_M2 * area
    return CellCircuit(
        r_bulk=coeffs.r_bulk / (1.0 + gb),
        c_bulk=c_bulk,
        r_gb=coeffs.r_bulk * gb / (1.0 + gb),
        c_gb=c_bulk * C.GRAIN_BOUNDARY_CAPACITANCE_RATIO,
        r_interface=(r_int[0], r_int[1]),
        q_interface=(q_int[0], q_int[1]),
        n_interface=C.INTERFACE_CPE_EXPONENT,
        r_interphase=(r_ip, r_ip),
        c_interphase=(c_ip, c_ip),
        warburg=C.WARBURG_OHM_M2_SQRT_S / area,
        r_short=coeffs.r_short,
    )


def point_duration_s(frequency_Hz: float) -> float:
    """Measurement time of one frequency point: a few periods, a minimum, settling."""
    periods = C.EIS_CYCLES_PER_POINT / frequency_Hz
    return max(periods, C.EIS_MIN_POINT_S) + C.EIS_POINT_OVERHEAD_S


def sweep_frequencies(start_Hz: float, end_Hz: float, points: int) -> np.ndarray:
    """Log-spaced frequencies from ``start_Hz`` to ``end_Hz`` (both included)."""
    if points == 1:
        return np.array([float(start_Hz)])
    return np.logspace(math.log10(start_Hz), math.log10(end_Hz), points)


def noisy(z: complex, relative: float, rng: np.random.Generator) -> complex:
    """``z`` with independent Gaussian noise of ``relative`` |z| on each component."""
    scale = relative * abs(z)
    return complex(z.real + scale * rng.standard_normal(), z.imag + scale * rng.standard_normal())
