"""The residual block of image-to-image translation generators.

Johnson et al., "Perceptual Losses for Real-Time Style Transfer and Super-Resolution", ECCV 2016,
https://arxiv.org/abs/1603.08155 (supplementary material: residual blocks of two 3x3 convolutions), as used in
CycleGAN's generator: Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks", ICCV 2017, https://arxiv.org/abs/1703.10593 (appendix 7.2: "R256", reflection padding).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.blocks import Convolution
from monai.networks.layers import Act, Norm, Pad
from monai.utils import look_up_option

__all__ = ["PADDING_MODES", "PaddedResidualBlock", "spatial_padding"]

PADDING_MODES = ("reflect", "replicate", "zeros")

_REFLECTION_PAD: dict[int, type[nn.Module]] = {1: nn.ReflectionPad1d, 2: nn.ReflectionPad2d, 3: nn.ReflectionPad3d}


def spatial_padding(spatial_dims: int, padding: int, mode: str) -> nn.Module:
    """A layer padding every spatial side by ``padding`` pixels: ``"reflect"``, ``"replicate"`` or ``"zeros"``.

    MONAI's ``Pad`` factory has replication and constant padding but no reflection, which CycleGAN uses; that
    one comes from torch directly.
    """
    mode = look_up_option(mode, PADDING_MODES)
    if mode == "reflect":
        return _REFLECTION_PAD[spatial_dims](padding)
    if mode == "replicate":
        return Pad[Pad.REPLICATIONPAD, spatial_dims](padding)
    return Pad[Pad.CONSTANTPAD, spatial_dims](padding, 0.0)


class PaddedResidualBlock(nn.Module):
    """``x + [pad, conv, norm, act, pad, conv, norm](x)``: the residual block of CycleGAN's ResNet generator.

    Both convolutions keep the width (``channels``) and the spatial size: each is preceded by an explicit
    padding of ``kernel_size // 2`` pixels in ``padding_mode``, CycleGAN's reflection padding by default, which
    avoids the dark borders that zero padding leaves in translated images. There is no activation after the
    skip addition (as in Johnson et al. and CycleGAN).

    Args:
        spatial_dims: 2 or 3 (1 works too).
        channels: input and output channels.
        kernel_size: odd kernel size of both convolutions (3 in CycleGAN).
        norm: normalisation, a name or a ``(name, kwargs)`` tuple (CycleGAN: instance norm, no affine).
        act: activation between the two convolutions (ReLU).
        padding_mode: ``"reflect"``, ``"replicate"`` or ``"zeros"``.
        bias: whether the convolutions have a bias (CycleGAN: yes with instance norm, no with batch norm).

    Example::

        block = PaddedResidualBlock(spatial_dims=2, channels=256)
        y = block(torch.rand(1, 256, 64, 64))  # same shape
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        kernel_size: int = 3,
        norm: str | tuple | None = Norm.INSTANCE,
        act: str | tuple | None = Act.RELU,
        padding_mode: str = "reflect",
        bias: bool = True,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd so that the block keeps the spatial size, got {kernel_size}.")
        pad = kernel_size // 2

        def conv(act_: str | tuple | None) -> Convolution:
            return Convolution(
                spatial_dims, channels, channels, kernel_size=kernel_size, padding=0, norm=norm, act=act_, bias=bias,
                conv_only=norm is None and act_ is None,
            )  # fmt: skip

        self.residual = nn.Sequential(
            spatial_padding(spatial_dims, pad, padding_mode),
            conv(act),
            spatial_padding(spatial_dims, pad, padding_mode),
            conv(None),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` plus the residual branch, same shape as ``x``."""
        return x + self.residual(x)
