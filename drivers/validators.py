"""Strict setpoint validation, declared next to the command that sets the value.

In the spirit of PyMeasure's ``Instrument.control`` + validators, but strict: a value outside
the allowed set raises :class:`~drivers.errors.SetpointError` naming instrument, parameter,
value and allowed range, and nothing is sent. Values are never clamped or rounded.

``Control`` is a descriptor for drivers whose owner exposes ``name`` (the station name),
``transport`` (a :class:`drivers.transport.Transport`) and optionally
``after_safety_write(command)`` (error queue). Run limits are not here: the engine's safety
supervisor enforces them, in one layer.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from drivers.errors import SetpointError


class Validator(ABC):
    """Checks one value; returns it unchanged or raises SetpointError."""

    @abstractmethod
    def __call__(self, instrument: str, parameter: str, value: Any) -> Any:
        """``value`` itself if allowed; SetpointError otherwise."""

    @abstractmethod
    def describe(self) -> str:
        """The allowed set in words, as shown in errors."""


def _number(instrument: str, parameter: str, value: Any, allowed: str) -> float:
    """``value`` as a finite float, refusing bools, text and NaN/inf."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SetpointError(instrument, parameter, value, f"{allowed} (a number)")
    if not math.isfinite(value):
        raise SetpointError(instrument, parameter, value, f"{allowed} (a finite number)")
    return float(value)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


class InRange(Validator):
    """Closed interval ``[low, high]`` in ``unit``; ``source`` says whose range it is."""

    def __init__(self, low: float, high: float, unit: str = "", source: str = "") -> None:
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise ValueError(f"invalid range [{low}, {high}]")
        self.low = float(low)
        self.high = float(high)
        self.unit = unit
        self.source = source

    def __call__(self, instrument: str, parameter: str, value: Any) -> float:
        x = _number(instrument, parameter, value, self.describe())
        if not self.low <= x <= self.high:
            raise SetpointError(instrument, parameter, value, self.describe())
        return x

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        source = f" ({self.source})" if self.source else ""
        return f"range [{_fmt(self.low)}, {_fmt(self.high)}]{unit}{source}"


class Symmetric(InRange):
    """``[-limit, +limit]``: bipolar instrument ranges and magnitude limits."""

    def __init__(self, limit: float, unit: str = "", source: str = "") -> None:
        if limit < 0:
            raise ValueError(f"symmetric limit must be >= 0, got {limit}")
        super().__init__(-limit, limit, unit, source)


class Integer(InRange):
    """Whole numbers within ``[low, high]`` (counts, buffer sizes); 3.0 is refused, not rounded."""

    def __call__(self, instrument: str, parameter: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SetpointError(instrument, parameter, value, f"integer {self.describe()}")
        super().__call__(instrument, parameter, value)
        return value

    def describe(self) -> str:
        return "integer " + super().describe()


class OneOf(Validator):
    """One of ``choices``; strings compare case-insensitively and the canonical form is returned."""

    def __init__(self, choices: Iterable[Any], source: str = "") -> None:
        self.choices = tuple(choices)
        if not self.choices:
            raise ValueError("OneOf needs at least one choice")
        self.source = source

    def __call__(self, instrument: str, parameter: str, value: Any) -> Any:
        for choice in self.choices:
            if isinstance(choice, str) and isinstance(value, str):
                if choice.casefold() == value.casefold():
                    return choice
            elif (type(choice) is type(value) or _both_numbers(choice, value)) and choice == value:
                return choice
        raise SetpointError(instrument, parameter, value, self.describe())

    def describe(self) -> str:
        source = f" ({self.source})" if self.source else ""
        return "one of {" + ", ".join(map(str, self.choices)) + "}" + source


def _both_numbers(a: Any, b: Any) -> bool:
    return all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))


class AllOf(Validator):
    """Every validator must accept (instrument range AND station limit AND run limit ...)."""

    def __init__(self, *validators: Validator) -> None:
        self.validators = validators

    def __call__(self, instrument: str, parameter: str, value: Any) -> Any:
        for validator in self.validators:
            value = validator(instrument, parameter, value)
        return value

    def describe(self) -> str:
        return " and ".join(v.describe() for v in self.validators)


def check(instrument: str, parameter: str, value: Any, *validators: Validator) -> Any:
    """Validate ``value`` against every validator; the first that refuses raises."""
    return AllOf(*validators)(instrument, parameter, value)


class Control:
    """Declarative validated setting: ``get_cmd`` reads it, ``set_cmd`` writes it.

    ``set_cmd`` is a format string receiving the validated value (``"SOUR:CURR {:.9g}"``);
    ``validator`` is a Validator or a callable ``owner -> Validator`` for ranges that depend on
    the station settings. ``safety`` writes are followed by ``owner.after_safety_write(cmd)``.
    """

    def __init__(
        self,
        get_cmd: str | None,
        set_cmd: str | None,
        doc: str,
        validator: Validator | Callable[[Any], Validator] | None = None,
        parse: Callable[[str], Any] = float,
        format_value: Callable[[Any], Any] = lambda v: v,
        safety: bool = False,
    ) -> None:
        self.get_cmd = get_cmd
        self.set_cmd = set_cmd
        self.validator = validator
        self.parse = parse
        self.format_value = format_value
        self.safety = safety
        self.__doc__ = doc
        self.name = "?"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def validators_for(self, obj: Any) -> Sequence[Validator]:
        """The instrument validator of this parameter (bound to ``obj`` when it is a factory)."""
        found: list[Validator] = []
        if isinstance(self.validator, Validator):
            found.append(self.validator)
        elif self.validator is not None:
            found.append(self.validator(obj))
        return found

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if self.get_cmd is None:
            raise AttributeError(f"{self.name} is write-only")
        return obj.transport.query(self.get_cmd, self.parse)

    def __set__(self, obj: Any, value: Any) -> None:
        if self.set_cmd is None:
            raise AttributeError(f"{self.name} is read-only")
        value = check(obj.name, self.name, value, *self.validators_for(obj))
        command = self.set_cmd.format(self.format_value(value))
        obj.transport.write(command, idempotent=True)
        if self.safety:
            obj.after_safety_write(command)
