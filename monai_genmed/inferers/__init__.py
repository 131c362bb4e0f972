from __future__ import annotations

from .accelerated import AcceleratedInferer
from .flip_spread import FlipSpreadInferer
from .inputs import check_reconstruction_inputs, input_kind, reconstruction_inputs
from .kspace_slice import KspaceSliceInferer, check_kspace_input

__all__ = [
    "AcceleratedInferer",
    "FlipSpreadInferer",
    "KspaceSliceInferer",
    "check_kspace_input",
    "check_reconstruction_inputs",
    "input_kind",
    "reconstruction_inputs",
]
