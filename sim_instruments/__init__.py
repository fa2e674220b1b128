"""Simulated laboratory: physical models and wire-protocol emulators of every instrument."""
