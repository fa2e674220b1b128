"""Cells that are not Li|SE|Li: MIEC / 2D host half cells and LiFePO4 full cells (issue 14).

Electrode 0 is the WE, electrode 1 the CE, V = V(WE) - V(CE), I > 0 oxidises the WE:

- ``half_miec`` / ``half_2d``: host (WE) | PEO | Li chip; I < 0 plates Li into the host.
- ``full_miec`` / ``full_2d``: LiFePO4 (WE) | PEO | Li in the host with 1x excess (CE);
  I > 0 charges (delithiates the cathode, plates the anode).
- ``full_alloy``: LiFePO4 (WE) | PEO | alloy anode whose thickness follows its lithiation.

The ionic path is V_ion(I) = U_WE - U_CE + eta_WE(j) - eta_CE(-j) + I R_bulk; a fraction of
the charging current is a side-reaction shuttle (CE < 1 of the full cell). Li penetrating the
electrolyte (after ``penetration_after`` of plated charge) starts the soft -> hard short of
cell.py in parallel: a charge that never reaches its cut-off.
"""

from __future__ import annotations

import numpy as np

from sim_instruments import constants as C
from sim_instruments.cell import CellModel, OperatingPoint, terminals
from sim_instruments.electrodes import (
    AlloyAnode,
    Electrode,
    HostAnode,
    LfpCathode,
    LiChip,
    electrolyte_conductivity,
)

ELECTRODE_CELLS = ("half_miec", "half_2d", "full_miec", "full_2d", "full_alloy")


def build_electrodes(
    cell: str, preset: C.ElectrolytePreset, loading_kg_per_m2: float, li_excess: float
) -> tuple[Electrode, Electrode]:
    """(WE, CE) of ``cell``; the cathode's ionic path is the preset's electrolyte."""
    kind, _, anode = cell.partition("_")
    if kind == "half":
        return HostAnode(C.HOSTS[anode], 0.0), LiChip()
    cathode = LfpCathode(loading_kg_per_m2, preset)
    if anode == "alloy":
        return cathode, AlloyAnode()
    return cathode, HostAnode(C.HOSTS[anode], li_excess * cathode.capacity)


class ElectrodeCellModel(CellModel):
    """State and physics of a host half cell or a LiFePO4 full cell (one per SimWorld)."""

    def __init__(
        self,
        preset: C.ElectrolytePreset,
        cell: str,
        area_m2: float,
        thickness_m: float,
        rng: np.random.Generator,
        cathode_loading_kg_per_m2: float,
        li_excess: float,
        penetration_after_C_per_m2: float | None,
    ) -> None:
        super().__init__(preset, "symmetric", area_m2, thickness_m, rng)
        self.kind = cell
        self.full = cell.startswith("full")
        self.cathode_capacity_C_per_m2 = (
            cathode_loading_kg_per_m2 * C.LFP_SPECIFIC_CAPACITY_C_PER_KG
        )
        self.electrodes = build_electrodes(cell, preset, cathode_loading_kg_per_m2, li_excess)
        self.penetration_after = penetration_after_C_per_m2
        self.plated_C_per_m2 = 0.0  # charge plated into the anode so far (full cells)

    def truth_scalars(self) -> dict[str, float]:
        """The cathode's capacity at the C-rate basis (LFP theoretical, full cells only)."""
        if not self.full:
            return {}
        return {"cathode_capacity_C": self.cathode_capacity_C_per_m2 * self.area}

    def _r_bulk(self, T: float) -> float:
        return self.thickness / (electrolyte_conductivity(self.preset, T) * self.area)

    def _path(self, T: float):
        we, ce = self.electrodes
        r_bulk, area = self._r_bulk(T), self.area

        def v_ion(current: float) -> float:
            j = current / area
            return (
                we.potential(current >= 0, T)
                - ce.potential(current <= 0, T)
                + we.overpotential(j, T)
                - ce.overpotential(-j, T)
                + current * r_bulk
            )

        return v_ion

    def solve(
        self, T: float, pressure_Pa: float, mode: str, level: float, limit: float
    ) -> OperatingPoint:
        V, current, i_ion, compliance = terminals(
            self._path(T), self.short_resistance(), mode, level, limit
        )
        we, ce = self.electrodes
        j = i_ion / self.area
        eta = (we.overpotential(j, T), ce.overpotential(-j, T))
        return OperatingPoint(
            V, current, i_ion, compliance, i_ion * self._r_bulk(T), eta, (0.0, 0.0), (0.0, 0.0)
        )

    def contact_fractions(self) -> tuple[float, float]:
        return (1.0, 1.0)

    def _stored_j(self, j: float) -> float:
        """Areal current that changes the electrodes: the side-reaction shuttle takes its share."""
        if self.full and j > 0:
            return j * (1.0 - C.CATHODE_SIDE_REACTION_FRACTION)
        return j

    def max_step(self, op: OperatingPoint, T: float, pressure_Pa: float) -> float:
        j = self._stored_j(op.I_ion / self.area)
        we, ce = self.electrodes
        return min(C.MAX_STEP_S, we.max_step(j), ce.max_step(-j))

    def step(self, t: float, dt: float, op: OperatingPoint, T: float, pressure_Pa: float) -> None:
        self.charge_C += op.I_ion * dt
        j = self._stored_j(op.I_ion / self.area)
        we, ce = self.electrodes
        we.step(j, dt, T)
        ce.step(-j, dt, T)
        self.dead_li_C_per_m2 = getattr(ce if self.full else we, "dead_C_per_m2", 0.0)
        if self.full and j > 0:
            self.plated_C_per_m2 += j * dt
            if (
                self.penetration_after is not None
                and self.plated_C_per_m2 >= self.penetration_after
            ):
                self._begin_short(t + dt, "penetration")
        for itf, electrode in zip(self.interfaces, self.electrodes, strict=True):
            itf.li_thickness_m = electrode.li_metal_m()

    def stack_thickness_change_m(self) -> float:
        return sum(e.thickness_change_m() for e in self.electrodes)

    def li_thickness_total_m(self) -> float:
        return sum(max(e.li_metal_m(), 0.0) for e in self.electrodes)

    def state_columns(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for electrode in self.electrodes:
            out.update(electrode.state())
        return out
