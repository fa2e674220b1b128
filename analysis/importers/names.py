"""Column headers: split ``Current(A)`` / ``I/mA`` / ``Test Time / s`` into name and unit, and
tell what a column means (current, charge, voltage, …) so suggestions are ranked by meaning.

Cyclers write the unit in the header in several ways (``Voltage(V)``, ``Voltage (V)``,
``Ewe/V``, ``Amp-hr``, ``Test (Sec)``) or leave it out (``Current``, ``Volts``): one split
handles them all, so a column map names a quantity once and any variant of the header fits.
"""

from __future__ import annotations

import difflib
import re
from functools import cache

_PAREN = re.compile(r"^(?P<base>.*?)\s*[(\[](?P<unit>[^()\[\]]*)[)\]]\s*$")
_SLASH = re.compile(r"^(?P<base>.+?)\s*/\s*(?P<unit>[^/]+?)\s*$")

#: Vendor unit spellings -> pint.
_UNIT_ALIASES = {
    "sec": "s", "secs": "s", "ohm": "ohm", "ohms": "ohm", "o": "ohm", "mohm": "mohm",
    "a.h": "A*h", "ah": "A*h", "mah": "mA*h", "ma.h": "mA*h", "uah": "uA*h", "µa.h": "uA*h",
    "wh": "W*h", "w.h": "W*h", "mwh": "mW*h", "mw.h": "mW*h", "degc": "degC", "°c": "degC",
    "1": "dimensionless", "%": "percent", "hr": "h",
}  # fmt: skip


def split_header(header: str) -> tuple[str, str | None]:
    """``'Current(A)'`` -> ``('Current', 'A')``; ``'Ewe/V'`` -> ``('Ewe', 'V')``; no unit -> None."""
    text = str(header).strip()
    for pattern in (_PAREN, _SLASH):
        m = pattern.match(text)
        if m and m["base"].strip() and m["unit"].strip():
            return m["base"].strip(), m["unit"].strip()
    return text, None


def norm(name: str) -> str:
    """Comparison key of a header or name: lower case, '_' as space, runs of blanks as one."""
    return re.sub(r"[\s_]+", " ", str(name)).strip().lower()


def pint_unit(unit: str) -> str:
    """A vendor's unit text as pint reads it (``mA.h`` -> ``mA*h``, ``Sec`` -> ``s``)."""
    u = unit.strip().replace("µ", "u").replace("μ", "u")
    return _UNIT_ALIASES.get(u.lower(), u)


#: Meaning -> (name words, pint reference unit whose dimension identifies it).
MEANINGS: dict[str, tuple[tuple[str, ...], str]] = {
    "current": (("current", "curr", "amps", "amp", "ampere", "amperes", "i", "<i>"), "A"),
    "voltage": (("voltage", "volts", "volt", "potential", "ewe", "ecell", "<ewe>", "e", "u"), "V"),
    "time": (("time", "test", "seconds", "t", "sec", "elapsed"), "s"),
    "charge": (("capacity", "amp-hr", "ah", "q", "charge", "cap"), "C"),
    "energy": (("energy", "watt-hr", "wh"), "J"),
    "resistance": (("resistance", "imp", "acimp", "dcir", "ohms", "impedance", "r"), "ohm"),
    "power": (("power", "watts", "p"), "W"),
    "temperature": (("temperature", "temp", "t1", "aux temperature"), "K"),
}


@cache
def _dimension(unit: str) -> str | None:
    from daq.units import ureg

    try:
        return str(ureg.Quantity(1.0, pint_unit(unit)).dimensionality)
    except Exception:  # pint raises several unrelated types for unknown text
        return None


def meaning_of(header: str) -> str | None:
    """What a column holds, from its unit's dimension, else from its name; None when unsure."""
    base, unit = split_header(header)
    if unit and unit.lower() not in ("c",):  # Neware 'Temperature(C)' is °C, not coulomb
        dim = _dimension(unit)
        for meaning, (_words, ref) in MEANINGS.items():
            if dim is not None and dim == _dimension(ref):
                return meaning
    words = [w for w in re.split(r"[\s_/.()\[\]#-]+", norm(base)) if w]
    compact = norm(base).replace(" ", "")
    tests = (
        lambda names: compact in names,
        lambda names: bool(words) and words[0] in names,
        lambda names: any(compact.startswith(n) and len(n) >= 4 for n in names),
    )
    for test in tests:  # the whole name first: 'Amp-hr' is a charge, not an 'amp'
        for meaning, (names, _ref) in MEANINGS.items():
            if test(names):
                return meaning
    return None


def suggest(field: str, wanted: list[str], available: list[str], n: int = 3) -> list[str]:
    """Columns that may hold ``field``: same meaning first (closest name first), then columns of
    unknown meaning that are spelled alike; never a column that means something else."""
    same = [c for c in available if meaning_of(c) == field]
    unknown = [c for c in available if meaning_of(c) is None]

    def closeness(col: str) -> float:
        return max(
            (difflib.SequenceMatcher(None, norm(w), norm(col)).ratio() for w in wanted),
            default=0.0,
        )

    ranked = sorted(same, key=closeness, reverse=True)
    ranked += sorted((c for c in unknown if closeness(c) >= 0.6), key=closeness, reverse=True)
    return ranked[:n]
