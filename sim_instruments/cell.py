"""Li | solid electrolyte | Li (or Cu) cell: state, current-voltage relation and state evolution.

Electrode 0 is the working electrode (WE), electrode 1 the counter (CE). V = V(WE) - V(CE);
I > 0 strips Li from the WE. In the anode-free cell the WE is the Cu collector.

Per interface k the anodic overpotential at areal current density j_k is
    eta_k = (2RT/F) asinh(j_k / (2 j0 f_k)) + j_k ASR_c(P) / f_k + j_k ASR_i(t)
(Butler-Volmer at the local current density j/f, constriction contact resistance focused by the
contact fraction f, interphase resistance), and the ionic path gives
    V_ion(I) = I L/(sigma A) + eta_WE(I/A) - eta_CE(-I/A).
A filament or creep short adds an electronic path R_short in parallel. Equations, sources and
calibration: docs/simulator.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sim_instruments import constants as C

_B_FACTOR = 2.0 * C.GAS_CONSTANT_J_PER_MOL_K / C.FARADAY_C_PER_MOL  # 2RT/F per kelvin
_LPC = C.LI_THICKNESS_M_PER_C_PER_M2  # m of dense Li per C/m2


def arrhenius(activation_J_per_mol: float, temperature_K: float) -> float:
    """Rate multiplier relative to 298.15 K."""
    inv = 1.0 / temperature_K - 1.0 / C.ROOM_TEMPERATURE_K
    return math.exp(-activation_J_per_mol / C.GAS_CONSTANT_J_PER_MOL_K * inv)


def contact_asr_ohm_m2(preset: C.ElectrolytePreset, pressure_Pa: float, T: float) -> float:
    """Contact (constriction) area-specific resistance per interface at full contact."""
    p = max(pressure_Pa, 0.0) + preset.contact_pressure_offset_Pa
    asr = preset.contact_asr_coefficient / p**preset.contact_pressure_exponent
    return asr / arrhenius(C.CONTACT_ACTIVATION_J_PER_MOL, T)


def supply_A_per_m2(pressure_Pa: float, T: float) -> tuple[float, float]:
    """Li supply to a stripping interface: (vacancy diffusion, creep), as current densities."""
    arr = arrhenius(C.LI_CREEP_ACTIVATION_J_PER_MOL, T)
    p = max(pressure_Pa, 0.0) / C.CREEP_SUPPLY_REF_PRESSURE_PA
    return (
        C.VACANCY_SUPPLY_A_PER_M2 * arr,
        C.CREEP_SUPPLY_REF_A_PER_M2 * p**C.LI_CREEP_EXPONENT * arr,
    )


@dataclass(slots=True)
class Interface:
    """One Li|SE interface: voids, Li left, flaw population, filaments, void-onset record."""

    li_thickness_m: float
    flaw_stress_Pa: np.ndarray  # ascending fracture stresses of its flaws
    incubation_C_per_m2: np.ndarray  # charge each flaw needs while over-stressed
    void_depth_m: float = 0.0
    next_flaw: int = 0
    incubation_progress: float = 0.0
    filaments: int = 0
    filament_m: float = 0.0
    in_void: bool = False
    void_onsets: list[float] = field(default_factory=list)
    nucleation_times: list[float] = field(default_factory=list)

    def contact_fraction(self) -> float:
        f = C.CONTACT_FRACTION_MIN + (1 - C.CONTACT_FRACTION_MIN) * math.exp(
            -self.void_depth_m / C.VOID_DEPTH_SCALE_M
        )
        if self.li_thickness_m < C.LI_MIN_CONTINUOUS_THICKNESS_M:
            f *= max(self.li_thickness_m, 0.0) / C.LI_MIN_CONTINUOUS_THICKNESS_M
        return max(f, C.CONTACT_FRACTION_MIN)


@dataclass(slots=True)
class Coefficients:
    """Everything V_ion(I) needs, frozen for one integration step."""

    area: float
    r_bulk: float
    b: float  # 2RT/F
    j0f: tuple[float, float]  # j0 * f per interface
    asr_contact: tuple[float, float]  # ASR_c / f per interface
    we_plating: tuple[float, float]  # (j0 f, ASR_c / f) of the WE while it is plated
    asr_interphase: float
    bare_we: bool  # anode-free WE without Li: blocking for stripping
    nucleation_V: float  # extra plating overpotential on (nearly) bare Cu
    r_short: float  # parallel electronic path, inf when none


@dataclass(slots=True)
class OperatingPoint:
    """Cell voltage and currents at one instant, with the overpotential breakdown (truth)."""

    V: float
    current: float
    I_ion: float
    compliance: bool
    eta_bulk: float
    eta_ct: tuple[float, float]
    eta_contact: tuple[float, float]
    eta_interphase: tuple[float, float]


def _eta(c: Coefficients, k: int, j: float) -> tuple[float, float, float, float]:
    """(total, charge transfer, contact, interphase) anodic overpotential of interface k."""
    if k == 0 and c.bare_we:
        if j > 0:
            return C.CU_REST_POTENTIAL_V + j * C.CU_BLOCKING_ASR_OHM_M2, 0.0, 0.0, 0.0
        if j == 0:
            return C.CU_REST_POTENTIAL_V, 0.0, 0.0, 0.0
    j0f, asr = c.j0f[k], c.asr_contact[k]
    if k == 0 and j < 0:
        j0f, asr = c.we_plating
    ct = c.b * math.asinh(j / (2.0 * j0f))
    if k == 0 and j < 0:
        ct -= c.nucleation_V
    con = j * asr
    inter = j * c.asr_interphase
    return ct + con + inter, ct, con, inter


def v_ion(c: Coefficients, current: float) -> float:
    """Voltage of the ionic path when it carries ``current`` (monotonic in current)."""
    j = current / c.area
    return current * c.r_bulk + _eta(c, 0, j)[0] - _eta(c, 1, -j)[0]


def _bisect(fn, target: float, lo: float, hi: float) -> float:
    """Solve fn(x) = target for monotonically increasing fn, expanding the bracket."""
    for _ in range(200):
        if fn(lo) <= target:
            break
        lo = lo * 2.0 - 1e-9
    for _ in range(200):
        if fn(hi) >= target:
            break
        hi = hi * 2.0 + 1e-9
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if fn(mid) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 + 1e-12 * abs(mid):
            break
    return 0.5 * (lo + hi)


def voltage_at_current(
    path: Callable[[float], float], r_short: float, current: float
) -> tuple[float, float]:
    """(V, I_ion) when the terminals carry ``current``: ionic ``path`` parallel to ``r_short``."""
    if math.isinf(r_short):
        return path(current), current
    g = 1.0 / r_short
    i_ion = _bisect(lambda x: x + path(x) * g, current, -1e-6, 1e-6)
    # the short's branch sets V: right also where the ionic path jumps (a blocking electrode)
    return (current - i_ion) * r_short, i_ion


def current_at_voltage(
    path: Callable[[float], float], r_short: float, voltage: float
) -> tuple[float, float]:
    """(I, I_ion) when the terminals are held at ``voltage``."""
    i_ion = _bisect(path, voltage, -1e-6, 1e-6)
    return i_ion + voltage / r_short, i_ion


def terminals(
    path: Callable[[float], float], r_short: float, mode: str, level: float, limit: float
) -> tuple[float, float, float, bool]:
    """(V, I, I_ion, compliance) for a source in ``mode`` ('current', 'voltage', 'off')."""
    compliance = False
    if mode == "off":
        V, i_ion = voltage_at_current(path, r_short, 0.0)
        current = 0.0
    elif mode == "current":
        current = level
        V, i_ion = voltage_at_current(path, r_short, current)
        if abs(V) > limit:
            compliance = True
            V = math.copysign(limit, V)
            current, i_ion = current_at_voltage(path, r_short, V)
    else:
        V = level
        current, i_ion = current_at_voltage(path, r_short, V)
        if abs(current) > limit:
            compliance = True
            current = math.copysign(limit, current)
            V, i_ion = voltage_at_current(path, r_short, current)
    return V, current, i_ion, compliance


def operating_point(c: Coefficients, mode: str, level: float, limit: float) -> OperatingPoint:
    """Solve the terminals for a source in ``mode`` ('current', 'voltage', 'off')."""
    V, current, i_ion, compliance = terminals(lambda x: v_ion(c, x), c.r_short, mode, level, limit)
    j = i_ion / c.area
    _, ct0, con0, in0 = _eta(c, 0, j)
    _, ct1, con1, in1 = _eta(c, 1, -j)
    return OperatingPoint(
        V, current, i_ion, compliance, i_ion * c.r_bulk, (ct0, ct1), (con0, con1), (in0, in1)
    )


class CellModel:
    """State and physics of a Li|SE|Li or Li|SE|Cu cell (one object per SimWorld)."""

    def __init__(
        self,
        preset: C.ElectrolytePreset,
        cell: str,
        area_m2: float,
        thickness_m: float,
        rng: np.random.Generator,
    ) -> None:
        self.preset = preset
        self.anode_free = cell == "anode_free"
        self.area = area_m2
        self.thickness = thickness_m
        self.rng = rng
        self.interfaces = (self._new_interface(), self._new_interface())
        if self.anode_free:
            self.interfaces[0].li_thickness_m = 0.0
        self.cu_li_C_per_m2 = 0.0  # active Li on the Cu WE (anode-free)
        self.dead_li_C_per_m2 = 0.0
        self.pressure_memory_Pa = 0.0  # highest pressure seen: contact flattening persists
        self.interphase_age_s = 0.0  # Arrhenius-weighted contact time with a reactive SE
        self.creep_penetration_m = 0.0
        self.short_state = 0  # 0 none, 1 soft (intermittent), 2 hard
        self.short_cause = ""
        self.short_time: float | None = None
        self.hard_short_time: float | None = None
        self._soft_on = False
        self._soft_r = math.inf
        self._next_toggle = math.inf
        self._hard_at = math.inf
        self._f: tuple[float, float] | None = None  # contact fractions, until the next step
        self.charge_C = 0.0  # cumulative ionic charge through the cell (signed)

    def _new_interface(self) -> Interface:
        p = self.preset
        flaws = p.flaw_size_median_m * np.exp(
            C.FLAW_SIZE_LOG_SIGMA * self.rng.standard_normal(C.FLAWS_PER_INTERFACE)
        )
        stress = np.sort(p.fracture_toughness_Pa_sqrt_m / np.sqrt(np.pi * flaws))
        incubation = self.rng.exponential(C.FILAMENT_INCUBATION_C_PER_M2, C.FLAWS_PER_INTERFACE)
        return Interface(C.LI_FOIL_THICKNESS_M, stress, incubation)

    # --- algebra -------------------------------------------------------------------------
    def contact_fractions(self) -> tuple[float, float]:
        """Li|SE contact per interface; on Cu, thin Li islands shrink as they are stripped."""
        if self._f is None:
            f0 = self.interfaces[0].contact_fraction()
            if self.anode_free:
                f0 = max(min(1.0, self.cu_li_C_per_m2 / C.LI_ISLAND_CHARGE_C_PER_M2), 1e-6)
            self._f = (f0, self.interfaces[1].contact_fraction())
        return self._f

    def plating_contact_we(self) -> float:
        """Contact seen by Li plating on the WE: Cu|SE is in full contact."""
        return 1.0 if self.anode_free else self.interfaces[0].contact_fraction()

    def solve(
        self, T: float, pressure_Pa: float, mode: str, level: float, limit: float
    ) -> OperatingPoint:
        """The operating point for a source in ``mode`` at temperature T and pressure."""
        return operating_point(self.coefficients(T, pressure_Pa), mode, level, limit)

    def state_columns(self) -> dict[str, float]:
        """Extra ground-truth columns of this cell kind (none for Li|SE|Li and Li|SE|Cu)."""
        return {}

    def truth_scalars(self) -> dict[str, float]:
        """Extra ground-truth scalars of this cell kind (none for Li|SE|Li and Li|SE|Cu)."""
        return {}

    def coefficients(self, T: float, pressure_Pa: float) -> Coefficients:
        p = self.preset
        f = self.contact_fractions()
        j0 = p.exchange_current_A_per_m2 * arrhenius(p.exchange_activation_J_per_mol, T)
        asr_c = contact_asr_ohm_m2(p, max(pressure_Pa, self.pressure_memory_Pa), T)
        sigma = p.conductivity_S_per_m * arrhenius(p.conductivity_activation_J_per_mol, T)
        bare = self.anode_free and self.cu_li_C_per_m2 <= 0.0
        fp = self.plating_contact_we()
        return Coefficients(
            area=self.area,
            we_plating=(j0 * fp, asr_c / fp),
            r_bulk=self.thickness / (sigma * self.area),
            b=_B_FACTOR * T,
            j0f=(j0 * f[0], j0 * f[1]),
            asr_contact=(asr_c / f[0], asr_c / f[1]),
            asr_interphase=self.interphase_asr(),
            bare_we=bare,
            nucleation_V=self.nucleation_V(),
            r_short=self.short_resistance(),
        )

    def nucleation_V(self) -> float:
        """Extra plating overpotential on (nearly) bare Cu, fading as Li covers it."""
        if not self.anode_free:
            return 0.0
        return C.CU_NUCLEATION_OVERPOTENTIAL_V * math.exp(
            -self.cu_li_C_per_m2 / C.CU_NUCLEATION_DECAY_C_PER_M2
        )

    def interphase_asr(self) -> float:
        p = self.preset
        if p.interphase_asr_ohm_m2_at_1h == 0.0:
            return 0.0
        return p.interphase_asr_ohm_m2_at_1h * (self.interphase_age_s / 3600.0) ** (
            p.interphase_exponent
        )

    def short_resistance(self) -> float:
        if self.short_state == 2:
            return C.HARD_SHORT_RESISTANCE_OHM
        if self.short_state == 1 and self._soft_on:
            return self._soft_r
        return math.inf

    # --- dynamics --------------------------------------------------------------------------
    def rates(self, op: OperatingPoint, T: float, pressure_Pa: float) -> dict[str, float]:
        """Time derivatives used both to step and to choose the step size."""
        j = op.I_ion / self.area
        vac, creep = supply_A_per_m2(pressure_Pa, T)
        f = self.contact_fractions()
        out: dict[str, float] = {}
        for k, itf in enumerate(self.interfaces):
            jk = j if k == 0 else -j
            if k == 0 and self.anode_free:
                out["void0"] = 0.0
                continue
            if jk > 0:  # stripping: excess over the supply opens voids; creep refills
                excess = f[k] * (vac + creep) - jk
                rate = -_LPC * excess if excess < 0 else -_LPC * min(f[k] * creep, excess)
            else:  # rest or plating: creep and part of the plated Li refill voids
                rate = -_LPC * (C.PLATING_VOID_REFILL * (-jk) + f[k] * creep)
            if itf.void_depth_m <= 0.0 and rate < 0:
                rate = 0.0
            out[f"void{k}"] = rate
        return out

    def max_step(self, op: OperatingPoint, T: float, pressure_Pa: float) -> float:
        """Largest step that keeps every state change small."""
        dt = C.MAX_STEP_S
        rel = C.MAX_RELATIVE_CHANGE
        r = self.rates(op, T, pressure_Pa)
        for k in (0, 1):
            rv = abs(r[f"void{k}"])
            if rv > 0:
                dt = min(dt, rel * C.VOID_DEPTH_SCALE_M / rv)
        j = abs(op.I_ion) / self.area
        if j > 0:
            f = (self.plating_contact_we(), self.contact_fractions()[1])
            for k, itf in enumerate(self.interfaces):
                if itf.filaments:
                    v = C.FILAMENT_GROWTH_GAIN * _LPC * j / f[k]
                    dt = min(dt, rel * self.thickness / v)
                if itf.li_thickness_m < 10 * C.LI_MIN_CONTINUOUS_THICKNESS_M:
                    dt = min(dt, rel * max(itf.li_thickness_m, 0.05e-6) / (_LPC * j))
            if self.anode_free:
                q = max(self.cu_li_C_per_m2, 0.02 * C.LI_ISLAND_CHARGE_C_PER_M2)
                dt = min(dt, rel * q / j)
        if self.preset.interphase_asr_ohm_m2_at_1h:
            dt = min(dt, max(1.0, 0.2 * self.interphase_age_s))
        v_cs = self._creep_short_speed(T, pressure_Pa)
        if v_cs > 0:
            dt = min(dt, rel * self.thickness / v_cs)
        return dt

    def _creep_short_speed(self, T: float, pressure_Pa: float) -> float:
        if not self.preset.creep_short or self.short_state:
            return 0.0
        ratio = max(pressure_Pa, 0.0) / C.CREEP_SHORT_REF_PRESSURE_PA
        return (
            self.thickness
            / C.CREEP_SHORT_REF_TIME_S
            * ratio**C.LI_CREEP_EXPONENT
            * arrhenius(C.LI_CREEP_ACTIVATION_J_PER_MOL, T)
        )

    def step(self, t: float, dt: float, op: OperatingPoint, T: float, pressure_Pa: float) -> None:
        """Advance the state from ``t`` by ``dt`` at the operating point ``op``."""
        p = self.preset
        self.pressure_memory_Pa = max(self.pressure_memory_Pa, pressure_Pa)
        j = op.I_ion / self.area
        self.charge_C += op.I_ion * dt
        rates = self.rates(op, T, pressure_Pa)
        f = self.contact_fractions()
        for k, itf in enumerate(self.interfaces):
            jk = j if k == 0 else -j
            if k == 0 and self.anode_free:
                self._step_cu(jk, dt)
            else:
                itf.void_depth_m = max(0.0, itf.void_depth_m + rates[f"void{k}"] * dt)
                itf.li_thickness_m -= _LPC * jk * dt
            if jk < 0:
                fk = self.plating_contact_we() if k == 0 else f[k]
                eta = op.eta_ct[k] + op.eta_contact[k]
                if k == 0:  # the Cu nucleation barrier does not load the electrolyte
                    eta += self.nucleation_V()
                stress = C.NERNST_STRESS_PA_PER_V * abs(eta)
                self._plate_filaments(itf, t + dt, -jk * dt, -jk / fk * dt, stress)
        if p.interphase_asr_ohm_m2_at_1h:
            self.interphase_age_s += dt * arrhenius(p.interphase_activation_J_per_mol, T)
        v_cs = self._creep_short_speed(T, pressure_Pa)
        if v_cs > 0:
            self.creep_penetration_m += v_cs * dt
            if self.creep_penetration_m >= self.thickness:
                self._begin_short(t + dt, "creep")
        self._f = None
        self._track_voids(t, dt, f)

    def _step_cu(self, jk: float, dt: float) -> None:
        """Anode-free WE: plated Li inventory; stripping leaves dead Li (CE = 1 - delta)."""
        if jk < 0:
            self.cu_li_C_per_m2 += -jk * dt
        elif jk > 0 and self.cu_li_C_per_m2 > 0:
            delta = self.preset.dead_li_fraction
            used = jk * dt / (1.0 - delta)
            used = min(used, self.cu_li_C_per_m2)
            self.cu_li_C_per_m2 -= used
            self.dead_li_C_per_m2 += used * delta
        self.interfaces[0].li_thickness_m = (self.cu_li_C_per_m2 + self.dead_li_C_per_m2) * _LPC

    def _plate_filaments(
        self, itf: Interface, t: float, dq: float, dq_local: float, stress: float
    ) -> None:
        """Nucleate filaments at over-stressed flaws (weakest first) and grow the longest one."""
        while (
            itf.next_flaw < len(itf.flaw_stress_Pa) and stress >= itf.flaw_stress_Pa[itf.next_flaw]
        ):
            itf.incubation_progress += dq
            dq = 0.0
            need = itf.incubation_C_per_m2[itf.next_flaw]
            if itf.incubation_progress < need:
                break
            itf.incubation_progress -= need
            itf.next_flaw += 1
            itf.filaments += 1
            itf.nucleation_times.append(t)
        if itf.filaments and not self.short_state:
            # Griffith: the Li-filled crack (flaw a + length l) keeps growing while the Nernst
            # stress exceeds K_IC / sqrt(pi (a + l)) (ees §0 eq 3; creep §3.1)
            sigma0 = itf.flaw_stress_Pa[0]
            a0 = (self.preset.fracture_toughness_Pa_sqrt_m / sigma0) ** 2 / math.pi
            if stress < sigma0 * math.sqrt(a0 / (a0 + itf.filament_m)):
                return
            itf.filament_m += C.FILAMENT_GROWTH_GAIN * _LPC * dq_local
            if itf.filament_m >= self.thickness:
                itf.filament_m = self.thickness
                self._begin_short(t, "filament")

    def _track_voids(self, t: float, dt: float, before: tuple[float, float]) -> None:
        """Record void onsets, the crossing time interpolated within the step."""
        after = self.contact_fractions()
        threshold = C.VOID_ONSET_CONTACT_FRACTION
        for k, itf in enumerate(self.interfaces):
            if k == 0 and self.anode_free:
                continue
            if not itf.in_void and after[k] < threshold:
                itf.in_void = True
                drop = before[k] - after[k]
                frac = (before[k] - threshold) / drop if drop > 0 else 1.0
                itf.void_onsets.append(t + dt * min(max(frac, 0.0), 1.0))
            elif itf.in_void and after[k] > C.VOID_RECOVERED_CONTACT_FRACTION:
                itf.in_void = False

    # --- shorts (discrete events) ------------------------------------------------------------
    def _begin_short(self, t: float, cause: str) -> None:
        if self.short_state:
            return
        self.short_state = 1
        self.short_cause = cause
        self.short_time = t
        self._hard_at = t + self.rng.exponential(C.SOFT_SHORT_DURATION_MEAN_S)
        self._soft_switch(t, on=True)

    def _soft_switch(self, t: float, on: bool) -> None:
        self._soft_on = on
        if on:
            lo, hi = C.SOFT_SHORT_RESISTANCE_OHM_RANGE
            self._soft_r = math.exp(self.rng.uniform(math.log(lo), math.log(hi)))
            self._next_toggle = t + self.rng.exponential(C.SOFT_SHORT_ON_MEAN_S)
        else:
            self._next_toggle = t + self.rng.exponential(C.SOFT_SHORT_OFF_MEAN_S)

    def next_event(self) -> float:
        """Time of the next discrete change (soft-short toggle or welding into a hard short)."""
        if self.short_state != 1:
            return math.inf
        return min(self._next_toggle, self._hard_at)

    def apply_events(self, t: float) -> bool:
        """Apply discrete changes due at ``t``; True if the circuit changed."""
        if self.short_state != 1:
            return False
        if t >= self._hard_at:
            self.short_state = 2
            self.hard_short_time = self._hard_at
            self._next_toggle = math.inf
            return True
        if t >= self._next_toggle:
            self._soft_switch(t, on=not self._soft_on)
            return True
        return False

    def stack_thickness_change_m(self) -> float:
        """Stack height change since assembly: Li moved, voids kept open, Li on Cu."""
        total = sum(i.li_thickness_m + i.void_depth_m for i in self.interfaces)
        initial = C.LI_FOIL_THICKNESS_M * (1 if self.anode_free else 2)
        return total - initial

    def li_thickness_total_m(self) -> float:
        return sum(max(i.li_thickness_m, 0.0) for i in self.interfaces)
