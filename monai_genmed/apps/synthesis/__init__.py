"""MR->CT synthesis studies: the per-subject comparison of synthetic-CT models, the lookup and t-tests."""

from __future__ import annotations

from .comparison import BONE_HU, SynthesisComparison

__all__ = ["BONE_HU", "SynthesisComparison"]
