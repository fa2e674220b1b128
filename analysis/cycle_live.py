"""Per-cycle capacity and CE of a cell with a cathode, as samples arrive (the live GUI plots).

The same code as the offline analysis: each completed cycle's samples go through
``segment.step_table`` → ``segment.cycle_table`` (CE = discharge / charge) →
``capacity.cathode_cycles`` → ``fullcell.capacity_columns``, so a cycle's charge and discharge
capacity (mAh, mAh/g, mAh/cm²), CE, energy efficiency and polarization are what
``ssbench analyze`` reports for it. A cycle starts with a charge (I > 0) and is complete when
the next charge begins (a sample above the rest current after a discharge) or the run ends.
Offline, ``complete`` also drops a half much shorter than the same half of other cycles; live
each cycle is judged alone (both halves present).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import capacity, fullcell, segment

#: a sample passes current above this share of the largest |I| seen so far (or the floor); the
#: offline rest tolerance is the same share of the run's 95th-percentile |I|
ACTIVE_SHARE = 0.01
ACTIVE_FLOOR_A = 1e-9


class LiveCycleTable:
    """Completed cycles of a cathode cell, one row each (the offline cycle table's columns)."""

    def __init__(self, mass_kg: float | None, area_m2: float | None) -> None:
        self.mass_kg, self.area_m2 = mass_kg, area_m2
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._rows: list[pd.DataFrame] = []
        self._discharged = False  # the buffered cycle has passed discharge current
        self._i_max = 0.0
        self.table = pd.DataFrame()

    def add(self, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> int:
        """Samples in time order (s, V, A); returns how many cycles they completed."""
        if t.size == 0:
            return 0
        self._i_max = max(self._i_max, float(np.abs(i).max()))
        tol = self._tolerance()
        done = 0
        while t.size:
            start = 0
            if not self._discharged:
                below = np.flatnonzero(i < -tol)
                if below.size == 0:
                    break
                self._discharged, start = True, int(below[0])
            above = np.flatnonzero(i[start:] > tol)
            if above.size == 0:
                break
            cut = start + int(above[0])
            self._chunks.append((t[:cut], v[:cut], i[:cut]))
            done += self._close()
            t, v, i = t[cut:], v[cut:], i[cut:]
        if t.size:
            self._chunks.append((t, v, i))
        return done

    def _tolerance(self) -> float:
        return max(ACTIVE_SHARE * self._i_max, ACTIVE_FLOOR_A)

    def finish(self) -> int:
        """Close the running cycle (end of run); returns 1 if it held a cycle."""
        return self._close()

    def _close(self) -> int:
        """Analyse the buffered cycle with the offline functions; start a new buffer."""
        chunks, self._chunks, self._discharged = self._chunks, [], False
        if not chunks or sum(c[0].size for c in chunks) < 2:
            return 0
        t, v, i = (np.concatenate(parts) for parts in zip(*chunks, strict=True))
        electro = pd.DataFrame({"time": t, "voltage": v, "current": i})
        steps = segment.step_table(electro, rest_tol=self._tolerance(), use_recorded=False,
                                   cycle_start="strip", warnings=[])  # fmt: skip
        cycles = segment.cycle_table(steps, ce_of="discharge/charge")
        if cycles.empty:
            return 0
        rows = capacity.cathode_cycles(steps, cycles).assign(cycle=len(self._rows) + 1)
        self._rows.append(rows.iloc[:1])
        self.table = fullcell.capacity_columns(
            pd.concat(self._rows, ignore_index=True), self.mass_kg, self.area_m2
        )
        return 1

    def unit(self) -> tuple[str, str]:
        """(column suffix, unit label) the capacities are best shown in: per gram of active
        material when the mass is known, else per cm², else mAh."""
        if self.mass_kg:
            return "_mAh_g", "mAh/g"
        if self.area_m2:
            return "_mAh_cm2", "mAh/cm²"
        return "_mAh", "mAh"
