from __future__ import annotations

from .residual import PADDING_MODES, PaddedResidualBlock, spatial_padding

__all__ = ["PADDING_MODES", "PaddedResidualBlock", "spatial_padding"]
