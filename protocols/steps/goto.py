"""``goto``: a control instruction the compiler turns into a jump (no executor)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from protocols.steps.base import StepBase, StepType


class Goto(StepBase):
    """Jump to ``target``; with ``times`` it jumps that many times, then falls through."""

    type: Literal["goto"]
    target: str
    times: int | None = Field(None, ge=1)


STEP = StepType(Goto, None, None)
