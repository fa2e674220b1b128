"""Keithley 2450 SourceMeter emulator: the native 2450 SCPI subset, physics from the SimWorld.

Faithful enough for third-party 2450 drivers (PyMeasure's Keithley2450, plain SCPI from the
2450 Reference Manual, 2450-901-01): source/sense functions, levels, ranges, source limits
(VLIM/ILIM) with the limit-tripped query, NPLC, output and off-state, READ?/MEAS?/FETC?,
reading buffers (TRAC:MAKE/CLE/POIN/ACT?/DATA? with element lists, circular fill) and the
predefined trigger models "SimpleLoop" and "DurationLoop" (INIT/ABOR/*WAI/*OPC?/TRIG:STAT?).
The command subset is documented in docs/instruments/keithley2450.md.

Buffered readings are produced from the world's virtual clock: a trigger model started at
``t0`` takes reading k at ``t0 + (k+1)*(delay + NPLC/line_frequency)``; they are computed
lazily whenever the host looks (or changes the source), so the world is always sampled with the
source that was applied at the time. ``channel="holder"`` routes source and measurement to the
bias port of a TEM holder (voltage source only; buffered points are repeated holder reads).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from sim_instruments.faults import Fault, FaultInjector, FaultKind
from sim_instruments.scpi import (
    ScpiDevice,
    ScpiError,
    as_bool,
    as_choice,
    as_float,
    as_int,
    as_string,
    in_range,
    param_count,
)
from sim_instruments.world import READING_KNOT_S

IDN = "KEITHLEY INSTRUMENTS,MODEL 2450,04488888,1.7.12b (ssbench emulator)"

#: source/measure ranges of the 2450 (Reference Manual, "Source and measure ranges")
CURRENT_RANGES = (10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0)
VOLTAGE_RANGES = (20e-3, 200e-3, 2.0, 20.0, 200.0)
RESISTANCE_RANGES = (20.0, 200.0, 2e3, 20e3, 200e3, 2e6, 20e6, 200e6)
OVERRANGE = 1.05  # every range reaches 105 % of its nominal value
OVERFLOW = 9.9e37  # what the 2450 returns for an over-range reading
MAX_CURRENT = 1.05
MAX_VOLTAGE = 210.0
VLIM_RANGE = (0.02, 210.0)
ILIM_RANGE = (1e-9, 1.05)
NPLC_RANGE = (0.01, 10.0)
MAX_BUFFER = 6_875_000
DEFAULT_BUFFER_SIZE = 100_000
MAX_DURATION = 100_000.0
DELAY_RANGE = (0.0, 10_000.0)
SAMPLE_CHUNK = 1_000_000  # readings generated per SimWorld call (bounds memory)

# SOURSTATus bits (Reference Manual, "Buffer status bits for source function")
STAT_READBACK = 8
STAT_LIMIT = 32
STAT_OUTPUT = 128

_FUNCS = {"CURRent": "CURR", "VOLTage": "VOLT"}
_SENSE_FUNCS = {"CURRent": "CURR", "VOLTage": "VOLT", "RESistance": "RES"}
_SENSE_NAMES = {"CURR": '"CURR:DC"', "VOLT": '"VOLT:DC"', "RES": '"RES"'}
_UNITS = {"CURR": "Amp DC", "VOLT": "Volt DC", "RES": "Ohm"}
_OFF_MODES = {"HIMPedance": "HIMP", "NORMal": "NORM", "ZERO": "ZERO", "GUARd": "GUAR"}
_FILL = {"CONTinuous": "CONT", "ONCE": "ONCE"}
_ELEMENTS = {
    "READing": "READ",
    "SOURce": "SOUR",
    "RELative": "REL",
    "SOURSTATus": "SOURSTAT",
    "STATus": "STAT",
    "UNIT": "UNIT",
    "SOURUNIT": "SOURUNIT",
    "SEConds": "SEC",
    "FRACtional": "FRAC",
}
_COLUMNS = ("read", "sour", "t", "sstat")


READING_FORMAT = "%.7E"  # e.g. -3.1704402E-02, as the 2450 prints readings


def _fmt(x: float) -> str:
    return READING_FORMAT % x


def _range_for(value: float, ranges: tuple[float, ...], what: str) -> float:
    """Smallest range that holds |value| (the 2450 picks the range that fits)."""
    for r in ranges:
        if abs(value) <= r * OVERRANGE:
            return r
    raise ScpiError(-222, f"{what} {value:g} beyond the largest range")


class ReadingBuffer:
    """A 2450 reading buffer: circular (CONT) or fill-once, columns held in numpy arrays."""

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        self.fill = "CONT"
        self.clear()

    def clear(self) -> None:
        self.total = 0  # readings ever stored since the last clear
        self.t0: float | None = None  # time of the first reading (RELative = 0)
        self.cols = {c: np.empty(min(self.capacity, 1024)) for c in _COLUMNS}
        self.unit = "Volt DC"
        self.sour_unit = "Amp DC"

    @property
    def count(self) -> int:
        return min(self.total, self.capacity)

    def _ensure(self, n: int) -> None:
        size = len(self.cols["t"])
        if n > size:
            new = min(self.capacity, max(n, 2 * size))
            for c in _COLUMNS:
                grown = np.empty(new)
                grown[:size] = self.cols[c]
                self.cols[c] = grown

    def append(self, read, sour, t, sstat) -> None:
        """Store a block of readings (arrays of equal length) at the buffer's fill position."""
        n = len(t)
        if n == 0:
            return
        if self.t0 is None:
            self.t0 = float(t[0])
        if self.fill == "ONCE":
            n = min(n, self.capacity - self.total)
            if n <= 0:
                return
        data = {"read": read, "sour": sour, "t": t, "sstat": sstat}
        if n > self.capacity:  # only the newest fit
            data = {c: np.asarray(v)[-self.capacity :] for c, v in data.items()}
            self.total += n - self.capacity
            n = self.capacity
        self._ensure(min(self.total + n, self.capacity))
        start = self.total % self.capacity
        first = min(n, self.capacity - start)
        for c, v in data.items():
            v = np.asarray(v, dtype=float)[:n]
            self.cols[c][start : start + first] = v[:first]
            if first < n:
                self.cols[c][: n - first] = v[first:]
        self.total += n

    @property
    def start_index(self) -> int:
        if self.total == 0:
            return 0
        return 1 if self.total <= self.capacity else self.end_index % self.capacity + 1

    @property
    def end_index(self) -> int:
        return 0 if self.total == 0 else (self.total - 1) % self.capacity + 1

    def positions(self, start: int, end: int) -> np.ndarray:
        """0-based storage positions for 1-based indices start..end (wrapping if start > end)."""
        n = self.count
        if n == 0:
            raise ScpiError(-222, f"buffer {self.name} is empty")
        for i in (start, end):
            if not 1 <= i <= n:
                raise ScpiError(-222, f"index {i} outside 1..{n} of {self.name}")
        if start <= end:
            return np.arange(start - 1, end)
        if self.total <= self.capacity:
            raise ScpiError(-222, f"start {start} after end {end} in unwrapped {self.name}")
        return np.concatenate([np.arange(start - 1, self.capacity), np.arange(end)])


