"""Full-cell templates: galvanostatic cycling at C-rates between voltage cut-offs, rate tests.

Like every template they expand into primitive steps in SI (``protocols/templates.py``); the
C-rates stay C-rates in the expansion and become currents at run start from the sample's
capacity basis (``sample.cathode`` ... or ``sample.nominal_capacity``), logged with it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from protocols.quantities import CRate, Duration, PositiveCurrent, Voltage
from protocols.steps.base import StepBase

Spec = dict[str, Any]


class _Window(StepBase):
    """Voltage window, rests and the runaway-charge guard shared by the cycling templates."""

    charge_cutoff: Voltage = Field(description="charge ends when V rises to it, e.g. 3.85 V")
    discharge_cutoff: Voltage = Field(description="discharge ends when V falls to it, e.g. 2.5 V")
    rest: Duration | None = None
    cv_taper_current: PositiveCurrent | None = Field(
        None, description="hold the charge cut-off until |I| < this (CC-CV charge)"
    )
    runaway_factor: float = Field(
        1.5, gt=1, description="a charge longer than this x its nominal time stops the run"
    )

    @model_validator(mode="after")
    def _window(self):
        if not self.discharge_cutoff < self.charge_cutoff:
            raise ValueError("discharge_cutoff must be below charge_cutoff")
        return self

    def _cycle(self, rate: float, meta: dict[str, Any]) -> list[Spec]:
        """Charge (CC or CC-CV) to the upper cut-off, rest, discharge to the lower one, rest."""
        guard = {"time": self.runaway_factor * 3600.0 / rate, "action": "stop",
                 "result": "runaway_charge"}  # fmt: skip
        charge: Spec = {"c_rate": rate, "meta": {**meta, "phase": "charge", "c_rate": rate}}
        if self.cv_taper_current is None:
            charge |= {"type": "galvanostatic",
                       "end": [{"voltage_above": self.charge_cutoff}, guard]}  # fmt: skip
        else:
            charge |= {"type": "cccv", "voltage": self.charge_cutoff,
                       "taper_current": self.cv_taper_current, "end": [guard]}  # fmt: skip
        discharge = {
            "type": "galvanostatic", "c_rate": -rate,
            "end": [{"voltage_below": self.discharge_cutoff},
                    {"time": self.runaway_factor * 3600.0 / rate}],
            "meta": {**meta, "phase": "discharge", "c_rate": rate},
        }  # fmt: skip
        rest = [] if self.rest is None else [
            {"type": "rest", "end": [{"time": self.rest}], "meta": {**meta, "phase": "rest"}}
        ]  # fmt: skip
        return [charge, *rest, discharge, *rest]


class GalvanostaticCycling(_Window):
    """Formation cycles, then ``cycles`` at ``c_rate`` between the cut-offs (full cells)."""

    type: Literal["galvanostatic_cycling"]
    c_rate: CRate = Field(gt=0)
    cycles: int = Field(ge=1)
    formation_cycles: int = Field(0, ge=0)
    formation_c_rate: CRate | None = Field(None, gt=0)

    def expand(self, prefix: str) -> list[Spec]:
        meta = {"template": "galvanostatic_cycling"}
        steps: list[Spec] = []
        if self.formation_cycles:
            rate = self.formation_c_rate or self.c_rate
            body = self._cycle(rate, {**meta, "stage": "formation"})
            steps.append({"type": "loop", "count": self.formation_cycles, "steps": body,
                          "meta": {**meta, "stage": "formation"}})  # fmt: skip
        body = self._cycle(self.c_rate, {**meta, "stage": "cycling"})
        steps.append({"type": "loop", "count": self.cycles, "steps": body,
                      "meta": {**meta, "stage": "cycling"}})  # fmt: skip
        return steps


class RateTest(_Window):
    """Rate capability: ``cycles_per_rate`` cycles at each of ``c_rates`` in turn."""

    type: Literal["rate_test"]
    c_rates: list[CRate] = Field(min_length=1)
    cycles_per_rate: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _positive(self):
        if any(r <= 0 for r in self.c_rates):
            raise ValueError("c_rates must be positive (charge rates)")
        return self

    def expand(self, prefix: str) -> list[Spec]:
        meta = {"template": "rate_test"}
        return [
            {"type": "loop", "count": self.cycles_per_rate,
             "steps": self._cycle(rate, {**meta, "level": k}),
             "meta": {**meta, "level": k, "c_rate": rate}}
            for k, rate in enumerate(self.c_rates)
        ]  # fmt: skip
