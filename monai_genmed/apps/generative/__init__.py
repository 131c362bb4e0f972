"""Studies of generative models run from configs: train several bundles alike and compare their samples."""

from __future__ import annotations

from .compare import ComparisonRun, GenerativeComparison

__all__ = ["ComparisonRun", "GenerativeComparison"]
