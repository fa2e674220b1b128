"""Acquisition: clock, units, run files, station wiring and the ``ssbench`` CLI."""

__version__ = "0.1.0"
