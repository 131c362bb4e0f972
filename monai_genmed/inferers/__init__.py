from __future__ import annotations

from .accelerated import AcceleratedInferer
from .flip_spread import FlipSpreadInferer
from .kspace_slice import KspaceSliceInferer, check_kspace_input

__all__ = ["AcceleratedInferer", "FlipSpreadInferer", "KspaceSliceInferer", "check_kspace_input"]
