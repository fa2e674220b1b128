"""Instrument drivers: transports, role interfaces and one module per instrument family."""
