"""Studies of generative models run from configs: train several bundles alike and compare their samples."""

from __future__ import annotations

from .compare import ComparisonRun, GenerativeComparison
from .shipped import record_shipped_sampler, score_sampler, verify_shipped_sampler

__all__ = ["ComparisonRun", "GenerativeComparison", "record_shipped_sampler", "score_sampler", "verify_shipped_sampler"]
