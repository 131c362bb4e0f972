from __future__ import annotations

from .accelerated import AcceleratedInferer
from .kspace_slice import KspaceSliceInferer, check_kspace_input

__all__ = ["AcceleratedInferer", "KspaceSliceInferer", "check_kspace_input"]
