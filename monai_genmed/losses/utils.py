"""Helpers shared by the losses."""

from __future__ import annotations

import torch
from monai.utils import LossReduction

__all__ = ["apply_reduction"]


def apply_reduction(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce elementwise (or per-sample) loss ``values`` by ``reduction``: "mean", "sum" or "none"."""
    if reduction == LossReduction.MEAN:
        return values.mean()
    if reduction == LossReduction.SUM:
        return values.sum()
    if reduction == LossReduction.NONE:
        return values
    raise ValueError(f'reduction must be "mean", "sum" or "none", got {reduction!r}.')
