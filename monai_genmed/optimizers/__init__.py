from __future__ import annotations

from .lr_scheduler import LinearDecayLR

__all__ = ["LinearDecayLR"]
