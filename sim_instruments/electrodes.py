"""Electrodes of the non-symmetric cells: LiFePO4 cathode, Li in a host, alloy anode, Li chip.

Each electrode has an equilibrium potential vs Li+/Li for oxidation and for reduction (they
differ only where an empty host blocks stripping), an anodic overpotential at areal current
density j (j > 0 oxidises the electrode), and a state that ``step`` advances. Equations,
numbers and sources: docs/simulator.md ("Full cells, hosts and alloy anodes").
"""

from __future__ import annotations

import math

import numpy as np

from sim_instruments import constants as C
from sim_instruments.cell import arrhenius

_RT_F_PER_K = C.GAS_CONSTANT_J_PER_MOL_K / C.FARADAY_C_PER_MOL
_LPC = C.LI_THICKNESS_M_PER_C_PER_M2
_EDGE = 1e-12  # fractions stay this far inside (0, 1): the log ends of the OCV stay finite


def relative_rate(activation_J_per_mol: float, T: float) -> float:
    """Rate multiplier relative to the full-cell reference temperature (55 degC)."""
    return arrhenius(activation_J_per_mol, T) / arrhenius(
        activation_J_per_mol, C.FULL_CELL_REFERENCE_TEMPERATURE_K
    )


def end_log(x: float) -> float:
    """ln((1 - x)/x), the steep ends of an intercalation/alloy open-circuit curve."""
    x = min(max(x, _EDGE), 1.0 - _EDGE)
    return math.log((1.0 - x) / x)


def headroom(x: float, j: float) -> float:
    """Distance of a Li fraction from the end that oxidation (j > 0) or reduction moves it to.

    At least 1e-4 so the steep ends cost a bounded number of steps; unlimited once the
    fraction is pinned at that end (only a short drives it there: the OCV diverges).
    """
    room = x if j > 0 else 1.0 - x
    return math.inf if room <= 1e-9 else max(room, 1e-4)


class Electrode:
    """Interface of every electrode; the defaults are those of a Li metal counter electrode."""

    label = "Li"

    def potential(self, oxidising: bool, T: float) -> float:
        """Equilibrium potential vs Li+/Li (V) seen by an oxidising or reducing current."""
        return 0.0

    def overpotential(self, j: float, T: float) -> float:
        """Anodic overpotential (V, same sign as j) at areal current density j (A/m2)."""
        raise NotImplementedError

    def step(self, j: float, dt: float, T: float) -> None:
        """Advance the state by ``dt`` at areal current density ``j`` (j > 0 oxidation)."""

    def max_step(self, j: float) -> float:
        """Largest step that keeps the state change small."""
        return math.inf

    def thickness_change_m(self) -> float:
        """Height change of this electrode since assembly."""
        return 0.0

    def li_metal_m(self) -> float:
        """Thickness of Li metal that can creep out under the platens."""
        return 0.0

    def state(self) -> dict[str, float]:
        """Ground-truth state variables (recorded at every model knot)."""
        return {}


class LiChip(Electrode):
    """Superabundant Li chip counter electrode of the half cells (creep §1.2)."""

    def __init__(self) -> None:
        self.stripped_C_per_m2 = 0.0

    def overpotential(self, j: float, T: float) -> float:
        return j * C.LI_CHIP_ASR_OHM_M2 / relative_rate(C.LI_CHIP_ACTIVATION_J_PER_MOL, T)

    def step(self, j: float, dt: float, T: float) -> None:
        self.stripped_C_per_m2 += j * dt

    def thickness_change_m(self) -> float:
        return -self.stripped_C_per_m2 * _LPC

    def li_metal_m(self) -> float:
        return C.LI_FOIL_THICKNESS_M + self.thickness_change_m()


def sphere_eigenvalues(n: int) -> np.ndarray:
    """First ``n`` roots a of tan(a) = a: no-flux diffusion modes of a sphere decay as a^2 D/R^2."""
    roots = []
    for k in range(1, n + 1):
        lo, hi = k * math.pi + 1e-12, (k + 0.5) * math.pi - 1e-12  # sin a - a cos a changes sign
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if (math.sin(mid) - mid * math.cos(mid)) * (math.sin(lo) - lo * math.cos(lo)) > 0:
                lo = mid
            else:
                hi = mid
        roots.append(0.5 * (lo + hi))
    return np.array(roots)


_MODES = sphere_eigenvalues(C.LFP_DIFFUSION_MODES) ** 2
#: Surface weight 2/a_n^2 of each mode in the parabolic (pseudo-steady) profile, whose sum over
#: all modes is 1/5 (Crank, The Mathematics of Diffusion, eq. 6.40); the modes not kept (all
#: faster than ~1 s) are lumped into the last one, so the pseudo-steady offset stays exact.
_MODE_WEIGHTS = 2.0 / _MODES
_MODE_WEIGHTS[-1] += 0.2 - _MODE_WEIGHTS.sum()


