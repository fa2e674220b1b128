"""Scriptable, seedable fault injection for emulators.

A fault fires on commands that match a regular expression, after skipping a number of matches,
a number of times (or with a probability drawn from a seeded generator, so every fault
sequence is reproducible). Transport faults (slow, timeout, garbled, drop) are applied by the
server; device faults (error, stuck, spike) are handed to the device, which knows its replies.
"""

from __future__ import annotations

import math
import random
import re
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from drivers.settings import did_you_mean


class FaultKind(StrEnum):
    SLOW = "slow"  # reply after ``delay_s`` of wall time
    TIMEOUT = "timeout"  # swallow the command, never reply
    GARBLE = "garble"  # corrupt the reply bytes
    DROP = "drop"  # close the connection instead of replying
    ERROR = "error"  # the instrument reports an error (device-specific queue)
    STUCK = "stuck"  # the reading freezes at its previous value
    SPIKE = "spike"  # one reading jumps by ``magnitude``


TRANSPORT_FAULTS = {FaultKind.SLOW, FaultKind.TIMEOUT, FaultKind.GARBLE, FaultKind.DROP}


#: (field of one fault, problem, offending value or None)
Problem = tuple[str, str, Any]
#: longest reply delay a fault may script (a longer one is a typo, not a test)
MAX_DELAY_S = 3600.0


@dataclass
class Fault:
    """One fault rule; ``times`` -1 means unlimited, ``probability`` < 1 makes it random."""

    kind: FaultKind
    match: str = ".*"
    skip: int = 0
    times: int = 1
    probability: float = 1.0
    delay_s: float = 0.5
    magnitude: float = 10.0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        spec = {name: getattr(self, name) for name in FIELDS}
        problems = fault_problems(spec)
        if problems:
            raise ValueError(_one_line(problems))
        self.kind = FaultKind(self.kind)
        self._pattern = re.compile(self.match, re.IGNORECASE)

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Fault:
        problems = fault_problems(spec)
        if problems:
            raise ValueError(_one_line(problems))
        return cls(**spec)


#: the fields a fault mapping may have, as a station file writes them
FIELDS = tuple(name for name in Fault.__dataclass_fields__ if not name.startswith("_"))


def _one_line(problems: list[Problem]) -> str:
    return "; ".join(f"fault {key}: {message}" + (f" (got {value!r})" if value is not None else "")
                     for key, message, value in problems)  # fmt: skip


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _field_problem(key: str, value: Any) -> str | None:
    """What is wrong with one known field's value, or None."""
    if key == "kind":
        kinds = [k.value for k in FaultKind]
        if value not in kinds:
            hint = did_you_mean(str(value), kinds) or f"; kinds: {', '.join(kinds)}"
            return f"unknown fault kind{hint}"
    elif key == "match":
        if not isinstance(value, str):
            return "expected a regular expression (text)"
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            return f"not a valid regex: {exc}"
    elif key == "skip" and not (_is_int(value) and value >= 0):
        return "expected an integer ≥ 0 (matches to let through first)"
    elif key == "times" and not (_is_int(value) and value >= -1):
        return "expected an integer ≥ 0, or -1 for every match"
    elif key == "probability" and not (_is_number(value) and 0.0 <= value <= 1.0):
        return "fault probability must be a number within [0, 1]"
    elif key == "delay_s" and not (_is_number(value) and 0.0 <= value <= MAX_DELAY_S):
        return f"expected a delay in s within [0, {MAX_DELAY_S:g}]"
    elif key == "magnitude" and not _is_number(value):
        return "expected a finite number"
    return None


def fault_problems(spec: Any) -> list[Problem]:
    """Every problem of one fault mapping: unknown fields (did you mean), kind, regex, ranges."""
    if not isinstance(spec, dict):
        return [("", f"expected a mapping with fields {', '.join(FIELDS)}", None)]
    problems: list[Problem] = []
    for key, value in spec.items():
        if key not in FIELDS:
            hint = did_you_mean(str(key), FIELDS) or f"; known: {', '.join(FIELDS)}"
            problems.append((str(key), f"unknown fault field{hint}", None))
            continue
        problem = _field_problem(key, value)
        if problem:
            problems.append((key, problem, None if isinstance(value, dict | list) else value))
    if "kind" not in spec:
        problems.append(("kind", f"required: one of {', '.join(k.value for k in FaultKind)}", None))
    return problems


class FaultInjector:
    """Holds fault rules and decides, reproducibly, which fires on each command."""

    def __init__(self, seed: int = 0, faults: list[Fault] | None = None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rules: list[list[Any]] = []  # [fault, matches_seen, fired]
        for fault in faults or []:
            self.add(fault)

    def add(self, fault: Fault | dict[str, Any]) -> None:
        if isinstance(fault, dict):
            fault = Fault.from_dict(fault)
        with self._lock:
            self._rules.append([fault, 0, 0])

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def check(self, command: str) -> Fault | None:
        """The fault that fires on ``command``, if any (first matching rule wins)."""
        with self._lock:
            for rule in self._rules:
                fault, seen, fired = rule
                if not fault._pattern.search(command):
                    continue
                rule[1] = seen + 1
                if seen < fault.skip or (0 <= fault.times <= fired):
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                rule[2] = fired + 1
                return fault
        return None

    def garble(self, reply: str) -> str:
        """A reproducibly corrupted copy of ``reply`` (same length, printable junk)."""
        with self._lock:
            chars = list(reply) or [" "]
            for _ in range(max(1, len(chars) // 3)):
                chars[self._rng.randrange(len(chars))] = self._rng.choice("#@~?%&!")
            return "".join(chars)
