"""Analysis of runs: segmentation, metrics, detectors, importers, reports."""
