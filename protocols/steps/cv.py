"""``cv``: cyclic voltammetry start -> vertex1 -> vertex2 -> start, ``scans`` times.

Recorded in the ``electro`` stream as a time series (V applied, I measured); a ``sweep`` event
carries the scan parameters. Used for the electrolyte's stability window (Li|SE|stainless).
It ends after its ``scans``, or earlier on an ``end`` condition (as ``lsv``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from protocols.quantities import Voltage
from protocols.steps.base import StepType
from protocols.steps.lsv import RENAMED, SWEEP_CRITERIA, Sweeping, duration_check, execute


class Cv(Sweeping):
    """Cyclic voltammetry (see the module docstring)."""

    type: Literal["cv"]
    start: Voltage
    vertex1: Voltage
    vertex2: Voltage
    scans: int = Field(1, ge=1, le=100)


STEP = StepType(Cv, "potentiostat", execute, SWEEP_CRITERIA, check=duration_check,
                technique=lambda step: "cv", renamed=RENAMED)  # fmt: skip
