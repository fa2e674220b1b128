"""MethodSCRIPT potentiostat emulator (EmStat4 / EmStat Pico class) over serial or TCP.

Lines end with LF. Single-letter commands: ``t`` firmware, ``i`` serial number, ``Z`` abort,
``e`` execute the script that follows, ``l`` load it, ``r`` run the loaded one. A script is
its lines followed by an empty line. On a run the twin answers ``e`` and ``M0000`` (loop
begins), then streams one data package per point as the simulated clock passes each point's
time, then ``*`` (loop ended) and an empty line (script ended). Errors are ``!XXXX`` lines,
with ``: Line n, Col m`` for script errors. Techniques: OCP, chronoamperometry,
chronopotentiometry, LSV, CV, potentiostatic and galvanostatic EIS, on the world's cell.
Faults are checked once per script (against its whole text) and once per single command.
Protocol subset: docs/instruments/methodscript.md.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim_instruments import constants as C
from sim_instruments.faults import Fault, FaultInjector, FaultKind
from sim_instruments.impedance import noisy, point_duration_s, sweep_frequencies
from sim_instruments.lineserver import LineDevice

_PREFIX = {"a": -18, "f": -15, "p": -12, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9}
_NUMBER = re.compile(r"^([-+]?\d+(?:\.\d+)?)([afpnumkMG]?|i)$")
ERR_UNSPECIFIED, ERR_VARTYPE, ERR_COMMAND, ERR_ARGUMENT, ERR_RANGE = 0x1, 0x2, 0x3, 0x4, 0x5
ERR_NOT_LOADED, ERR_MEASUREMENT = 0x7, 0xB
#: technique keyword -> (output variable count, numeric argument count(s))
TECHNIQUES: dict[str, tuple[int, tuple[int, ...]]] = {
    "meas_loop_ocp": (1, (2,)),
    "meas_loop_ca": (2, (3,)),
    "meas_loop_cp": (2, (3,)),
    "meas_loop_lsv": (2, (4,)),
    "meas_loop_cv": (2, (5, 6)),
    "meas_loop_eis": (3, (5,)),
    "meas_loop_geis": (3, (5,)),
}
_SETTINGS = {"set_pgstat_chan", "set_pgstat_mode", "set_max_bandwidth", "set_autoranging",
             "set_acquisition_frac", "set_range", "set_range_minmax", "set_e", "set_i",
             "cell_on", "cell_off", "var", "pck_start", "pck_add", "pck_end", "endloop",
             "on_finished:"}  # fmt: skip


class ScriptError(Exception):
    """A script the firmware refuses: error code and 1-based line / column."""

    def __init__(self, code: int, line: int, column: int = 1) -> None:
        self.code, self.line, self.column = code, line, column
        super().__init__(f"!{code:04X}: Line {line}, Col {column}")


def parse_number(text: str) -> float:
    """MethodSCRIPT number: ``500m`` -> 0.5, ``200k``, ``-3``, ``11i`` (integer)."""
    match = _NUMBER.match(text)
    if not match:
        raise ValueError(text)
    mantissa, prefix = match.groups()
    return float(mantissa) * 10.0 ** _PREFIX.get(prefix, 0)


def encode_value(value: float, prefix: str = " ") -> str:
    """SI value -> 7 hex digits offset by 0x8000000 + prefix; ``nan`` padded to 8 chars."""
    if not math.isfinite(value):
        return "     nan"
    exponent = _PREFIX.get(prefix, 0)
    raw = round(value / 10.0**exponent) + 0x8000000
    return f"{min(max(raw, 0), 0xFFFFFFF):07X}{prefix}"


def best_prefix(value: float) -> str:
    """The finest prefix whose mantissa still fits the 27-bit offset range (~8 digits)."""
    magnitude = abs(value)
    for prefix in ("f", "p", "n", "u", "m", " ", "k", "M"):
        if magnitude / 10.0 ** _PREFIX.get(prefix, 0) < 0.9 * 0x8000000:
            return prefix
    return "G"


@dataclass
class Script:
    """A parsed script: its one measurement loop, packet variables and settings."""

    technique: str
    outputs: list[str]
    args: list[float]
    packet: list[str]
    current_range_A: float = C.MSCRIPT_CURRENT_RANGE_A
    potential_window_V: tuple[float, float] = (
        -C.MSCRIPT_POTENTIAL_RANGE_V,
        C.MSCRIPT_POTENTIAL_RANGE_V,
    )
    cell_on: bool = False


def _check(ok: bool, code: int, line: int, column: int = 1) -> None:
    if not ok:
        raise ScriptError(code, line, column)


def _within(value: float, low: float, high: float, line: int, column: int) -> None:
    _check(low <= value <= high, ERR_RANGE, line, column)


def parse_script(lines: list[str]) -> Script:
    """Validate ``lines`` against the subset the twin speaks; ScriptError on the first fault."""
    variables: set[str] = set()
    found: Script | None = None
    packet: list[str] = []
    current_range = C.MSCRIPT_CURRENT_RANGE_A
    window = (-C.MSCRIPT_POTENTIAL_RANGE_V, C.MSCRIPT_POTENTIAL_RANGE_V)
    cell_on = False
    for number, raw in enumerate(lines, start=1):
        words = raw.split()
        if not words:
            continue
        head, args = words[0], words[1:]
        if head not in _SETTINGS and head not in TECHNIQUES:
            raise ScriptError(ERR_COMMAND, number)
        column = len(head) + 2
        if head == "var":
            _check(len(args) == 1 and args[0].isalpha(), ERR_ARGUMENT, number, column)
            variables.add(args[0])
        elif head in TECHNIQUES:
            _check(found is None, ERR_COMMAND, number)  # one measurement loop per script
            n_out, n_args = TECHNIQUES[head]
            outputs = args[:n_out]
            _check(all(v in variables for v in outputs) and len(outputs) == n_out,
                   ERR_VARTYPE, number, column)  # fmt: skip
            _check(len(args) - n_out in n_args, ERR_ARGUMENT, number, column)
            values = [_argument(a, number, column) for a in args[n_out:]]
            _technique_ranges(head, values, number, column)
            found = Script(head, outputs, values, [])
        elif head == "pck_add":
            _check(len(args) == 1 and args[0] in variables, ERR_VARTYPE, number, column)
            packet.append(args[0])
        elif head == "set_range" and args[:1] == ["ba"]:
            _check(len(args) == 2, ERR_ARGUMENT, number, column)
            current_range = _argument(args[1], number, column)
            _within(current_range, 1e-9, C.MSCRIPT_CURRENT_RANGE_A, number, column)
        elif head == "set_range_minmax" and args[:1] == ["da"]:
            _check(len(args) == 3, ERR_ARGUMENT, number, column)
            low, high = (_argument(a, number, column) for a in args[1:])
            limit = C.MSCRIPT_POTENTIAL_RANGE_V
            _check(-limit <= low < high <= limit, ERR_RANGE, number, column)
            window = (low, high)
        elif head == "cell_on":
            cell_on = True
        elif head in ("set_e", "set_i"):
            _check(len(args) == 1, ERR_ARGUMENT, number, column)
            value = _argument(args[0], number, column)
            limit = C.MSCRIPT_POTENTIAL_RANGE_V if head == "set_e" else C.MSCRIPT_CURRENT_RANGE_A
            _within(value, -limit, limit, number, column)
    _check(found is not None, ERR_ARGUMENT, len(lines) or 1)
    assert found is not None
    found.packet = packet or list(found.outputs)
    found.current_range_A, found.potential_window_V, found.cell_on = current_range, window, cell_on
    return found


def _argument(text: str, line: int, column: int) -> float:
    try:
        return parse_number(text)
    except ValueError:
        raise ScriptError(ERR_ARGUMENT, line, column) from None


def _technique_ranges(head: str, a: list[float], line: int, column: int) -> None:
    """The firmware's own range checks of each technique's arguments."""
    e_max, i_max = C.MSCRIPT_POTENTIAL_RANGE_V, C.MSCRIPT_CURRENT_RANGE_A
    f_lo, f_hi = C.MSCRIPT_FREQUENCY_RANGE_HZ
    if head in ("meas_loop_ocp", "meas_loop_ca", "meas_loop_cp"):
        interval, run = a[-2], a[-1]
        _within(interval, C.MSCRIPT_MIN_INTERVAL_S, 1e6, line, column)
        _check(run >= interval, ERR_RANGE, line, column)
        if head == "meas_loop_ca":
            _within(a[0], -e_max, e_max, line, column)
        if head == "meas_loop_cp":
            _within(a[0], -i_max, i_max, line, column)
    elif head in ("meas_loop_lsv", "meas_loop_cv"):
        for e in a[: len(a) - 2 - (len(a) == 6)]:
            _within(e, -e_max, e_max, line, column)
        step, rate = a[-3 if len(a) == 6 else -2], a[-2 if len(a) == 6 else -1]
        _check(step > 0 and rate > 0 and step / rate >= C.MSCRIPT_MIN_INTERVAL_S,
               ERR_RANGE, line, column)  # fmt: skip
    else:  # eis / geis: amplitude, f_start, f_end, points, dc
        amplitude, f_start, f_end, points, dc = a
        if head == "meas_loop_eis":
            _within(amplitude, *C.MSCRIPT_AC_POTENTIAL_RANGE_V, line, column)
            _within(dc, -e_max, e_max, line, column)
        else:
            _within(amplitude, 1e-9, i_max, line, column)
            _within(dc, -i_max, i_max, line, column)
        _within(f_start, f_lo, f_hi, line, column)
        _within(f_end, f_lo, f_hi, line, column)
        _check(points == int(points) and 1 <= points <= C.MSCRIPT_MAX_POINTS,
               ERR_RANGE, line, column)  # fmt: skip


@dataclass
class _Run:
    """A running script: its point schedule and what each due point measures."""

    script: Script
    t0: float
    due: Callable[[int], float]  # time of point k (0-based) on the world's clock
    total: int
    measure: Callable[[int], dict[str, float]]  # variable name -> value at point k
    codes: dict[str, str]  # variable name -> type code
    fault: Fault | None = None
    done: int = 0
    stuck_line: str = ""
    truth: dict[str, Any] = field(default_factory=dict)


class MethodScriptEmulator(LineDevice):
    """The cell of ``world`` behind a MethodSCRIPT potentiostat; see the module docstring."""

    read_termination = b"\n"
    write_termination = b"\n"
    keep_blank_lines = True
    poll_s = 0.005

    def __init__(
        self, world: Any, faults: FaultInjector | None = None, serial: str = "ES4SIM0001"
    ) -> None:
        super().__init__(faults)
        self.world = world
        self.serial = serial
        self.received: list[str] = []  # every line the host sent (tests: nothing sent)
        self._collect: tuple[str, list[str]] | None = None
        self._loaded: list[str] | None = None
        self._run: _Run | None = None
        self._rng = getattr(world, "eis_rng", None) or np.random.default_rng(0)

    # -- host lines ------------------------------------------------------------------------------
    def respond(self, command: str) -> tuple[bytes | None, bool]:
        with self.lock:
            self.received.append(command)
            if self._collect is not None:
                kind, lines = self._collect
                if command:
                    lines.append(command)
                    return None, False
                self._collect = None
                return self._script(kind, lines)
            if command in ("e", "l"):
                self._collect = (command, [])
                return None, False
            if command == "r":
                if self._loaded is None:
                    return self._encode(f"!{ERR_NOT_LOADED:04X}"), False
                return self._script("e", list(self._loaded))
        if not command:
            return None, False
        return super().respond(command)

    def handle(self, command: str) -> str | None:
        if command == "t":
            return "tEmStat4 SIM #ssbench twin 1.0"
        if command == "i":
            return f"i{self.serial}"
        if command == "Z":
            self._abort()
            return "Z"
        return f"!{ERR_COMMAND:04X}"

    def _script(self, kind: str, lines: list[str]) -> tuple[bytes | None, bool]:
        """End of a script: faults, parse, then load or start it."""
        fault = self.faults.check("\n".join(lines))
        if fault is not None and fault.kind is FaultKind.DROP:
            return None, True
        if fault is not None and fault.kind is FaultKind.TIMEOUT:
            return None, False
        if fault is not None and fault.kind is FaultKind.SLOW:
            time.sleep(fault.delay_s)
        try:
            script = parse_script(lines)
        except ScriptError as exc:
            return self._encode(f"{kind}\n{exc}\n"), False
        if kind == "l":
            self._loaded = list(lines)
            return self._encode("l\n"), False
        if self._run is not None:
            return self._encode(f"e\n!{ERR_UNSPECIFIED:04X}\n"), False  # one script at a time
        self._run = self._start(script)
        self._run.fault = fault
        return self._encode("e\nM0000"), False

    # -- streaming -------------------------------------------------------------------------------
    def pending_output(self) -> tuple[bytes | None, bool]:
        with self.lock:
            run = self._run
            if run is None:
                return None, False
            now = self.world.clock.now()
            lines: list[str] = []
            while run.done < run.total and run.due(run.done) <= now + 1e-9:
                if run.fault is not None and run.fault.kind is FaultKind.ERROR:
                    self._finish(run)
                    return self._encode(f"!{ERR_MEASUREMENT:04X}\n"), False
                lines.append(self._package(run, run.measure(run.done)))
                run.done += 1
            if run.done >= run.total:
                self._finish(run)
                lines += ["*", ""]
            return (self._encode("\n".join(lines)) if lines else None), False

    def _package(self, run: _Run, values: dict[str, float]) -> str:
        fault = run.fault
        parts = []
        for name in run.script.packet:
            code = run.codes[name]
            value = values[name]
            if fault is not None and fault.kind is FaultKind.SPIKE and run.done == 0:
                value += fault.magnitude if not parts else 0.0
            text = f"{code}{encode_value(value, best_prefix(value))}"
            if code == "ba":
                status = 0x2 if values.get("_overload") else 0x0
                text += f",1{status:X},2{self._range_index(run.script.current_range_A):X}"
            parts.append(text)
        line = "P" + ";".join(parts)
        if fault is not None and fault.kind is FaultKind.STUCK:
            run.stuck_line = run.stuck_line or line  # every package repeats the first one
            return run.stuck_line
        if fault is not None and fault.kind is FaultKind.GARBLE and run.done == 0:
            return self.faults.garble(line)
        return line

    @staticmethod
    def _range_index(current_range_A: float) -> int:
        """Current range as a decade index (0 = 1 nA ... 7 = 10 mA+)."""
        return max(0, min(7, round(math.log10(current_range_A / 1e-9))))

    def _finish(self, run: _Run) -> None:
        self._run = None
        self.world.electro_source("off", 0.0, math.inf)
        if run.truth:
            run.truth["end_s"] = self.world.clock.now()
            run.truth["circuit_end"] = self.world.impedance_circuit().truth()
            run.truth["points_measured"] = run.done
            self.world.record_sweep(run.truth)

    def _abort(self) -> None:
        if self._run is not None:
            run = self._run
            if run.truth:
                run.truth["aborted"] = True
            self._finish(run)
        else:
            self.world.electro_source("off", 0.0, math.inf)

    # -- techniques -----------------------------------------------------------------------------
    def _start(self, s: Script) -> _Run:
        world, t0 = self.world, self.world.clock.now()
        a = s.args
        low, high = s.potential_window_V
        v_limit = max(abs(low), abs(high))
        if s.technique in ("meas_loop_ocp", "meas_loop_ca", "meas_loop_cp"):
            interval, run_s = a[-2], a[-1]
            if s.technique == "meas_loop_ocp" or not s.cell_on:
                world.electro_source("off", 0.0, math.inf)
            elif s.technique == "meas_loop_ca":
                world.electro_source("voltage", a[0], s.current_range_A)
            else:
                world.electro_source("current", a[0], v_limit)
            return self._timed(s, t0, interval, int(math.floor(run_s / interval + 1e-9)))
        if s.technique in ("meas_loop_lsv", "meas_loop_cv"):
            return self._sweep(s, t0)
        return self._eis(s, t0)

    def _timed(self, s: Script, t0: float, interval: float, total: int) -> _Run:
        """OCP / CA / CP: a sample every ``interval`` from the world's buffered port."""
        cache: dict[int, tuple[float, float, bool]] = {}
        state = {"t": t0}

        def measure(k: int) -> dict[str, float]:
            if k not in cache:
                now = self.world.clock.now()
                n = int(math.floor((now - state["t"]) / interval * (1 + 1e-12) + 1e-9))
                due = state["t"] + interval * np.arange(1, n + 1)
                times, volts, amps, comp = self.world.electro_readings(due)
                for i, _ in enumerate(times):
                    cache[k + i] = (float(volts[i]), float(amps[i]), bool(comp[i]))
                state["t"] = state["t"] + interval * len(times)
                if k not in cache:  # pragma: no cover - due points are always sampled
                    cache[k] = (*self.world.electro_measure()[:2], False)
            volts, amps, comp = cache.pop(k)
            out = {s.outputs[0]: volts, "_overload": float(comp)}
            if len(s.outputs) > 1:
                out[s.outputs[1]] = amps
            return out

        codes = {s.outputs[0]: "ab", **({s.outputs[1]: "ba"} if len(s.outputs) > 1 else {})}
        return _Run(s, t0, lambda k: t0 + (k + 1) * interval, total, measure, codes)

    def _sweep(self, s: Script, t0: float) -> _Run:
        """LSV / CV: potential steps of ``step`` V every step/rate s, current at each step end."""
        a = s.args
        if s.technique == "meas_loop_lsv":
            begin, end, step, rate = a
            targets = [begin, end]
        else:
            begin, v1, v2, step, rate = a[:5]
            scans = int(a[5]) if len(a) == 6 else 1
            targets = [begin] + [v1, v2] * scans + [begin]
        potentials = [targets[0]]
        for target in targets[1:]:
            n = max(1, round(abs(target - potentials[-1]) / step))
            potentials += list(np.linspace(potentials[-1], target, n + 1)[1:])
        dt = step / rate
        limit = s.current_range_A
        self.world.electro_source("voltage", potentials[0], limit)

        def measure(k: int) -> dict[str, float]:
            _, amps, comp = self.world.electro_measure()
            if k + 1 < len(potentials):
                self.world.electro_source("voltage", float(potentials[k + 1]), limit)
            return {s.outputs[0]: float(potentials[k]), s.outputs[1]: amps, "_overload": float(comp)}  # fmt: skip

        codes = {s.outputs[0]: "da", s.outputs[1]: "ba"}
        return _Run(s, t0, lambda k: t0 + (k + 1) * dt, len(potentials), measure, codes)

    def _eis(self, s: Script, t0: float) -> _Run:
        """EIS / GEIS: one frequency after the other, each taking its measurement time."""
        amplitude, f_start, f_end, points, dc = s.args
        freqs = sweep_frequencies(f_start, f_end, int(points))
        ends = t0 + np.cumsum([point_duration_s(f) for f in freqs])
        galvanostatic = s.technique == "meas_loop_geis"
        if galvanostatic:
            self.world.electro_source("current", dc, C.MSCRIPT_POTENTIAL_RANGE_V)
        else:
            self.world.electro_source("voltage", dc, s.current_range_A)
        fv, rv, jv = s.outputs

        def measure(k: int) -> dict[str, float]:
            z = complex(self.world.impedance_circuit().impedance(np.array([freqs[k]]))[0])
            v_ac = amplitude * abs(z) if galvanostatic else amplitude
            relative = C.EIS_NOISE_RELATIVE * C.MSCRIPT_REFERENCE_AC_V / max(v_ac, 1e-9)
            z = noisy(z, relative, self._rng)
            return {fv: float(freqs[k]), rv: z.real, jv: z.imag}

        run = _Run(s, t0, lambda k: float(ends[k]), len(freqs), measure,
                   {fv: "dc", rv: "cc", jv: "cd"})  # fmt: skip
        run.truth = {
            "technique": "geis" if galvanostatic else "eis",
            "start_s": t0,
            "frequencies_Hz": [float(f) for f in freqs],
            "point_end_s": [float(t) for t in ends],
            "amplitude": amplitude,
            "dc_level": dc,
            "circuit_start": self.world.impedance_circuit().truth(),
        }
        return run
