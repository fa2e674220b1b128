"""MIEC tubule nanobattery for in situ TEM (Chen et al., Nature 2020; creep §1.1, §2).

A Li (or Na) probe capped with a soft SE touches the mouths of hollow MIEC tubules. Under a
bias V (tubule vs probe) the metal column creeps along the tubule by interfacial (Coble)
diffusion. With the Nernst pressure P = eU/Omega over the column length l (creep §2.1 E1, E5,
§2.5) the front speed is v = 4 Omega D_int delta grad(P) / (k_B T W), so each tubule is a
conductance g = e^2 pi W D_int delta / (Omega k_B T l) in series with the probe resistance,
and the column length changes by dx = I dt Omega / (e pi W^2 / 4) - charge and front position
agree by construction (creep §2.5: I [pA] = 0.058 v [nm/s] for W = 100 nm).
"""

from __future__ import annotations

import math

import numpy as np

from sim_instruments import constants as C

TEM_TEMPERATURE_K = 300.0  # creep §1.1 (room temperature, taken as 300 K)


def interface_diffusivity_m2_per_s(melting_point_K: float, T: float) -> float:
    """D_int = D_surf / 3.5 with D_surf = 0.014 exp(-6.54 T_M / T) cm2/s (creep §2.1 E9)."""
    d_surf = C.SURFACE_DIFFUSIVITY_PREFACTOR_M2_PER_S * math.exp(
        -C.SURFACE_DIFFUSIVITY_TM_FACTOR * melting_point_K / T
    )
    return d_surf / C.INTERFACE_DIFFUSIVITY_REDUCTION


