from __future__ import annotations

from .gan import gan_optimizer
from .lr_scheduler import LinearDecayLR

__all__ = ["LinearDecayLR", "gan_optimizer"]
