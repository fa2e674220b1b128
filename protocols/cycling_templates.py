"""Full-cell templates: galvanostatic cycling at C-rates between voltage cut-offs, rate tests.

Like every template they expand into primitive steps in SI (``protocols/templates.py``); the
C-rates stay C-rates in the expansion and become currents at run start from the sample's
capacity basis (``sample.cathode`` ... or ``sample.nominal_capacity``), logged with it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from protocols.quantities import CRate, Duration, Fraction, PositiveCurrent, Voltage
from protocols.steps.base import StepBase

Spec = dict[str, Any]
#: A CC-CV half cycle's CV phase may last this many nominal times (3600 s / C-rate) beyond the
#: runaway guard of its CC phase: at 2 C the CV phase of a resistive PEO cell takes ~2.3 x.
CV_CAP_NOMINALS = 2.0


class _Window(StepBase):
    """Voltage window, rests, CC-CV options and the runaway-charge guard of the cycling templates."""

    charge_cutoff: Voltage = Field(description="charge ends when V rises to it, e.g. 3.85 V")
    discharge_cutoff: Voltage = Field(description="discharge ends when V falls to it, e.g. 2.5 V")
    rest: Duration | None = None
    cv_taper_current: PositiveCurrent | None = Field(
        None, description="hold the charge cut-off until |I| < this (CC-CV charge)"
    )
    cv_taper_c_rate: CRate | None = Field(
        None, gt=0, description="hold the charge cut-off until |I| < this C-rate, e.g. C/20"
    )
    cv_discharge: bool = Field(
        False, description="CC-CV on discharge too: hold the lower cut-off until the same taper"
    )
    runaway_factor: float = Field(
        1.5, gt=1, description="a charge longer than this x its nominal time stops the run"
    )

    @model_validator(mode="after")
    def _window(self):
        if not self.discharge_cutoff < self.charge_cutoff:
            raise ValueError("discharge_cutoff must be below charge_cutoff")
        if self.cv_taper_current is not None and self.cv_taper_c_rate is not None:
            raise ValueError("give 'cv_taper_current' or 'cv_taper_c_rate', not both")
        if self.cv_discharge and self._taper() is None:
            raise ValueError("cv_discharge needs a taper: cv_taper_current or cv_taper_c_rate")
        return self

    def _taper(self) -> Spec | None:
        if self.cv_taper_current is not None:
            return {"taper_current": self.cv_taper_current}
        if self.cv_taper_c_rate is not None:
            return {"taper_c_rate": self.cv_taper_c_rate}
        return None

    def _half(self, rate: float, cutoff: float, guard: Spec, cv: bool) -> Spec:
        """One half cycle: CC to ``cutoff`` (a charge for rate > 0), or CC-CV with ``cv``.

        In a CC-CV the guard watches the CC phase (the one that must reach the cut-off); the
        CV phase, long at high rates, is capped at CV_CAP_NOMINALS x the nominal time and then
        moves on."""
        if cv:
            cap = {"time": (self.runaway_factor + CV_CAP_NOMINALS) * 3600.0 / abs(rate)}
            return {"type": "cccv", "c_rate": rate, "voltage": cutoff, **self._taper(),
                    "cc_end": [guard], "end": [cap]}  # fmt: skip
        crossing = "voltage_above" if rate > 0 else "voltage_below"
        return {"type": "galvanostatic", "c_rate": rate, "end": [{crossing: cutoff}, guard]}

    def _cycle(self, rate: float, meta: dict[str, Any], fade: float | None = None) -> list[Spec]:
        """Charge (CC or CC-CV) to the upper cut-off, rest, discharge to the lower one, rest.

        ``fade``: a CC discharge reaching the cut-off before it has passed this share of the
        capacity basis (at constant current: before ``fade`` x its nominal time) stops the run."""
        nominal = 3600.0 / rate
        guard = {"time": self.runaway_factor * nominal, "action": "stop",
                 "result": "runaway_charge"}  # fmt: skip
        charge = self._half(rate, self.charge_cutoff, guard, self._taper() is not None)
        charge["meta"] = {**meta, "phase": "charge", "c_rate": rate}
        discharge = self._half(-rate, self.discharge_cutoff,
                               {"time": self.runaway_factor * nominal}, self.cv_discharge)  # fmt: skip
        if fade is not None:
            faded = {"voltage_below": self.discharge_cutoff, "action": "stop",
                     "result": "capacity_fade"}  # fmt: skip
            discharge["end"][0]["after"] = fade * nominal
            discharge["end"].insert(1, faded)
        discharge["meta"] = {**meta, "phase": "discharge", "c_rate": rate}
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
    stop_on_fade: Fraction | None = Field(
        None,
        description="stop when a cycling discharge delivers less than this share of the "
        "capacity basis (sample.cathode ... or nominal_capacity), e.g. 80 %",
    )

    @model_validator(mode="after")
    def _fade_on_cc(self):
        if self.stop_on_fade is not None and self.cv_discharge:
            raise ValueError(
                "stop_on_fade judges a CC discharge to the cut-off: not with cv_discharge"
            )
        return self

    def expand(self, prefix: str) -> list[Spec]:
        meta = {"template": "galvanostatic_cycling"}
        steps: list[Spec] = []
        if self.formation_cycles:
            rate = self.formation_c_rate or self.c_rate
            body = self._cycle(rate, {**meta, "stage": "formation"})
            steps.append({"type": "loop", "count": self.formation_cycles, "steps": body,
                          "meta": {**meta, "stage": "formation"}})  # fmt: skip
        body = self._cycle(self.c_rate, {**meta, "stage": "cycling"}, self.stop_on_fade)
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
