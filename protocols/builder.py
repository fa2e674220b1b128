"""Python builder mirroring the YAML form: the same step types, fields and unit strings.

    from protocols.builder import ProtocolBuilder, end
    b = ProtocolBuilder("ccd", sample={"area": "1 cm2"}, limits={"voltage": {"max": "1 V"}})
    cell = b.track("echem")
    cell.rest(end=[end.time("10 min")])
    with cell.loop(5) as cycle:
        cycle.galvanostatic(current_density="0.1 mA/cm2", end=[end.capacity("0.1 mAh/cm2")])
        cycle.galvanostatic(current_density="-0.1 mA/cm2", end=[end.capacity("0.1 mAh/cm2")])
    cell.ccd_ramp(start="0.1 mA/cm2", increment="0.1 mA/cm2", maximum="2 mA/cm2",
                  half_cycle_time="30 min", polarization_limit="1 V")
    protocol = b.build()

Each step method takes exactly the YAML keys; values may be unit strings or pint quantities.
``build()`` runs the same validation as a YAML file, so errors read the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pint
import yaml

from protocols.model import STEP_CLASSES, Protocol
from protocols.steps.base import CRITERIA


def _plain(value: Any) -> Any:
    """YAML-safe copy: pint quantities become their text form."""
    if isinstance(value, pint.Quantity):
        return f"{value:~P}".replace("²", "2").replace("³", "3")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class StepList:
    """A list of steps being built; ``.<step_type>(**fields)`` appends a step of that type."""

    def __init__(self) -> None:
        self.specs: list[dict[str, Any]] = []

    def add(self, type: str, **fields: Any) -> StepList:
        """Append a step of ``type`` with YAML ``fields``; returns self for chaining."""
        if type not in STEP_CLASSES:
            raise AttributeError(f"unknown step type {type!r}; known: {', '.join(STEP_CLASSES)}")
        self.specs.append({"type": type, **fields})
        return self

    def __getattr__(self, name: str):
        if name.startswith("_") or name not in STEP_CLASSES:
            raise AttributeError(f"unknown step type {name!r}; known: {', '.join(STEP_CLASSES)}")
        return lambda **fields: self.add(name, **fields)

    @contextmanager
    def loop(self, count: int, **fields: Any) -> Iterator[StepList]:
        """``with steps.loop(n) as body:`` — steps added to ``body`` repeat ``n`` times."""
        body = StepList()
        yield body
        self.specs.append({"type": "loop", "count": count, "steps": body.specs, **fields})


class _End:
    """``end.time("30 min")``, ``end.voltage_above("1 V", action="stop")``, ``end.event("short")``."""

    def __getattr__(self, criterion: str):
        if criterion not in CRITERIA:
            raise AttributeError(
                f"unknown end criterion {criterion!r}; known: {', '.join(CRITERIA)}"
            )
        return lambda value, **options: {criterion: value, **options}


end = _End()


class ProtocolBuilder:
    """Collects protocol sections and tracks, then validates like a YAML file."""

    def __init__(self, name: str, **sections: Any) -> None:
        self.sections: dict[str, Any] = {"name": name, **sections}
        self.tracks: dict[str, StepList] = {}

    def track(self, name: str = "main") -> StepList:
        """The step list of track ``name`` (created on first use)."""
        return self.tracks.setdefault(name, StepList())

    def to_data(self) -> dict[str, Any]:
        """The protocol as YAML-shaped data (``steps`` for a lone ``main`` track)."""
        data = _plain(self.sections)
        if list(self.tracks) == ["main"]:
            data["steps"] = _plain(self.tracks["main"].specs)
        else:
            data["tracks"] = {n: _plain(t.specs) for n, t in self.tracks.items()}
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_data(), sort_keys=False, allow_unicode=True)

    def build(self) -> Protocol:
        """Validate and compile-check; raises ProtocolError exactly as a YAML file would."""
        from protocols.loader import load_protocol_text

        text = self.to_yaml()
        return load_protocol_text(text, f"<builder {self.sections['name']}>")
