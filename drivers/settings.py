"""Station-file settings of one instrument: strict keys, quantities parsed with their units."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from daq.units import parse_quantity


class DriverSettings:
    """The ``settings`` mapping of one station instrument; unknown keys are refused."""

    def __init__(self, instrument: str, settings: dict[str, Any] | None, allowed: Iterable[str]):
        self.instrument = instrument
        self.raw = dict(settings or {})
        allowed = set(allowed)
        unknown = sorted(set(self.raw) - allowed)
        if unknown:
            raise ValueError(
                f"{instrument}: unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(allowed))}"
            )

    def quantity(self, key: str, kind: str, default: float | None) -> float:
        """``key`` parsed as a ``kind`` quantity ("5 MPa") in SI, or ``default`` when absent."""
        value = self.raw.get(key)
        if value is None:
            if default is None:
                raise ValueError(f"{self.instrument}: setting {key!r} is required ({kind})")
            return default
        return parse_quantity(value, kind, f"{self.instrument}.{key}")

    def number(self, key: str, default: float) -> float:
        """A dimensionless number (gains, counts)."""
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{self.instrument}.{key}: expected a number, got {value!r}")
        return float(value)

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)