@dataclass
class TriggerModel:
    """A loaded predefined trigger model and its run state."""

    kind: str  # "SimpleLoop", "DurationLoop" or "Empty"
    count: int = 0  # SimpleLoop readings
    duration: float = 0.0  # DurationLoop seconds
    delay: float = 0.0
    buffer: str = "defbuffer1"
    state: str = "IDLE"
    t_start: float = 0.0
    interval: float = 0.0
    taken: int = 0

    def due(self, now: float) -> int:
        """How many readings should exist by time ``now``."""
        if self.interval <= 0:
            return self.taken
        n = int(math.floor((now - self.t_start) / self.interval + 1e-9))
        if self.kind == "SimpleLoop":
            n = min(n, self.count)
        else:
            n = min(n, int(math.floor(self.duration / self.interval + 1e-9)))
        return max(n, self.taken)

    def end_time(self) -> float:
        n = self.count if self.kind == "SimpleLoop" else int(self.duration / self.interval + 1e-9)
        return self.t_start + n * self.interval


class Keithley2450Emulator(ScpiDevice):
    """Keithley 2450 speaking SCPI over a line server; physics from ``world``."""

    def __init__(
        self,
        world,
        faults: FaultInjector | None = None,
        channel: str = "cell",
        line_frequency: float = 50.0,
    ) -> None:
        if channel not in ("cell", "holder"):
            raise ValueError(f"channel must be 'cell' or 'holder', got {channel!r}")
        if line_frequency not in (50.0, 60.0):
            raise ValueError(f"line frequency must be 50 or 60 Hz, got {line_frequency}")
        super().__init__(faults)
        self.world = world
        self.channel = channel
        self.line_frequency = line_frequency
        self._last_elements: list[str] = ["READ"]
        self._build_tree()
        self.reset()
        if channel == "cell":
            world.add_reading_schedule(self._next_reading)

    # -- state -------------------------------------------------------------------------------------

    def reset(self) -> None:
        """*RST defaults of the 2450 (source voltage 0 V, ILIM 105 uA, sense current)."""
        self.source_func = "VOLT"
        self.level = {"CURR": 0.0, "VOLT": 0.0}
        self.limit = {"CURR": 21.0, "VOLT": 105e-6}  # VLIM for the current source, ILIM for V
        self.src_range = {"CURR": 1e-6, "VOLT": 20e-3}
        self.src_auto = {"CURR": True, "VOLT": True}
        self.readback = {"CURR": True, "VOLT": True}
        self.src_delay = {"CURR": 0.0, "VOLT": 0.0}
        self.src_delay_auto = {"CURR": True, "VOLT": True}
        self.sense_func = "CURR"
        self.sense_range = {"CURR": 1e-4, "VOLT": 0.02, "RES": 2e5}
        self.sense_auto = {"CURR": True, "VOLT": True, "RES": True}
        self.nplc = {"CURR": 1.0, "VOLT": 1.0, "RES": 1.0}
        self.rsense = {"CURR": False, "VOLT": False, "RES": False}
        self.sense_count = 1
        self.output = False
        self.off_mode = {"CURR": "NORM", "VOLT": "NORM"}
        self.terminals = "FRON"
        self.ascii_precision = "AUTO"
        self.buffers = {
            "defbuffer1": ReadingBuffer("defbuffer1", DEFAULT_BUFFER_SIZE),
            "defbuffer2": ReadingBuffer("defbuffer2", DEFAULT_BUFFER_SIZE),
        }
        self.trigger = TriggerModel("Empty", state="EMPTY")
        self._last_reading: float | None = None
        self._prev_reading: float | None = None
        self._apply_source()

    @property
    def clock(self):
        return self.world.clock

    def _apply_source(self) -> None:
        """Tell the world what the output terminals do now."""
        if self.channel == "holder":
            on = self.output and self.source_func == "VOLT"
            self.world.holder_bias(self.level["VOLT"] if on else 0.0, self.limit["VOLT"])
        elif not self.output:
            self.world.electro_source("off", 0.0, 0.0)
        elif self.source_func == "CURR":
            self.world.electro_source("current", self.level["CURR"], self.limit["CURR"])
        else:
            self.world.electro_source("voltage", self.level["VOLT"], self.limit["VOLT"])

    def _measure(self) -> tuple[float, float, bool]:
        if self.channel == "holder":
            v, i, c = self.world.holder_measure()
        else:
            v, i, c = self.world.electro_measure()
        return float(v), float(i), bool(c) and self.output

    def _reading_of(self, func: str, v, i):
        """Reading for sense function ``func``; over-range readings become 9.9E37."""
        if func == "VOLT":
            x = np.asarray(v, dtype=float)
        elif func == "CURR":
            x = np.asarray(i, dtype=float)
        else:
            i = np.asarray(i, dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(i != 0, np.asarray(v, dtype=float) / i, OVERFLOW)
        if not self.sense_auto[func]:
            x = np.where(np.abs(x) > self.sense_range[func] * OVERRANGE, OVERFLOW, x)
        return x

    def _source_readback(self, v, i):
        func = self.source_func
        if not self.readback[func]:
            return np.full(np.shape(v), self.level[func])
        return np.asarray(i if func == "CURR" else v, dtype=float)

    def _sstat(self, compliance):
        bits = STAT_READBACK * self.readback[self.source_func] + STAT_OUTPUT * self.output
        return np.where(np.asarray(compliance, dtype=bool), bits | STAT_LIMIT, bits).astype(float)

    def _store(self, buffer: ReadingBuffer, t, v, i, c) -> None:
        read = self._reading_of(self.sense_func, v, i)
        buffer.unit = _UNITS[self.sense_func]
        buffer.sour_unit = _UNITS[self.source_func]
        buffer.append(read, self._source_readback(v, i), np.asarray(t, dtype=float), self._sstat(c))
        if len(read):
            self._prev_reading, self._last_reading = self._last_reading, float(read[-1])

    # -- trigger model -----------------------------------------------------------------------------

    def _advance(self) -> None:
        """Take every buffered reading that is due by the world's present time."""
        tm = self.trigger
        if tm.state != "RUNNING":
            return
        now = self.clock.now()
        due = tm.due(now)
        buffer = self._buffer(tm.buffer)
        if buffer.fill == "CONT" and due - tm.taken > buffer.capacity:
            # readings the ring would overwrite before anyone could see them: count, skip
            unseen = due - tm.taken - buffer.capacity
            if buffer.t0 is None:
                buffer.t0 = tm.t_start + (tm.taken + 1) * tm.interval
            buffer.total += unseen
            tm.taken += unseen
        elif buffer.fill == "ONCE":  # a full fill-once buffer drops further readings
            due = min(due, tm.taken + max(buffer.capacity - buffer.total, 0))
        while due > tm.taken:
            n = min(due - tm.taken, SAMPLE_CHUNK)
            t, v, i, c = self._samples(tm.taken, n)
            if len(t) == 0:
                break
            self._store(buffer, t, v, i, c & self.output)
            tm.taken += len(t)
        tm.taken = max(tm.taken, tm.due(now))
        if now >= tm.end_time() - 1e-12:
            tm.state = "IDLE"

    def _next_reading(self, t: float) -> float:
        """Time of the running trigger model's first reading after ``t`` (inf for none, or
        above 20 Hz, where the world keeps one knot per fetch: READING_KNOT_S)."""
        tm = self.trigger
        if tm.state != "RUNNING" or tm.interval < READING_KNOT_S:
            return math.inf
        k = max(math.floor((t - tm.t_start) / tm.interval + 1e-9) + 1, 1)
        nxt = tm.t_start + k * tm.interval
        return nxt if nxt <= tm.end_time() + 1e-9 else math.inf

    def _samples(self, taken: int, n: int):
        """Readings ``taken`` + 1 .. ``taken`` + n of the running trigger model, from the world:
        at t_start + k*interval, the same float times however the buffer is fetched."""
        tm = self.trigger
        t = tm.t_start + tm.interval * np.arange(taken + 1, taken + n + 1)
        if self.channel == "holder":
            reads = [self.world.holder_measure() for _ in range(n)]
            v, i, c = (np.array(col) for col in zip(*reads, strict=True))
            return t, v, i, c.astype(bool)
        _, v, i, c = self.world.electro_readings(t)
        return t, v, i, c.astype(bool)

    def _require_idle(self, what: str) -> None:
        self._advance()
        if self.trigger.state == "RUNNING":
            raise ScpiError(-221, f"{what} not allowed while the trigger model is running")

    def _wait_complete(self) -> None:
        """*WAI / *OPC?: block until a running trigger model has finished (on the world clock)."""
        tm = self.trigger
        if tm.state == "RUNNING":
            self.clock.sleep_until(tm.end_time())
            self._advance()

    # -- faults --------------------------------------------------------------------------------------

    def before_fault(self, fault: Fault, command: str) -> None:
        """error: the instrument queues an error as the line starts executing."""
        if fault.kind is FaultKind.ERROR:
            self.error(-300, f"injected fault on {command}")

    def apply_fault(self, fault: Fault, command: str, reply: str | None) -> str | None:
        """stuck: readings repeat the previous value; spike: one reading jumps."""
        if fault.kind is FaultKind.ERROR:
            return reply
        if reply is None or not _is_reading_query(command):
            return reply
        values = reply.split(",")
        width = len(self._last_elements)
        read_cols = [k for k, e in enumerate(self._last_elements) if e == "READ"] or [0]
        try:
            rows = [values[r : r + width] for r in range(0, len(values), width)]
            if fault.kind is FaultKind.STUCK:
                held = self._prev_reading
                if held is None or "DATA?" in command.upper():
                    held = float(rows[0][read_cols[0]])
                for row in rows:
                    for k in read_cols:
                        row[k] = _fmt(held)
                self._last_reading = held
            elif fault.kind is FaultKind.SPIKE:
                k = read_cols[0]
                rows[0][k] = _fmt(float(rows[0][k]) + fault.magnitude)
        except (ValueError, IndexError):
            return reply
        return ",".join(itertools.chain.from_iterable(rows))

    # -- command table -------------------------------------------------------------------------------

    def _build_tree(self) -> None:
        add = self.tree.add
        add("*IDN", lambda p, q: IDN, command=False)
        add("*RST", self._rst, query=False)
        add("*CLS", self._cls, query=False)
        add("*OPC", self._opc)
        add("*WAI", self._wai, query=False)
        add("*ESR", self._esr, command=False)
        add("*ESE", self._register("ese"))
        add("*SRE", self._register("sre"))
        add("*STB", self._stb, command=False)
        add("*TST", lambda p, q: "0", command=False)
        add("SYSTem:ERRor[:NEXT]", self._syst_err, command=False)
        add("SYSTem:ERRor:COUNt", lambda p, q: str(len(self.errors)), command=False)
        add("SYSTem:CLEar", self._syst_clear, query=False)
        add("SYSTem:LFRequency", lambda p, q: f"{self.line_frequency:g}", command=False)
        add("SYSTem:VERSion", lambda p, q: "1999.0", command=False)
        add("SYSTem:BEEPer[:IMMediate]", lambda p, q: None, query=False)
        add("STATus:PRESet", lambda p, q: None, query=False)
        add("STATus:CLEar", self._cls, query=False)
        add("SOURce[1]:FUNCtion[:MODE]", self._source_function)
        for f, name in (("CURR", "CURRent"), ("VOLT", "VOLTage")):
            lim = "VLIMit" if f == "CURR" else "ILIMit"
            add(f"SOURce[1]:{name}[:LEVel][:IMMediate][:AMPLitude]", self._level(f))
            add(f"SOURce[1]:{name}:{lim}[:LEVel]", self._limit(f))
            add(f"SOURce[1]:{name}:{lim}[:LEVel]:TRIPped", self._tripped(f), command=False)
            add(f"SOURce[1]:{name}:RANGe", self._src_range(f))
            add(f"SOURce[1]:{name}:RANGe:AUTO", self._flag("src_auto", f))
            add(f"SOURce[1]:{name}:READ:BACK", self._flag("readback", f))
            add(f"SOURce[1]:{name}:DELay", self._src_delay(f))
            add(f"SOURce[1]:{name}:DELay:AUTO", self._flag("src_delay_auto", f))
            add(f"OUTPut[1]:{name}:SMODe", self._off_mode(f))
        add("SENSe[1]:FUNCtion[:ON]", self._sense_function)
        for f, name in (("CURR", "CURRent[:DC]"), ("VOLT", "VOLTage[:DC]"), ("RES", "RESistance")):
            add(f"SENSe[1]:{name}:RANGe[:UPPer]", self._sense_range(f))
            add(f"SENSe[1]:{name}:RANGe:AUTO", self._flag("sense_auto", f))
            add(f"SENSe[1]:{name}:NPLCycles", self._nplc(f))
            add(f"SENSe[1]:{name}:RSENse", self._flag("rsense", f))
            add(f"MEASure:{name}", self._measure_query(f), command=False)
        add("SENSe[1]:COUNt", self._sense_count)
        add("OUTPut[1][:STATe]", self._output)
        add("OUTPut[1]:SMODe", self._off_mode(None))  # for the present source function
        add("ROUTe:TERMinals", self._terminals)
        add("READ", self._read, command=False)
        add("MEASure", self._measure_query(None), command=False)
        add("FETCh", self._fetch, command=False)
        add("FORMat[:DATA]", self._format)
        add("FORMat:ASCii:PRECision", self._precision)
        add("TRACe:MAKE", self._trace_make, query=False)
        add("TRACe:DELete", self._trace_delete, query=False)
        add("TRACe:CLEar", self._trace_clear, query=False)
        add("TRACe:POINts", self._trace_points)
        add("TRACe:ACTual", self._trace_actual("count"), command=False)
        add("TRACe:ACTual:STARt", self._trace_actual("start"), command=False)
        add("TRACe:ACTual:END", self._trace_actual("end"), command=False)
        add("TRACe:FILL:MODE", self._trace_fill)
        add("TRACe:DATA", self._trace_data, command=False)
        add("TRACe:TRIGger", self._trace_trigger, query=False)
        for stat in ("AVERage", "MAXimum", "MINimum", "STDDev"):
            add(f"TRACe:STATistics:{stat}", self._trace_stat(stat), command=False)
        add("TRIGger:LOAD", self._trigger_load, query=False)
        add("TRIGger:LOAD:LOOP:SIMPle", self._trigger_load_legacy("SimpleLoop"), query=False)
        add("TRIGger:LOAD:LOOP:DURation", self._trigger_load_legacy("DurationLoop"), query=False)
        add("TRIGger:STATe", self._trigger_state, command=False)
        add("INITiate[:IMMediate]", self._init, query=False)
        add("ABORt", self._abort, query=False)

    # -- common commands --------------------------------------------------------------------------

    def _rst(self, p, q):
        param_count(p, 0)
        self.reset()

    def _cls(self, p, q):
        param_count(p, 0)
        self.errors.clear()
        self.esr = 0

    def _opc(self, p, q):
        param_count(p, 0)
        self._wait_complete()
        if q:
            return "1"
        self.esr |= 1
        return None

    def _wai(self, p, q):
        param_count(p, 0)
        self._wait_complete()

    def _esr(self, p, q):
        value, self.esr = self.esr, 0
        return str(value)

    def _register(self, name: str):
        setattr(self, name, 0)

        def handler(p, q):
            if q:
                return str(getattr(self, name))
            param_count(p, 1)
            setattr(self, name, int(in_range(as_int(p[0]), 0, 255, name.upper())))

        return handler

    def _stb(self, p, q):
        stb = (4 if len(self.errors) else 0) | (32 if self.esr & self.ese else 0)
        if stb & self.sre:
            stb |= 64
        return str(stb)

    def _syst_err(self, p, q):
        code, text = self.errors.pop()
        return f'{code},"{text}"'

    def _syst_clear(self, p, q):
        self.errors.clear()

    # -- source -------------------------------------------------------------------------------------

    def _source_function(self, p, q):
        if q:
            return self.source_func
        param_count(p, 1)
        func = as_choice(p[0], _FUNCS)
        if func != self.source_func:
            self._require_idle("changing the source function")
            if self.channel == "holder" and func == "CURR":
                raise ScpiError(-221, "the holder bias port sources voltage only")
            self.source_func = func
            self.output = False  # the 2450 turns the output off on a function change
            self._apply_source()

    def _level(self, f: str):
        top = MAX_CURRENT if f == "CURR" else MAX_VOLTAGE

        def handler(p, q):
            if q:
                return _fmt(self.level[f])
            param_count(p, 1)
            value = in_range(
                as_float(p[0], {"MINIMUM": -top, "MAXIMUM": top, "DEFAULT": 0.0}),
                -top,
                top,
                "source level",
            )
            if self.src_auto[f]:
                self.src_range[f] = _range_for(value, self._ranges(f), "source level")
            elif abs(value) > self.src_range[f] * OVERRANGE:
                raise ScpiError(-222, f"level {value:g} beyond the {self.src_range[f]:g} range")
            self._advance()
            self.level[f] = value
            self._apply_source()

        return handler

    def _limit(self, f: str):
        low, high = VLIM_RANGE if f == "CURR" else ILIM_RANGE

        def handler(p, q):
            if q:
                return _fmt(self.limit[f])
            param_count(p, 1)
            value = as_float(p[0], {"MINIMUM": low, "MAXIMUM": high})
            self._advance()
            self.limit[f] = in_range(value, low, high, "source limit")
            self._apply_source()

        return handler

    def _tripped(self, f: str):
        def handler(p, q):
            if self.source_func != f or not self.output:
                return "0"
            return "1" if self._measure()[2] else "0"

        return handler

    @staticmethod
    def _ranges(f: str) -> tuple[float, ...]:
        return {"CURR": CURRENT_RANGES, "VOLT": VOLTAGE_RANGES, "RES": RESISTANCE_RANGES}[f]

    def _src_range(self, f: str):
        def handler(p, q):
            if q:
                return _fmt(self.src_range[f])
            param_count(p, 1)
            value = as_float(p[0], {"MINIMUM": self._ranges(f)[0], "MAXIMUM": self._ranges(f)[-1]})
            new = _range_for(value, self._ranges(f), "source range")
            if abs(self.level[f]) > new * OVERRANGE:
                raise ScpiError(-221, f"level {self.level[f]:g} does not fit range {new:g}")
            self.src_range[f] = new
            self.src_auto[f] = False

        return handler

    def _src_delay(self, f: str):
        def handler(p, q):
            if q:
                return _fmt(self.src_delay[f])
            param_count(p, 1)
            self.src_delay[f] = in_range(as_float(p[0]), 0.0, 10_000.0, "source delay")
            self.src_delay_auto[f] = False

        return handler

    def _off_mode(self, func: str | None):
        def handler(p, q):
            f = func or self.source_func
            if q:
                return self.off_mode[f]
            param_count(p, 1)
            self.off_mode[f] = as_choice(p[0], _OFF_MODES)

        return handler

    def _flag(self, table: str, key: str):
        def handler(p, q):
            if q:
                return "1" if getattr(self, table)[key] else "0"
            param_count(p, 1)
            getattr(self, table)[key] = as_bool(p[0])

        return handler

    def _output(self, p, q):
        if q:
            return "1" if self.output else "0"
        param_count(p, 1)
        state = as_bool(p[0])
        if state and self.channel == "holder" and self.source_func != "VOLT":
            raise ScpiError(-221, "the holder bias port sources voltage only")
        self._advance()
        self.output = state
        self._apply_source()

    def _terminals(self, p, q):
        if q:
            return self.terminals
        param_count(p, 1)
        self.terminals = as_choice(p[0], {"FRONt": "FRON", "REAR": "REAR"})

    # -- sense ---------------------------------------------------------------------------------------

    def _sense_function(self, p, q):
        if q:
            return _SENSE_NAMES[self.sense_func]
        param_count(p, 1)
        name, _, dc = as_string(p[0]).upper().partition(":")
        if dc not in ("", "DC"):
            raise ScpiError(-224, f"sense function {p[0]}")
        func = as_choice(name, _SENSE_FUNCS)
        if func != self.sense_func:
            self._require_idle("changing the sense function")
            self.sense_func = func

    def _sense_range(self, f: str):
        def handler(p, q):
            if q:
                return _fmt(self.sense_range[f])
            param_count(p, 1)
            ranges = self._ranges(f)
            value = as_float(p[0], {"MINIMUM": ranges[0], "MAXIMUM": ranges[-1]})
            self.sense_range[f] = _range_for(value, ranges, "measure range")
            self.sense_auto[f] = False

        return handler

    def _nplc(self, f: str):
        def handler(p, q):
            if q:
                return f"{self.nplc[f]:g}"
            param_count(p, 1)
            value = as_float(p[0], {"MINIMUM": NPLC_RANGE[0], "MAXIMUM": NPLC_RANGE[1]})
            self._require_idle("changing NPLC")
            self.nplc[f] = in_range(value, *NPLC_RANGE, "NPLC")

        return handler

    def _sense_count(self, p, q):
        if q:
            return str(self.sense_count)
        param_count(p, 1)
        self.sense_count = int(in_range(as_int(p[0]), 1, 300_000, "count"))

    # -- readings ---------------------------------------------------------------------------------

    def _buffer(self, name: str) -> ReadingBuffer:
        try:
            return self.buffers[name]
        except KeyError:
            raise ScpiError(-224, f"no reading buffer named {name}") from None

    def _elements(self, params: list[str]) -> list[str]:
        return [as_choice(e, _ELEMENTS) for e in params] or ["READ"]

    def _format_rows(self, buffer: ReadingBuffer, pos: np.ndarray, elements: list[str]) -> str:
        """Rows of ``elements`` for buffer positions ``pos``, comma-separated, oldest first.

        One %-format over the whole block: formatting dominates a large TRAC:DATA? reply.
        """
        self._last_elements = elements
        specs: list[str] = []
        columns: list[np.ndarray] = []
        for e in elements:
            if e in ("READ", "SOUR"):
                specs.append(READING_FORMAT)
                columns.append(buffer.cols["read" if e == "READ" else "sour"][pos])
            elif e == "REL":
                specs.append("%.9f")
                columns.append(buffer.cols["t"][pos] - (buffer.t0 or 0.0))
            elif e == "SOURSTAT":
                specs.append("%d")
                columns.append(buffer.cols["sstat"][pos])
            elif e == "STAT":
                specs.append("8" if self.terminals == "FRON" else "0")
            elif e in ("UNIT", "SOURUNIT"):
                specs.append((buffer.unit if e == "UNIT" else buffer.sour_unit).replace("%", "%%"))
            else:  # SEConds / FRACtional: UTC of the reading from the world clock's anchor
                utc = self.clock.utc(0.0).timestamp() + buffer.cols["t"][pos]
                specs.append("%d" if e == "SEC" else "%.9f")
                columns.append(np.floor(utc) if e == "SEC" else utc % 1.0)
        row = ",".join(specs)
        if not columns:
            return ",".join([row] * len(pos))
        values = np.column_stack(columns).ravel().tolist()
        return ",".join([row] * len(pos)) % tuple(values)

    def _new_reading(self, buffer_name: str, func: str | None = None) -> ReadingBuffer:
        """One immediate measurement stored in ``buffer_name`` (READ?/MEAS?/TRAC:TRIG)."""
        self._require_idle("a single measurement")
        if func is not None and func != self.sense_func:
            self.sense_func = func
        buffer = self._buffer(buffer_name)
        v, i, c = self._measure()
        self._store(buffer, [self.clock.now()], [v], [i], [c])
        return buffer

    def _read_params(self, p: list[str]) -> tuple[str, list[str]]:
        name = as_string(p[0]) if p else "defbuffer1"
        return name, self._elements(p[1:])

    def _read(self, p, q):
        name, elements = self._read_params(p)
        buffer = self._new_reading(name)
        return self._format_rows(buffer, np.array([buffer.end_index - 1]), elements)

    def _measure_query(self, func: str | None):
        def handler(p, q):
            name, elements = self._read_params(p)
            buffer = self._new_reading(name, func)
            return self._format_rows(buffer, np.array([buffer.end_index - 1]), elements)

        return handler

    def _fetch(self, p, q):
        name, elements = self._read_params(p)
        self._advance()
        buffer = self._buffer(name)
        if buffer.total == 0:
            raise ScpiError(-230, f"buffer {name} is empty")
        return self._format_rows(buffer, np.array([buffer.end_index - 1]), elements)

    def _format(self, p, q):
        if q:
            return "ASC"
        param_count(p, 1)
        if as_choice(p[0], {"ASCii": "ASC", "REAL": "REAL", "SREal": "SRE"}) != "ASC":
            raise ScpiError(-224, "only ASCii data format is emulated")

    def _precision(self, p, q):
        if q:
            return self.ascii_precision
        param_count(p, 1)
        if p[0].upper() not in ("AUTO", "DEF", "DEFAULT"):
            in_range(as_int(p[0]), 1, 16, "precision")
        self.ascii_precision = p[0].upper()

    # -- reading buffers ----------------------------------------------------------------------------

    def _trace_make(self, p, q):
        param_count(p, 2, 3)
        name = as_string(p[0])
        if not name or not name[0].isalpha() or not name.replace("_", "").isalnum():
            raise ScpiError(-224, f"invalid buffer name {name}")
        if name in self.buffers:
            raise ScpiError(-221, f"buffer {name} already exists")
        size = int(in_range(as_int(p[1]), 10, MAX_BUFFER, "buffer size"))
        if len(p) == 3:
            as_choice(p[2], {"STANdard": "STAN", "COMPact": "COMP", "FULL": "FULL"})
        self.buffers[name] = ReadingBuffer(name, size)

    def _trace_delete(self, p, q):
        param_count(p, 1)
        name = as_string(p[0])
        if name.startswith("defbuffer"):
            raise ScpiError(-221, "default buffers cannot be deleted")
        if self.trigger.state == "RUNNING" and self.trigger.buffer == name:
            raise ScpiError(-221, f"buffer {name} is in use by the trigger model")
        self._buffer(name)
        del self.buffers[name]

    def _named(self, p: list[str]) -> ReadingBuffer:
        param_count(p, 0, 1)
        return self._buffer(as_string(p[0]) if p else "defbuffer1")

    def _trace_clear(self, p, q):
        buffer = self._named(p)
        self._advance()
        buffer.clear()

    def _trace_points(self, p, q):
        if q:
            return str(self._named(p).capacity)
        param_count(p, 1, 2)
        size = int(in_range(as_int(p[0]), 10, MAX_BUFFER, "buffer size"))
        buffer = self._named(p[1:])
        self._require_idle("resizing a buffer")
        buffer.capacity = size
        buffer.clear()

    def _trace_actual(self, which: str):
        def handler(p, q):
            buffer = self._named(p)
            self._advance()
            value = {"count": buffer.count, "start": buffer.start_index, "end": buffer.end_index}
            return str(value[which])

        return handler

    def _trace_fill(self, p, q):
        if q:
            return self._named(p).fill
        param_count(p, 1, 2)
        mode = as_choice(p[0], _FILL)
        self._named(p[1:]).fill = mode

    def _trace_data(self, p, q):
        if len(p) < 2:
            raise ScpiError(-109, "TRAC:DATA? needs start and end indices")
        start, end = as_int(p[0]), as_int(p[1])
        name = as_string(p[2]) if len(p) > 2 else "defbuffer1"
        elements = self._elements(p[3:])
        if len(elements) > 14:
            raise ScpiError(-108, "at most 14 buffer elements")
        self._advance()
        buffer = self._buffer(name)
        return self._format_rows(buffer, buffer.positions(start, end), elements)

    def _trace_trigger(self, p, q):
        self._new_reading(as_string(p[0]) if p else "defbuffer1")

    def _trace_stat(self, stat: str):
        def handler(p, q):
            buffer = self._named(p)
            self._advance()
            if buffer.count == 0:
                return _fmt(0.0)
            data = buffer.cols["read"][buffer.positions(buffer.start_index, buffer.end_index)]
            fn = {"AVERage": np.mean, "MAXimum": np.max, "MINimum": np.min, "STDDev": np.std}
            return _fmt(float(fn[stat](data)))

        return handler

    # -- trigger model -------------------------------------------------------------------------------

    def _load(self, kind: str, first: float, p: list[str]) -> None:
        delay = in_range(as_float(p[0]), *DELAY_RANGE, "delay") if p else 0.0
        buffer = as_string(p[1]) if len(p) > 1 else "defbuffer1"
        self._buffer(buffer)
        self._require_idle("loading a trigger model")
        if kind == "SimpleLoop":
            self.trigger = TriggerModel(kind, count=int(first), delay=delay, buffer=buffer)
        else:
            self.trigger = TriggerModel(kind, duration=first, delay=delay, buffer=buffer)

    def _trigger_load(self, p, q):
        if not p:
            raise ScpiError(-109, "trigger model name")
        name = as_string(p[0]).upper()
        if name == "EMPTY":
            param_count(p, 1)
            self._require_idle("loading a trigger model")
            self.trigger = TriggerModel("Empty", state="EMPTY")
        elif name == "SIMPLELOOP":
            param_count(p, 2, 4)
            count = in_range(as_int(p[1]), 1, 300_000_000, "count")
            self._load("SimpleLoop", count, p[2:])
        elif name == "DURATIONLOOP":
            param_count(p, 2, 4)
            duration = in_range(as_float(p[1]), 0.0, MAX_DURATION, "duration")
            self._load("DurationLoop", duration, p[2:])
        else:
            raise ScpiError(-224, f"trigger model {name} is not emulated")

    def _trigger_load_legacy(self, kind: str):
        def handler(p, q):
            param_count(p, 1, 3)
            p = list(p)
            if len(p) == 3 and p[2][0] not in "\"'":
                p[2] = f'"{p[2]}"'
            self._trigger_load([f'"{kind}"', *p], q)

        return handler

    def _trigger_state(self, p, q):
        self._advance()
        tm = self.trigger
        state = {"RUNNING": "RUNNING", "EMPTY": "EMPTY", "ABORTED": "ABORTED"}.get(tm.state, "IDLE")
        block = 0 if tm.kind == "Empty" else (4 if tm.state == "RUNNING" else 6)
        return f"{state};{state};{block}"

    def _init(self, p, q):
        param_count(p, 0)
        tm = self.trigger
        self._advance()
        if tm.state == "RUNNING":
            raise ScpiError(-221, "the trigger model is already running")
        if tm.kind == "Empty":
            return
        aperture = self.nplc[self.sense_func] / self.line_frequency
        tm.interval = tm.delay + aperture
        tm.t_start = self.clock.now()
        tm.taken = 0
        tm.state = "RUNNING"
        self._buffer(tm.buffer).clear()  # the predefined models begin with a buffer-clear block

    def _abort(self, p, q):
        param_count(p, 0)
        self._advance()
        if self.trigger.state == "RUNNING":
            self.trigger.state = "ABORTED"


def _is_reading_query(command: str) -> bool:
    head = command.upper().lstrip(":")
    return head.startswith(("READ", "MEAS", "FETC", "TRAC:DATA", "TRACE:DATA"))
