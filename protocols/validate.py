"""Check a protocol against a station without touching hardware; predict duration and charge.

Station ranges come from instrument settings in the station file, when present:
potentiostat ``max_current`` / ``max_voltage``, pressure rig ``max_pressure`` (and load-cell
``capacity`` over ``area``), bias holder ``max_bias``, thermal ``max_temperature``.
Every setpoint is also checked against the protocol's own safety limits (it would trip at once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from daq.units import UnitError, format_quantity, parse_quantity
from drivers.errors import sweep_refusal
from protocols.estimate import Estimate, dry_run, estimate, hms
from protocols.model import Protocol
from protocols.program import Instr, compile_protocol
from protocols.steps.registry import STEP_TYPES

#: station setting -> (role, quantity kind, what it bounds)
RANGE_SETTINGS = {
    "max_current": ("potentiostat", "current", "current"),
    "max_voltage": ("potentiostat", "voltage", "voltage"),
    "max_pressure": ("pressure_rig", "pressure", "pressure"),
    "max_bias": ("bias_holder", "voltage", "bias"),
    "max_temperature": ("thermal", "temperature", "temperature"),
}
_DISPLAY = {"current": ("current", "mA"), "voltage": ("voltage", "V"), "bias": ("voltage", "V"),
            "pressure": ("pressure", "MPa"), "temperature": ("temperature", "degC")}  # fmt: skip


@dataclass
class ValidationReport:
    """What ``ssbench validate`` prints: problems (empty = runnable) and the estimate."""

    estimate: Estimate
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        e = self.estimate
        bound = "at least " if e.open_ended or e.unbounded else "about " if e.estimated else ""
        out = [
            f"expected duration: {bound}{hms(e.duration)} (h:mm:ss) ({e.step_count} steps)",
            f"charge: plated {format_quantity(e.charge_plated, 'charge', 'mAh')}, "
            f"stripped {format_quantity(e.charge_stripped, 'charge', 'mAh')}",
        ]
        if e.unbounded:
            out.append("the protocol may never end (an unconditional goto loop)")
        if e.open_ended:
            shown = ", ".join(e.open_ended[:5]) + (" ..." if len(e.open_ended) > 5 else "")
            out.append(f"{len(e.open_ended)} step(s) end on measurements only: {shown}")
        if e.estimated:
            out.append(f"estimate: {len(e.estimated)} step(s) ending on a voltage cut-off or CV "
                       "taper are timed from the capacity basis (time = capacity x depth / "
                       "current; CV phases count zero), not measured")  # fmt: skip
        out += [f"problem: {p}" for p in self.problems]
        return out


def _station_parts(
    station: Any, problems: list[str], sweeps: dict[str, frozenset[str]]
) -> tuple[dict[str, str], dict[str, dict[str, float]]]:
    """(role -> instrument name, role -> parsed range settings) from a Station or StationConfig;
    ``sweeps`` gets role -> the sweep techniques its driver declares; unreadable range settings
    are reported in ``problems``."""
    config = getattr(station, "config", station)
    names: dict[str, str] = {}
    ranges: dict[str, dict[str, float]] = {}

    def read(name: str, key: str, kind: str, settings: dict[str, Any]) -> float | None:
        try:
            return parse_quantity(settings[key], kind, f"{name}.settings.{key}")
        except UnitError as exc:
            problems.append(f"station: {exc}")
            return None

    for name, inst in config.instruments.items():
        names[inst.role] = name
        found = ranges.setdefault(inst.role, {})
        sweeps[inst.role] = getattr(inst, "sweeps", frozenset())
        schema = getattr(inst, "settings_schema", {})  # the driver's ranges, from the station
        for key, (role, kind, what) in RANGE_SETTINGS.items():
            if role != inst.role:
                continue
            if key in inst.settings:
                value = read(name, key, kind, inst.settings)
            else:  # not set in the station file: the instrument's own range (driver schema)
                declared = schema.get(key)
                value = None if declared is None else _first(declared.default, declared.high)
            if value is not None:
                found[what] = value
        if inst.role == "pressure_rig" and {"capacity", "area"} <= set(inst.settings):
            force = read(name, "capacity", "force", inst.settings)
            area = read(name, "area", "area", inst.settings)
            if force is not None and area is not None:
                found["pressure"] = min(found.get("pressure", float("inf")), force / area)
    return names, ranges


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _setpoints(protocol: Protocol, ins: Instr) -> dict[tuple[str, float], None]:
    """(quantity name, |value|) pairs a step asks of its instrument, from its dry run."""
    return {(sp.what, abs(sp.value)): None for sp in dry_run(protocol, ins).setpoints}


def limit_bounds(protocol: Protocol) -> dict[str, float]:
    """Upper bounds on |setpoint| implied by the protocol's own safety limits."""
    lim = protocol.limits
    bounds: dict[str, float] = {}
    if lim.current is not None:
        bounds["current"] = lim.current
    if lim.current_density is not None and protocol.sample.area is not None:
        bounds["current"] = min(
            bounds.get("current", float("inf")), lim.current_density * protocol.sample.area
        )
    if lim.bias is not None:
        bounds["bias"] = lim.bias
    for name in ("pressure", "temperature"):
        rng = getattr(lim, name)
        if rng is not None and rng.max is not None:
            bounds[name] = rng.max
    return bounds


