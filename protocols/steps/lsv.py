"""``lsv``: linear sweep voltammetry from ``begin`` to ``end`` at ``scan_rate``.

Recorded in the ``electro`` stream as a time series (V applied, I measured); a ``sweep`` event
carries the scan parameters.
"""

from __future__ import annotations

from typing import Any, Literal

from protocols.quantities import Duration, PositiveVoltage, Voltage, VoltageRate
from protocols.steps.base import StepBase, StepContext, StepType
from protocols.steps.commands import Emit, Plan, Voltammetry


class Lsv(StepBase):
    """Linear sweep voltammetry (see the module docstring)."""

    type: Literal["lsv"]
    begin: Voltage
    end: Voltage
    scan_rate: VoltageRate
    step: PositiveVoltage = 0.001
    max_duration: Duration | None = None


def report(sweep: Any, ctx: StepContext, kind: str, step: Any) -> Plan:
    """The ``sweep`` event of an LSV / CV (nothing in the dry run)."""
    if sweep is None:
        return None
    n = len(sweep.time)
    params = step.model_dump(include={"begin", "end", "vertex1", "vertex2", "scan_rate", "step", "scans"})  # fmt: skip
    yield Emit("sweep", f"{ctx.name}: {kind} of {n} points {'complete' if sweep.complete else 'stopped early'}",
               {"technique": kind, "points": n, "complete": bool(sweep.complete), **params})  # fmt: skip
    return None


def duration_check(step: Any, limits) -> list[str]:
    """A ``max_duration`` shorter than the sweep itself is a mistake, found before the run."""
    from drivers.sweeps import voltammetry_points

    kind = step.type
    potentials = (
        (step.begin, step.end) if kind == "lsv" else (step.begin, step.vertex1, step.vertex2)
    )
    scans = getattr(step, "scans", 1)
    takes = voltammetry_points(kind, potentials, step.step, scans) * step.step / step.scan_rate
    if step.max_duration is not None and takes > step.max_duration:
        return [f"the sweep takes about {takes:.0f} s, longer than max_duration {step.max_duration:g} s"]  # fmt: skip
    return []


def execute(step: Lsv, ctx: StepContext) -> Plan:
    sweep = yield Voltammetry("lsv", (step.begin, step.end), step.step, step.scan_rate, 1,
                              step.max_duration)  # fmt: skip
    yield from report(sweep, ctx, "lsv", step)


STEP = StepType(Lsv, "potentiostat", execute, check=duration_check)