def butler_volmer(j: float, j0: float, T: float) -> float:
    """Charge-transfer overpotential (V, sign of j), symmetric Butler-Volmer: (2RT/F) asinh(j/2j0)."""
    return 2.0 * _RT_F_PER_K * T * math.asinh(j / (2.0 * j0))


def electrolyte_conductivity(preset: C.ElectrolytePreset, T: float) -> float:
    """Ionic conductivity (S/m) of an electrolyte preset at T (its Arrhenius law)."""
    return preset.conductivity_S_per_m * arrhenius(preset.conductivity_activation_J_per_mol, T)


class LfpCathode(Electrode):
    """LiFePO4 composite: flat-plateau OCV, Butler-Volmer kinetics, ionic ASR, solid diffusion.

    x is the Li fraction of LixFePO4 (1 = discharged), the OCV follows the particle surface.
    Diffusion in a sphere under a surface flux is solved exactly for a constant current by its
    eigenmodes: x(rho) = mean + sum_n b_n phi_n(rho), phi_n(1) = 1; at C-rate r (1/s) each b_n
    relaxes to -(2/a_n^2) r R^2/(3D) at rate a_n^2 D/R^2, so the surface sits r R^2/(15 D)
    below the mean in the pseudo-steady state and reaches an end first.
    """

    label = "LiFePO4"

    def __init__(self, loading_kg_per_m2: float, electrolyte: C.ElectrolytePreset) -> None:
        self.capacity = loading_kg_per_m2 * C.LFP_SPECIFIC_CAPACITY_C_PER_KG
        self.loading = loading_kg_per_m2
        self.electrolyte = electrolyte
        self.x_mean = 1.0 - 1e-4
        self.modes = np.zeros(_MODES.size)
        self.temperature_K = C.FULL_CELL_REFERENCE_TEMPERATURE_K  # of the latest step

    @property
    def x_surface(self) -> float:
        return min(max(self.x_mean + float(self.modes.sum()), _EDGE), 1.0 - _EDGE)

    def potential(self, oxidising: bool, T: float) -> float:
        x, w = self.x_surface, C.LFP_END_WIDTH
        return (
            C.LFP_PLATEAU_V
            + C.LFP_PLATEAU_SLOPE_V * (0.5 - x)
            + C.LFP_CHARGED_END_V * math.exp(-x / w)
            - C.LFP_DISCHARGED_END_V * math.exp(-(1.0 - x) / w)
            + C.LFP_END_LOG_WEIGHT * _RT_F_PER_K * T * end_log(x)
        )

    def ionic_asr_ohm_m2(self, T: float) -> float:
        """Ionic resistance of the composite's PEO-LiTFSI: L / (3 sigma eps^Bruggeman)."""
        thickness = self.loading * C.LFP_COMPOSITE_THICKNESS_M_PER_KG_PER_M2
        eps = C.LFP_COMPOSITE_ELECTROLYTE_FRACTION
        sigma = electrolyte_conductivity(self.electrolyte, T) * eps**C.BRUGGEMAN_EXPONENT
        return thickness / (3.0 * sigma)

    def overpotential(self, j: float, T: float) -> float:
        j0 = (
            C.LFP_EXCHANGE_CURRENT_A_PER_KG
            * self.loading
            * relative_rate(C.LFP_EXCHANGE_ACTIVATION_J_PER_MOL, T)
        )
        return butler_volmer(j, j0, T) + j * self.ionic_asr_ohm_m2(T)

    def _diffusion_time_s(self, T: float) -> float:
        """R^2 / D at T."""
        d = C.LFP_DIFFUSIVITY_M2_PER_S * relative_rate(C.LFP_DIFFUSION_ACTIVATION_J_PER_MOL, T)
        return C.LFP_PARTICLE_RADIUS_M**2 / d

    def _steady_modes(self, j: float, T: float) -> np.ndarray:
        """Mode amplitudes of the pseudo-steady profile at areal current j."""
        return -_MODE_WEIGHTS * (j / self.capacity) * self._diffusion_time_s(T) / 3.0

    def step(self, j: float, dt: float, T: float) -> None:
        """Exact update of the mean and the modes at constant j (stable for any dt)."""
        self.temperature_K = T
        steady = self._steady_modes(j, T)
        decay = np.exp(-_MODES * dt / self._diffusion_time_s(T))
        self.modes = steady + (self.modes - steady) * decay
        self.x_mean = min(max(self.x_mean - j / self.capacity * dt, _EDGE), 1.0 - _EDGE)

    def max_step(self, j: float) -> float:
        """Steps that move the surface fraction by at most 0.5 % (3 % of its headroom)."""
        T = self.temperature_K
        lag = (self.modes - self._steady_modes(j, T)) * _MODES / self._diffusion_time_s(T)
        speed = abs(j) / self.capacity + float(np.abs(lag).sum())
        if speed == 0.0:
            return math.inf
        room = headroom(self.x_surface, j) if j else 1.0
        return min(0.005 / speed, C.MAX_RELATIVE_CHANGE * room / speed)

    def state(self) -> dict[str, float]:
        return {"cathode_x_surface": self.x_surface, "cathode_x_mean": self.x_mean}


