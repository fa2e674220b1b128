"""Importers for commercial cycler exports and generic CSV (entry point: ``importers.auto``)."""
