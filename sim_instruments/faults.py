"""Scriptable, seedable fault injection for emulators.

A fault fires on commands that match a regular expression, after skipping a number of matches,
a number of times (or with a probability drawn from a seeded generator, so every fault
sequence is reproducible). Transport faults (slow, timeout, garbled, drop) are applied by the
server; device faults (error, stuck, spike) are handed to the device, which knows its replies.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    SLOW = "slow"  # reply after ``delay_s`` of wall time
    TIMEOUT = "timeout"  # swallow the command, never reply
    GARBLE = "garble"  # corrupt the reply bytes
    DROP = "drop"  # close the connection instead of replying
    ERROR = "error"  # the instrument reports an error (device-specific queue)
    STUCK = "stuck"  # the reading freezes at its previous value
    SPIKE = "spike"  # one reading jumps by ``magnitude``


TRANSPORT_FAULTS = {FaultKind.SLOW, FaultKind.TIMEOUT, FaultKind.GARBLE, FaultKind.DROP}


@dataclass
class Fault:
    """One fault rule; ``times`` < 0 means unlimited, ``probability`` < 1 makes it random."""

    kind: FaultKind
    match: str = ".*"
    skip: int = 0
    times: int = 1
    probability: float = 1.0
    delay_s: float = 0.5
    magnitude: float = 10.0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.kind = FaultKind(self.kind)
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"fault probability must be within [0, 1], got {self.probability}")
        try:
            self._pattern = re.compile(self.match, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"fault match {self.match!r} is not a valid regex: {exc}") from None

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Fault:
        unknown = set(spec) - {f for f in cls.__dataclass_fields__ if not f.startswith("_")}
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        return cls(**spec)


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
