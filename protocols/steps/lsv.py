"""``lsv``: linear sweep voltammetry from ``start`` to ``stop`` (V) at ``scan_rate``.

Recorded in the ``electro`` stream as a time series (V applied, I measured); a ``sweep`` event
carries the scan parameters. Optional ``end`` conditions stop the sweep early at the first
point that crosses them (e.g. ``current_density_above: 10 uA/cm2``: the onset of the
electrolyte's decomposition, so it is not driven further); the cell is then left at open
circuit and the step ends with that reason. ``end`` is the end-condition list of every step:
the final potential is ``stop`` (formerly ``begin`` / ``end``, now refused with a hint).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from protocols.quantities import Duration, PositiveVoltage, Voltage, VoltageRate
from protocols.steps.base import CURRENT_CRITERIA, Ending, StepContext, StepType
from protocols.steps.commands import Emit, Plan, Voltammetry

#: what may end a sweep early (a potential is already bounded by the sweep itself)
SWEEP_CRITERIA = CURRENT_CRITERIA | {"time", "charge", "voltage_above", "voltage_below",
                                     "abs_voltage_above", "abs_voltage_below"}  # fmt: skip
#: former field names of the sweep steps -> the present ones
RENAMED = {"begin": "start"}


class Sweeping(Ending):
    """What LSV and CV share: step size, scan rate, a maximum duration, early ends."""

    scan_rate: VoltageRate
    step: PositiveVoltage = 0.001
    max_duration: Duration | None = None

    @field_validator("end", mode="before")
    @classmethod
    def _end_is_conditions(cls, value: Any) -> Any:
        if isinstance(value, str | int | float):
            raise ValueError(f"'end' is the list of end conditions (e.g. [{{current_above: 1 mA}}]), "
                             f"got {value!r}; the final potential of a sweep is 'stop'")  # fmt: skip
        return value


class Lsv(Sweeping):
    """Linear sweep voltammetry (see the module docstring)."""

    type: Literal["lsv"]
    start: Voltage
    stop: Voltage


def potentials(step: Any) -> tuple[float, ...]:
    """The sweep's corner potentials: (start, stop) or (start, vertex1, vertex2)."""
    if step.type == "lsv":
        return (step.start, step.stop)
    return (step.start, step.vertex1, step.vertex2)


def report(sweep: Any, ctx: StepContext, step: Any) -> Plan:
    """The ``sweep`` event of an LSV / CV (nothing in the dry run)."""
    if sweep is None:
        return None
    n = len(sweep.time)
    params = step.model_dump(include={"start", "stop", "vertex1", "vertex2", "scan_rate", "step", "scans"})  # fmt: skip
    yield Emit("sweep", f"{ctx.name}: {step.type} of {n} points {'complete' if sweep.complete else 'stopped early'}",
               {"technique": step.type, "points": n, "complete": bool(sweep.complete), **params})  # fmt: skip
    return None


def duration_check(step: Any, limits) -> list[str]:
    """A ``max_duration`` shorter than the sweep itself is a mistake, found before the run."""
    from drivers.sweeps import voltammetry_points

    scans = getattr(step, "scans", 1)
    takes = voltammetry_points(step.type, potentials(step), step.step, scans) * step.step / step.scan_rate  # fmt: skip
    if step.max_duration is not None and takes > step.max_duration:
        return [f"the sweep takes about {takes:.0f} s, longer than max_duration {step.max_duration:g} s"]  # fmt: skip
    return []


def execute(step: Any, ctx: StepContext) -> Plan:
    """Run the sweep; the reply is (sweep, the end condition that stopped it), None dry."""
    reply = yield Voltammetry(step.type, potentials(step), step.step, step.scan_rate,
                              getattr(step, "scans", 1), step.max_duration)  # fmt: skip
    sweep, fired = reply if reply is not None else (None, None)  # the dry run measures nothing
    yield from report(sweep, ctx, step)
    return fired


STEP = StepType(Lsv, "potentiostat", execute, SWEEP_CRITERIA, check=duration_check,
                technique=lambda step: "lsv", renamed=RENAMED)  # fmt: skip
