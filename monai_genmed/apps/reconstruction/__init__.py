"""The test-set comparison of learned and classical compressed-sensing MRI, and the check of shipped weights."""

from __future__ import annotations

from .comparison import CLASSICAL_METHODS, LearnedMethod, ReconstructionComparison
from .shipped import (
    methods_per_setting,
    one_method_per_file,
    record_shipped,
    score_checkpoint,
    sha256_of,
    shipped_checkpoint,
    verify_manifest,
    verify_shipped,
    write_manifest_entry,
)

__all__ = [
    "CLASSICAL_METHODS",
    "LearnedMethod",
    "methods_per_setting",
    "one_method_per_file",
    "ReconstructionComparison",
    "record_shipped",
    "score_checkpoint",
    "sha256_of",
    "shipped_checkpoint",
    "verify_manifest",
    "verify_shipped",
    "write_manifest_entry",
]
