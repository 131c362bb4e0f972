from __future__ import annotations

from .data_consistency import SingleCoilDataConsistency
from .residual import PADDING_MODES, PaddedResidualBlock, spatial_padding

__all__ = ["SingleCoilDataConsistency", "PADDING_MODES", "PaddedResidualBlock", "spatial_padding"]
