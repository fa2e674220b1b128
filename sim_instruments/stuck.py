"""The "stuck reading" fault: a reading that stops changing, then recovers.

Each emulator keeps one :class:`FrozenReading` per reading it can freeze: it records every
fresh value; while consecutive readings are faulted it returns the value from just before the
fault began; the first unfaulted reading ends the episode, so a later fault freezes anew.
"""

from __future__ import annotations


class FrozenReading:
    """Remembers the last two values of one reading to freeze it on demand."""

    def __init__(self) -> None:
        self._previous: str | None = None
        self._latest: str | None = None
        self._count = 0
        self._frozen: str | None = None
        self._frozen_at = -2

    def record(self, value: str) -> str:
        """Note a fresh value (call for every reading, faulted or not); returns it."""
        self._previous, self._latest = self._latest, value
        self._count += 1
        return value

    def freeze(self) -> str | None:
        """The value to report for a faulted reading (the one recorded last)."""
        if self._frozen_at != self._count - 1:  # a new episode starts
            self._frozen = self._previous if self._previous is not None else self._latest
        self._frozen_at = self._count
        return self._frozen
