"""Unrolled reconstruction networks: de-aliasing blocks alternating with data-consistency layers.

Schlemper et al. 2018, "A Deep Cascade of Convolutional Neural Networks for Dynamic MR Image Reconstruction",
https://arxiv.org/abs/1703.00555 (single-coil, section II-C): ``x_{i+1} = DC(x_i + CNN_i(x_i))`` for
``i = 1..n_c``, each CNN ``n_d`` convolutions of 3x3 with ``n_f`` filters and ReLU, the last one linear, with a
residual connection; the paper's D5-C5 has ``n_d = 5``, ``n_c = 5``, ``n_f = 64``. The defaults here are
smaller (16 filters) for CPU training.

:class:`DAGANCascade` puts DAGAN's U-Net generator (Yang et al. 2018, https://doi.org/10.1109/TMI.2017.2785879,
:class:`~monai_genmed.networks.nets.DAGANGenerator`) in place of the small CNN, so data consistency is part of
the network DAGAN's loss (adversarial term included) trains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.networks.blocks import Convolution
from monai.networks.layers.factories import Act
from torch import nn

from monai_genmed.networks.blocks.data_consistency import SingleCoilDataConsistency
from monai_genmed.networks.nets.dagan import DAGANGenerator
from monai_genmed.transforms.kspace.functional import from_complex, to_complex

__all__ = ["CascadeCNNBlock", "UnrolledDataConsistencyNet", "DataConsistentCascade", "DAGANCascade"]


class CascadeCNNBlock(nn.Module):
    """Schlemper's de-aliasing CNN: ``x + CNN(x)``, ``depth`` 3x3 convolutions, the last one linear.

    Args:
        spatial_dims: number of spatial dimensions.
        in_channels: image channels (1 for a real image, 2 for ``[real, imag]``); the output has as many.
        channels: filters of the hidden convolutions (paper: 64).
        depth: number of convolutions, at least 2 (paper: 5).
        act: activation of the hidden convolutions, a name or ``(name, kwargs)`` (paper: ReLU).
        norm: optional normalisation of the hidden convolutions (paper: none).
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        channels: int = 16,
        depth: int = 5,
        act: str | tuple = Act.RELU,
        norm: str | tuple | None = None,
    ) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be >= 2 (one hidden and one output convolution), got {depth}.")
        widths = [in_channels] + [channels] * (depth - 1) + [in_channels]
        layers = [
            Convolution(spatial_dims, c_in, c_out, kernel_size=3, act=act, norm=norm, bias=True)
            for c_in, c_out in zip(widths[:-2], widths[1:-1])
        ]
        layers.append(Convolution(spatial_dims, widths[-2], widths[-1], kernel_size=3, conv_only=True, bias=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class UnrolledDataConsistencyNet(nn.Module):
    """``n`` de-aliasing blocks, each followed by a :class:`SingleCoilDataConsistency` layer.

    The network is called as ``net(zero_filled, kspace_masked=..., mask=...)``, with the batch keys that
    :class:`monai_genmed.transforms.kspace.Undersampled` writes, so the engine's objectives and
    :class:`monai_genmed.engines.PrepareBatchKeys` pass them by name (``extra_keys``).

    With ``real_valued=True`` the blocks see one-channel real images and the first block gets the input image
    (the bundle's zero-filled magnitude, as DAGAN does). With ``real_valued=False`` the blocks see
    ``[real, imag]`` channels; the start is the complex zero-filled image ``F^-1(y)`` (a magnitude input has lost
    the phase) and the output is its magnitude (``output="magnitude"``, what the targets are) or the two channels
    (``output="channels"``).

    Args:
        make_block: ``(index) -> nn.Module`` of the de-aliasing block of each cascade.
        cascades: number of blocks and DC layers.
        spatial_dims: number of spatial dimensions (2).
        real_valued: the real-valued prior, see :class:`SingleCoilDataConsistency`.
        noise_lambda, learn_lambda: Schlemper's soft data consistency, see :class:`SingleCoilDataConsistency`.
        output: ``"magnitude"`` or ``"channels"``; only used with ``real_valued=False``.
    """

    def __init__(
        self,
        make_block: Callable[[int], nn.Module],
        cascades: int = 5,
        spatial_dims: int = 2,
        real_valued: bool = True,
        noise_lambda: float | None = None,
        learn_lambda: bool = False,
        output: str = "magnitude",
    ) -> None:
        super().__init__()
        if cascades < 1:
            raise ValueError(f"cascades must be >= 1, got {cascades}.")
        if output not in ("magnitude", "channels"):
            raise ValueError(f"output must be 'magnitude' or 'channels', got {output!r}.")
        self.spatial_dims, self.real_valued, self.output = spatial_dims, real_valued, output
        self.blocks = nn.ModuleList(make_block(i) for i in range(cascades))
        self.consistency = nn.ModuleList(
            SingleCoilDataConsistency(spatial_dims, real_valued, noise_lambda, learn_lambda) for _ in range(cascades)
        )

    def forward(self, x: torch.Tensor, kspace_masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` (``(B, 1, *spatial)``) from the measured ``kspace_masked`` on ``mask``."""
        if not self.real_valued:
            y = kspace_masked if torch.is_complex(kspace_masked) else to_complex(kspace_masked, "channels", 1)
            x = from_complex(self.consistency[0]._fft(y.to(torch.complex64), inverse=True), "channels", 1).to(x.dtype)
        for block, dc in zip(self.blocks, self.consistency):
            x = dc(block(x), kspace_masked, mask)
        if self.real_valued or self.output == "channels":
            return x
        return torch.linalg.vector_norm(x.unflatten(1, (2, -1)), dim=1)


class DataConsistentCascade(UnrolledDataConsistencyNet):
    """Schlemper's cascade: :class:`CascadeCNNBlock` de-aliasing blocks alternating with data consistency.

    The defaults (5 cascades of 5 convolutions, 16 channels) have 36 k parameters for real images.

    Args:
        spatial_dims: number of spatial dimensions (2).
        cascades: number of CNN + DC stages (paper: 5).
        channels: filters per hidden convolution (paper: 64).
        depth: convolutions per CNN (paper: 5).
        act, norm: see :class:`CascadeCNNBlock`.
        real_valued, noise_lambda, learn_lambda, output: see :class:`UnrolledDataConsistencyNet`.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        cascades: int = 5,
        channels: int = 16,
        depth: int = 5,
        act: str | tuple = Act.RELU,
        norm: str | tuple | None = None,
        real_valued: bool = True,
        noise_lambda: float | None = None,
        learn_lambda: bool = False,
        output: str = "magnitude",
    ) -> None:
        in_channels = 1 if real_valued else 2
        super().__init__(
            lambda _: CascadeCNNBlock(spatial_dims, in_channels, channels, depth, act, norm),
            cascades, spatial_dims, real_valued, noise_lambda, learn_lambda, output,
        )  # fmt: skip


class DAGANCascade(UnrolledDataConsistencyNet):
    """DAGAN-DC: DAGAN's U-Net generator as the de-aliasing block of each cascade, then data consistency.

    Real-valued images only (DAGAN maps magnitude to magnitude within ``output_range``).

    Args:
        spatial_dims: number of spatial dimensions (2).
        cascades: number of U-Net + DC stages.
        channels, up_channels, refinement, output_range: of each :class:`DAGANGenerator`.
        noise_lambda, learn_lambda: see :class:`SingleCoilDataConsistency`.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        cascades: int = 2,
        channels: Sequence[int] = (8, 16, 32, 64, 64, 64, 64, 64),
        up_channels: Sequence[int] = (64, 128, 128, 128, 32, 16, 8, 8),
        refinement: bool = True,
        output_range: Sequence[float] = (0.0, 1.0),
        noise_lambda: float | None = None,
        learn_lambda: bool = False,
    ) -> None:
        super().__init__(
            lambda _: DAGANGenerator(
                spatial_dims, 1, 1, channels=channels, up_channels=up_channels, refinement=refinement,
                output_range=output_range,
            ),
            cascades, spatial_dims, True, noise_lambda, learn_lambda,
        )  # fmt: skip
