"""Independent validation traces for the detectors (written apart from ``sim_instruments``).

:mod:`analysis.validation.traces` draws symmetric-cell galvanostatic runs from its own
functional forms with ground truth per trace; :mod:`analysis.validation.scoring` scores the
live detectors on them. Detector parameters may be tuned only on :data:`TUNING_SEEDS`; accuracy
is reported on the disjoint :data:`HELDOUT_SEEDS` (docs/analysis.md, "Independent validation").
"""

from analysis.validation.traces import HELDOUT_SEEDS, TUNING_SEEDS

__all__ = ["HELDOUT_SEEDS", "TUNING_SEEDS"]
