"""Reconstruction studies: the test-set comparison of learned and classical compressed-sensing MRI."""

from __future__ import annotations

from .comparison import CLASSICAL_METHODS, LearnedMethod, ReconstructionComparison

__all__ = ["CLASSICAL_METHODS", "LearnedMethod", "ReconstructionComparison"]
