from __future__ import annotations

from .minibatch_std import MinibatchStdDev
from .data_consistency import SingleCoilDataConsistency, conjugate_symmetric_fill_t
from .residual import PADDING_MODES, PaddedResidualBlock, spatial_padding

__all__ = ["MinibatchStdDev", "SingleCoilDataConsistency", "conjugate_symmetric_fill_t", "PADDING_MODES", "PaddedResidualBlock", "spatial_padding"]
