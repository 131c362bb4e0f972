"""DCGAN's generator and discriminator, for unconditional image synthesis from a latent vector.

Radford et al., "Unsupervised Representation Learning with Deep Convolutional Generative Adversarial Networks",
ICLR 2016, https://arxiv.org/abs/1511.06434, section 3 and figure 1: the generator projects ``z`` to a 4x4 map and
doubles the resolution with strided 4x4 transposed convolutions (batch norm, ReLU; tanh output), the
discriminator halves it with strided 4x4 convolutions (LeakyReLU 0.2, batch norm except on the first layer); no
pooling, no fully connected hidden layers; weights ~ N(0, 0.02). For 64x64 images the paper's widths are
1024-512-256-128 in G (with 100-dimensional ``z``) and 128-256-512-1024 in D. The critic of WGAN-GP
(Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028, section 4) must not use batch norm (the penalty is per
sample): use ``norm=("group", {"num_groups": 1})`` (layer norm) or ``None`` there. Spectral normalisation
(Miyato et al., ICLR 2018, https://arxiv.org/abs/1802.05957) bounds each layer's Lipschitz constant by 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn as nn
from monai.networks.blocks import Convolution
from monai.networks.layers import Act, Norm

from monai_genmed.networks.blocks.minibatch_std import MinibatchStdDev
from monai_genmed.utils.flags import ensure_bool

from .resnet_generator import cyclegan_init

__all__ = ["DCGANGenerator", "DCGANDiscriminator"]


def _check_widths(image_size: int, channels: Sequence[int], name: str) -> list[int]:
    """``channels`` as ints, after checking that ``image_size = 4 * 2**len(channels)``."""
    levels = math.log2(image_size / 4) if image_size >= 4 else -1
    if levels < 1 or levels != int(levels):
        raise ValueError(
            f"{name}: image_size must be 4 * 2**k with k >= 1 (8, 16, 32, 64, 128, ...), got {image_size}."
        )
    channels = [int(c) for c in channels]
    if int(levels) != len(channels):
        raise ValueError(
            f"{name}: image_size {image_size} needs {int(levels)} widths (4 * 2**len(channels) = image_size), got "
            f"channels {channels}."
        )
    return channels


class DCGANGenerator(nn.Module):
    """``z -> image``: a 4x4 projection, then one stride-2 4x4 transposed convolution per doubling.

    Layers for ``channels = (c_1, ..., c_k)`` and ``image_size = 4 * 2**k``: ``z`` (``latent_dim``) to a
    ``c_1 x 4 x 4`` map (a 4x4 transposed convolution of the ``1 x 1`` input), then ``c_2, ..., c_k`` at twice the
    size each (norm and ``act`` after each), and a last transposed convolution to ``out_channels`` at
    ``image_size``, followed by ``output_act``. The paper's output is tanh for images in [-1, 1]; ``"sigmoid"``
    (the default here) produces [0, 1] magnitudes directly, the range the package's images and Fréchet distance
    use.

    Args:
        latent_dim: length of ``z`` (DCGAN: 100).
        out_channels: image channels.
        image_size: side of the generated image, ``4 * 2**len(channels)``.
        channels: widths from the 4x4 map up (DCGAN at 64x64: ``(1024, 512, 256, 128)``).
        spatial_dims: 2 for images, 3 for volumes.
        norm: normalisation after each hidden layer, a name or ``(name, kwargs)`` (DCGAN: batch).
        act: activation of the hidden layers (DCGAN: ReLU).
        output_act: ``"sigmoid"``, ``"tanh"`` or ``None`` (linear).

    Input: ``(B, latent_dim)`` or ``(B, latent_dim, 1, ..., 1)``.
    Output: ``(B, out_channels, *[image_size] * spatial_dims)``.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        out_channels: int = 1,
        image_size: int = 64,
        channels: Sequence[int] = (256, 128, 64, 32),
        spatial_dims: int = 2,
        norm: str | tuple | None = Norm.BATCH,
        act: str | tuple = Act.RELU,
        output_act: str | None = "sigmoid",
    ) -> None:
        super().__init__()
        channels = _check_widths(image_size, channels, "DCGANGenerator")
        if output_act not in ("sigmoid", "tanh", None):
            raise ValueError(f"output_act must be 'sigmoid', 'tanh' or None, got {output_act!r}.")
        self.latent_dim, self.out_channels, self.image_size = int(latent_dim), int(out_channels), int(image_size)
        self.spatial_dims = int(spatial_dims)
        self.unit = [1] * self.spatial_dims
        bias = norm is None
        layers: list[nn.Module] = [
            Convolution(spatial_dims, latent_dim, channels[0], strides=1, kernel_size=4, padding=0, output_padding=0,
                        is_transposed=True, act=act, norm=norm, bias=bias)
        ]  # fmt: skip
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers.append(
                Convolution(spatial_dims, c_in, c_out, strides=2, kernel_size=4, padding=1, output_padding=0,
                            is_transposed=True, act=act, norm=norm, bias=bias)
            )  # fmt: skip
        layers.append(
            Convolution(spatial_dims, channels[-1], out_channels, strides=2, kernel_size=4, padding=1, output_padding=0,
                        is_transposed=True, conv_only=True, bias=True)
        )  # fmt: skip
        if output_act == "sigmoid":
            layers.append(nn.Sigmoid())
        elif output_act == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.apply(cyclegan_init)  # DCGAN's N(0, 0.02), which pix2pix and CycleGAN took over

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z.reshape([z.shape[0], z.shape[1]] + self.unit)
        if z.shape[1] != self.latent_dim:
            raise ValueError(
                "DCGANGenerator expects latents (B, "
                + str(self.latent_dim)
                + "), got shape "
                + str(list(z.shape))
                + "."
            )
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """``image -> logit``: one stride-2 4x4 convolution per halving down to 4x4, then a 4x4 convolution to one logit.

    For ``channels = (c_1, ..., c_k)`` and ``image_size = 4 * 2**k``: convolutions to ``c_1`` (no norm, as in the
    paper), ``c_2``, ..., ``c_k`` (norm), each followed by ``act``, halving the size to 4x4; then a 4x4
    convolution without padding to ``(B, 1)`` raw logits (scores for a Wasserstein or hinge critic).

    Args:
        in_channels: image channels.
        image_size: side of the judged image, ``4 * 2**len(channels)``.
        channels: widths from the input down (DCGAN at 64x64: ``(128, 256, 512, 1024)``).
        spatial_dims: 2 or 3.
        norm: normalisation of every layer but the first (DCGAN: batch; a WGAN-GP critic: layer norm, i.e.
            ``("group", {"num_groups": 1})``, or ``None``).
        act: activation (DCGAN: LeakyReLU with slope 0.2).
        spectral_norm: spectrally normalise every convolution (Miyato et al. 2018).
        dropout: dropout rate after each hidden layer (a regulariser against an over-confident D), or ``None``.
        minibatch_std_group: with a group size >= 2, a :class:`~monai_genmed.networks.blocks.MinibatchStdDev` map
            before the last convolution lets D see how alike the samples of a batch are (against mode collapse;
            Karras et al. 2018); 0: off (the weights' names are then those of the plain DCGAN).

    Output: ``(B, 1)`` logits.
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 64,
        channels: Sequence[int] = (32, 64, 128, 256),
        spatial_dims: int = 2,
        norm: str | tuple | None = Norm.BATCH,
        act: str | tuple = (Act.LEAKYRELU, {"negative_slope": 0.2}),
        spectral_norm: bool = False,
        dropout: float | None = None,
        minibatch_std_group: int = 0,
    ) -> None:
        super().__init__()
        channels = _check_widths(image_size, channels, "DCGANDiscriminator")
        self.in_channels, self.image_size, self.spatial_dims = int(in_channels), int(image_size), int(spatial_dims)
        layers: list[nn.Module] = []
        previous = in_channels
        for i, c in enumerate(channels):
            layer_norm = None if i == 0 else norm
            layers.append(
                Convolution(spatial_dims, previous, c, strides=2, kernel_size=4, padding=1, act=act, norm=layer_norm,
                            dropout=dropout, bias=layer_norm is None)
            )  # fmt: skip
            previous = c
        if minibatch_std_group:
            layers.append(MinibatchStdDev(minibatch_std_group))
            previous += 1
        layers.append(Convolution(spatial_dims, previous, 1, strides=1, kernel_size=4, padding=0, conv_only=True))
        self.net = nn.Sequential(*layers)
        self.apply(cyclegan_init)  # before spectral norm, which then rescales the initialised weights
        self.spectral_norm = ensure_bool(spectral_norm, "spectral_norm")
        if self.spectral_norm:
            for module in list(self.modules()):
                if isinstance(module, nn.modules.conv._ConvNd):
                    nn.utils.parametrizations.spectral_norm(module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.spatial_dims + 2 or any(s != self.image_size for s in x.shape[2:]):
            raise ValueError(
                "DCGANDiscriminator expects (B, C, " + ", ".join([str(self.image_size)] * self.spatial_dims)
                + ") images, got shape " + str(list(x.shape)) + "; resize them first (monai.transforms.Resized)."
            )  # fmt: skip
        return self.net(x).flatten(1)
