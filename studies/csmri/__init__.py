"""Compressed-sensing MRI studies on the comparison tables of ``ReconstructionComparison``.

- :func:`noise_free_oracle`, :func:`oracle_headroom`: how much of what is reachable on noisy targets each method
  takes (``python -m studies.csmri.noise_free_oracle``);
- :func:`compare_seed_curves`, :func:`seed_curve_files`: validation curves of repeated trainings
  (``bundles/dagan_csmri/configs/refinement_study.json``);
- :func:`slice_class_margins`: a method's margin per class of slices and its worst slice; :func:`margin_tables`
  makes them for each method and classical reference of a comparison (``configs/csmri_evaluate_varied.json``).
"""

from __future__ import annotations

from .oracle import noise_free_oracle, oracle_headroom, rician_mean
from .seed_curves import compare_seed_curves, read_curve, seed_curve_files
from .slice_classes import margin_tables, slice_class_margins

__all__ = [
    "compare_seed_curves",
    "margin_tables",
    "noise_free_oracle",
    "oracle_headroom",
    "read_curve",
    "rician_mean",
    "seed_curve_files",
    "slice_class_margins",
]
