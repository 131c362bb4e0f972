"""A small CNN encoder of 64x64 brain MR slices whose features serve the Fréchet distance (FD) offline.

The Fréchet Inception Distance (Heusel et al. 2017, https://arxiv.org/abs/1706.08500) compares the Gaussian
statistics of a feature network's activations on generated and real images. Its usual networks (Inception v3 on
ImageNet, or RadImageNet, Mei et al. 2022, https://doi.org/10.1148/ryai.210315) need weights that many
hospitals and this project's machines cannot download. :class:`BrainSliceEncoder` is small enough to ship with
the package (``monai_genmed/networks/weights/brain_encoder_64.pt``, trained by
``python -m monai_genmed.apps.feature_encoder``; see that module for the training task and why) and to train
again on a laptop CPU. Distances measured with it are *not* FIDs: they compare only with other distances from
the same weights (:class:`~monai_genmed.metrics.FrechetDistance` names them accordingly).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from monai.networks.blocks import Convolution
from monai.networks.layers import Act, Norm

__all__ = ["BrainSliceEncoder", "BRAIN_ENCODER_64_WEIGHTS", "load_brain_encoder"]

#: the shipped weights of ``BrainSliceEncoder()`` (64x64 single-channel slices in [0, 1])
BRAIN_ENCODER_64_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "brain_encoder_64.pt"


class BrainSliceEncoder(nn.Module):
    """2D CNN that maps a brain MR slice to a ``feature_dim`` vector (the FD features).

    Every stage halves the resolution with a strided 3x3 convolution (``Convolution`` of MONAI: conv, norm,
    activation) and adds ``convs_per_stage[i] - 1`` stride-1 3x3 convolutions; a global average pool and a linear
    layer give the features. Extra convolutions sit at the high-resolution stages only, where they are cheap in
    weights: fine texture (noise, blur, ringing) is visible there and lost after the first downsamplings. With
    the defaults the network has 0.47 M parameters (1.9 MB in float32).

    The features are the linear layer's output, before any activation: roughly Gaussian, which the Fréchet
    distance assumes. Training heads (``monai_genmed.apps.feature_encoder``) sit on top of them, so they are the
    penultimate layer of the trained model, as Inception's pool features are for FID.

    Args:
        in_channels: image channels (1 for a single MR contrast).
        spatial_size: side of the square input the encoder expects (64); it must be divisible by
            ``2 ** len(channels)``. Inputs of another size are an error: resize them first (MONAI's ``Resized``).
        channels: output channels of each stage.
        feature_dim: length of the feature vector.
        convs_per_stage: convolutions per stage (the first strided), one entry per stage.
        act: activation, a name or a ``(name, kwargs)`` tuple.
        norm: normalisation, a name or a ``(name, kwargs)`` tuple.

    Example::

        encoder = load_brain_encoder()  # the shipped weights, eval mode, no gradients
        features = encoder(slices)  # (B, 1, 64, 64) in [0, 1] -> (B, 128)
    """

    def __init__(
        self,
        in_channels: int = 1,
        spatial_size: int = 64,
        channels: Sequence[int] = (32, 64, 128, 256),
        feature_dim: int = 128,
        convs_per_stage: Sequence[int] = (2, 2, 1, 1),
        act: str | tuple = (Act.LEAKYRELU, {"negative_slope": 0.2}),
        norm: str | tuple = Norm.BATCH,
    ) -> None:
        super().__init__()
        channels, convs_per_stage = tuple(int(c) for c in channels), tuple(int(n) for n in convs_per_stage)
        if len(convs_per_stage) != len(channels) or min(convs_per_stage, default=0) < 1:
            raise ValueError(
                f"convs_per_stage {convs_per_stage} needs one entry >= 1 per stage of channels {channels}."
            )
        if spatial_size % (2 ** len(channels)) != 0:
            raise ValueError(
                f"spatial_size {spatial_size} must be divisible by 2 ** {len(channels)} (one halving per stage of "
                f"channels {channels}); use 64 for the shipped weights."
            )
        self.in_channels = int(in_channels)
        self.spatial_size = int(spatial_size)
        self.feature_dim = int(feature_dim)
        layers: list[nn.Module] = []
        previous = self.in_channels
        for out_channels, convs in zip(channels, convs_per_stage):
            for k in range(convs):
                layers.append(
                    Convolution(
                        spatial_dims=2,
                        in_channels=previous,
                        out_channels=out_channels,
                        strides=2 if k == 0 else 1,
                        kernel_size=3,
                        act=act,
                        norm=norm,
                        bias=False,
                    )
                )
                previous = out_channels
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(previous, self.feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, spatial_size, spatial_size)`` images in [0, 1] -> ``(B, feature_dim)`` features."""
        size = self.spatial_size
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[2] != size or x.shape[3] != size:
            raise ValueError(
                "BrainSliceEncoder expects (batch, "
                + str(self.in_channels)
                + ", "
                + str(self.spatial_size)
                + ", "
                + str(self.spatial_size)
                + ") images, got "
                + str(list(x.shape))
                + "; resize the slices first, e.g. monai.transforms.Resized(keys='image', spatial_size=("
                + str(self.spatial_size)
                + ", "
                + str(self.spatial_size)
                + "))."
            )
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def _read_weights(path: Path) -> tuple[dict[str, Any], Mapping[str, torch.Tensor]]:
    if not path.is_file():
        raise FileNotFoundError(
            f"brain encoder weights {str(path)!r} do not exist; reinstall monai_genmed (the package ships "
            "networks/weights/brain_encoder_64.pt) or train them: python -m monai_genmed.apps.feature_encoder "
            f"--output {path}."
        )
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{str(path)!r} is not a brain encoder weight file ({type(err).__name__}: {err}); pass a file written by "
            "python -m monai_genmed.apps.feature_encoder."
        ) from err
    if not isinstance(content, Mapping) or "state_dict" not in content:
        kind = type(content).__name__ if not isinstance(content, Mapping) else "mapping without 'state_dict'"
        raise ValueError(
            f"{str(path)!r} holds a {kind}, not a brain encoder file ({{'config': ..., 'state_dict': ...}}); pass a "
            "file written by python -m monai_genmed.apps.feature_encoder, or load another network with "
            "monai_genmed.metrics.load_feature_extractor."
        )
    return dict(content.get("config", {})), content["state_dict"]


def load_brain_encoder(path: str | os.PathLike | None = None, device: torch.device | str = "cpu") -> BrainSliceEncoder:
    """The trained :class:`BrainSliceEncoder`, in eval mode and without gradients.

    Args:
        path: a file written by ``python -m monai_genmed.apps.feature_encoder`` (``{"config", "state_dict"}``,
            read with ``weights_only=True``); default the shipped ``BRAIN_ENCODER_64_WEIGHTS``.
        device: where to put the network.

    Returns:
        The encoder, built from the file's config.
    """
    path = BRAIN_ENCODER_64_WEIGHTS if path is None else Path(path)
    config, state_dict = _read_weights(path)
    encoder = BrainSliceEncoder(**config)
    try:
        encoder.load_state_dict(state_dict)
    except RuntimeError as err:
        raise ValueError(
            f"{str(path)!r} does not fit BrainSliceEncoder(**{config}): {err}. Retrain the file with "
            "python -m monai_genmed.apps.feature_encoder."
        ) from err
    encoder.eval().requires_grad_(False)
    return encoder.to(device)
