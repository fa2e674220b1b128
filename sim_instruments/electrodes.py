"""Electrodes of the non-symmetric cells: LiFePO4 cathode, Li in a host, alloy anode, Li chip.

Each electrode has an equilibrium potential vs Li+/Li for oxidation and for reduction (they
differ only where an empty host blocks stripping), an anodic overpotential at areal current
density j (j > 0 oxidises the electrode), and a state that ``step`` advances. Equations,
numbers and sources: docs/simulator.md ("Full cells, hosts and alloy anodes").
"""

from __future__ import annotations

import math

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


class LfpCathode(Electrode):
    """LiFePO4 composite: flat-plateau OCV, charge transfer, composite ASR, two-tank transport.

    x is the Li fraction of LixFePO4 (1 = discharged). The current fills or empties a surface
    tank (fraction phi); the bulk exchanges with it at rate k: d = x_s - x_b relaxes to
    -r (1 - phi)/k at C-rate r (1/s), so the surface reaches an end first and the capacity
    lost per half cycle is (1 - phi)^2 r / k.
    """

    label = "LiFePO4"

    def __init__(self, capacity_C_per_m2: float) -> None:
        self.capacity = capacity_C_per_m2
        self.x_surface = 1.0 - 1e-4
        self.x_bulk = 1.0 - 1e-4

    def _mean(self) -> float:
        phi = C.LFP_SURFACE_FRACTION
        return phi * self.x_surface + (1.0 - phi) * self.x_bulk

    def potential(self, oxidising: bool, T: float) -> float:
        x, w = self.x_surface, C.LFP_END_WIDTH
        return (
            C.LFP_PLATEAU_V
            + C.LFP_PLATEAU_SLOPE_V * (0.5 - x)
            + C.LFP_CHARGED_END_V * math.exp(-x / w)
            - C.LFP_DISCHARGED_END_V * math.exp(-(1.0 - x) / w)
            + C.LFP_END_LOG_WEIGHT * _RT_F_PER_K * T * end_log(x)
        )

    def overpotential(self, j: float, T: float) -> float:
        j0 = C.LFP_EXCHANGE_CURRENT_A_PER_M2 * relative_rate(C.LFP_EXCHANGE_ACTIVATION_J_PER_MOL, T)
        asr = C.LFP_COMPOSITE_ASR_OHM_M2 / relative_rate(C.LFP_COMPOSITE_ACTIVATION_J_PER_MOL, T)
        return 2.0 * _RT_F_PER_K * T * math.asinh(j / (2.0 * j0)) + j * asr

    def _rates(self, j: float, T: float) -> tuple[float, float, float]:
        """(C-rate r in 1/s, relaxation rate kappa, steady surface offset d_ss)."""
        phi = C.LFP_SURFACE_FRACTION
        k = C.LFP_EXCHANGE_RATE_PER_S * relative_rate(C.LFP_TRANSPORT_ACTIVATION_J_PER_MOL, T)
        r = j / self.capacity
        return r, k / (phi * (1.0 - phi)), -r * (1.0 - phi) / k

    def step(self, j: float, dt: float, T: float) -> None:
        """Exact two-tank update at constant j (stable for any dt)."""
        phi = C.LFP_SURFACE_FRACTION
        r, kappa, d_ss = self._rates(j, T)
        mean = self._mean() - r * dt
        d = self.x_surface - self.x_bulk
        d = d_ss + (d - d_ss) * math.exp(-kappa * dt)
        self.x_surface = min(max(mean + (1.0 - phi) * d, _EDGE), 1.0 - _EDGE)
        self.x_bulk = min(max(mean - phi * d, _EDGE), 1.0 - _EDGE)

    def max_step(self, j: float) -> float:
        rel = C.MAX_RELATIVE_CHANGE
        dt = math.inf
        if j:
            speed = abs(j) / self.capacity  # of x_surface once the tanks move together
            dt = min(0.005 / speed, rel * headroom(self.x_surface, j) / speed)
        r, kappa, d_ss = self._rates(j, C.FULL_CELL_REFERENCE_TEMPERATURE_K)
        if abs(self.x_surface - self.x_bulk - d_ss) > 1e-4:
            dt = min(dt, 0.5 / kappa)
        return dt

    def state(self) -> dict[str, float]:
        return {"cathode_x_surface": self.x_surface, "cathode_x_bulk": self.x_bulk}


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
        return j * self.host.asr_ohm_m2 / relative_rate(self.host.activation_J_per_mol, T)

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