class HostAnode(Electrode):
    """Li plated into a host (MIEC tubules or a 2D foil); stripping leaves some Li isolated."""

    def __init__(self, host: C.HostPreset, initial_C_per_m2: float) -> None:
        self.host = host
        self.label = f"Li@{host.name}"
        self.active_C_per_m2 = initial_C_per_m2
        self.dead_C_per_m2 = 0.0
        self._initial = initial_C_per_m2

    def potential(self, oxidising: bool, T: float) -> float:
        """0 V while Li is there; stripping an emptying host climbs to the bare potential."""
        if not oxidising:
            return 0.0
        return C.HOST_EMPTY_POTENTIAL_V * math.exp(
            -self.active_C_per_m2 / C.HOST_WETTING_CHARGE_C_PER_M2
        )

    def overpotential(self, j: float, T: float) -> float:
        """Charge transfer at the Li (Butler-Volmer) plus the host's interphase resistance."""
        rate = relative_rate(self.host.activation_J_per_mol, T)
        j0 = C.LI_HOST_EXCHANGE_CURRENT_A_PER_M2 * rate
        return butler_volmer(j, j0, T) + j * self.host.asr_ohm_m2 / rate

    def dead_fraction(self, j: float) -> float:
        """Share of the Li a strip at |j| consumes that is left isolated."""
        h = self.host
        delta = h.dead_li_fraction
        if h.dead_li_reference_A_per_m2 is not None and j:
            delta *= (abs(j) / h.dead_li_reference_A_per_m2) ** h.dead_li_rate_exponent
        if h.dead_li_depletion_C_per_m2 is None:
            return min(delta, 0.99)
        return delta * math.exp(-self.active_C_per_m2 / h.dead_li_depletion_C_per_m2)

    def step(self, j: float, dt: float, T: float) -> None:
        if j < 0:
            self.active_C_per_m2 += -j * dt
        elif j > 0 and self.active_C_per_m2 > 0:
            delta = self.dead_fraction(j)
            used = min(j * dt / (1.0 - delta), self.active_C_per_m2)
            self.active_C_per_m2 -= used
            self.dead_C_per_m2 += used * delta

    def max_step(self, j: float) -> float:
        if not j:
            return math.inf
        q = max(self.active_C_per_m2, C.HOST_WETTING_CHARGE_C_PER_M2)
        return C.MAX_RELATIVE_CHANGE * q / abs(j)

    def thickness_change_m(self) -> float:
        if not self.host.swells:
            return 0.0
        return (self.active_C_per_m2 + self.dead_C_per_m2 - self._initial) * _LPC

    def li_metal_m(self) -> float:
        return (self.active_C_per_m2 + self.dead_C_per_m2) * _LPC if self.host.swells else 0.0

    def state(self) -> dict[str, float]:
        return {
            "anode_li_C_per_m2": self.active_C_per_m2,
            "anode_dead_C_per_m2": self.dead_C_per_m2,
        }


class AlloyAnode(Electrode):
    """Alloy/composite anode: sloping OCV; it thickens with its lithiated fraction (reviews §2.7)."""

    label = "alloy"

    def __init__(self) -> None:
        self.fraction = C.ALLOY_INITIAL_FRACTION
        self.trapped = 0.0  # Li left in the alloy by delithiation, as a fraction of capacity

    def potential(self, oxidising: bool, T: float) -> float:
        t = self.fraction
        return (
            C.ALLOY_MID_POTENTIAL_V
            + C.ALLOY_POTENTIAL_SLOPE_V * (0.5 - t)
            + _RT_F_PER_K * T * end_log(t)
        )

    def overpotential(self, j: float, T: float) -> float:
        return j * C.ALLOY_ASR_OHM_M2 / relative_rate(C.LI_CHIP_ACTIVATION_J_PER_MOL, T)

    def step(self, j: float, dt: float, T: float) -> None:
        d = j * dt / C.ALLOY_CAPACITY_C_PER_M2
        if d > 0:  # delithiation traps a little Li
            used = d / (1.0 - C.ALLOY_TRAPPED_FRACTION)
            self.trapped += used * C.ALLOY_TRAPPED_FRACTION
            d = used
        self.fraction = min(max(self.fraction - d, _EDGE), 1.0 - _EDGE)

    def max_step(self, j: float) -> float:
        if not j:
            return math.inf
        speed = abs(j) / C.ALLOY_CAPACITY_C_PER_M2
        return min(0.005 / speed, C.MAX_RELATIVE_CHANGE * headroom(self.fraction, j) / speed)

    def thickness_change_m(self) -> float:
        swell = C.ALLOY_THICKNESS_M * C.ALLOY_EXPANSION_AT_FULL
        return swell * (self.fraction + self.trapped - C.ALLOY_INITIAL_FRACTION)

    def state(self) -> dict[str, float]:
        return {"anode_alloy_fraction": self.fraction}
