"""Detector set-up from the sample description, shared by the protocol engine and re-analysis.

The engine (live end conditions) and ``analyze_run`` (offline) build their detectors here, so
both use the same code *and* the same settings for a given cell.
"""

from __future__ import annotations

import re
from typing import Any

from analysis.detect import ShortDetector, VoidOnsetDetector

#: Electrolytes that grow an interphase against Li (physics-ees.md §3 item 3).
REACTIVE_ELECTROLYTES = ("latp", "lagp", "latgp", "llto", "lgps", "nasicon")


def strip_sign_for(sample: dict[str, Any]) -> int:
    """Which stripping the void watch covers: only the Li counter electrode in Li|Cu cells.

    On a Cu (anode-free) working electrode the end of stripping always diverges — the plated
    Li is used up — so that is no void; symmetric cells are watched in both directions.
    """
    text = f"{sample.get('electrodes', '')} {sample.get('cell', '')}".lower()
    tokens = re.split(r"[^a-z0-9]+", text)  # "Li|LLZO|Cu", "Li/LLZO/Cu", "Li-LLZO-Cu", ...
    return -1 if ("cu" in tokens or "anode" in tokens) else 0


def is_reactive(sample: dict[str, Any]) -> bool:
    """True when the electrolyte keeps growing an interphase with Li.

    For those, a |V| rise no faster than parabolic (n = 0.5) interphase growth since the start
    of the run is not called a void.
    """
    text = str(sample.get("electrolyte", "")).lower()
    return any(name in text for name in REACTIVE_ELECTROLYTES)


def detectors_for(
    sample: dict[str, Any],
    *,
    rest_current: float = 1e-9,
    strip_sign: int | None = None,
    void: dict[str, float] | None = None,
    short: dict[str, float] | None = None,
) -> tuple[VoidOnsetDetector, ShortDetector]:
    """A fresh void-onset and short detector pair for a cell described by ``sample``.

    ``sample`` is the run's sample metadata (area_m2, electrodes, electrolyte, ...);
    ``void``/``short`` override detector parameters.
    """
    sign = strip_sign_for(sample) if strip_sign is None else strip_sign
    guard = {"interphase_n": 0.5} if is_reactive(sample) else {}
    area = sample.get("area_m2")
    void_det = VoidOnsetDetector(
        **{
            "rest_current": rest_current,
            "area_m2": area,
            "strip_sign": sign,
            **guard,
            **(void or {}),
        }
    )
    short_det = ShortDetector(**{"rest_current": rest_current, **(short or {})})
    return void_det, short_det
