"""Equivalent-circuit strings -> vectorised impedance functions with named parameters.

Syntax: elements in series are joined by ``-``; ``p(a,b,...)`` puts branches in parallel.
Elements are a kind followed by a label, e.g. ``R0``, ``CPE1``, ``C2``, ``L0``, ``W1``:

========  ==========================  =====================  ========================
kind      impedance                   parameters             units
========  ==========================  =====================  ========================
``R``     R                           ``R``                  ohm
``C``     1 / (jωC)                   ``C``                  F
``L``     jωL                         ``L``                  H
``CPE``   1 / (Q (jω)^n)              ``_Q``, ``_n``         F s^(n-1), 1
``W``     σ (1 − j) / √ω              ``W``                  ohm s^-1/2
========  ==========================  =====================  ========================

``R0-p(R1,CPE1)-W1`` has parameters ``R0, R1, CPE1_Q, CPE1_n, W1``. Errors name the position.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analysis.errors import AnalysisError

ZFunc = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (params, omega) -> Z
_TOKEN = re.compile(r"\s*(?:(p\()|([A-Za-z]+)(\d+)|([-,)]))")
KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    "R": (("", "ohm"),),
    "C": (("", "F"),),
    "L": (("", "H"),),
    "CPE": (("_Q", "F s^(n-1)"), ("_n", "")),
    "W": (("", "ohm s^-1/2"),),
}


class CircuitError(AnalysisError):
    """A circuit string that cannot be read."""


@dataclass(frozen=True)
class Circuit:
    """A parsed circuit: its text, parameter names and units, and Z(params, ω)."""

    text: str
    names: tuple[str, ...]
    units: tuple[str, ...]
    impedance: ZFunc

    def __call__(self, params: np.ndarray, frequency_Hz: np.ndarray) -> np.ndarray:
        return self.impedance(np.asarray(params, float), 2 * np.pi * np.asarray(frequency_Hz))


def _element(kind: str, index: int) -> ZFunc:
    if kind == "R":
        return lambda p, w: np.full(w.shape, p[index], dtype=complex)
    if kind == "C":
        return lambda p, w: 1.0 / (1j * w * p[index])
    if kind == "L":
        return lambda p, w: 1j * w * p[index]
    if kind == "CPE":
        return lambda p, w: 1.0 / (p[index] * (1j * w) ** p[index + 1])
    return lambda p, w: p[index] * (1.0 - 1j) / np.sqrt(w)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []  # (kind, value, position)
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if not match:
                raise CircuitError(f"circuit {text!r}: unexpected {text[pos:pos + 8]!r} at position {pos + 1}")  # fmt: skip
            start = pos + len(match.group(0)) - len(match.group(0).lstrip())
            if match.group(1):
                self.tokens.append(("open", "p(", start))
            elif match.group(2):
                self.tokens.append(("element", match.group(2) + match.group(3), start))
            else:
                self.tokens.append(("op", match.group(4), start))
            pos = match.end()
        self.i = 0
        self.names: list[str] = []
        self.units: list[str] = []
        self.labels: set[str] = set()

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _fail(self, expected: str) -> CircuitError:
        token = self._peek()
        where = f"{token[1]!r} at position {token[2] + 1}" if token else "the end"
        return CircuitError(f"circuit {self.text!r}: expected {expected}, found {where}")

    def series(self) -> ZFunc:
        parts = [self.term()]
        while (token := self._peek()) is not None and token[1] == "-":
            self.i += 1
            parts.append(self.term())
        if len(parts) == 1:
            return parts[0]
        return lambda p, w: sum(f(p, w) for f in parts)

    def term(self) -> ZFunc:
        token = self._peek()
        if token is None:
            raise self._fail("an element or p(")
        kind, value, position = token
        if kind == "open":
            self.i += 1
            branches = [self.series()]
            while (t := self._peek()) is not None and t[1] == ",":
                self.i += 1
                branches.append(self.series())
            if (t := self._peek()) is None or t[1] != ")":
                raise self._fail("',' or ')' closing p( ")
            self.i += 1
            if len(branches) < 2:
                raise CircuitError(f"circuit {self.text!r}: p( at position {position + 1} needs two or more branches")  # fmt: skip
            return lambda p, w: 1.0 / sum(1.0 / f(p, w) for f in branches)
        if kind != "element":
            raise self._fail("an element or p(")
        self.i += 1
        element_kind = value.rstrip("0123456789")
        if element_kind not in KINDS:
            raise CircuitError(f"circuit {self.text!r}: unknown element {value!r} at position {position + 1}; known kinds: {', '.join(KINDS)}")  # fmt: skip
        if value in self.labels:
            raise CircuitError(f"circuit {self.text!r}: element {value!r} appears twice")
        self.labels.add(value)
        index = len(self.names)
        for suffix, unit in KINDS[element_kind]:
            self.names.append(value + suffix)
            self.units.append(unit)
        return _element(element_kind, index)


def parse_circuit(text: str) -> Circuit:
    """``"R0-p(R1,CPE1)"`` -> Circuit; CircuitError naming the problem and its position."""
    if not isinstance(text, str) or not text.strip():
        raise CircuitError(f"circuit {text!r}: empty circuit string")
    parser = _Parser(text)
    func = parser.series()
    if parser._peek() is not None:
        raise parser._fail("'-' or the end")
    return Circuit(text.strip(), tuple(parser.names), tuple(parser.units), func)


def li_se_li_circuit(arcs: int = 1, warburg: bool = False) -> str:
    """The default Li|SE|Li circuit: R_bulk, then ``arcs`` R‖CPE arcs, optional Warburg."""
    if arcs not in (1, 2, 3):
        raise AnalysisError(f"arcs must be 1, 2 or 3, got {arcs!r}")
    text = "R0" + "".join(f"-p(R{k},CPE{k})" for k in range(1, arcs + 1))
    return text + ("-W1" if warburg else "")
