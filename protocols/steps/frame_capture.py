"""``frame_capture``: start or stop frame capture from the imaging source."""

from __future__ import annotations

from typing import Literal

from protocols.steps.base import StepBase, StepContext, StepType
from protocols.steps.commands import Capture, Plan


class FrameCapture(StepBase):
    """Start (``enabled: true``) or stop frame capture from the imaging source."""

    type: Literal["frame_capture"]
    enabled: bool


def execute(step: FrameCapture, ctx: StepContext) -> Plan:
    yield Capture(step.enabled)


STEP = StepType(FrameCapture, "frame_source", execute)
