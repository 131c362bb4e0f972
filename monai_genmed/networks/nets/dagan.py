"""DAGAN generator and discriminator for compressed-sensing MRI reconstruction.

Yang et al., "DAGAN: Deep De-Aliasing Generative Adversarial Networks for Fast Compressed Sensing MRI
Reconstruction", IEEE TMI 37(6), 2018, https://doi.org/10.1109/TMI.2017.2785879. The layer sizes, the
"refinement learning" residual and the initialisations follow the authors' released TensorFlow code
(``u_net_bn`` and ``discriminator`` in https://github.com/nebulaV/DAGAN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn as nn
from monai.networks.blocks import Convolution
from monai.networks.layers import Act, Conv, Norm
from monai.networks.layers.utils import get_act_layer
from monai.networks.utils import normal_init
from monai.utils import ensure_tuple

from monai_genmed.utils.flags import ensure_bool

from ..utils import check_input_size

__all__ = ["DAGANGenerator", "DAGANDiscriminator"]

_LEAKY_RELU = (Act.LEAKYRELU, {"negative_slope": 0.2})


def _dagan_generator_init(module: nn.Module, conv_std: float = 0.01, norm_std: float = 0.02) -> None:
    """DAGAN's generator initialisation: conv weights ~ truncated normal (std 0.01, cut at 2 std as
    TensorFlow's ``truncated_normal_initializer``), biases 0, BatchNorm gamma ~ N(1, 0.02), beta 0."""
    if isinstance(module, nn.modules.conv._ConvNd):
        nn.init.trunc_normal_(module.weight, mean=0.0, std=conv_std, a=-2 * conv_std, b=2 * conv_std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
        nn.init.normal_(module.weight, 1.0, norm_std)
        nn.init.zeros_(module.bias)


class DAGANGenerator(nn.Module):
    """DAGAN's U-Net generator (``u_net_bn``) with optional refinement learning.

    Encoder: ``len(channels)`` convolutions, kernel 4, stride 2, each halving every spatial size. The first
    has neither normalisation nor activation (as in DAGAN's code, its raw output also feeds the last skip
    connection), the middle ones are conv -> norm -> ``act``, the last (the bottleneck) is conv -> ``act``.
    Decoder: ``len(up_channels)`` transposed convolutions, kernel 4, stride 2, each followed by norm ->
    ``up_act``; from the second on, the input is the previous decoder output concatenated with the encoder
    output of the same resolution. A 1x1 convolution and ``tanh`` give the output.

    With the defaults (8 levels) and a 256x256 input this is DAGAN's generator exactly: the bottleneck is 1x1,
    and the decoder widths are DAGAN's 512, 1024, 1024, 1024, 256, 128, 64, 64: 98.6 M parameters and
    19.96 GFLOPs per 1x256x256 image (``torch.utils.flop_counter.FlopCounterMode``, 2 FLOPs a multiply-add).

    Output mapping. DAGAN scales images to [-1, 1]; with ``refinement`` its output is
    ``clip(tanh(o) + input, -1, 1)`` (the network learns the de-aliasing residual), otherwise ``tanh(o)``.
    Here the data range is ``output_range = (low, high)`` (default [0, 1], magnitude images), and the output is
    the same network under the affine change of range: ``clip(input + (high - low) / 2 * tanh(o), low, high)``
    with ``refinement``, ``low + (high - low) * (tanh(o) + 1) / 2`` without. ``output_range=(-1.0, 1.0)``
    reproduces DAGAN's formulas literally.

    Initialisation follows DAGAN: conv weights truncated normal with std 0.01, biases 0,
    BatchNorm gamma ~ N(1, 0.02).

    Args:
        spatial_dims: number of spatial dimensions (2 for DAGAN; 3 works too).
        in_channels: number of input channels.
        out_channels: number of output channels; must equal ``in_channels`` with ``refinement``.
        channels: output channels of the encoder convolutions, shallowest first. Its length is the number of
            levels; every input spatial size must be divisible by ``2 ** len(channels)``.
        up_channels: output channels of the decoder transposed convolutions, deepest first; same length as
            ``channels``.
        act: encoder activation, a name or a ``(name, kwargs)`` tuple (DAGAN: LeakyReLU with slope 0.2).
        up_act: decoder activation (DAGAN: ReLU).
        norm: normalisation after the middle encoder and all decoder convolutions (DAGAN: batch norm).
        refinement: add the input to the output ("refinement learning", DAGAN's ``is_refine``).
        output_range: ``(low, high)`` range of the data and of the output.
        clip_high: with ``refinement``, clip the output at ``high`` too (training: the targets lie in the range).
            ``False`` clips only at ``low``: at inference, after scaling by a percentile of the zero-filled image,
            voxels brighter than that percentile keep their value instead of being cut to ``high``.

    Example::

        net = DAGANGenerator(spatial_dims=2, channels=(16, 32, 64), up_channels=(64, 32, 16))
        recon = net(zero_filled)  # zero_filled: (B, 1, H, W) with H, W divisible by 8
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int = 1,
        channels: Sequence[int] = (64, 128, 256, 512, 512, 512, 512, 512),
        up_channels: Sequence[int] = (512, 1024, 1024, 1024, 256, 128, 64, 64),
        act: str | tuple = _LEAKY_RELU,
        up_act: str | tuple = Act.RELU,
        norm: str | tuple | None = Norm.BATCH,
        refinement: bool = True,
        output_range: Sequence[float] = (0.0, 1.0),
        clip_high: bool = True,
    ) -> None:
        super().__init__()
        channels, up_channels = tuple(ensure_tuple(channels)), tuple(ensure_tuple(up_channels))
        if len(channels) < 2:
            raise ValueError(f"channels needs at least 2 levels (got {channels}), e.g. channels=(64, 128).")
        if len(up_channels) != len(channels):
            raise ValueError(
                f"up_channels must have one entry per level, as channels: got {len(up_channels)} up_channels "
                f"{up_channels} for {len(channels)} channels {channels}."
            )
        if ensure_bool(refinement, "refinement") and in_channels != out_channels:
            raise ValueError(
                f"refinement adds the input to the output, so in_channels ({in_channels}) must equal "
                f"out_channels ({out_channels}); set refinement=False otherwise."
            )
        bounds = tuple(float(v) for v in ensure_tuple(output_range))
        if len(bounds) != 2 or not bounds[0] < bounds[1]:
            raise ValueError(f"output_range must be (low, high) with low < high, got {output_range}.")
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.channels = channels
        self.up_channels = up_channels
        self.refinement = ensure_bool(refinement, "refinement")
        self.output_range = bounds
        self.clip_high = ensure_bool(clip_high, "clip_high")
        self.divisor = 2 ** len(channels)

        def conv(c_in: int, c_out: int, norm_: str | tuple | None, act_: str | tuple | None, transposed: bool):
            return Convolution(
                spatial_dims, c_in, c_out, strides=2, kernel_size=4, padding=1, act=act_, norm=norm_,
                is_transposed=transposed, output_padding=0 if transposed else None,
                conv_only=norm_ is None and act_ is None,
            )  # fmt: skip

        last = len(channels) - 1
        self.down = nn.ModuleList()
        for i, c_out in enumerate(channels):
            c_in = in_channels if i == 0 else channels[i - 1]
            plain = i == 0
            self.down.append(conv(c_in, c_out, None if plain or i == last else norm, None if plain else act, False))
        self.up = nn.ModuleList()
        for j, c_out in enumerate(up_channels):
            c_in = channels[-1] if j == 0 else up_channels[j - 1] + channels[last - j]
            self.up.append(conv(c_in, c_out, norm, up_act, True))
        self.output_conv = Conv[Conv.CONV, spatial_dims](up_channels[-1], out_channels, kernel_size=1)
        self.apply(_dagan_generator_init)

    __jit_unused_properties__ = ["size_divisor"]

    @property
    def size_divisor(self) -> int:
        """Every input spatial size must be a multiple of this (``2 ** len(channels)``)."""
        return self.divisor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` of shape ``(B, in_channels, *spatial)``; returns ``(B, out_channels, *spatial)``."""
        check_input_size(x, self.spatial_dims, self.divisor, "DAGANGenerator", "one halving per level")
        skips: list[torch.Tensor] = []
        h = x
        for layer in self.down:
            h = layer(h)
            skips.append(h)
        skips.pop()  # the bottleneck feeds the decoder directly
        for j, layer in enumerate(self.up):
            if j > 0:
                h = torch.cat([h, skips.pop()], dim=1)
            h = layer(h)
        residual = torch.tanh(self.output_conv(h))
        low, high = self.output_range
        if self.refinement:
            return torch.clamp(x + (high - low) / 2 * residual, low, high if self.clip_high else None)
        return low + (high - low) * (residual + 1) / 2


class DAGANDiscriminator(nn.Module):
    """DAGAN's 11-layer discriminator: strided convolutions, a 1x1 bottleneck with a residual branch, a dense logit.

    Layers (DAGAN's code, ``df_dim = 64``): ``h0`` conv 64 (kernel 4, stride 2) -> LeakyReLU, no norm;
    ``h1..h5`` conv 128, 256, 512, 1024, 2048 (kernel 4, stride 2) -> norm -> act; ``h6`` 1x1 conv 1024 ->
    norm -> act; ``h7`` 1x1 conv 512 -> norm (no activation); a residual branch on ``h7``: 1x1 conv 128 ->
    norm -> act, 3x3 conv 128 -> norm -> act, 3x3 conv 512 -> norm; ``h8 = act(h7 + branch)``; flatten;
    dense -> 1. It returns the logit (no sigmoid): the adversarial losses take logits.

    Initialisation follows DAGAN: conv and dense weights ~ N(0, 0.02), biases 0, BatchNorm gamma ~ N(1, 0.02);
    convolutions followed by a norm have no bias.

    Args:
        in_shape: ``(channels, *spatial)`` of the input, e.g. ``(1, 256, 256)``; the dense layer is sized from it.
        channels: output channels of the strided convolutions ``h0, h1, ...`` (DAGAN: 64 ... 2048).
        head_channels: output channels of the 1x1 convolutions ``h6`` and ``h7`` (DAGAN: 1024, 512).
        residual_channels: width of the residual branch's first two convolutions (DAGAN: 128).
        act: activation, a name or a ``(name, kwargs)`` tuple (DAGAN: LeakyReLU with slope 0.2).
        norm: normalisation (DAGAN: batch norm).

    Example::

        disc = DAGANDiscriminator(in_shape=(1, 32, 32), channels=(8, 16, 32), head_channels=(32, 16),
                                  residual_channels=8)
        logits = disc(images)  # (B, 1)
    """

    def __init__(
        self,
        in_shape: Sequence[int] = (1, 256, 256),
        channels: Sequence[int] = (64, 128, 256, 512, 1024, 2048),
        head_channels: Sequence[int] = (1024, 512),
        residual_channels: int = 128,
        act: str | tuple = _LEAKY_RELU,
        norm: str | tuple = Norm.BATCH,
    ) -> None:
        super().__init__()
        in_shape, channels, head_channels = (tuple(ensure_tuple(v)) for v in (in_shape, channels, head_channels))
        if len(in_shape) < 2:
            raise ValueError(f"in_shape must be (channels, *spatial), e.g. (1, 256, 256); got {in_shape}.")
        if len(channels) < 1 or len(head_channels) != 2:
            raise ValueError(
                f"channels needs at least one entry and head_channels exactly two (h6, h7); got channels={channels}, "
                f"head_channels={head_channels}."
            )
        self.in_shape = in_shape
        self.in_shape_list = [int(v) for v in in_shape]
        spatial_dims = len(in_shape) - 1

        def conv(c_in: int, c_out: int, kernel: int, stride: int, act_: str | tuple | None, norm_=norm):
            # padding (kernel - 1) // 2 is TensorFlow's 'SAME' for these kernels on even sizes
            return Convolution(
                spatial_dims, c_in, c_out, strides=stride, kernel_size=kernel, padding=(kernel - 1) // 2,
                act=act_, norm=norm_, bias=norm_ is None,
            )  # fmt: skip

        strided = []
        final_size = list(in_shape[1:])
        for i, c_out in enumerate(channels):
            c_in = in_shape[0] if i == 0 else channels[i - 1]
            strided.append(conv(c_in, c_out, 4, 2, act, None if i == 0 else norm))
            final_size = [(s + 2 - 4) // 2 + 1 for s in final_size]
        if min(final_size) < 1:
            raise ValueError(
                f"in_shape {in_shape} is too small for {len(channels)} stride-2 convolutions; use a larger input "
                "or fewer channels."
            )
        self.features = nn.Sequential(
            *strided,
            conv(channels[-1], head_channels[0], 1, 1, act),
            conv(head_channels[0], head_channels[1], 1, 1, None),
        )
        self.residual = nn.Sequential(
            conv(head_channels[1], residual_channels, 1, 1, act),
            conv(residual_channels, residual_channels, 3, 1, act),
            conv(residual_channels, head_channels[1], 3, 1, None),
        )
        self.residual_act = get_act_layer(act)
        self.final_size = tuple(final_size)
        self.dense = nn.Linear(head_channels[1] * math.prod(final_size), 1)
        self.apply(normal_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logit, shape ``(B, 1)``, of ``x`` with shape ``(B, *in_shape)``."""
        if list(x.shape[1:]) != self.in_shape_list:
            raise ValueError(
                "DAGANDiscriminator was built for inputs of shape (B, *"
                + str(self.in_shape_list)
                + "), got "
                + str(x.shape)
                + "; set in_shape to the image shape."
            )
        h7 = self.features(x)
        h8 = self.residual_act(h7 + self.residual(h7))
        return self.dense(h8.flatten(1))
