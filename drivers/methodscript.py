"""PalmSens-style potentiostat (EmStat4 / EmStat Pico / Nexus class) speaking MethodSCRIPT.

Clean-room from the public MethodSCRIPT manual (no vendor code). Over serial (a port, a pty or
``socket://``) the driver sends small scripts and reads the data packages the instrument
streams while a measurement loop runs (drivers/methodscript_packets.py parses them).

* The Potentiostat role: open circuit, galvanostatic (chronopotentiometry) and potentiostatic
  (chronoamperometry) sources are long-running measurement loops sampling every acquisition
  interval; a new setpoint aborts the loop (``Z``) and starts the next one. ``fetch`` waits
  until every sample due on the run clock has arrived, so a virtual clock stays exact.
* Sweeps: :meth:`measure_eis` (potentiostatic or galvanostatic, at a DC level or at open
  circuit), :meth:`measure_lsv`, :meth:`measure_cv` return when the script ends, or early
  (leaving the cell at open circuit) when ``should_stop`` says so or ``max_duration`` passes.

Every setpoint, frequency, amplitude and range is checked against the instrument's ranges and
the station's limits before anything is written (SetpointError, nothing sent). ``!XXXX``
errors become InstrumentReportedError. Protocol subset: docs/instruments/methodscript.md.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from daq.clock import Clock
from drivers.errors import (
    GarbledReply,
    InstrumentError,
    InstrumentReportedError,
    InstrumentTimeout,
    SetpointError,
)
from drivers.methodscript_packets import Package, format_number, parse_error, parse_package
from drivers.roles import (
    ElectroBlock,
    ElectroReading,
    Mode,
    Potentiostat,
    Spectrum,
    Sweep,
    SweepPoint,
)
from drivers.serial_transport import SerialTransport, open_serial
from drivers.settings import SERIAL, DriverSettings, Setting
from drivers.sweeps import OCV_SETTLE_S, eis_duration_estimate, voltammetry_points
from drivers.validators import InRange, Integer, Symmetric, check

#: instrument ranges (EmStat4-class module) used for validation before anything is sent
POTENTIAL_RANGE_V = 3.0
CURRENT_RANGE_A = 30e-3
FREQUENCY_RANGE_HZ = (1e-5, 2e5)
AC_POTENTIAL_RANGE_V = (1e-4, 0.25)
MAX_POINTS = 1000
MIN_INTERVAL_S = 1e-3
#: an open-ended source is a loop this long, aborted when the setpoint changes (11.6 days)
OPEN_ENDED_RUN_S = 1e6
#: wall seconds a poll waits for a sweep point that is due by the estimate (virtual clocks:
#: the twin sends it within milliseconds; on a real clock the next poll picks it up)
STREAM_WAIT_S = 0.25
#: on a real clock a sample is only expected once it is this old (serial latency)
REAL_CLOCK_LATENCY_S = 0.5

#: the sweeps this family runs (drivers.roles.SWEEP_TECHNIQUES; the registry's DriverSpec too)
SWEEPS = frozenset({"eis", "geis", "lsv", "cv"})
#: MethodSCRIPT variable type codes of sweep data -> the role's point names
POINT_NAMES = {"dc": "frequency", "cc": "z_real", "cd": "z_imag", "da": "potential", "ba": "current"}  # fmt: skip

SETTINGS: dict[str, Setting] = {
    "max_voltage": Setting("voltage", low=0.0, high=POTENTIAL_RANGE_V, unit="V"),
    "max_current": Setting("current", low=0.0, high=CURRENT_RANGE_A, unit="A"),
    "interval": Setting("time", low=MIN_INTERVAL_S, high=3600.0, unit="s"),
    "ocv_settle": Setting("time", low=0.0, high=3600.0, unit="s"),
    **SERIAL,
}


@dataclass
class SweepRun:
    """A finite script running on the instrument: what it expects and what arrived."""

    technique: str  # eis, geis, lsv, cv
    script: list[str]
    point_s: list[float]  # expected run time of each point
    max_duration: float | None
    dc_level: float
    amplitude: float
    t0: float = 0.0
    last: float = 0.0
    stall_s: float = math.inf
    packages: list[Package] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    done: bool = False
    complete: bool = False

    def next_point_s(self) -> float:
        return self.point_s[min(len(self.packages), len(self.point_s) - 1)]

    def next_due(self) -> float:
        """Run time the next point should arrive: the start plus the expected point times
        (a schedule, so late arrivals do not push later points back)."""
        k = min(len(self.packages), len(self.point_s) - 1)
        return self.t0 + float(np.sum(self.point_s[: k + 1]))

    def result(self) -> Spectrum | Sweep:
        def col(code: str) -> np.ndarray:
            return np.array([p.values.get(code, math.nan) for p in self.packages], dtype=float)

        times = np.array(self.times, dtype=float)
        if self.technique in ("eis", "geis"):
            return Spectrum(col("dc"), col("cc"), col("cd"), times, self.dc_level,
                            self.amplitude, self.technique == "geis", self.complete)  # fmt: skip
        return Sweep(times, col("da"), col("ba"), self.complete)


@dataclass
class _Loop:
    """The measurement loop running on the instrument now."""

    technique: str  # ocp, ca, cp
    level: float
    limit: float
    interval: float
    t0: float
    samples: list[tuple[float, float, float, bool]] = field(default_factory=list)
    ended: bool = False


class MethodScriptPotentiostat(Potentiostat):
    """Potentiostat role plus EIS / LSV / CV on a MethodSCRIPT instrument."""

    sweeps = SWEEPS

    def __init__(
        self, name: str, transport: SerialTransport, settings: DriverSettings, clock: Clock
    ) -> None:
        super().__init__(name)
        self.transport = transport
        self.clock = clock
        self.max_voltage = settings.quantity("max_voltage", "voltage", POTENTIAL_RANGE_V)
        self.max_current = settings.quantity("max_current", "current", CURRENT_RANGE_A)
        self.interval = settings.quantity("interval", "time", 1.0)
        self.ocv_settle = settings.quantity("ocv_settle", "time", OCV_SETTLE_S)
        self.firmware = transport.query("t", _reply("t"))
        self.serial = transport.query("i", _reply("i"))
        self._loop: _Loop | None = None
        self._sweep: SweepRun | None = None
        self._mode: Mode = "off"
        self._buffer_t0: float | None = None
        self._fetched = 0

    # -- validation ------------------------------------------------------------------------------
    def _voltage(self, parameter: str, value: Any) -> float:
        return check(self.name, parameter, value,
                     Symmetric(POTENTIAL_RANGE_V, "V", "instrument range"),
                     Symmetric(self.max_voltage, "V", "station max_voltage"))  # fmt: skip

    def _current(self, parameter: str, value: Any) -> float:
        return check(self.name, parameter, value,
                     Symmetric(CURRENT_RANGE_A, "A", "instrument range"),
                     Symmetric(self.max_current, "A", "station max_current"))  # fmt: skip

    def _limit(self, parameter: str, value: Any, top: float, unit: str) -> float:
        value = check(self.name, parameter, value, InRange(0.0, top, unit, "instrument range"))
        if value <= 0:
            raise SetpointError(self.name, parameter, value, f"(0, {top:g}] {unit}")
        return value

    def _interval(self, value: float) -> float:
        return check(self.name, "interval", value, InRange(MIN_INTERVAL_S, 3600.0, "s", "instrument"))  # fmt: skip

    # -- Instrument ------------------------------------------------------------------------------
    def identity(self) -> str:
        return f"PalmSens MethodSCRIPT {self.firmware} serial {self.serial}"

    def settings_snapshot(self) -> dict[str, Any]:
        return {
            "firmware": self.firmware,
            "serial": self.serial,
            "max_voltage_V": self.max_voltage,
            "max_current_A": self.max_current,
            "interval_s": self.interval,
            "mode": self._mode,
        }

    def safe_state(self) -> None:
        self.output_off()

    def close(self) -> None:
        self.transport.close()

    # -- Potentiostat ------------------------------------------------------------------------------
    def set_open_circuit(self) -> None:
        self._start_loop("ocp", 0.0, 0.0, self.interval)

    def set_current(self, current: float, voltage_limit: float) -> None:
        current = self._current("current", current)
        limit = self._limit("voltage_limit", voltage_limit, POTENTIAL_RANGE_V, "V")
        self._start_loop("cp", current, min(limit, self.max_voltage), self.interval)

    def set_voltage(self, voltage: float, current_limit: float) -> None:
        voltage = self._voltage("voltage", voltage)
        limit = self._limit("current_limit", current_limit, CURRENT_RANGE_A, "A")
        self._start_loop("ca", voltage, min(limit, self.max_current), self.interval)

    def output_off(self) -> None:
        """Abort whatever runs (the instrument's cell goes off); retried, loud on failure."""
        self.transport.verified_write("Z", self._abort_confirmed, "abort / cell off")
        self._loop = None
        self._mode = "off"
        if self._sweep is not None:
            self._sweep.done = True  # complete stays as it was: an aborted sweep is partial

    def read(self) -> ElectroReading:
        loop = self._require_loop()
        if not loop.samples:
            self.clock.sleep(loop.interval)
        self._drain(loop)
        if not loop.samples:
            raise InstrumentTimeout(self.name, "no sample from the running measurement loop")
        _, v, i, overload = loop.samples[-1]
        return ElectroReading(v, i, overload)

    def start_buffered(self, rate_hz: float) -> None:
        rate = check(self.name, "rate", rate_hz, InRange(1 / 3600.0, 1 / MIN_INTERVAL_S, "Hz", "instrument"))  # fmt: skip
        self.interval = 1.0 / rate
        loop = self._require_loop()
        if not math.isclose(loop.interval, self.interval, rel_tol=1e-9):
            loop = self._start_loop(loop.technique, loop.level, loop.limit, self.interval)
            self._buffer_t0 = loop.t0
        else:
            self._drain(loop)
            self._buffer_t0 = self.clock.now()
        self._fetched = sum(1 for s in loop.samples if s[0] <= self._buffer_t0 + 1e-12)

    def fetch(self) -> ElectroBlock:
        loop = self._require_loop()
        if self._buffer_t0 is None:
            return _block([], 0.0)
        self._drain(loop)
        new, self._fetched = loop.samples[self._fetched :], len(loop.samples)
        return _block(new, self._buffer_t0)

    def stop_buffered(self) -> None:
        self._buffer_t0 = None

    @property
    def mode(self) -> Mode:
        return self._mode

    # -- sweeps: start, poll, stop (the engine's way), or measure_* to run one to its end --------
    def start_eis(
        self,
        f_start: float,
        f_end: float,
        points: int,
        amplitude: float,
        dc_level: float | None = None,
        galvanostatic: bool = False,
        max_duration: float | None = None,
    ) -> float:
        """Start a sweep from ``f_start`` to ``f_end`` Hz; ``amplitude`` V (A when
        galvanostatic); ``dc_level`` V (A), or None for open circuit (potentiostatic: at the
        OCV measured first). Returns the estimated duration (s); nothing is sent if invalid."""
        lo, hi = FREQUENCY_RANGE_HZ
        f_start = check(self.name, "f_start", f_start, InRange(lo, hi, "Hz", "instrument range"))
        f_end = check(self.name, "f_end", f_end, InRange(lo, hi, "Hz", "instrument range"))
        points = int(check(self.name, "points", points, Integer(1, MAX_POINTS, "", "instrument")))
        if galvanostatic:
            amplitude = self._limit("amplitude", amplitude, CURRENT_RANGE_A, "A")
            self._current("amplitude", amplitude)
        else:
            amplitude = check(self.name, "amplitude", amplitude,
                              InRange(*AC_POTENTIAL_RANGE_V, "V", "instrument range"))  # fmt: skip
        if dc_level is not None:
            dc_level = (self._current if galvanostatic else self._voltage)("dc_level", dc_level)
        freqs = np.logspace(math.log10(f_start), math.log10(f_end), points)
        per_point = [eis_duration_estimate(f, f, 1) for f in freqs]
        self._check_duration(sum(per_point), max_duration)
        self._stop_loop()
        if dc_level is None:
            dc_level = 0.0 if galvanostatic else self._measure_ocv()
        kind = "meas_loop_geis" if galvanostatic else "meas_loop_eis"
        range_line = [] if galvanostatic else [f"set_range ba {format_number(self.max_current)}"]
        script = ["var f", "var r", "var j", *range_line, "cell_on",
                  f"{kind} f r j {_n(amplitude)} {_n(f_start)} {_n(f_end)} {points}i {_n(dc_level)}",
                  "pck_start", "pck_add f", "pck_add r", "pck_add j", "pck_end", "endloop",
                  "on_finished:", "cell_off"]  # fmt: skip
        self._begin_sweep(SweepRun("geis" if galvanostatic else "eis", script, per_point,
                                   max_duration, float(dc_level), float(amplitude)))  # fmt: skip
        return float(sum(per_point))

    def start_lsv(self, start: float, stop: float, step: float, rate: float,
                  max_duration: float | None = None) -> float:  # fmt: skip
        """Start a linear sweep ``start`` -> ``stop`` V in ``step`` V steps at ``rate`` V/s."""
        return self._start_voltammetry("lsv", [start, stop], step, rate, "", max_duration)

    def start_cv(self, start: float, vertex1: float, vertex2: float, step: float, rate: float,
                 scans: int = 1, max_duration: float | None = None) -> float:  # fmt: skip
        """Start a cyclic sweep start -> vertex1 -> vertex2 (-> start), ``scans`` times."""
        scans = check(self.name, "scans", scans, Integer(1, 100, "", "instrument"))
        return self._start_voltammetry("cv", [start, vertex1, vertex2], step, rate,
                                       f" {int(scans)}i", max_duration, int(scans))  # fmt: skip

    def poll_sweep(self) -> list[SweepPoint]:
        """Points that arrived since the last poll as (run time, {name: value}), the role's
        names (drivers.roles.SweepPoint) for the package's type codes.

        Waits (briefly, in wall time) only for a point that is due by the estimate; a sweep
        that outlives its ``max_duration`` is stopped; errors stop it and put the cell off."""
        sweep = self._require_sweep()
        first = len(sweep.packages)
        try:
            while not sweep.done:
                now = self.clock.now()
                if sweep.max_duration is not None and now - sweep.t0 > sweep.max_duration:
                    self.stop_sweep()
                    break
                due = now >= sweep.next_due() - 1e-9
                wait = STREAM_WAIT_S if due and self.clock.is_virtual else 0.0
                line = self.transport.read_streamed(wait)
                if line is None:
                    if due and now - sweep.last > sweep.stall_s:
                        raise InstrumentTimeout(self.name, f"the sweep sent no data for {now - sweep.last:g} s")  # fmt: skip
                    break
                item = self._handle(line, sweep.script)
                if item is True:
                    sweep.done = sweep.complete = True
                    self._mode = "off"
                elif isinstance(item, Package):
                    sweep.last = self.clock.now()
                    sweep.packages.append(item)
                    sweep.times.append(sweep.last)
        except InstrumentError:
            sweep.done = True
            with contextlib.suppress(InstrumentError):
                self.output_off()
            raise
        arrived = zip(sweep.times[first:], sweep.packages[first:], strict=True)
        return [(t, {POINT_NAMES[k]: v for k, v in p.values.items() if k in POINT_NAMES})
                for t, p in arrived]  # fmt: skip

    def stop_sweep(self) -> None:
        """Abort the running sweep: ``Z``, the cell at open circuit; the result is partial."""
        if not self._require_sweep().done:
            self.output_off()

    @property
    def sweep_done(self) -> bool:
        return self._sweep is None or self._sweep.done

    def sweep_result(self) -> Spectrum | Sweep:
        """What the latest sweep measured (complete or not)."""
        return self._require_sweep().result()

    def sweep_next_point_s(self) -> float:
        """Estimated run time until the running sweep's next point is due (>= 0)."""
        return max(self._require_sweep().next_due() - self.clock.now(), 0.0)

    def measure_eis(self, *args: Any, should_stop: Callable[[], bool] | None = None,
                    **kwargs: Any) -> Spectrum:  # fmt: skip
        """:meth:`start_eis` and wait for the result (``should_stop()`` aborts it)."""
        self.start_eis(*args, **kwargs)
        return self._finish(should_stop)

    def measure_lsv(self, *args: Any, should_stop: Callable[[], bool] | None = None,
                    **kwargs: Any) -> Sweep:  # fmt: skip
        """:meth:`start_lsv` and wait for the result."""
        self.start_lsv(*args, **kwargs)
        return self._finish(should_stop)

    def measure_cv(self, *args: Any, should_stop: Callable[[], bool] | None = None,
                   **kwargs: Any) -> Sweep:  # fmt: skip
        """:meth:`start_cv` and wait for the result."""
        self.start_cv(*args, **kwargs)
        return self._finish(should_stop)

    def _finish(self, should_stop: Callable[[], bool] | None) -> Any:
        """Poll until the sweep ends, advancing the run clock to each point's expected time."""
        sweep = self._require_sweep()
        while not sweep.done:
            if should_stop is not None and should_stop():
                self.stop_sweep()
                break
            if not self.poll_sweep() and not sweep.done:
                step = sweep.next_point_s()
                self.clock.sleep(max(self.sweep_next_point_s(), step / 4.0, 1e-4))
        return sweep.result()

    def _check_duration(self, estimate: float, max_duration: float | None) -> None:
        if max_duration is not None and estimate > max_duration:
            raise SetpointError(self.name, "max_duration", max_duration,
                                f">= the sweep's estimated {estimate:.1f} s")  # fmt: skip

    def _start_voltammetry(self, kind: str, potentials: list[float], step: float, rate: float,
                           suffix: str, max_duration: float | None, scans: int = 1) -> float:  # fmt: skip
        names = ("start", "vertex1", "vertex2") if len(potentials) == 3 else ("start", "stop")
        values = [self._voltage(n, v) for n, v in zip(names, potentials, strict=True)]
        step = check(self.name, "step", step, InRange(1e-6, 1.0, "V", "instrument range"))
        rate = check(self.name, "rate", rate, InRange(1e-6, 10.0, "V/s", "instrument range"))
        if step / rate < MIN_INTERVAL_S:
            raise SetpointError(self.name, "rate", rate, f"<= step / {MIN_INTERVAL_S:g} s")
        n = voltammetry_points(kind, values, step, scans)
        self._check_duration(n * step / rate, max_duration)
        self._stop_loop()
        args = " ".join(_n(v) for v in [*values, step, rate])
        script = ["var p", "var c", f"set_range ba {format_number(self.max_current)}", "cell_on",
                  f"meas_loop_{kind} p c {args}{suffix}", "pck_start", "pck_add p", "pck_add c",
                  "pck_end", "endloop", "on_finished:", "cell_off"]  # fmt: skip
        self._begin_sweep(SweepRun(kind, script, [step / rate] * n, max_duration, math.nan, math.nan))  # fmt: skip
        return n * step / rate

    def _begin_sweep(self, sweep: SweepRun) -> None:
        self._execute(sweep.script)
        sweep.t0 = sweep.last = self.clock.now()
        sweep.stall_s = 3.0 * max(sweep.point_s) + self.transport.timeout_s
        self._sweep = sweep
        self._mode = "galvanostatic" if sweep.technique == "geis" else "potentiostatic"

    def _require_sweep(self) -> SweepRun:
        if self._sweep is None:
            raise InstrumentError(self.name, "no sweep has been started")
        return self._sweep

    # -- loops and scripts --------------------------------------------------------------------------
    def _require_loop(self) -> _Loop:
        if self._loop is None:
            raise InstrumentError(self.name, "no source is set (call set_current, set_voltage "
                                  "or set_open_circuit first)")  # fmt: skip
        return self._loop

    def _start_loop(self, technique: str, level: float, limit: float, interval: float) -> _Loop:
        interval = self._interval(interval)
        self._stop_loop()
        dt, run = _n(interval), _n(OPEN_ENDED_RUN_S)
        if technique == "ocp":
            body = ["var p", "cell_off", f"meas_loop_ocp p {dt} {run}", "pck_start", "pck_add p"]
        elif technique == "cp":
            body = ["var p", "var c", f"set_range_minmax da {_n(-limit)} {_n(limit)}", "cell_on",
                    f"meas_loop_cp p c {_n(level)} {dt} {run}", "pck_start", "pck_add p",
                    "pck_add c"]  # fmt: skip
        else:
            body = ["var p", "var c", f"set_range ba {_n(limit)}", "cell_on",
                    f"meas_loop_ca p c {_n(level)} {dt} {run}", "pck_start", "pck_add p",
                    "pck_add c"]  # fmt: skip
        self._execute([*body, "pck_end", "endloop", "on_finished:", "cell_off"])
        self._loop = _Loop(technique, level, limit, interval, self.clock.now())
        self._mode = {"ocp": "open_circuit", "cp": "galvanostatic", "ca": "potentiostatic"}[technique]  # fmt: skip
        self._buffer_t0 = None
        self._fetched = 0
        return self._loop

    def _stop_loop(self) -> None:
        """Abort whatever runs before a new script (an open-ended loop or a sweep)."""
        if self._loop is not None or not self.sweep_done:
            self.output_off()

    def _execute(self, script: list[str]) -> None:
        """Send a script; return once the instrument accepted it and its loop began."""
        text = "\n".join(["e", *script, ""])
        with self.transport.lock:
            self.transport.write(text)
            echo = self._next_line(self.transport.timeout_s)
            if echo.startswith("!"):
                self._device_error(echo, script)
            if echo != "e":
                raise GarbledReply(self.name, "e", echo)
            begin = self._next_line(self.transport.timeout_s)
            if begin.startswith("!"):
                self._next_line(self.transport.timeout_s)  # the empty end-of-script line
                self._device_error(begin, script)
            if not (begin.startswith("M") and len(begin) == 5):
                raise GarbledReply(self.name, "e", begin)

    def _next_line(self, wait_s: float) -> str:
        line = self.transport.read_streamed(wait_s)
        if line is None:
            raise InstrumentTimeout(self.name, f"no reply within {wait_s:g} s")
        return line

    def _device_error(self, line: str, script: list[str]) -> None:
        try:
            error = parse_error(line)
        except ValueError:
            raise GarbledReply(self.name, "script", line) from None
        where = ""
        if error.line and 1 <= error.line <= len(script):
            where = f"script line {error.line} {script[error.line - 1]!r}"
        raise InstrumentReportedError(self.name, error.code, error.text, where)

    def _handle(self, line: str, script: list[str]) -> Package | bool:
        """A streamed line: a Package, True at the end of the script, False otherwise."""
        if line.startswith("P"):
            try:
                return parse_package(line)
            except ValueError:
                raise GarbledReply(self.name, "<data package>", line) from None
        if line == "":
            return True
        if line.startswith("!"):
            self._device_error(line, script)
        if line == "*" or (line.startswith("M") and len(line) == 5):
            return False
        raise GarbledReply(self.name, "<streamed data>", line)

    def _drain(self, loop: _Loop) -> None:
        """Read packages until every sample due on the run clock has arrived."""
        latency = 0.0 if self.clock.is_virtual else REAL_CLOCK_LATENCY_S
        due = int(math.floor((self.clock.now() - loop.t0 - latency) / loop.interval + 1e-9))
        deadline = time.monotonic() + self.transport.timeout_s
        while not loop.ended:
            wait = 0.0 if len(loop.samples) >= due else max(0.0, deadline - time.monotonic())
            line = self.transport.read_streamed(wait)
            if line is None:
                if len(loop.samples) >= due:
                    return
                raise InstrumentTimeout(self.name, f"{due - len(loop.samples)} samples of the "
                                        f"{loop.technique} loop overdue")  # fmt: skip
            item = self._handle(line, [])
            if item is True:
                loop.ended = True
                self._mode = "off"
            elif isinstance(item, Package):
                k = len(loop.samples)
                v = item.values.get("ab", math.nan)
                i = item.values.get("ba", 0.0 if loop.technique == "ocp" else math.nan)
                loop.samples.append((loop.t0 + (k + 1) * loop.interval, v, i, item.overload))

    def _measure_ocv(self) -> float:
        """Open-circuit potential: a short OCP loop, the mean of its samples."""
        loop = self._start_loop("ocp", 0.0, 0.0, max(self.ocv_settle / 5.0, MIN_INTERVAL_S))
        self.clock.sleep(self.ocv_settle)
        self._drain(loop)
        self.output_off()
        volts = [s[1] for s in loop.samples if math.isfinite(s[1])]
        if not volts:
            raise InstrumentError(self.name, "no open-circuit reading before the sweep")
        return float(np.mean(volts))

    def _abort_confirmed(self) -> bool:
        """After ``Z``: True once the instrument's ``Z`` echo arrives (data before it skipped)."""
        deadline = time.monotonic() + self.transport.timeout_s
        while time.monotonic() < deadline:
            line = self.transport.read_streamed(max(0.0, deadline - time.monotonic()))
            if line == "Z":
                return True
        return False


def _n(value: float) -> str:
    return format_number(float(value))


def _reply(letter: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text.startswith(letter) or len(text) < 2:
            raise ValueError(text)
        return text[1:]

    return parse


def _block(samples: list[tuple[float, float, float, bool]], t0: float) -> ElectroBlock:
    if not samples:
        empty = np.zeros(0)
        return ElectroBlock(empty, empty, empty, np.zeros(0, dtype=bool))
    t, v, i, c = zip(*samples, strict=True)
    return ElectroBlock(np.array(t) - t0, np.array(v), np.array(i), np.array(c, dtype=bool))


def open_methodscript(name: str, resource: str, settings: dict[str, Any], clock: Clock):
    """Factory for station files: ``resource`` is a serial port, pty or ``socket://`` URL."""
    s = DriverSettings(name, settings, SETTINGS)
    transport = open_serial(name, resource, s.raw, clock, read_termination="\n",
                            write_termination="\n", baudrate=115200)  # fmt: skip
    try:
        driver = MethodScriptPotentiostat(name, transport, s, clock)
        driver.output_off()
        return driver
    except BaseException:
        transport.close()
        raise
