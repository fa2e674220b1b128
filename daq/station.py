"""The station: which instrument is where, read from a YAML file and opened as role drivers.

A station file names instruments; each has a driver (see ``ssbench drivers``), a resource (a
VISA resource string, a serial port, ``socket://host:port``, a dict of those for composite
instruments, or ``sim://`` for the simulated twin) and driver settings::

    name: bench2
    simulation: {preset: llzo, seed: 1}      # used only by sim:// instruments
    instruments:
      cell:
        driver: keithley2450
        resource: TCPIP0::192.168.1.20::5025::SOCKET
        settings: {max_current: 10 mA, voltage_limit: 5 V}
      press:
        driver: loadcell_actuator_rig
        resource: {loadcell: /dev/ttyUSB0, actuator: /dev/ttyUSB1}
        settings: {area: 1 cm2, max_force: 2 kN}
"""

from __future__ import annotations

import logging
import os
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from daq.clock import Clock, RealClock, VirtualClock
from daq.units import Quantity
from daq.yamlconfig import ConfigError, Key, line_of, load_yaml, parse_yaml, shown, validate
from drivers import registry
from drivers.roles import (
    BiasHolder,
    FrameSource,
    Instrument,
    Potentiostat,
    PressureRig,
    Role,
    ThermalController,
)
from drivers.settings import check_settings

log = logging.getLogger(__name__)
_LOOKS_LIKE_QUANTITY = re.compile(r"^\s*[-+]?(\d|\.\d)")
SIM_SCHEME = "sim://"


def _quantity_parses(value: Any) -> Any:
    """A value written as a number with a unit must parse ("5 MPaa" is caught here)."""
    if isinstance(value, str) and _LOOKS_LIKE_QUANTITY.match(value):
        try:
            Quantity(value)
        except Exception:  # noqa: BLE001 - pint raises many types on bad text
            raise ValueError(f"cannot parse {value!r} as a quantity") from None
    return value


SettingValue = Annotated[Any, AfterValidator(_quantity_parses)]


class InstrumentConfig(BaseModel):
    """One instrument of a station file."""

    model_config = ConfigDict(extra="forbid")

    driver: str
    resource: str | dict[str, str]
    settings: dict[str, SettingValue] = Field(default_factory=dict)

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, name: str) -> str:
        try:
            registry.lookup(name)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        return name

    @property
    def role(self) -> Role:
        return registry.lookup(self.driver).role

    @property
    def settings_schema(self) -> dict[str, Any]:
        """The driver's declared settings (instrument ranges and defaults); {} if it has none."""
        return dict(registry.lookup(self.driver).settings_schema() or {})

    @property
    def sweeps(self) -> frozenset[str]:
        """The sweep techniques (EIS, LSV, CV) the driver declares; empty for DC-only ones."""
        return registry.lookup(self.driver).sweep_techniques()

    @property
    def simulated(self) -> bool:
        resources = self.resource.values() if isinstance(self.resource, dict) else [self.resource]
        return any(r.startswith(SIM_SCHEME) for r in resources)


