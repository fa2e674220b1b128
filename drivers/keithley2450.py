"""Keithley 2450 / 2450-EC SourceMeter as a two-electrode potentiostat (SCPI over VISA).

Galvanostatic = current source with a voltage limit (VLIM), sensing voltage; potentiostatic =
voltage source with a current limit (ILIM), sensing current; open circuit = 0 A current source
with the configured voltage limit as a guard (the cell is measured, never loaded). Output off
uses the high-impedance off-state by default so a cell is disconnected, not shorted through a
0 V source. Every setpoint is validated against the instrument's ranges, the station settings
and the run limits before anything is written; safety-relevant writes are followed by the error
queue (``SYST:ERR?``) in the same exchange.

Buffered acquisition runs the 2450's own trigger model ("DurationLoop") into a dedicated
circular reading buffer; :meth:`fetch` reads what arrived since the previous fetch with
``TRAC:DATA? ..., READ, SOUR, REL, SOURSTAT`` (compliance = source status bit 32). Sample times
are on the run clock, relative to :meth:`start_buffered`.

The same class serves as the bias SMU of a TEM/STM holder (``set_voltage`` + ``read`` +
``zero_and_off``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np

from daq.clock import Clock, RealClock
from drivers.errors import InstrumentError, InstrumentReportedError
from drivers.roles import ElectroBlock, ElectroReading, Mode, Potentiostat
from drivers.scpi import parse_bool, parse_error, parse_int, parse_number, parse_table
from drivers.settings import Setting, parse_settings, settings_class
from drivers.transport import RetryPolicy, Transport, VisaTransport
from drivers.validators import Control, InRange, OneOf, Symmetric, check

log = logging.getLogger(__name__)

# Instrument ranges (2450 Reference Manual, source/measure ranges and limits)
MAX_CURRENT = 1.05
MAX_VOLTAGE = 210.0
VLIM = (0.02, 210.0)
ILIM = (1e-9, 1.05)
NPLC = (0.01, 10.0)
CURRENT_RANGES = (10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0)
VOLTAGE_RANGES = (20e-3, 200e-3, 2.0, 20.0, 200.0)
OVERRANGE = 1.05
MAX_BUFFER = 6_875_000
MAX_DURATION = 100_000.0  # longest DurationLoop; the driver re-arms it when it ends
SOURCE_LIMIT_BIT = 32  # SOURSTATus: "source function was limited"
BUFFER = "ssbench"
ELEMENTS = "READ, SOUR, REL, SOURSTAT"
FETCH_CHUNK = 50_000  # rows per TRAC:DATA? so one reply stays a few MB

OFF_MODES = ("HIMP", "NORM", "ZERO", "GUAR")


def _fmt(x: float) -> str:
    return f"{x:.9g}"


#: station-file settings, declared once: the station check and the driver both parse with it
SETTINGS: dict[str, Setting] = {
    "voltage_limit": Setting("voltage", low=VLIM[0], high=VLIM[1], unit="V", default=5.0,
                             at_most="max_voltage"),  # VLIM for open circuit, default compliance
    "current_limit": Setting("current", low=ILIM[0], high=ILIM[1], unit="A", default=0.01,
                             at_most="max_current"),  # ILIM default for potentiostatic
    "max_current": Setting("current", low=0, high=MAX_CURRENT, unit="A", default=MAX_CURRENT),
    "max_voltage": Setting("voltage", low=0, high=MAX_VOLTAGE, unit="V", default=MAX_VOLTAGE),
    "current_range": Setting("current", low=1e-9, high=MAX_CURRENT, unit="A", words=("auto",)),
    "voltage_range": Setting("voltage", low=1e-3, high=MAX_VOLTAGE, unit="V", words=("auto",)),
    "nplc": Setting("dimensionless", low=NPLC[0], high=NPLC[1], default=1.0),
    "off_mode": Setting(choices=OFF_MODES, default="HIMP"),
    "four_wire": Setting(type=bool, default=False),
    "timeout": Setting("time", low=0.01, high=3600, unit="s", default=2.0),
    "retries": Setting(type=int, low=1, high=10, default=3),
    "backend": Setting(type=str),
    "buffer_size": Setting(type=int, low=10, high=MAX_BUFFER, default=1_000_000),
}  # fmt: skip
#: the parsed settings (SI; ``None`` range = auto range), one field per SETTINGS key
Keithley2450Settings = settings_class("Keithley2450Settings", SETTINGS)


def _range_for(value: float, ranges: tuple[float, ...]) -> float:
    return next(r for r in ranges if value <= r * OVERRANGE)


class Keithley2450(Potentiostat):
    """A 2450 on a :class:`Transport`; see the module docstring for the semantics."""

    nplc = Control(
        ":SENS:VOLT:NPLC?",
        ":SENS:VOLT:NPLC {0};:SENS:CURR:NPLC {0}",
        "Integration time in power-line cycles (both sense functions).",
        validator=InRange(*NPLC, "", "2450 NPLC"),
        parse=parse_number,
        format_value=_fmt,
        safety=True,
    )
    off_mode = Control(
        ":OUTP:CURR:SMOD?",
        ":OUTP:CURR:SMOD {0};:OUTP:VOLT:SMOD {0}",
        "Output-off state: HIMP (relay open), NORM, ZERO or GUAR.",
        validator=OneOf(OFF_MODES, "2450 output-off states"),
        parse=str.strip,
        safety=True,
    )
    line_frequency = Control(":SYST:LFR?", None, "Power-line frequency in Hz.", parse=parse_number)

    def __init__(
        self, name: str, transport: Transport, settings: Keithley2450Settings, clock: Clock
    ) -> None:
        super().__init__(name)
        self.transport = transport
        self.settings = settings
        self.clock = clock
        self._mode: Mode = "off"
        self._func = "VOLT"  # source function as last programmed
        self._buffering = False
        self._rate = 0.0
        self._acq_t0 = 0.0
        self._init_t = 0.0
        self._last_end = 0
        self._drained_at = 0.0
        self._pending: list[ElectroBlock] = []
        self._identity = ""
        self._lfreq = 50.0

    # -- setup ---------------------------------------------------------------------------------

    def initialise(self) -> None:
        """Reset to a known state and apply the station settings (nothing is sourced)."""
        self._identity = str(self.transport.query("*IDN?"))
        if "2450" not in self._identity:
            raise InstrumentError(self.name, f"expected a Keithley 2450, got {self._identity!r}")
        s = self.settings
        commands = [
            "*RST",
            "*CLS",
            f':TRAC:MAKE "{BUFFER}", {s.buffer_size}',
            f':TRAC:FILL:MODE CONT, "{BUFFER}"',
            f":OUTP:CURR:SMOD {s.off_mode};:OUTP:VOLT:SMOD {s.off_mode}",
            f":SENS:VOLT:NPLC {_fmt(s.nplc)};:SENS:CURR:NPLC {_fmt(s.nplc)}",
            f":SENS:VOLT:RSEN {int(s.four_wire)};:SENS:CURR:RSEN {int(s.four_wire)}",
            *self._range_commands("CURR", s.current_range),
            *self._range_commands("VOLT", s.voltage_range),
        ]
        self._send_checked(commands, "initialise")
        self._lfreq = self.line_frequency
        if self._lfreq not in (50.0, 60.0):
            raise InstrumentError(self.name, f"unexpected line frequency {self._lfreq!r} Hz")
        self._func = "VOLT"
        self._mode = "off"

    @staticmethod
    def _range_commands(func: str, value: float | None) -> list[str]:
        if value is None:
            return [f":SOUR:{func}:RANG:AUTO 1", f":SENS:{func}:RANG:AUTO 1"]
        return [f":SOUR:{func}:RANG {_fmt(value)}", f":SENS:{func}:RANG {_fmt(value)}"]

    # -- validation -------------------------------------------------------------------------------

    def _check_current(self, current: float) -> float:
        s = self.settings
        validators = [
            Symmetric(MAX_CURRENT, "A", "2450 range"),
            Symmetric(s.max_current, "A", "station max_current"),
        ]
        if s.current_range is not None:
            fixed = _range_for(s.current_range, CURRENT_RANGES) * OVERRANGE
            validators.append(Symmetric(fixed, "A", "fixed current range"))
        return check(self.name, "current", current, *validators)

    def _check_voltage(self, voltage: float) -> float:
        s = self.settings
        validators = [
            Symmetric(MAX_VOLTAGE, "V", "2450 range"),
            Symmetric(s.max_voltage, "V", "station max_voltage"),
        ]
        if s.voltage_range is not None:
            fixed = _range_for(s.voltage_range, VOLTAGE_RANGES) * OVERRANGE
            validators.append(Symmetric(fixed, "V", "fixed voltage range"))
        return check(self.name, "voltage", voltage, *validators)

    def _check_vlim(self, limit: float) -> float:
        return check(
            self.name,
            "voltage_limit",
            limit,
            InRange(*VLIM, "V", "2450 VLIM"),
            InRange(0, self.settings.max_voltage, "V", "station max_voltage"),
        )

    def _check_ilim(self, limit: float) -> float:
        return check(
            self.name,
            "current_limit",
            limit,
            InRange(*ILIM, "A", "2450 ILIM"),
            InRange(0, self.settings.max_current, "A", "station max_current"),
        )

    # -- wire helpers -----------------------------------------------------------------------------

    def _send_checked(self, commands: list[str], what: str) -> None:
        """Send idempotent ``commands`` and read the error queue in the same exchange."""
        line = ";".join(commands + [":SYST:ERR?"])
        code, text = self.transport.query(line, parse_error)
        if code != 0:
            self._raise_queue(code, text, what)

    def _raise_queue(self, code: int, text: str, what: str) -> None:
        """Drain the rest of the error queue into the log and raise the first error."""
        for _ in range(32):
            more, more_text = self.transport.query(":SYST:ERR?", parse_error)
            if more == 0:
                break
            log.error("%s: further instrument error %d %r", self.name, more, more_text)
        raise InstrumentReportedError(self.name, code, text, after=what)

    def after_safety_write(self, command: str) -> None:
        """Read the error queue after a Control write flagged ``safety``."""
        code, text = self.transport.query(":SYST:ERR?", parse_error)
        if code != 0:
            self._raise_queue(code, text, command)

    # -- Potentiostat role --------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        return self._mode

    def identity(self) -> str:
        return self._identity

    def set_open_circuit(self) -> None:
        """0 A current source, voltage measured; the guard VLIM is the station's
        ``voltage_limit`` or the run's voltage limit if that is tighter (a guard, not a
        setpoint: it can only protect more)."""
        guard = self.settings.voltage_limit
        self._source("CURR", 0.0, self._check_vlim(guard), "open_circuit")

    def set_current(self, current: float, voltage_limit: float) -> None:
        current = self._check_current(current)
        self._source("CURR", current, self._check_vlim(voltage_limit), "galvanostatic")

    def set_voltage(self, voltage: float, current_limit: float) -> None:
        voltage = self._check_voltage(voltage)
        self._source("VOLT", voltage, self._check_ilim(current_limit), "potentiostatic")

    def _source(self, func: str, level: float, limit: float, mode: Mode) -> None:
        """Program source ``func`` at ``level`` with ``limit`` and switch the output on."""
        lim = "VLIM" if func == "CURR" else "ILIM"
        sense = "VOLT" if func == "CURR" else "CURR"
        with self.transport.lock:
            resume = self._buffering and func != self._func
            if resume:
                self._pause_buffering()
            commands = []
            if func != self._func:
                commands += [f":SOUR:FUNC {func}", f':SENS:FUNC "{sense}"']
            # limit before level, so the new level never runs against a stale limit
            commands += [
                f":SOUR:{func}:{lim} {_fmt(limit)}",
                f":SOUR:{func} {_fmt(level)}",
                ":OUTP ON",
            ]
            self._func = func
            self._mode = "off"  # unknown until the instrument confirms
            self._send_checked(commands, f"{mode} {level:g} (limit {limit:g})")
            self._mode = mode
            if resume:
                self._resume_buffering()

    def output_off(self) -> None:
        """Output off, verified with OUTP? and retried; SafetyWriteFailed if it cannot be."""
        self.transport.verified_write(
            ":OUTP OFF",
            lambda: not self.transport.query(":OUTP?", parse_bool),
            "output off",
        )
        self._mode = "off"
        with contextlib.suppress(InstrumentError):  # the output is off: report, do not raise
            code, text = self.transport.query(":SYST:ERR?", parse_error)
            if code != 0:
                log.error("%s: instrument error %d %r around output off", self.name, code, text)

    def zero_and_off(self) -> None:
        """Bias to 0 (present source function) then output off; for holder bias SMUs."""
        with contextlib.suppress(InstrumentError):
            self.transport.write(f":SOUR:{self._func} 0", idempotent=True)
        self.output_off()

    def safe_state(self) -> None:
        self.output_off()

    def read(self) -> ElectroReading:
        """One measurement; while buffering, the newest buffered sample (no extra reading)."""
        if self._buffering:
            row = self._newest_buffered()
            if row is not None:
                return self._to_reading(row)
        row = self.transport.query(f':READ? "defbuffer1", {ELEMENTS}', _one_row)
        return self._to_reading(row)

    def _to_reading(self, row: np.ndarray) -> ElectroReading:
        reading, source, _, status = (float(x) for x in row)
        compliance = bool(int(status) & SOURCE_LIMIT_BIT)
        if self._func == "CURR":
            return ElectroReading(voltage=reading, current=source, compliance=compliance)
        return ElectroReading(voltage=source, current=reading, compliance=compliance)

    def compliance(self) -> bool:
        """Whether the source is limited right now (VLIM/ILIM tripped)."""
        lim = "VLIM" if self._func == "CURR" else "ILIM"
        return bool(self.transport.query(f":SOUR:{self._func}:{lim}:TRIP?", parse_bool))

    # -- buffered acquisition -----------------------------------------------------------------------

    def start_buffered(self, rate_hz: float) -> None:
        """Run the 2450's DurationLoop at ``rate_hz`` into the driver's reading buffer."""
        aperture = self.settings.nplc / self._lfreq
        check(
            self.name,
            "rate_hz",
            rate_hz,
            InRange(
                1e-4, 1.0 / aperture, "Hz", f"NPLC {self.settings.nplc:g} at {self._lfreq:g} Hz"
            ),
        )
        with self.transport.lock:
            if self._buffering:
                self.stop_buffered()
            self._rate = float(rate_hz)
            self._acq_t0 = self.clock.now()
            self._pending = []
            self._resume_buffering()

    def _resume_buffering(self) -> None:
        delay = max(1.0 / self._rate - self.settings.nplc / self._lfreq, 0.0)
        self._send_checked(
            [f':TRIG:LOAD "DurationLoop", {_fmt(MAX_DURATION)}, {_fmt(delay)}, "{BUFFER}"'],
            "loading the trigger model",
        )
        self._init_t = self.clock.now() - self._acq_t0
        self._drained_at = self.clock.now()
        self._last_end = 0
        self.transport.write(":INIT")  # not idempotent: never re-sent blindly
        code, text = self.transport.query(":SYST:ERR?", parse_error)
        if code != 0:
            self._raise_queue(code, text, "INIT")
        self._buffering = True

    def _pause_buffering(self) -> None:
        """ABORt the trigger model and keep what it acquired for the next fetch."""
        self.transport.write(":ABOR", idempotent=True)
        self._pending.append(self._drain())
        self._buffering = False

    def stop_buffered(self) -> None:
        with self.transport.lock:
            if self._buffering:
                self._pause_buffering()

    def fetch(self) -> ElectroBlock:
        """Samples acquired since the previous fetch (re-arms the loop if it ran out)."""
        with self.transport.lock:
            blocks = self._pending
            self._pending = []
            if self._buffering:
                # one round trip: the state first, so a loop that has ended left all its readings
                state, count, end = self.transport.query(
                    f':TRIG:STAT?;:TRAC:ACT? "{BUFFER}";:TRAC:ACT:END? "{BUFFER}"',
                    _state_and_counts,
                )
                blocks.append(self._drain(count, end))
                if state != "RUNNING":  # DurationLoop ended (or aborted at the front panel)
                    log.info("%s: trigger model %s; re-arming", self.name, state)
                    self._resume_buffering()
        return _concat(blocks)

    def _drain(self, count: int | None = None, end: int | None = None) -> ElectroBlock:
        """Everything in the reading buffer after the last fetched index (``count`` readings in
        it, the newest at ``end``: asked for here unless the caller just read them)."""
        if count is None or end is None:
            count, end = self.transport.query(
                f':TRAC:ACT? "{BUFFER}";:TRAC:ACT:END? "{BUFFER}"', _two_ints
            )
        cap = self.settings.buffer_size
        new = (end - self._last_end) % cap if count else 0
        now = self.clock.now()
        if count == cap and (now - self._drained_at) * self._rate > cap:
            log.error("%s: reading buffer overrun, samples lost (fetch more often)", self.name)
        self._drained_at = now
        if new == 0:
            return _empty_block()
        rows = []
        start = self._last_end % cap + 1
        while new > 0:
            stop = min(start + min(new, FETCH_CHUNK) - 1, cap)
            n = stop - start + 1
            command = f':TRAC:DATA? {start}, {stop}, "{BUFFER}", {ELEMENTS}'
            rows.append(self.transport.query(command, lambda r, n=n: parse_table(r, 4, n)))
            new -= n
            start = stop % cap + 1
        self._last_end = end
        data = np.concatenate(rows)
        reading, source, rel, status = data.T
        # first reading comes one interval (delay + aperture) after INIT; REL counts from it
        t = self._init_t + 1.0 / self._rate + rel
        compliance = (status.astype(int) & SOURCE_LIMIT_BIT) != 0
        if self._func == "CURR":
            return ElectroBlock(t, reading, source, compliance)
        return ElectroBlock(t, source, reading, compliance)

    def _newest_buffered(self) -> np.ndarray | None:
        end = self.transport.query(f':TRAC:ACT:END? "{BUFFER}"', parse_int)
        if end == 0:
            return None
        command = f':TRAC:DATA? {end}, {end}, "{BUFFER}", {ELEMENTS}'
        return self.transport.query(command, _one_row)

    # -- ranges, snapshot, close ----------------------------------------------------------------

    def settings_snapshot(self) -> dict[str, Any]:
        q = self.transport.query
        func = str(q(":SOUR:FUNC?")).strip()
        lim = "VLIM" if func.startswith("CURR") else "ILIM"
        return {
            "identity": self._identity,
            "resource": self.transport.resource,
            "mode": self._mode,
            "source_function": func,
            "source_level": q(f":SOUR:{func}?", parse_number),
            "source_limit": q(f":SOUR:{func}:{lim}?", parse_number),
            "sense_function": str(q(":SENS:FUNC?")).strip().strip('"'),
            "output": q(":OUTP?", parse_bool),
            "off_mode": self.off_mode,
            "nplc": self.nplc,
            "line_frequency": self._lfreq,
            "current_range": self.settings.current_range or "auto",
            "voltage_range": self.settings.voltage_range or "auto",
            "max_current": self.settings.max_current,
            "max_voltage": self.settings.max_voltage,
            "voltage_limit": self.settings.voltage_limit,
            "current_limit": self.settings.current_limit,
            "four_wire": self.settings.four_wire,
            "buffered_rate_hz": self._rate if self._buffering else None,
        }

    def close(self) -> None:
        """Stop a running trigger model (source untouched) and release the link."""
        if self._buffering:
            with contextlib.suppress(InstrumentError):
                self.transport.write(":ABOR", idempotent=True)
            self._buffering = False
        self.transport.close()


def _one_row(reply: str) -> np.ndarray:
    return parse_table(reply, 4, 1)[0]


def _two_ints(reply: str) -> tuple[int, int]:
    a, b = reply.split(";")
    return parse_int(a), parse_int(b)


def _trigger_state(reply: str) -> str:
    """``RUNNING;RUNNING;4`` -> "RUNNING"."""
    state, _, _ = reply.strip().split(";")
    if not state.isalpha():
        raise ValueError(f"not a trigger state: {reply!r}")
    return state.upper()


def _state_and_counts(reply: str) -> tuple[str, int, int]:
    """``RUNNING;RUNNING;4;120;120`` (trigger state, buffer count, buffer end index)."""
    parts = reply.strip().split(";")
    if len(parts) != 5:
        raise ValueError(f"not a trigger state and buffer counts: {reply!r}")
    return _trigger_state(";".join(parts[:3])), parse_int(parts[3]), parse_int(parts[4])


def _empty_block() -> ElectroBlock:
    empty = np.zeros(0)
    return ElectroBlock(empty, empty, empty, np.zeros(0, dtype=bool))


def _concat(blocks: list[ElectroBlock]) -> ElectroBlock:
    blocks = [b for b in blocks if len(b.time)]
    if not blocks:
        return _empty_block()
    if len(blocks) == 1:
        return blocks[0]
    return ElectroBlock(
        np.concatenate([b.time for b in blocks]),
        np.concatenate([b.voltage for b in blocks]),
        np.concatenate([b.current for b in blocks]),
        np.concatenate([b.compliance for b in blocks]),
    )


def open_keithley2450(
    name: str, resource: str, settings: dict[str, Any], clock: Clock | None
) -> Keithley2450:
    """Open a 2450 on a VISA ``resource`` with station ``settings``; reset and configure it."""
    clock = clock or RealClock()
    parsed = Keithley2450Settings(**parse_settings(name, SETTINGS, settings))
    transport = VisaTransport(
        name,
        resource,
        backend=parsed.backend or None,
        timeout_s=parsed.timeout,
        retry=RetryPolicy(attempts=parsed.retries),
        clock=clock,
    )
    instrument = Keithley2450(name, transport, parsed, clock)
    try:
        instrument.initialise()
    except Exception:
        transport.close()
        raise
    return instrument
