"""An inferer that adds a test-time flip uncertainty channel to any inferer's output.

A head is nearly left-right symmetric, so the left-right mirror of an input is an input of the training
distribution; where the network's output on the mirrored input, mirrored back, disagrees with its output on the
input, the network is unsure. ``benchmarks/sct_uncertainty.py`` measures how this spread ranks a synthetic CT's
errors (``bundles/cyclegan_mr2ct/docs/clinical_files.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from monai.inferers import Inferer

from monai_genmed.utils.flags import ensure_bool

__all__ = ["FlipSpreadInferer"]


class FlipSpreadInferer(Inferer):
    """Run ``inferer`` on the input and on its mirror along ``spatial_axis``; append half their absolute difference.

    The output is ``cat([y, |y - flip(y')| / 2], dim=1)`` with ``y = inferer(x, network)`` and
    ``y' = inferer(flip(x), network)``: the first channels are exactly the plain inferer's output (so results do not
    change when the uncertainty is asked for), the last ones the spread, in the network's output units. With
    ``enabled=False`` it is the plain inferer (one pass).

    Args:
        inferer: the inferer that slices or tiles the input and calls the network (``SliceInferer``, ...).
        spatial_axis: the spatial axis to mirror (0 is the first axis after the channel), e.g. the axis of ``L`` in
            the axcodes the input was reoriented to.
        enabled: add the spread channel (two passes) or not (one pass).
    """

    def __init__(self, inferer: Callable[..., Any], spatial_axis: int, enabled: bool = True) -> None:
        if not callable(inferer):
            raise TypeError(f"inferer must be callable as inferer(inputs, network), got {type(inferer).__name__}.")
        if isinstance(spatial_axis, bool) or not isinstance(spatial_axis, int):
            raise TypeError(f"spatial_axis must be an integer axis after the channel axis, got {spatial_axis!r}.")
        self.inferer = inferer
        self.spatial_axis = spatial_axis
        self.enabled = ensure_bool(enabled, "enabled")

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> torch.Tensor:
        """``inputs``: ``(B, C, *spatial)``; returns ``(B, 2 * C_out, *spatial)`` when enabled."""
        outputs = self.inferer(inputs, network, *args, **kwargs)
        if not self.enabled:
            return outputs
        spatial_dims = inputs.ndim - 2
        if not -spatial_dims <= self.spatial_axis < spatial_dims:
            raise ValueError(f"spatial_axis {self.spatial_axis} does not exist in an input with {spatial_dims} "
                             f"spatial axes (shape {tuple(inputs.shape)}).")  # fmt: skip
        axis = 2 + self.spatial_axis % spatial_dims
        mirrored = torch.flip(self.inferer(torch.flip(inputs, (axis,)), network, *args, **kwargs), (axis,))
        return torch.cat([outputs, (outputs - mirrored).abs() / 2], dim=1)