class StationConfig(BaseModel):
    """A whole station file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    instruments: dict[str, InstrumentConfig]
    simulation: dict[str, Any] = Field(default_factory=dict)
    _source: str = PrivateAttr(default="<station>")
    _lines: dict[Key, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _one_per_role(self) -> StationConfig:
        if not self.instruments:
            raise ValueError("a station needs at least one instrument")
        seen: dict[str, str] = {}
        for name, inst in self.instruments.items():
            if inst.role in seen:
                raise ValueError(
                    f"instruments {seen[inst.role]!r} and {name!r} both have role {inst.role!r}; "
                    "one instrument per role"
                )
            seen[inst.role] = name
        return self

    @property
    def simulated(self) -> bool:
        return any(inst.simulated for inst in self.instruments.values())

    @property
    def source(self) -> str:
        return self._source

    def locate(self, loc: Key, message: str, value: Any = None) -> str:
        """``file:line: field.path: message (got value)``, like every station-file error."""
        line = line_of(self._lines, loc)
        where = f"{self._source}:{line}" if line else self._source
        got = "" if value is None or isinstance(value, dict | list) else f" (got {shown(value)})"
        return f"{where}: {'.'.join(map(str, loc))}: {message}{got}"

    def problems(self) -> list[str]:
        """What the structure allows but the drivers and the simulated lab would refuse."""
        from sim_instruments.lab import simulation_problems

        out: list[str] = []
        for name, inst in self.instruments.items():
            out += _instrument_problems(self, name, inst)
        for key, message, value in simulation_problems(self.simulation):
            path = tuple(int(p) if p.isdigit() else p for p in key.split("."))
            out.append(self.locate(("simulation", *path), message, value))
        return out

    def check(self) -> None:
        """Raise ConfigError listing every problem (settings, twins, simulation section)."""
        problems = self.problems()
        if problems:
            raise ConfigError(problems)


def _instrument_problems(config: StationConfig, name: str, inst: InstrumentConfig) -> list[str]:
    """Settings against the driver's schema, and ``sim://<kind>`` against the driver's twin."""
    spec = registry.lookup(inst.driver)
    where: Key = ("instruments", name)
    out: list[str] = []
    parts = inst.resource.items() if isinstance(inst.resource, dict) else [(None, inst.resource)]
    for part, resource in parts:
        if not resource.startswith(SIM_SCHEME):
            continue
        loc = (*where, "resource", part) if part else (*where, "resource")
        kind = resource.removeprefix(SIM_SCHEME)
        if spec.sim_kind is None:
            out.append(
                config.locate(loc, f"driver {inst.driver!r} has no simulated twin", resource)
            )
        elif kind not in ("", spec.sim_kind):
            message = f"no simulated twin {kind!r} for driver {inst.driver!r}; use 'sim://{spec.sim_kind}'"  # fmt: skip
            out.append(config.locate(loc, message, resource))
    schema = spec.settings_schema()
    if schema is not None:
        for path, message, value in check_settings(schema, inst.settings):
            out.append(config.locate((*where, "settings", *path), message, value))
    return out


def load_station_config(path: str | os.PathLike[str]) -> StationConfig:
    """Read and validate a station file; errors name file, line, field and value."""
    data, lines = load_yaml(path)
    return _checked(validate(StationConfig, data, str(path), lines), str(path), lines)


def parse_station_config(text: str, source: str = "<station>") -> StationConfig:
    """Validate station YAML given as text (GUI editor, tests)."""
    data, lines = parse_yaml(text, source)
    return _checked(validate(StationConfig, data, source, lines), source, lines)


def _checked(config: StationConfig, source: str, lines: dict[Key, int]) -> StationConfig:
    """Remember where the config came from (for open-time errors), then check it fully."""
    config._source = source
    config._lines = lines
    config.check()
    return config


def _open_instrument(config: StationConfig, name: str, simulate: bool, lab, clock: Clock):
    """Open one instrument (its twin when simulated); a driver ValueError becomes located."""
    inst = config.instruments[name]
    spec = registry.lookup(inst.driver)
    resource = inst.resource
    if simulate or inst.simulated:
        if spec.sim_kind is None:
            message = f"driver {inst.driver!r} has no simulated twin"
            raise ConfigError([config.locate(("instruments", name), message)])
        resource = lab.serve(spec.sim_kind, name, inst.settings)
    try:
        return registry.open_driver(inst.driver, name, resource, inst.settings, clock)
    except ValueError as exc:  # bad settings: a config problem, not a bug
        raise ConfigError([config.locate(("instruments", name), str(exc))]) from None


class Station:
    """Opened instruments by role, the run clock and (for simulated twins) the simulated lab."""

    def __init__(
        self, config: StationConfig, clock: Clock, instruments: dict[str, Instrument], lab=None
    ):
        self.config = config
        self.clock = clock
        self.instruments = instruments
        self.lab = lab

    @classmethod
    def open(
        cls,
        config: StationConfig,
        *,
        simulate: bool = False,
        clock: Clock | None = None,
        failures: dict[str, Exception] | None = None,
    ) -> Station:
        """Open every instrument. ``simulate`` replaces each resource by its simulated twin.

        The config is checked first (nothing is touched if it has problems); a driver's
        ValueError at open is a config problem too and comes out located in the station file.
        Given a ``failures`` dict (station check), an instrument that cannot be opened is
        recorded there by name and the others are still opened.
        """
        config.check()
        use_sim = simulate or config.simulated
        if clock is None:
            clock = (
                VirtualClock(acceleration=config.simulation.get("acceleration"))
                if use_sim
                else RealClock()
            )
        lab = None
        if use_sim:
            from sim_instruments.lab import SimLab

            try:
                lab = SimLab(clock, config.simulation)
            except ValueError as exc:
                raise ConfigError([config.locate(("simulation",), str(exc))]) from None
        opened: dict[str, Instrument] = {}
        try:
            for name in config.instruments:
                try:
                    opened[name] = _open_instrument(config, name, simulate, lab, clock)
                except Exception as exc:
                    if failures is None:
                        raise
                    failures[name] = exc
        except BaseException:
            for instrument in opened.values():
                instrument.close()
            if lab is not None:
                lab.close()
            raise
        return cls(config, clock, opened, lab)

    def by_role(self, role: Role) -> Instrument | None:
        for instrument in self.instruments.values():
            if instrument.role == role:
                return instrument
        return None

    @property
    def potentiostat(self) -> Potentiostat | None:
        return self.by_role("potentiostat")  # type: ignore[return-value]

    @property
    def pressure_rig(self) -> PressureRig | None:
        return self.by_role("pressure_rig")  # type: ignore[return-value]

    @property
    def bias_holder(self) -> BiasHolder | None:
        return self.by_role("bias_holder")  # type: ignore[return-value]

    @property
    def frame_source(self) -> FrameSource | None:
        return self.by_role("frame_source")  # type: ignore[return-value]

    @property
    def thermal(self) -> ThermalController | None:
        return self.by_role("thermal")  # type: ignore[return-value]

    def snapshot(self) -> dict[str, Any]:
        """Identity, driver, resource and settings of every instrument (for the run file)."""
        out: dict[str, Any] = {}
        for name, instrument in self.instruments.items():
            cfg = self.config.instruments[name]
            out[name] = {
                "driver": cfg.driver,
                "role": cfg.role,
                "resource": cfg.resource,
                "identity": instrument.identity(),
                "settings": instrument.settings_snapshot(),
            }
        return out

    def safe_state(self) -> list[str]:
        """Put every instrument in its safe state; return the failures (never raises)."""
        failures = []
        for name, instrument in self.instruments.items():
            try:
                instrument.safe_state()
            except Exception as exc:  # noqa: BLE001 - every instrument must get its chance
                log.error("safe state failed on %s: %s", name, exc)
                failures.append(f"{name}: {exc}")
        return failures

    def close(self) -> None:
        for instrument in self.instruments.values():
            try:
                instrument.close()
            except Exception as exc:  # noqa: BLE001 - close the rest regardless
                log.warning("closing %s failed: %s", instrument.name, exc)
        if self.lab is not None:
            self.lab.close()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
