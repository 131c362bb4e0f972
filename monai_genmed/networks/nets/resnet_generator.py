"""CycleGAN's ResNet generator, for unpaired image-to-image translation such as MR -> CT synthesis.

Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV 2017,
https://arxiv.org/abs/1703.10593, appendix 7.2: ``c7s1-64, d128, d256, R256 x 9, u128, u64, c7s1-3``, after
Johnson et al., "Perceptual Losses for Real-Time Style Transfer and Super-Resolution", ECCV 2016,
https://arxiv.org/abs/1603.08155. Wolterink et al., "Deep MR to CT Synthesis using Unpaired Data", SASHIMI 2017,
https://arxiv.org/abs/1708.01155, use this generator for both directions of their MR <-> CT CycleGAN.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.blocks import Convolution
from monai.networks.layers import Act, Norm
from monai.networks.layers.utils import get_act_layer

from ..blocks.residual import PaddedResidualBlock, spatial_padding
from ..utils import check_input_size

__all__ = ["ResNetGenerator", "cyclegan_init"]


def cyclegan_init(module: nn.Module, std: float = 0.02) -> None:
    """CycleGAN's ``init_type="normal"``: conv weights ~ N(0, ``std``), affine norm weights ~ N(1, ``std``), biases 0.

    Apply with ``net.apply(cyclegan_init)``. Unlike ``monai.networks.utils.normal_init``, which only knows batch
    norm, it covers every norm layer with affine parameters (instance, group, layer norm).
    """
    if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)):
        if getattr(module, "weight", None) is not None:
            nn.init.normal_(module.weight, 1.0, std)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


class ResNetGenerator(nn.Module):
    """CycleGAN's generator: a 7x7 stem, strided downsampling, residual blocks, transposed-conv upsampling.

    Layers, with ``C = channels`` and ``n = num_downsamples`` (CycleGAN: ``C = 64``, ``n = 2``, 9 blocks for
    256x256 images, 6 for 128x128):

    - ``c7s1-C``: ``padding_mode`` pad 3, 7x7 conv to ``C``, norm, ``act``;
    - ``n`` times ``d2^k C``: 3x3 conv, stride 2, zero pad 1, doubling the width, norm, ``act``;
    - ``num_res_blocks`` times ``R(2^n C)``: :class:`~monai_genmed.networks.blocks.PaddedResidualBlock`;
    - ``n`` times ``u``: 3x3 transposed conv, stride 2, padding 1, output padding 1 (exactly doubles the size),
      halving the width, norm, ``act``;
    - ``c7s1-out``: pad 3, 7x7 conv to ``out_channels``, then ``output_act`` (tanh: images scaled to [-1, 1]).

    With the defaults and 3 input and output channels this is CycleGAN's ``resnet_9blocks`` exactly: 11,378,179
    parameters (CycleGAN's "11.378 M"). Weights are initialised as CycleGAN's: conv weights ~ N(0, 0.02),
    affine norm weights ~ N(1, 0.02), biases 0 (:func:`cyclegan_init`). ``padding_mode`` applies to the two 7x7
    convolutions and the residual blocks, the only stride-1 convolutions (CycleGAN reflects in all of them).

    Every input spatial size must be a multiple of :attr:`size_divisor` (``2 ** num_downsamples``), so that the
    output has the input's shape; pad or crop first, e.g. with ``monai.transforms.DivisiblePad(k=4)``.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels (1 for an MR slice).
        out_channels: output channels (1 for a CT slice).
        channels: base width ``C``, the width of the stem; each downsampling doubles it.
        num_res_blocks: number of residual blocks at the lowest resolution.
        num_downsamples: number of stride-2 convolutions (and of transposed convolutions).
        norm: normalisation, a name or a ``(name, kwargs)`` tuple (CycleGAN: instance norm without affine).
        act: activation of every layer but the last, a name or a ``(name, kwargs)`` tuple (ReLU).
        output_act: activation of the output, a name or a ``(name, kwargs)`` tuple; ``"tanh"`` for data in
            [-1, 1], ``None`` for a linear output.
        padding_mode: ``"reflect"``, ``"replicate"`` or ``"zeros"``.
        bias: whether convolutions have a bias (CycleGAN: yes with instance norm, no with batch norm).

    Example::

        net = ResNetGenerator(spatial_dims=2, in_channels=1, out_channels=1)
        sct = net(mr)  # mr: (B, 1, H, W) scaled to [-1, 1], H and W multiples of 4; sct in (-1, 1)
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int = 1,
        channels: int = 64,
        num_res_blocks: int = 9,
        num_downsamples: int = 2,
        norm: str | tuple | None = Norm.INSTANCE,
        act: str | tuple = Act.RELU,
        output_act: str | tuple | None = Act.TANH,
        padding_mode: str = "reflect",
        bias: bool = True,
    ) -> None:
        super().__init__()
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims}.")
        for name, value, minimum in (
            ("in_channels", in_channels, 1), ("out_channels", out_channels, 1), ("channels", channels, 1),
            ("num_res_blocks", num_res_blocks, 0), ("num_downsamples", num_downsamples, 0),
        ):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.divisor = 2**num_downsamples

        def conv(c_in: int, c_out: int, kernel: int, stride: int = 1, transposed: bool = False, **kw) -> Convolution:
            return Convolution(
                spatial_dims, c_in, c_out, strides=stride, kernel_size=kernel, norm=norm, act=act, bias=bias,
                is_transposed=transposed, output_padding=1 if transposed else None, **kw,
            )  # fmt: skip

        layers: list[nn.Module] = [
            spatial_padding(spatial_dims, 3, padding_mode),
            conv(in_channels, channels, 7, padding=0),
        ]
        width = channels
        for _ in range(num_downsamples):
            layers.append(conv(width, 2 * width, 3, stride=2, padding=1))
            width *= 2
        for _ in range(num_res_blocks):
            layers.append(PaddedResidualBlock(spatial_dims, width, 3, norm, act, padding_mode, bias))
        for _ in range(num_downsamples):
            layers.append(conv(width, width // 2, 3, stride=2, transposed=True, padding=1))
            width //= 2
        layers += [
            spatial_padding(spatial_dims, 3, padding_mode),
            Convolution(spatial_dims, width, out_channels, kernel_size=7, padding=0, conv_only=True),
        ]
        if output_act is not None:
            layers.append(get_act_layer(output_act))
        self.model = nn.Sequential(*layers)
        self.apply(cyclegan_init)

    __jit_unused_properties__ = ["size_divisor"]

    @property
    def size_divisor(self) -> int:
        """Every input spatial size must be a multiple of this (``2 ** num_downsamples``)."""
        return self.divisor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate ``x`` of shape ``(B, in_channels, *spatial)``; returns ``(B, out_channels, *spatial)``."""
        check_input_size(x, self.spatial_dims, self.divisor, "ResNetGenerator", "2 ** num_downsamples")
        return self.model(x)
