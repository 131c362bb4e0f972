"""Autoencoders with a flat latent vector, built on MONAI's ``AutoEncoder`` and ``VarAutoEncoder``.

MONAI's ``VarAutoEncoder`` (Kingma and Welling 2014, https://arxiv.org/abs/1312.6114) already maps an image to a
``latent_size`` vector (``encode_forward`` -> ``(mu, logvar)``) and back (``decode_forward``). MONAI's plain
``AutoEncoder`` has no such bottleneck: its code is a feature map. :class:`ConvAutoEncoder` adds the same linear
bottleneck to it, deterministic, so a plain autoencoder and a VAE of the same widths differ only in the KL term
and the sampling of ``z``, which is the comparison that shows why a VAE's latent space can be sampled from
``N(0, I)`` and an autoencoder's cannot. :class:`VarAutoEncoderReconstructor` is MONAI's ``VarAutoEncoder`` whose
``forward`` returns a tensor (the reconstruction of the posterior mean), for inference, TorchScript export and
MONAI's ``verify_net_in_out``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn
from monai.networks.layers.convutils import calculate_out_shape, same_padding
from monai.networks.layers.factories import Act, Norm
from monai.networks.nets import AutoEncoder, VarAutoEncoder

__all__ = ["ConvAutoEncoder", "VarAutoEncoderReconstructor"]


class ConvAutoEncoder(AutoEncoder):
    """A deterministic autoencoder ``x -> z -> x_hat`` with a ``latent_size`` vector ``z``, API-compatible with
    MONAI's ``VarAutoEncoder``.

    The convolutional encoder and decoder are MONAI's ``AutoEncoder`` (same arguments); a linear layer maps the
    flattened encoder output to ``z`` and another maps ``z`` back (followed by ReLU, as in ``VarAutoEncoder``).
    ``encode_forward(x) -> z`` and ``decode_forward(z) -> x_hat`` have ``VarAutoEncoder``'s names, so code that
    encodes and decodes (latent plots, sampling) serves both.

    Args:
        spatial_dims: number of spatial dimensions.
        in_shape: shape of the input, channel first, e.g. ``(1, 64, 64)``.
        out_channels: channels of the reconstruction.
        latent_size: length of ``z``.
        channels, strides, kernel_size, up_kernel_size, num_res_units, inter_channels, inter_dilations,
            num_inter_units, act, norm, dropout, bias: as in MONAI's ``AutoEncoder``.
        use_sigmoid: end the decoder with a sigmoid (images in [0, 1]).

    Example::

        ae = ConvAutoEncoder(2, (1, 64, 64), 1, latent_size=20, channels=(16, 32, 64, 128), strides=(2, 2, 2, 2))
        z = ae.encode_forward(images)  # (B, 20)
        recon = ae.decode_forward(z)  # (B, 1, 64, 64), ae(images) in one call
    """

    def __init__(
        self,
        spatial_dims: int,
        in_shape: Sequence[int],
        out_channels: int,
        latent_size: int,
        channels: Sequence[int],
        strides: Sequence[int],
        kernel_size: Sequence[int] | int = 3,
        up_kernel_size: Sequence[int] | int = 3,
        num_res_units: int = 0,
        inter_channels: list | None = None,
        inter_dilations: list | None = None,
        num_inter_units: int = 2,
        act: tuple | str | None = Act.PRELU,
        norm: tuple | str = Norm.INSTANCE,
        dropout: tuple | str | float | None = None,
        bias: bool = True,
        use_sigmoid: bool = True,
    ) -> None:
        in_channels, *spatial = in_shape
        if len(spatial) != spatial_dims:
            raise ValueError(f"in_shape {list(in_shape)} must be (channels, {spatial_dims} spatial sizes).")
        super().__init__(
            spatial_dims, in_channels, out_channels, channels, strides, kernel_size, up_kernel_size, num_res_units,
            inter_channels, inter_dilations, num_inter_units, act, norm, dropout, bias,
        )  # fmt: skip
        self.in_shape = [int(s) for s in spatial]
        self.latent_size = int(latent_size)
        self.use_sigmoid = use_sigmoid
        final_size = np.asarray(self.in_shape, dtype=int)
        padding = same_padding(self.kernel_size)
        for s in strides:
            final_size = calculate_out_shape(final_size, self.kernel_size, s, padding)  # type: ignore[assignment]
        self.final_size = [int(s) for s in np.atleast_1d(final_size)]
        linear_size = int(np.prod(self.final_size)) * self.encoded_channels
        self.latent = nn.Linear(linear_size, self.latent_size)
        self.decodeL = nn.Linear(self.latent_size, linear_size)

    @property
    def latent_dim(self) -> int:
        """Length of ``z`` (``latent_size``)."""
        return self.latent_size

    def encode_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, *spatial)`` -> codes ``(B, latent_size)``."""
        x = self.intermediate(self.encode(x))
        return self.latent(x.reshape(x.shape[0], -1))

    def decode_forward(self, z: torch.Tensor, use_sigmoid: bool = True) -> torch.Tensor:
        """Codes ``(B, latent_size)`` -> images; ``use_sigmoid=False`` skips the sigmoid even if the net has one."""
        x = torch.relu(self.decodeL(z))
        x = self.decode(x.reshape([x.shape[0], self.encoded_channels] + self.final_size))
        if use_sigmoid and self.use_sigmoid:
            x = torch.sigmoid(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_forward(self.encode_forward(x))


class VarAutoEncoderReconstructor(VarAutoEncoder):
    """MONAI's ``VarAutoEncoder`` whose ``forward`` returns only the reconstruction of the posterior mean.

    ``VarAutoEncoder.forward`` returns ``(reconstruction, mu, logvar, z)`` and samples ``z`` (in eval mode
    ``mu + sigma`` unless ``use_mean_at_inference``): right for training, not for a deterministic reconstruction,
    TorchScript export or ``verify_net_in_out``, which want one tensor. This class has the same arguments and
    parameters, so a ``VarAutoEncoder``'s weights load into it unchanged; its ``forward`` is
    ``decode_forward(encode_forward(x)[0])``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        mu, _ = self.encode_forward(x)
        return self.decode_forward(mu, self.use_sigmoid)
