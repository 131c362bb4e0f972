"""MR->CT synthesis studies: the per-subject comparison of synthetic-CT models, the lookup and t-tests."""

from __future__ import annotations

from .comparison import BONE_HU, SynthesisComparison
from .shipped import record_shipped_synthesis, score_synthesis_checkpoint, verify_shipped_synthesis

__all__ = [
    "BONE_HU",
    "SynthesisComparison",
    "record_shipped_synthesis",
    "score_synthesis_checkpoint",
    "verify_shipped_synthesis",
]
