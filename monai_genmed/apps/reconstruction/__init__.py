"""Reconstruction studies: the test-set comparison of learned and classical compressed-sensing MRI."""

from __future__ import annotations

from .comparison import CLASSICAL_METHODS, LearnedMethod, ReconstructionComparison
from .oracle import noise_free_oracle, oracle_headroom, rician_mean
from .seed_curves import compare_seed_curves, read_curve
from .slice_classes import slice_class_margins
from .shipped import methods_per_setting, one_method_per_file, record_shipped, score_checkpoint, sha256_of, shipped_checkpoint, verify_manifest, verify_shipped, write_manifest_entry

__all__ = [
    "CLASSICAL_METHODS",
    "LearnedMethod",
    "methods_per_setting",
    "noise_free_oracle",
    "one_method_per_file",
    "oracle_headroom",
    "rician_mean",
    "ReconstructionComparison",
    "compare_seed_curves",
    "read_curve",
    "record_shipped",
    "score_checkpoint",
    "sha256_of",
    "shipped_checkpoint",
    "slice_class_margins",
    "verify_manifest",
    "verify_shipped",
    "write_manifest_entry",
]
