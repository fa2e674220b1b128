"""What the live plots show, built from engine output on the GUI thread (no Qt here).

Traces go into bounded :class:`~gui.tracestore.TraceStore` objects. Per-cycle quantities accrue
as samples arrive: a half cycle is a run of current of one sign (strip: I > 0, plate: I < 0);
its charge and mean |V| are summed, and consecutive strip and plate halves pair into a cycle.
The live overpotential is the half cycle's mean |V| (the offline analysis refines it to the
plateau median, analysis/overpotential.py); CE_n = Q_strip / Q_plate (analysis/ce.py).
A cell with a cathode (a full cell: the sample names one, analysis/cell.py) also gets the
offline analysis's own per-cycle table, :class:`analysis.cycle_live.LiveCycleTable`: charge
and discharge capacity (mAh/g of active material when the sample gives the mass) and CE =
discharge / charge, one row as each cycle ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis import fullcell
from analysis.cell import cell_kind
from analysis.cycle_live import LiveCycleTable
from daq.documents import EventKind
from gui.tracestore import TraceStore

#: streams and the channels each keeps (J is derived from the current and the cell area)
STREAM_CHANNELS: dict[str, tuple[str, ...]] = {
    "electro": ("voltage", "current_density"),
    "pressure": ("pressure",),
    "thermal": ("temperature",),
    "bias": ("voltage", "current"),
}
#: event kinds drawn as markers on the traces, with the colour of each
MARKER_KINDS = {"step": "#8888aa", "trip": "#d62728", "void_onset": "#ff7f0e", "short": "#9467bd"}
MAX_CURVES = 12  # V(capacity) curves kept (the most recent half cycles)
MAX_CURVE_POINTS = 4000
MAX_MARKERS = 20_000
#: |J| (A/m²) above which a sample counts as passing current: 0.1 µA/cm², far above the
#: open-circuit leakage of a cell and far below any plating/stripping current density
ACTIVE_J = 1e-3


def marker_kind(kind: str, data: dict[str, Any]) -> str | None:
    """Which marker an engine event gets (None: not drawn)."""
    if kind == EventKind.STEP_START:
        return "step"
    if kind == EventKind.LIMIT_TRIP:
        return "trip"
    if kind == EventKind.DETECTOR:
        name = data.get("event", "")
        if name == "void_onset":
            return "void_onset"
        if "short" in name:
            return "short"
    return None


@dataclass
class HalfCycle:
    """Running sums for one half cycle: a run of samples with current of one sign."""

    sign: int
    charge: float = 0.0
    abs_v_sum: float = 0.0
    n: int = 0
    cap: list[np.ndarray] = field(default_factory=list)  # |areal capacity| so far (C/m²)
    volt: list[np.ndarray] = field(default_factory=list)
    stride: int = 1

    @property
    def kind(self) -> str:
        return "strip" if self.sign > 0 else "plate"

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.cap:
            return np.empty(0), np.empty(0)
        return np.concatenate(self.cap), np.concatenate(self.volt)


@dataclass
class CycleRow:
    """One cycle: overpotential (mean |V|, V) and charge (C) of each half, CE."""

    cycle: int
    eta_strip: float = float("nan")
    eta_plate: float = float("nan")
    q_strip: float = float("nan")
    q_plate: float = float("nan")

    @property
    def complete(self) -> bool:
        return not (np.isnan(self.q_strip) or np.isnan(self.q_plate))

    @property
    def ce(self) -> float:
        if not self.complete or self.q_plate == 0:
            return float("nan")
        return self.q_strip / self.q_plate


class CycleAccumulator:
    """Half cycles and cycles from electro samples, by the sign of the current.

    A half cycle is a run of samples whose |J| exceeds :data:`ACTIVE_J` with one sign; samples
    below it (rests, open circuit) neither count nor end the half, a sample of the other sign
    does. Grouping by sign rather than by the engine's step tag keeps the samples of a step
    boundary (fetched a tick late) with their half, so CE is not biased by the tagging.
    """

    def __init__(self, area_m2: float | None) -> None:
        self.area = area_m2
        self.current: HalfCycle | None = None
        self.curves: list[tuple[int, str, np.ndarray, np.ndarray]] = []  # cycle, kind, cap, V
        self.cycles: list[CycleRow] = []
        self.closed = 0  # half cycles closed so far (views redraw the tables when it changes)
        self._last_t: float | None = None

    def add(self, t: np.ndarray, v: np.ndarray, i: np.ndarray) -> None:
        """Samples in time order (s, V, A)."""
        if t.size == 0:
            return
        if self._last_t is not None and self._last_t <= t[0]:
            prev = self._last_t
        else:  # the first sample of the run: one sampling period before it
            prev = t[0] - (t[1] - t[0] if t.size > 1 else 0.0)
        dq = i * np.diff(np.r_[prev, t])
        self._last_t = float(t[-1])
        active = np.flatnonzero(np.abs(i) > ACTIVE_J * (self.area or 1e-4))
        if active.size == 0:
            return
        signs = np.sign(i[active]).astype(int)
        cuts = np.flatnonzero(np.diff(signs)) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, active.size], strict=True):
            lo, hi = active[a], active[b - 1] + 1
            if self.current is None or self.current.sign != signs[a]:
                self._close()
                self.current = HalfCycle(int(signs[a]))
            self._accrue(v[lo:hi], dq[lo:hi], np.abs(i[lo:hi]) > ACTIVE_J * (self.area or 1e-4))

    def _accrue(self, v: np.ndarray, dq: np.ndarray, active: np.ndarray) -> None:
        hc = self.current
        cap = np.abs(hc.charge + np.cumsum(dq)) / (self.area or 1.0)
        hc.charge += float(dq.sum())
        hc.abs_v_sum += float(np.abs(v[active]).sum())
        hc.n += int(active.sum())
        hc.cap.append(cap[:: hc.stride])
        hc.volt.append(v[:: hc.stride])
        if sum(c.size for c in hc.cap) > MAX_CURVE_POINTS:
            x, y = hc.curve()
            while x.size > MAX_CURVE_POINTS:
                x, y, hc.stride = x[::2], y[::2], hc.stride * 2
            hc.cap, hc.volt = [x], [y]

    def _close(self) -> None:
        hc = self.current
        if hc is None or hc.n == 0:
            return
        row = self.cycles[-1] if self.cycles else None
        slot = "q_strip" if hc.kind == "strip" else "q_plate"
        if row is None or not np.isnan(getattr(row, slot)):
            row = CycleRow(len(self.cycles) + 1)
            self.cycles.append(row)
        eta = hc.abs_v_sum / hc.n
        if hc.kind == "strip":
            row.q_strip, row.eta_strip = hc.charge, eta
        else:
            row.q_plate, row.eta_plate = -hc.charge, eta
        x, y = hc.curve()
        self.curves.append((row.cycle, hc.kind, x, y))
        del self.curves[:-MAX_CURVES]
        self.closed += 1

    def finish(self) -> None:
        """Close the running half cycle (end of run)."""
        self._close()
        self.current = None

    def live_curve(self) -> tuple[str, np.ndarray, np.ndarray] | None:
        """The half cycle in progress as (kind, capacity, V)."""
        if self.current is None or self.current.n == 0:
            return None
        x, y = self.current.curve()
        return self.current.kind, x, y

    def table(self) -> dict[str, np.ndarray]:
        """Per cycle: cycle, eta_strip, eta_plate, ce (NaN where a half is missing)."""
        rows = self.cycles
        return {
            "cycle": np.array([r.cycle for r in rows], dtype=float),
            "eta_strip": np.array([r.eta_strip for r in rows]),
            "eta_plate": np.array([r.eta_plate for r in rows]),
            "ce": np.array([r.ce for r in rows]),
        }


def full_cell_table(sample: dict[str, Any], area_m2: float | None) -> LiveCycleTable | None:
    """The per-cycle capacity table for a sample with a cathode (run-file SI keys), else None."""
    if cell_kind(sample).kind != "cathode":
        return None
    mass, _ = fullcell.sample_basis(sample, area_m2)
    return LiveCycleTable(mass, area_m2)


@dataclass
class Marker:
    time: float
    kind: str
    text: str


class LiveData:
    """All traces of one run, the per-cycle table and the event markers."""

    def __init__(
        self,
        area_m2: float | None,
        raw_capacity: int | None = None,
        sample: dict[str, Any] | None = None,
    ) -> None:
        self.area = area_m2
        kw = {} if raw_capacity is None else {"raw_capacity": raw_capacity}
        self.stores = {name: TraceStore(ch, **kw) for name, ch in STREAM_CHANNELS.items()}
        self.cycles = CycleAccumulator(area_m2)
        self.capacity = full_cell_table(sample or {}, area_m2)
        self.markers: list[Marker] = []
        self.generation = 0  # bumped on every change, so views redraw only when needed

    def add_samples(self, stream: str, data: dict[str, Any]) -> None:
        """One engine ``on_samples`` block (scalars such as ``step`` are broadcast)."""
        store = self.stores.get(stream)
        if store is None:
            return
        t = np.asarray(data["time"], dtype=float)
        n = t.size

        def col(name: str) -> np.ndarray:
            return np.broadcast_to(np.asarray(data.get(name, np.nan), dtype=float), (n,))

        if stream == "electro":
            i = col("current")
            values = {"voltage": col("voltage"), "current_density": i / (self.area or 1.0)}
            self.cycles.add(t, values["voltage"], i)
            if self.capacity is not None:
                self.capacity.add(t, values["voltage"], i)
        else:
            values = {c: col(c) for c in store.channels}
        store.append(t, values)
        self.generation += 1

    def add_event(self, time: float, kind: str, text: str, data: dict[str, Any]) -> None:
        what = marker_kind(kind, data)
        if what is None:
            return
        self.markers.append(Marker(time, what, text))
        if len(self.markers) > MAX_MARKERS:  # keep every trip/void/short; thin step ticks
            steps = [k for k, m in enumerate(self.markers) if m.kind == "step"]
            drop = set(steps[: len(steps) // 2])
            self.markers = [m for k, m in enumerate(self.markers) if k not in drop]
        self.generation += 1

    def finish(self) -> None:
        self.cycles.finish()
        if self.capacity is not None:
            self.capacity.finish()
        self.generation += 1

    def time_range(self) -> tuple[float, float] | None:
        spans = [s.time_range() for s in self.stores.values() if len(s)]
        if not spans:
            return None
        return min(a for a, _ in spans), max(b for _, b in spans)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.stores.values())