class TubuleModel:
    """Tubule array, probe position, bias source and the metal columns (ground truth)."""

    def __init__(self, metal: str, count: int, rng: np.random.Generator) -> None:
        if metal not in ("Li", "Na"):
            raise ValueError(f"tubule metal must be 'Li' or 'Na', got {metal!r}")
        self.metal = metal
        self.omega = C.LI_ATOMIC_VOLUME_M3 if metal == "Li" else C.NA_ATOMIC_VOLUME_M3
        t_m = C.LI_MELTING_POINT_K if metal == "Li" else C.NA_MELTING_POINT_K
        self.d_int = interface_diffusivity_m2_per_s(t_m, TEM_TEMPERATURE_K)
        self.count = count
        self.W = C.TUBULE_INNER_DIAMETER_M
        self.length = C.TUBULE_LENGTH_M
        self.cross_section = math.pi * self.W**2 / 4
        self.y = (np.arange(count) - (count - 1) / 2) * C.TUBULE_PITCH_M
        self.seg_start = np.zeros(count)  # m from the mouth: near end of the metal column
        self.seg_end = np.zeros(count)  # front position
        self.overflow_C = np.zeros(count)  # metal pushed out of full tubules (as charge)
        self.void_plug = np.zeros(count, dtype=bool)
        self.position = np.array(C.PROBE_START_M, dtype=float)
        self.bias_V = 0.0
        self.limit_A = 1e-6
        self.charge_C = 0.0
        self._rng = rng
        self._stripping = False
        self._zeros = np.zeros(count)
        self._cache: tuple[float, np.ndarray, np.ndarray, bool] | None = None

    # --- holder ---------------------------------------------------------------------------
    def move(self, axis: str, distance_m: float) -> None:
        if axis not in ("x", "y", "z"):
            raise ValueError(f"holder axis must be 'x', 'y' or 'z', got {axis!r}")
        self._cache = None
        i = "xyz".index(axis)
        self.position[i] += distance_m
        self.position[2] = min(self.position[2], C.PROBE_MAX_INDENT_M)

    def contacts(self) -> np.ndarray:
        """Which tubule mouths the probe's SE cap touches."""
        x, y, z = self.position
        if z < 0 or abs(x) > C.PROBE_RADIUS_M:
            return np.zeros(self.count, dtype=bool)
        return np.abs(self.y - y) < C.PROBE_RADIUS_M

    def set_bias(self, volts: float, limit_A: float) -> None:
        if not (math.isfinite(limit_A) and limit_A > 0):
            raise ValueError(f"holder current limit must be > 0 A, got {limit_A}")
        self.bias_V = volts
        self.limit_A = limit_A
        self._cache = None

    # --- circuit --------------------------------------------------------------------------
    def _conductances(self) -> np.ndarray:
        """Per-tubule creep conductance (S) in the present bias direction; 0 if blocked."""
        kT = C.BOLTZMANN_J_PER_K * TEM_TEMPERATURE_K
        e = C.ELEMENTARY_CHARGE_C
        contact = self.contacts()
        column = self.seg_end - self.seg_start
        if self.bias_V < 0:  # plating: metal enters at the mouth, creeps to the front
            path = self.seg_end + self.W
            open_ = contact & (self.seg_end < self.length)
        else:  # stripping: the column creeps out along its own length; past a void plug the
            # empty MIEC wall is a fast path, so the rate does not change (creep §3.5, §5 #7)
            path = column + self.W
            open_ = contact & (column > 0)
        g = (
            e
            * e
            * math.pi
            * self.W
            * self.d_int
            * C.INTERFACE_CHANNEL_WIDTH_M
            / (self.omega * kT * path)
        )
        return np.where(open_, g, 0.0)

    def idle(self) -> bool:
        """No bias: nothing moves and no current flows (the common case for cell runs)."""
        return self.bias_V == 0.0

    def currents(self) -> tuple[float, np.ndarray, np.ndarray, bool]:
        """(V at the terminals, per-tubule creep current, per-tubule overflow current, compliance)."""
        if self.bias_V == 0.0:
            return 0.0, self._zeros, self._zeros, False
        if self._cache is None:
            self._cache = self._solve()
        return self._cache

    def _solve(self) -> tuple[float, np.ndarray, np.ndarray, bool]:
        V = self.bias_V
        g = self._conductances()
        contact = self.contacts()
        full = contact & (self.seg_end >= self.length) & (V < 0)
        g_total = g.sum()
        i_creep = np.zeros(self.count)
        i_over = np.zeros(self.count)
        if g_total > 0:
            total = V / (C.TUBULE_SERIES_RESISTANCE_OHM + 1.0 / g_total)
            i_creep = total * g / g_total
        if full.any() and abs(V) > C.TUBULE_OVERFLOW_OVERPOTENTIAL_V:
            g_over = self._overflow_conductance()
            drive = -(abs(V) - C.TUBULE_OVERFLOW_OVERPOTENTIAL_V)
            per = drive / (C.TUBULE_SERIES_RESISTANCE_OHM + 1.0 / g_over)
            i_over = np.where(full, per / full.sum(), 0.0)
        total = float(i_creep.sum() + i_over.sum()) + V / C.HOLDER_LEAK_RESISTANCE_OHM
        if abs(total) > self.limit_A:
            scale = self.limit_A / abs(total)
            return V * scale, i_creep * scale, i_over * scale, True
        return V, i_creep, i_over, False

    def _overflow_conductance(self) -> float:
        kT = C.BOLTZMANN_J_PER_K * TEM_TEMPERATURE_K
        e = C.ELEMENTARY_CHARGE_C
        return (
            e
            * e
            * math.pi
            * self.W
            * self.d_int
            * C.INTERFACE_CHANNEL_WIDTH_M
            / (self.omega * kT * (self.length + self.W))
        )

    def measure(self) -> tuple[float, float, bool]:
        V, ic, io, comp = self.currents()
        total = float(ic.sum() + io.sum()) + V / C.HOLDER_LEAK_RESISTANCE_OHM
        return V, total, comp

    # --- dynamics -------------------------------------------------------------------------
    def max_step(self) -> float:
        if self.idle():
            return math.inf
        _, ic, io, _ = self.currents()
        speed = np.abs(ic).max() * self.omega / (C.ELEMENTARY_CHARGE_C * self.cross_section)
        dt = math.inf
        if speed > 0:
            dt = 0.01 * self.length / speed
            # land exactly on the moment a column empties or fills
            column = self.seg_end - self.seg_start
            if self.bias_V > 0:
                dt = min(dt, max(column.max() / speed, 1e-6))
            else:
                dt = min(dt, max((self.length - self.seg_end).min() / speed, 1e-6))
        if np.any(io != 0):
            dt = min(dt, 1.0)
        return dt

    def step(self, dt: float) -> None:
        if self.idle():
            self._stripping = False
            return
        V, ic, io, _ = self.currents()
        self._cache = None
        self.charge_C += (float(ic.sum() + io.sum()) + V / C.HOLDER_LEAK_RESISTANCE_OHM) * dt
        stripping = V > 0
        if stripping and not self._stripping:
            present = (self.seg_end - self.seg_start) > 0
            self.void_plug = present & (
                self._rng.random(self.count) < C.TUBULE_VOID_PLUG_PROBABILITY
            )
        self._stripping = stripping
        dx = ic * dt * self.omega / (C.ELEMENTARY_CHARGE_C * self.cross_section)  # < 0 plating
        self.overflow_C += -io * dt
        for i in range(self.count):
            if dx[i] < 0:
                self.seg_end[i] = min(self.seg_end[i] - dx[i], self.length)
            elif dx[i] > 0:
                if self.void_plug[i]:
                    self.seg_start[i] = min(self.seg_start[i] + dx[i], self.seg_end[i])
                else:
                    self.seg_end[i] = max(self.seg_end[i] - dx[i], self.seg_start[i])
                if self.seg_end[i] - self.seg_start[i] <= 1e-12:
                    self.seg_start[i] = self.seg_end[i] = 0.0
                    self.void_plug[i] = False