def _max_sampling_rate(station: Any) -> tuple[str, float] | None:
    """(potentiostat name, highest buffered sampling rate) when the station tells it: a 2450
    takes one reading per aperture, NPLC / line frequency (a connected instrument reports both;
    a station file gives NPLC only, so the faster 60 Hz mains is assumed)."""
    instruments = getattr(station, "instruments", {})
    for name, inst in instruments.items():
        if getattr(inst, "role", None) != "potentiostat":
            continue
        if hasattr(inst, "settings_snapshot"):  # an opened instrument
            snap = inst.settings_snapshot()
            if "nplc" in snap and "line_frequency" in snap:
                return name, float(snap["line_frequency"]) / float(snap["nplc"])
        elif getattr(inst, "driver", "") == "keithley2450":
            try:
                nplc = parse_quantity(inst.settings.get("nplc", 1.0), "dimensionless", "nplc")
            except UnitError:
                return None  # reported where the driver checks its settings
            return name, 60.0 / nplc
    return None


def show(what: str, value: float) -> str:
    """``value`` (SI) of the quantity ``what`` in the unit a bench user reads, e.g. "50 mA"."""
    kind, unit = _DISPLAY[what]
    return format_quantity(value, kind, unit)


def validate(protocol: Protocol, station: Any | None = None) -> ValidationReport:
    """Estimate and check ``protocol``; with ``station`` (Station or StationConfig) also roles and ranges."""
    programs = compile_protocol(protocol)
    report = ValidationReport(estimate(protocol))
    own = limit_bounds(protocol)
    sweeps: dict[str, frozenset[str]] = {}
    names, ranges = (
        _station_parts(station, report.problems, sweeps) if station is not None else ({}, {})
    )
    missing: set[str] = set()
    fastest = _max_sampling_rate(station) if station is not None else None
    if fastest is not None and protocol.sampling.rate > fastest[1] * (1 + 1e-9):
        report.problems.append(f"sampling.rate {protocol.sampling.rate:g} Hz is beyond what "
                               f"{fastest[0]!r} can sample ({fastest[1]:g} Hz)")  # fmt: skip
    for program in programs.values():
        for ins in program.steps():
            role = STEP_TYPES[ins.step.type].role
            if (
                station is not None
                and role is not None
                and role not in names
                and role not in missing
            ):
                missing.add(role)
                report.problems.append(f"{ins.name}: needs a {role}, and the station has none")
            technique = STEP_TYPES[ins.step.type].technique
            needed = technique(ins.step) if technique is not None else None
            if needed is not None and role in names and needed not in sweeps.get(role, ()):
                why = sweep_refusal(needed, sweeps.get(role, frozenset()))
                report.problems.append(f"{ins.name}: the {role} {names[role]!r} {why}")
            for what, value in _setpoints(protocol, ins):
                if what in own and value > own[what] * (1 + 1e-9):
                    report.problems.append(f"{ins.name}: {what} {show(what, value)} is beyond the protocol's "
                                           f"safety limit {show(what, own[what])} (would trip at once)")  # fmt: skip
                bound = ranges.get(role or "", {}).get(what)
                if bound is not None and value > bound * (1 + 1e-9):
                    report.problems.append(f"{ins.name}: {what} {show(what, value)} is beyond the "
                                           f"{names[role]!r} range {show(what, bound)}")  # fmt: skip
    return report
