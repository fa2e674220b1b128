"""Typed instrument errors; every one names the instrument and what was being done."""

from __future__ import annotations


class InstrumentError(Exception):
    """Base of every driver error: ``instrument`` is the station name (or resource)."""

    def __init__(self, instrument: str, message: str) -> None:
        self.instrument = instrument
        self.message = message
        super().__init__(f"{instrument}: {message}")


class InstrumentTimeout(InstrumentError):
    """The instrument did not answer in time."""


class GarbledReply(InstrumentError):
    """The instrument answered something that cannot be parsed."""

    def __init__(self, instrument: str, command: str, reply: object) -> None:
        self.command = command
        self.reply = reply
        super().__init__(instrument, f"unparsable reply {reply!r} to {command!r}")


class ConnectionLost(InstrumentError):
    """The transport closed or failed; a reconnect may help."""


class InstrumentReportedError(InstrumentError):
    """The instrument's own error queue reported a problem (e.g. SCPI ``-222``)."""

    def __init__(self, instrument: str, code: int, text: str, after: str = "") -> None:
        self.code = code
        self.text = text
        where = f" after {after!r}" if after else ""
        super().__init__(instrument, f"instrument error {code} {text!r}{where}")


class SetpointError(InstrumentError, ValueError):
    """A setpoint outside the instrument's range or the run's limits; nothing was sent."""

    def __init__(self, instrument: str, parameter: str, value: float, allowed: str) -> None:
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        super().__init__(instrument, f"{parameter}={value!r} is outside the allowed {allowed}")


class SafetyWriteFailed(InstrumentError):
    """A safety-critical write (output off, bias to 0 V) failed even after retries."""


class SweepUnsupported(InstrumentError):
    """A sweep (EIS, LSV, CV) asked of a potentiostat that cannot run it; nothing was sent."""

    def __init__(self, instrument: str, technique: str, supported: frozenset[str]) -> None:
        self.technique = technique
        self.supported = supported
        super().__init__(instrument, sweep_refusal(technique, supported))


def sweep_refusal(technique: str, supported: frozenset[str]) -> str:
    """Why a potentiostat refuses a sweep technique (what it runs, what would)."""
    runs = ", ".join(sorted(supported)) if supported else "none: it sources and measures DC only"
    return (f"cannot run {technique} sweeps (sweeps it runs: {runs}); impedance and "
            "voltammetry need a potentiostat with them, e.g. driver 'methodscript'")  # fmt: skip
