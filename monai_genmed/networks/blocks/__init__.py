from __future__ import annotations

from .data_consistency import SingleCoilDataConsistency
from .minibatch_std import MinibatchStdDev
from .residual import PADDING_MODES, PaddedResidualBlock, spatial_padding

__all__ = ["MinibatchStdDev", "SingleCoilDataConsistency", "PADDING_MODES", "PaddedResidualBlock", "spatial_padding"]
