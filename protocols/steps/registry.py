"""The step registry: every step type, found as one module of this package.

A step type module defines its pydantic model (``type: Literal["name"]``) and a module-level
``STEP = StepType(...)`` (:class:`protocols.steps.base.StepType`) naming the instrument role it commands, the end criteria it allows,
its executor (a generator of :mod:`protocols.steps.commands`) and any protocol-level check.
Everything else — the protocol schema, the compiler's checks, the engine, the duration and
charge estimate, ``validate``'s role and range checks — reads this registry, so adding a step
type is one new module (see docs/architecture.md, "Adding a step type").
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from protocols.steps.base import StepType

#: modules of this package that are not step types
_NOT_STEPS = {"base", "commands", "registry"}


def _discover() -> dict[str, StepType]:
    import protocols.steps as package

    found: dict[str, StepType] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name in _NOT_STEPS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        step = getattr(module, "STEP", None)
        if not isinstance(step, StepType):
            raise TypeError(f"{module.__name__} defines no STEP = StepType(...)")
        if step.name in found:
            raise TypeError(f"step type {step.name!r} is defined twice ({module.__name__})")
        found[step.name] = step
    return found


#: step type name -> its definition, in module-name order
STEP_TYPES: dict[str, StepType] = _discover()
#: the pydantic models of every primitive step (the protocol schema's members)
PRIMITIVE_STEPS = tuple(s.model for s in STEP_TYPES.values())


def step_type(name: str) -> StepType:
    """The definition of step type ``name``."""
    return STEP_TYPES[name]


def role_of(step: Any) -> str | None:
    """The instrument role a (primitive) step commands; None for waits, signals and gotos."""
    return STEP_TYPES[step.type].role
