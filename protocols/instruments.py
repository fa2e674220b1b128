"""The station's instruments as the engine reaches them: typed role objects, errors named.

No retries here: the transports retry what is idempotent (drivers/transport.py), and nothing
else is ever re-sent. An instrument error that reaches this layer is a :class:`Fault`.
"""

from __future__ import annotations

from typing import Any

from drivers.errors import InstrumentError, sweep_refusal
from drivers.roles import BiasHolder, FrameSource, Potentiostat, PressureRig, ThermalController


class Fault(Exception):
    """An instrument (``role``) failed after the transport's retries, or a critical listener
    (the run file; ``role`` empty) did: the run ends ``failed`` with this reason."""

    def __init__(self, message: str, role: str = "") -> None:
        super().__init__(message)
        self.role = role


class _Reported:
    """An instrument whose errors name the role and the action: "potentiostat fetch: cell: …"."""

    def __init__(self, role: str, instrument: Any) -> None:
        self._role, self._instrument = role, instrument

    def _fault(self, name: str, exc: InstrumentError) -> Fault:
        return Fault(f"{self._role} {name}: {exc}", self._role)

    def __getattr__(self, name: str) -> Any:
        try:
            attr = getattr(self._instrument, name)  # a property (``settled``) reads the wire
        except InstrumentError as exc:
            raise self._fault(name, exc) from exc
        if not callable(attr):
            return attr

        def call(*args: Any) -> Any:
            try:
                return attr(*args)
            except InstrumentError as exc:
                raise self._fault(name, exc) from exc

        return call


class Roles:
    """The station's instruments as their typed role interfaces (drivers.roles). Asking for a
    role the station lacks, or an instrument error, is a :class:`Fault` naming the role."""

    def __init__(self, station: Any) -> None:
        self._station = station
        self._reported: dict[str, _Reported] = {}

    def has(self, role: str) -> bool:
        return self.instrument(role) is not None

    def instrument(self, role: str) -> Any:
        """The driver itself (None when the station has no ``role``)."""
        return getattr(self._station, role, None)

    def _need(self, role: str) -> Any:
        if role not in self._reported:
            instrument = self.instrument(role)
            if instrument is None:
                raise Fault(f"the protocol needs a {role} and the station has none", role)
            self._reported[role] = _Reported(role, instrument)
        return self._reported[role]

    @property
    def potentiostat(self) -> Potentiostat:
        return self._need("potentiostat")

    def sweeping(self, technique: str) -> Potentiostat:
        """The potentiostat, checked to declare ``technique`` (drivers.roles.SWEEP_TECHNIQUES)
        before anything is sent: one that does not (an SMU) is a :class:`Fault` saying so."""
        potentiostat = self.potentiostat
        instrument = self.instrument("potentiostat")
        if not instrument.can_sweep(technique):
            why = sweep_refusal(technique, instrument.sweeps)
            raise Fault(f"the potentiostat {instrument.name!r} {why}", "potentiostat")
        return potentiostat

    @property
    def pressure_rig(self) -> PressureRig:
        return self._need("pressure_rig")

    @property
    def bias_holder(self) -> BiasHolder:
        return self._need("bias_holder")

    @property
    def thermal(self) -> ThermalController:
        return self._need("thermal")

    @property
    def frame_source(self) -> FrameSource:
        return self._need("frame_source")
