"""Helpers shared by the networks."""

from __future__ import annotations

import torch

__all__ = ["check_input_size"]


def check_input_size(x: torch.Tensor, spatial_dims: int, divisor: int, net_name: str, reason: str) -> None:
    """Raise a ValueError unless ``x`` is ``(B, C, *spatial)``, ``spatial_dims`` sizes each divisible by ``divisor``.

    Written in TorchScript's subset of Python (no f-strings), so that a network calling it from ``forward`` can
    be scripted, as a bundle's ``ckpt_export`` does.

    Args:
        x: the network input.
        spatial_dims: the number of spatial axes the network was built for.
        divisor: what every spatial size must be a multiple of (``2 ** number of halvings``).
        net_name: the network, as the message names it (e.g. ``"ResNetGenerator"``).
        reason: why the sizes must be multiples of ``divisor``, for the message (e.g. ``"one halving per level"``).
    """
    if x.dim() != spatial_dims + 2:
        raise ValueError(
            net_name + "(spatial_dims=" + str(spatial_dims) + ") expects a (B, C, " + str(spatial_dims)
            + " spatial dims) input, got shape " + str(x.shape) + "."
        )  # fmt: skip
    for size in x.shape[2:]:
        if size % divisor != 0:
            raise ValueError(
                net_name + " input spatial size " + str(x.shape[2:]) + " is not divisible by " + str(divisor)
                + " (" + reason + "); pad or crop the input first, e.g. with monai.transforms.DivisiblePad(k="
                + str(divisor) + ") or a crop to a multiple of " + str(divisor) + "."
            )  # fmt: skip
