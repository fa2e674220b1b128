"""SimWorld: the simulated laboratory behind every emulator, on one clock, with ground truth.

Emulators (Keithley, press, holder, thermal, camera) call the port methods concurrently; one
lock serialises them. Each call first advances the models lazily to ``clock.now()`` with an
adaptive step (never more than ``MAX_STEP_S``; finer where a state variable changes fast, and
exactly at discrete events such as soft-short toggles). Every step is a knot of the truth
table; buffered potentiostat samples are interpolated between knots and get measurement noise,
so a 1 s grid over hours costs a few knots, not one model step per sample.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from daq.clock import Clock
from sim_instruments import constants as C
from sim_instruments.cell import CellModel, OperatingPoint
from sim_instruments.frames import render
from sim_instruments.fullcell import ELECTRODE_CELLS, ElectrodeCellModel
from sim_instruments.impedance import CellCircuit, cell_circuit
from sim_instruments.press import PressModel
from sim_instruments.thermal import ThermalModel
from sim_instruments.tubule import TubuleModel

SourceMode = Literal["current", "voltage", "off"]
CELLS = ("symmetric", "anode_free", *ELECTRODE_CELLS)


@dataclass
class SimConfig:
    """What is in the simulated lab (all SI). ``None`` takes the electrolyte preset's default."""

    preset: str = "llzo"  # llzo, lpscl, lipon, peo (55 degC), latp (reactive)
    cell: str = "symmetric"  # "symmetric" Li|SE|Li or "anode_free" Li|SE|Cu (Cu = WE)
    area_m2: float = 1e-4
    thickness_m: float | None = None
    temperature_K: float | None = None
    initial_pressure_Pa: float = 0.0
    seed: int = 0
    noise_V: float = C.NOISE_VOLTAGE_V
    noise_I_A: float = C.NOISE_CURRENT_A
    noise_I_relative: float = C.NOISE_CURRENT_RELATIVE
    tubule_metal: str = "Li"  # "Li" or the "Na" variant
    tubule_count: int = 1
    #: host half cells and LiFePO4 full cells (fullcell.py): cathode, Li excess, penetration
    cathode_loading_kg_per_m2: float = C.LFP_LOADING_KG_PER_M2
    li_excess: float = C.FULL_CELL_LI_EXCESS  # anode Li / cathode capacity at assembly
    penetration_after_C_per_m2: float | None = None  # plated charge at which Li penetrates

    def validate(self) -> None:
        """Raise ValueError naming the bad field."""
        if self.preset not in C.PRESETS:
            raise ValueError(
                f"SimConfig.preset: unknown {self.preset!r}; known: {', '.join(C.PRESETS)}"
            )
        if self.cell not in CELLS:
            raise ValueError(f"SimConfig.cell: must be one of {CELLS}, got {self.cell!r}")
        positive = {
            "area_m2": self.area_m2,
            "thickness_m": self.thickness_m,
            "temperature_K": self.temperature_K,
            "cathode_loading_kg_per_m2": self.cathode_loading_kg_per_m2,
            "penetration_after_C_per_m2": self.penetration_after_C_per_m2,
        }
        for name, value in positive.items():
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"SimConfig.{name}: must be a positive number, got {value!r}")
        for name in (
            "initial_pressure_Pa",
            "noise_V",
            "noise_I_A",
            "noise_I_relative",
            "li_excess",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"SimConfig.{name}: must be >= 0, got {value!r}")
        if self.temperature_K is not None:
            lo, hi = C.THERMAL_SETPOINT_RANGE_K
            if not lo <= self.temperature_K <= hi:
                raise ValueError(f"SimConfig.temperature_K: must be within {lo}-{hi} K")
        if self.tubule_metal not in ("Li", "Na"):
            raise ValueError(f"SimConfig.tubule_metal: 'Li' or 'Na', got {self.tubule_metal!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"SimConfig.seed: a non-negative integer, got {self.seed!r}")
        if not isinstance(self.tubule_count, int) or not 1 <= self.tubule_count <= 8:
            raise ValueError(f"SimConfig.tubule_count: 1-8, got {self.tubule_count!r}")


#: readings closer together than this (s) get one model knot per fetch, not one each
READING_KNOT_S = 0.05
#: model times closer than this (s) are one instant: an instrument asking at a time that
#: differs from a reading's by float rounding (tick arithmetic) adds no model step
TIME_RESOLUTION_S = 1e-9


class SimWorld:
    """All simulated physics of one station; thread-safe; deterministic under ``config.seed``."""

    def __init__(self, clock: Clock, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.config.validate()
        cfg = self.config
        self.preset = C.PRESETS[cfg.preset]
        self.clock = clock
        self._lock = threading.RLock()
        seeds = np.random.SeedSequence(cfg.seed).spawn(7)
        cell_rng, tube_rng, load_rng, thermo_rng, self._noise_rng, self._frame_rng = (
            np.random.default_rng(s) for s in seeds[:6]
        )
        self.eis_rng = np.random.default_rng(seeds[6])  # impedance noise (own stream)
        self._sweeps: list[dict] = []
        thickness = cfg.thickness_m or self.preset.thickness_m
        self.cell = self._new_cell(thickness, cell_rng)
        self.press = PressModel(cfg.area_m2, cfg.initial_pressure_Pa, load_rng)
        self.thermal = ThermalModel(cfg.temperature_K or self.preset.temperature_K, thermo_rng)
        self.tubes = TubuleModel(cfg.tubule_metal, cfg.tubule_count, tube_rng)
        self._mode: SourceMode = "off"
        self._level = 0.0
        self._limit = math.inf
        self._t = clock.now()
        self._reading_schedules: list[Callable[[float], float]] = []
        self._columns = self._column_names()
        self._col = {name: i for i, name in enumerate(self._columns)}
        self._buf = np.empty((4096, len(self._columns)))
        self._n = 0
        self._frames: list[tuple[float, float, float]] = []
        self._drift = [0.0, 0.0]
        self._last_frame_t = self._t
        self._op = self._solve()
        self._record()

    def _new_cell(self, thickness: float, rng: np.random.Generator) -> CellModel:
        cfg = self.config
        if cfg.cell in ELECTRODE_CELLS:
            return ElectrodeCellModel(
                self.preset, cfg.cell, cfg.area_m2, thickness, rng,
                cfg.cathode_loading_kg_per_m2, cfg.li_excess, cfg.penetration_after_C_per_m2,
            )  # fmt: skip
        return CellModel(self.preset, cfg.cell, cfg.area_m2, thickness, rng)

    # --- potentiostat port ------------------------------------------------------------------
    def electro_source(self, mode: SourceMode, level: float, limit: float) -> None:
        """Source current (A, voltage limit V) or voltage (V, current limit A), or open circuit."""
        if mode not in ("current", "voltage", "off"):
            raise ValueError(f"electro_source mode must be current, voltage or off, got {mode!r}")
        if not math.isfinite(level):
            raise ValueError(f"electro_source level must be finite, got {level!r}")
        if mode != "off" and not (limit > 0):
            raise ValueError(f"electro_source limit must be > 0, got {limit!r}")
        with self._lock:
            self._advance(self.clock.now())
            self._mode, self._level, self._limit = mode, float(level), float(limit)
            self._op = self._solve()
            self._record()

    def electro_measure(self) -> tuple[float, float, bool]:
        """(V, I, in_compliance) now, with measurement noise."""
        with self._lock:
            self._advance(self.clock.now())
            op = self._op
            v = op.V + self.config.noise_V * self._noise_rng.standard_normal()
            cur = (
                op.current
                + self._current_noise(abs(op.current)) * self._noise_rng.standard_normal()
            )
            return float(v), float(cur), bool(op.compliance)

    def electro_samples(
        self, t0: float, t1: float, interval: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Times, V, I, compliance on the grid t0 + k*interval in (t0, t1]; advances the model."""
        if not (interval > 0 and math.isfinite(interval)):
            raise ValueError(f"electro_samples interval must be > 0 s, got {interval!r}")
        if not t1 >= t0:
            raise ValueError(f"electro_samples needs t1 >= t0, got t0={t0}, t1={t1}")
        with self._lock:
            now = self.clock.now()
            if t1 > now + 1e-9 * max(1.0, abs(now)):
                raise ValueError(f"electro_samples cannot sample the future (t1={t1} > now={now})")
            first = self._buf[0, 0]
            if t0 < first:
                raise ValueError(f"electro_samples: no model history before t={first}")
            self._advance(now)
            n = int(math.floor((t1 - t0) / interval * (1 + 1e-12) + 1e-9))
            times = t0 + interval * np.arange(1, n + 1)
            volts, amps, comp = self._interpolate(times)
            volts = volts + self.config.noise_V * self._noise_rng.standard_normal(n)
            amps = amps + self._current_noise(np.abs(amps)) * self._noise_rng.standard_normal(n)
            return times, volts, amps, comp

    def electro_readings(
        self, times: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """An instrument's readings at ``times`` (ascending, none in the future): times, V, I,
        compliance. The model steps to each reading's time in turn (a knot per reading, none at
        the moment of asking) and the noise is drawn per reading, so what an instrument reads
        does not depend on when, or in how many pieces, it is asked: a buffered block fetched
        after 20 s and the same readings fetched one by one see the same cell. Readings closer
        than ``READING_KNOT_S`` (above 20 Hz) share one knot at the last of them: a knot per
        reading would cost a model step each, and there the fetch pattern shows again."""
        times = np.asarray(times, dtype=float)
        with self._lock:
            now = self.clock.now()
            if len(times) and times[-1] > now + 1e-9 * max(1.0, abs(now)):
                raise ValueError(
                    f"electro_readings cannot read the future (t={times[-1]} > now={now})"
                )
            if len(times) and times[0] < self._buf[0, 0]:
                raise ValueError(f"electro_readings: no model history before t={self._buf[0, 0]}")
            knots = times[times > self._t + TIME_RESOLUTION_S]  # not a knot already stepped to
            if len(times) > 1 and np.min(np.diff(times)) < READING_KNOT_S:
                knots = knots[-1:]  # fast sampling: one knot at the last reading (cost)
            for t in knots:
                self._advance(float(t))
            volts, amps, comp = self._interpolate(times)
            noise = self._noise_rng.standard_normal((len(times), 2))
            volts = volts + self.config.noise_V * noise[:, 0]
            amps = amps + self._current_noise(np.abs(amps)) * noise[:, 1]
            return times, volts, amps, comp

    def add_reading_schedule(self, next_reading: Callable[[float], float]) -> None:
        """Register a buffering instrument's schedule: ``next_reading(t)`` is the time of its
        first reading after ``t`` (inf for none). The model steps to each of them whoever
        advances it, so a reading another instrument's query has already passed sees the
        same model knots as one asked for in time (the rig's reads do not change the cell the
        2450 reads, however each is polled)."""
        with self._lock:
            self._reading_schedules.append(next_reading)

    def _next_reading(self) -> float:
        return min((f(self._t) for f in self._reading_schedules), default=math.inf)

    def _current_noise(self, magnitude):
        return self.config.noise_I_A + self.config.noise_I_relative * magnitude

    def _interpolate(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Linear between knots; at a jump (two knots, same time) the later knot wins."""
        tk = self._buf[: self._n, 0]
        lo = max(int(np.searchsorted(tk, times[0], "right")) - 1, 0) if len(times) else 0
        hi = min(int(np.searchsorted(tk, times[-1], "right")) + 1, self._n) if len(times) else 0
        seg = self._buf[lo:hi]
        ts = seg[:, 0]
        idx = np.clip(np.searchsorted(ts, times, "right") - 1, 0, len(ts) - 1)
        nxt = np.minimum(idx + 1, len(ts) - 1)
        span = ts[nxt] - ts[idx]
        w = np.where(span > 0, (times - ts[idx]) / np.where(span > 0, span, 1.0), 0.0)
        cV, cI, cC = self._col["V"], self._col["I"], self._col["compliance"]
        volts = seg[idx, cV] + w * (seg[nxt, cV] - seg[idx, cV])
        amps = seg[idx, cI] + w * (seg[nxt, cI] - seg[idx, cI])
        return volts, amps, seg[idx, cC] > 0.5

    # --- press port ---------------------------------------------------------------------------
    def actuator_move_steps(self, steps: int) -> None:
        """Command a relative actuator move (it runs at a finite speed)."""
        if int(steps) != steps:
            raise ValueError(f"actuator steps must be an integer, got {steps!r}")
        with self._lock:
            self._advance(self.clock.now())
            self.press.move(int(steps))

    def actuator_steps(self) -> int:
        with self._lock:
            self._advance(self.clock.now())
            return self.press.steps()

    def actuator_step_size_m(self) -> float:
        return self.press.step_m

    def load_cell_force_N(self) -> float:
        """Load-cell reading: true force + zero drift + noise."""
        with self._lock:
            self._advance(self.clock.now())
            return float(self.press.read_load_cell(self._t))

    def stack_force_true_N(self) -> float:
        with self._lock:
            self._advance(self.clock.now())
            return float(self.press.force_N())

    # --- TEM holder port ------------------------------------------------------------------------
    def holder_move(self, axis: str, distance_m: float) -> None:
        if not math.isfinite(distance_m):
            raise ValueError(f"holder_move distance must be finite, got {distance_m!r}")
        with self._lock:
            self._advance(self.clock.now())
            self.tubes.move(axis, distance_m)
            self._record()

    def holder_position(self) -> tuple[float, float, float]:
        with self._lock:
            self._advance(self.clock.now())
            x, y, z = self.tubes.position
            return float(x), float(y), float(z)

    def holder_contact(self) -> bool:
        """True when the probe's SE cap touches at least one tubule mouth."""
        with self._lock:
            self._advance(self.clock.now())
            return bool(self.tubes.contacts().any())

    def holder_bias(self, volts: float, limit_A: float) -> None:
        if not math.isfinite(volts):
            raise ValueError(f"holder_bias volts must be finite, got {volts!r}")
        with self._lock:
            self._advance(self.clock.now())
            self.tubes.set_bias(float(volts), float(limit_A))
            self._record()

    def holder_measure(self) -> tuple[float, float, bool]:
        """(V, I, in_compliance) of the holder bias source, pA-level noise."""
        with self._lock:
            self._advance(self.clock.now())
            volts, amps, comp = self.tubes.measure()
            amps += C.TUBULE_OPEN_CIRCUIT_NOISE_A * self._noise_rng.standard_normal()
            return float(volts), float(amps), bool(comp)

    # --- thermal port -----------------------------------------------------------------------------
    def thermal_setpoint(self, K: float) -> None:
        with self._lock:
            self._advance(self.clock.now())
            self.thermal.set(float(K))

    def thermal_read_K(self) -> float:
        with self._lock:
            self._advance(self.clock.now())
            return float(self.thermal.read())

    # --- camera port ------------------------------------------------------------------------------
    def camera_frame(self) -> tuple[float, np.ndarray]:
        """(time, uint16 image) of the tubules now; the true front is in ``truth()``."""
        with self._lock:
            self._advance(self.clock.now())
            elapsed = max(self._t - self._last_frame_t, 0.0)
            self._last_frame_t = self._t
            step = C.FRAME_DRIFT_PX_PER_SQRT_S * math.sqrt(elapsed)
            self._drift[0] += step * self._frame_rng.standard_normal()
            self._drift[1] += step * self._frame_rng.standard_normal()
            image = render(self.tubes, (self._drift[0], self._drift[1]), self._frame_rng)
            self._frames.append((self._t, self._drift[0], self._drift[1]))
            return self._t, image

    # --- impedance port ---------------------------------------------------------------------------
    def impedance_circuit(self) -> CellCircuit:
        """The cell's small-signal equivalent circuit now (sim_instruments/impedance.py)."""
        with self._lock:
            self._advance(self.clock.now())
            coeffs = self.cell.coefficients(self.thermal.T, self.press.pressure_Pa())
            fractions = self.cell.contact_fractions()
            return cell_circuit(coeffs, fractions, self.preset.name, self.cell.thickness)

    def record_sweep(self, sweep: dict) -> None:
        """Keep one measured sweep's ground truth (times, circuit at start and end)."""
        with self._lock:
            self._sweeps.append(dict(sweep))

    def sync(self) -> None:
        """Bring every model up to ``clock.now()`` (ports do this themselves)."""
        with self._lock:
            self._advance(self.clock.now())

    # --- ground truth -----------------------------------------------------------------------------
    def truth(self) -> dict[str, np.ndarray | float | list | str | None]:
        """Time series at every model knot plus event times, for scoring analysis."""
        with self._lock:
            self._advance(self.clock.now())
            data = self._buf[: self._n]
            out: dict[str, np.ndarray | float | list | str | None] = {
                name: data[:, i].copy()
                for name, i in self._col.items()
                if not name.startswith("tubule_")
            }
            out["compliance"] = data[:, self._col["compliance"]] > 0.5
            out["short_state"] = data[:, self._col["short_state"]].astype(int)
            n = self.tubes.count
            for key in ("tubule_front_m", "tubule_start_m"):
                cols = [self._col[f"{key}_{i}"] for i in range(n)]
                out[key] = data[:, cols].copy()
            we, ce = self.cell.interfaces
            out.update(
                preset=self.preset.name,
                cell=self.config.cell,
                area_m2=self.config.area_m2,
                thickness_m=self.cell.thickness,
                void_onset_times_we=list(we.void_onsets),
                void_onset_times_ce=list(ce.void_onsets),
                filament_nucleation_times_we=list(we.nucleation_times),
                filament_nucleation_times_ce=list(ce.nucleation_times),
                short_time=self.cell.short_time,
                hard_short_time=self.cell.hard_short_time,
                **self.cell.truth_scalars(),
                short_cause=self.cell.short_cause or None,
                tubule_metal=self.tubes.metal,
                tubule_cross_section_m2=self.tubes.cross_section,
                tubule_atomic_volume_m3=self.tubes.omega,
                tubule_length_m=self.tubes.length,
                frame_times=[f[0] for f in self._frames],
                frame_drift_px=[(f[1], f[2]) for f in self._frames],
                frame_pixel_m=C.FRAME_PIXEL_M,
                eis_sweeps=[dict(sweep) for sweep in self._sweeps],
            )
            return out

    # --- integration ------------------------------------------------------------------------------
    def _column_names(self) -> list[str]:
        names = [
            "t",
            "V",
            "I",
            "I_ion",
            "compliance",
            "temperature_K",
            "pressure_Pa",
            "force_N",
            "actuator_steps",
            "contact_fraction_we",
            "contact_fraction_ce",
            "void_depth_we_m",
            "void_depth_ce_m",
            "eta_bulk_V",
            "eta_ct_we_V",
            "eta_ct_ce_V",
            "eta_contact_we_V",
            "eta_contact_ce_V",
            "eta_interphase_we_V",
            "eta_interphase_ce_V",
            "filament_we_m",
            "filament_ce_m",
            "short_state",
            "li_we_m",
            "li_ce_m",
            "cu_li_C_per_m2",
            "dead_li_C_per_m2",
            "stack_thickness_change_m",
            "creep_penetration_m",
            "charge_C",
            "holder_V",
            "holder_I",
            "holder_charge_C",
        ]
        for key in ("tubule_front_m", "tubule_start_m"):
            names += [f"{key}_{i}" for i in range(self.config.tubule_count)]
        return names + list(self.cell.state_columns())

    def _solve(self) -> OperatingPoint:
        T, P = self.thermal.T, self.press.pressure_Pa()
        return self.cell.solve(T, P, self._mode, self._level, self._limit)

    def _record(self) -> None:
        op, cell, tubes = self._op, self.cell, self.tubes
        we, ce = cell.interfaces
        f = cell.contact_fractions()
        hv, hi, _ = tubes.measure()
        row = [
            self._t,
            op.V,
            op.current,
            op.I_ion,
            float(op.compliance),
            self.thermal.T,
            self.press.pressure_Pa(),
            self.press.force_N(),
            self.press.position_steps,
            f[0],
            f[1],
            we.void_depth_m,
            ce.void_depth_m,
            op.eta_bulk,
            op.eta_ct[0],
            op.eta_ct[1],
            op.eta_contact[0],
            op.eta_contact[1],
            op.eta_interphase[0],
            op.eta_interphase[1],
            we.filament_m,
            ce.filament_m,
            float(cell.short_state),
            we.li_thickness_m,
            ce.li_thickness_m,
            cell.cu_li_C_per_m2,
            cell.dead_li_C_per_m2,
            cell.stack_thickness_change_m(),
            cell.creep_penetration_m,
            cell.charge_C,
            hv,
            hi,
            tubes.charge_C,
            *tubes.seg_end,
            *tubes.seg_start,
            *cell.state_columns().values(),
        ]
        if self._n:
            last = self._buf[self._n - 1]
            if last[0] == self._t and np.array_equal(last, row):
                return
        if self._n == len(self._buf):
            self._buf = np.concatenate([self._buf, np.empty_like(self._buf)])
        self._buf[self._n] = row
        self._n += 1

    def _advance(self, target: float) -> None:
        """Integrate every model from the model time to ``target`` (no-op if not later)."""
        cell, press, thermal, tubes = self.cell, self.press, self.thermal, self.tubes
        reading = self._next_reading()
        if 0.0 < reading - target <= TIME_RESOLUTION_S:
            target = reading  # the same instant as a scheduled reading: step to its knot
        while target - self._t > TIME_RESOLUTION_S:
            T, P = thermal.T, press.pressure_Pa()
            li = cell.li_thickness_total_m()
            dt = min(
                target - self._t,
                cell.max_step(self._op, T, P),
                press.max_step(li, T),
                thermal.max_step(),
                tubes.max_step(),
                cell.next_event() - self._t,
                self._next_reading() - self._t,
            )
            dt = max(dt, 1e-9)
            cell.step(self._t, dt, self._op, T, P)
            press.step(dt, li, T, cell.stack_thickness_change_m())
            thermal.step(dt)
            tubes.step(dt)
            self._t = min(self._t + dt, target) if target - self._t - dt < 1e-12 else self._t + dt
            self._op = self._solve()
            self._record()
            if cell.apply_events(self._t):
                self._op = self._solve()
                self._record()
