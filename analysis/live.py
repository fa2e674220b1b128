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


#: ``void_watch`` values a sample may give, as the stripping polarity the void watch covers.
VOID_WATCH = {"we": 1, "ce": -1, "both": 0}


def strip_sign_for(sample: dict[str, Any]) -> int:
    """Which stripping the void watch covers: +1 WE, -1 CE (Li of a Li|Cu cell), 0 both.

    On a Cu (anode-free) working electrode the end of stripping always diverges — the plated
    Li is used up — so that is no void and the Li counter electrode is watched. In Li|SE|Li only
    the WE's stripping halves are watched, so plating halves never raise a void alarm, unless
    the sample asks with ``void_watch: ce`` or ``both`` (or the caller passes ``strip_sign``).
    """
    watch = str(sample.get("void_watch", "")).strip().lower()
    if watch:
        if watch not in VOID_WATCH:
            raise ValueError(f"sample void_watch: {watch!r} is not one of {', '.join(VOID_WATCH)}")
        return VOID_WATCH[watch]
    text = f"{sample.get('electrodes', '')} {sample.get('cell', '')}".lower()
    tokens = re.split(r"[^a-z0-9]+", text)  # "Li|LLZO|Cu", "Li/LLZO/Cu", "Li-LLZO-Cu", ...
    return -1 if ("cu" in tokens or "anode" in tokens) else 1


def is_symmetric(sample: dict[str, Any]) -> bool:
    """True unless the sample names two different electrodes ("Li|LLZO|Cu", "host|PEO|Li").

    Only in a symmetric cell do both current directions have the same healthy |V|, so the void
    watch may take the previous half's plateau as a bound on this one's healthy part. An
    undescribed cell is taken for Li|SE|Li, as :func:`strip_sign_for` does.
    """
    text = str(sample.get("electrodes", ""))
    sep = r"[|/]" if re.search(r"[|/]", text) else "-"  # "Li|LLZO|Cu", "Li/LLZO/Cu", "Li-LLZO-Cu"
    parts = [p.strip().lower() for p in re.split(sep, text)]
    parts = [p for p in parts if p]
    return len(parts) < 2 or parts[0] == parts[-1]


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
            "symmetric": is_symmetric(sample),
            **guard,
            **(void or {}),
        }
    )
    short_det = ShortDetector(**{"rest_current": rest_current, **(short or {})})
    return void_det, short_det
