"""``current_interrupt``: source a current, open the circuit, log the ohmic and interfacial R.

The instantaneous voltage jump at the interrupt is the ohmic (bulk) part; the remaining
relaxation over ``off_time`` is the interfacial part.
"""

from __future__ import annotations

from typing import Literal

from protocols.quantities import Duration
from protocols.steps.base import (
    CurrentSource,
    StepContext,
    StepType,
    compliance_voltage,
    needs_voltage_compliance,
    resolve_current,
)
from protocols.steps.commands import Emit, Plan, ReadElectro, Sleep, Source, StopAcquisition


class CurrentInterrupt(CurrentSource):
    """Source a current for ``on_time``, then open the circuit for ``off_time``; logs R parts."""

    type: Literal["current_interrupt"]
    on_time: Duration
    off_time: Duration


def _ratio(dv: float, current: float) -> float:
    """Resistance dv / current in ohm (NaN at zero current)."""
    return dv / current if current else float("nan")


def execute(step: CurrentInterrupt, ctx: StepContext) -> Plan:
    current = yield from resolve_current(step, ctx)
    yield Source("current", current, compliance_voltage(step, ctx.limits))
    yield Sleep(step.on_time)
    v_on = yield StopAcquisition()
    yield Source("open_circuit", acquire=False)
    v_instant = (yield ReadElectro()).voltage
    yield Source("open_circuit")
    yield Sleep(step.off_time)
    v_end = yield StopAcquisition()
    r_ohm, r_total = _ratio(v_on - v_instant, current), _ratio(v_on - v_end, current)
    data = {"current": current, "v_on": v_on, "v_instant": v_instant, "v_end": v_end,
            "r_ohmic": r_ohm, "r_total": r_total, "r_interfacial": r_total - r_ohm}  # fmt: skip
    yield Emit("current_interrupt",
               f"R_ohmic {r_ohm:.4g} ohm, R_interfacial {r_total - r_ohm:.4g} ohm", data)  # fmt: skip
    return None


STEP = StepType(CurrentInterrupt, "potentiostat", execute, check=needs_voltage_compliance)
