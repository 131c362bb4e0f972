"""Reconstruction studies: the test-set comparison of learned and classical compressed-sensing MRI."""

from __future__ import annotations

from .comparison import CLASSICAL_METHODS, LearnedMethod, ReconstructionComparison
from .shipped import record_shipped, score_checkpoint, sha256_of, verify_manifest, verify_shipped, write_manifest_entry

__all__ = [
    "CLASSICAL_METHODS",
    "LearnedMethod",
    "ReconstructionComparison",
    "record_shipped",
    "score_checkpoint",
    "sha256_of",
    "verify_manifest",
    "verify_shipped",
    "write_manifest_entry",
]
