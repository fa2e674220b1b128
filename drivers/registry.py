"""Driver registry: station files name drivers; built-ins and plug-ins register here.

A plug-in package exposes ``DriverSpec`` objects through the entry-point group
``ssbench.drivers`` (``name = "pkg.module:SPEC"``); they are then usable by name in station files.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from drivers.roles import Instrument, Role

if TYPE_CHECKING:
    from drivers.settings import Setting

ENTRY_POINT_GROUP = "ssbench.drivers"

#: factory(name, resource, settings, clock) -> Instrument
DriverFactory = Callable[..., Instrument]


@dataclass(frozen=True)
class DriverSpec:
    """How to open one driver: its station-file name, role, factory and simulated twin.

    ``factory`` is a "module:attribute" path so listing drivers imports nothing heavy.
    ``sim_kind`` names the emulator in ``sim_instruments`` that impersonates it, if any.
    ``settings`` is a "module:attribute" path to the driver's settings schema
    (``dict[str, drivers.settings.Setting]``), used to check station files before any open.
    ``sweeps`` is a "module:attribute" path to the frozenset of sweep techniques the driver's
    potentiostat runs (its class's ``sweeps``; drivers.roles.SWEEP_TECHNIQUES), so ``validate``
    refuses an EIS on an SMU before the run.
    """

    name: str
    role: Role
    factory: str
    description: str = ""
    sim_kind: str | None = None
    settings: str | None = None
    sweeps: str | None = None

    def load(self) -> DriverFactory:
        return _resolve(self.factory)

    def settings_schema(self) -> Mapping[str, Setting] | None:
        """The declared settings schema, or None when the driver declares none (plug-ins)."""
        return None if self.settings is None else _resolve(self.settings)

    def sweep_techniques(self) -> frozenset[str]:
        """The sweep techniques the driver declares (empty: none, or not declared)."""
        return frozenset() if self.sweeps is None else frozenset(_resolve(self.sweeps))


def _resolve(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


_BUILTIN: dict[str, DriverSpec] = {}


def register(spec: DriverSpec) -> DriverSpec:
    """Register a built-in driver (called at import of ``drivers.builtin``)."""
    _BUILTIN[spec.name] = spec
    return spec


def available() -> dict[str, DriverSpec]:
    """Every driver usable from a station file: built-ins plus entry-point plug-ins."""
    importlib.import_module("drivers.builtin")
    found = dict(_BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = ep.load()
        if isinstance(spec, DriverSpec):
            found.setdefault(spec.name, spec)
    return found


def lookup(name: str) -> DriverSpec:
    """The spec for ``name``; KeyError with the list of known names otherwise."""
    known = available()
    if name not in known:
        raise KeyError(f"unknown driver {name!r}; known drivers: {', '.join(sorted(known))}")
    return known[name]


def open_driver(name: str, instrument: str, resource: str, settings: dict[str, Any], clock):
    """Open driver ``name`` for station instrument ``instrument`` on ``resource``."""
    return lookup(name).load()(name=instrument, resource=resource, settings=settings, clock=clock)
