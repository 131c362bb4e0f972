"""A frozen VGG16 feature extractor that loads torchvision's VGG16 weights from a local file.

Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015,
https://arxiv.org/abs/1409.1556. DAGAN's perceptual loss compares VGG16 ``pool4`` features
(Yang et al., IEEE TMI 2018, https://doi.org/10.1109/TMI.2017.2785879).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
import torch.nn as nn

__all__ = ["VGG16FeatureExtractor", "VGG16_LAYER_NAMES"]

# VGG16 (configuration "D"): output channels per convolution, "M" for a 2x2 max pooling
_VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _layer_names() -> tuple[str, ...]:
    names, block, conv = [], 1, 1
    for item in _VGG16_CONFIG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return tuple(names)


VGG16_LAYER_NAMES: tuple[str, ...] = _layer_names()
"""Names of torchvision's ``vgg16().features`` layers in index order: ``conv1_1, relu1_1, ..., pool5``."""


class VGG16FeatureExtractor(nn.Module):
    """VGG16 ``features`` up to and including a named layer, frozen and in eval mode.

    The layers are indexed exactly as torchvision's ``vgg16().features`` (``features.0`` is ``conv1_1``,
    ``features.23`` is ``pool4``, see :data:`VGG16_LAYER_NAMES`), so a torchvision VGG16 state dict, e.g. the
    ImageNet weights ``vgg16-397923af.pth`` that torchvision publishes, loads from ``weights_path``. Keys outside
    ``features`` (the classifier) and layers past ``layer`` are ignored. Nothing is downloaded and torchvision
    is not needed: fetch the file once and pass its path.

    Inputs are images in [0, 1] with 1 or 3 channels: a single channel is repeated to RGB, then the ImageNet
    mean and std that torchvision's weights expect are applied. (DAGAN's TensorFlow VGG instead took
    [0, 255] images minus the Caffe mean; the torchvision weights need this normalisation.)

    Args:
        weights_path: path of a torchvision-format VGG16 state dict (``features.{i}.weight`` / ``.bias``). With
            ``None`` the weights stay random (``weights_loaded`` is False): useful for tests only.
        layer: last layer to run, a name from :data:`VGG16_LAYER_NAMES` (DAGAN: ``"pool4"``).

    Raises:
        FileNotFoundError: ``weights_path`` does not exist.
        ValueError: ``layer`` is unknown, or the file is not a VGG16 state dict (wrong keys or shapes).
    """

    def __init__(self, weights_path: str | os.PathLike | None = None, layer: str = "pool4") -> None:
        super().__init__()
        if layer not in VGG16_LAYER_NAMES:
            raise ValueError(f"Unknown VGG16 layer {layer!r}; choose one of {', '.join(VGG16_LAYER_NAMES)}.")
        self.layer = layer
        last = VGG16_LAYER_NAMES.index(layer)
        modules: list[nn.Module] = []
        in_channels = 3
        for item in _VGG16_CONFIG:
            if item == "M":
                modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                modules += [nn.Conv2d(in_channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                in_channels = int(item)
        self.features = nn.Sequential(*modules[: last + 1])
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.weights_loaded = False
        if weights_path is not None:
            self.load_vgg16_weights(weights_path)
        self.requires_grad_(False)
        self.eval()

    def load_vgg16_weights(self, weights_path: str | os.PathLike) -> None:
        """Load the ``features`` weights of a torchvision-format VGG16 state dict saved at ``weights_path``."""
        path = os.fspath(weights_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"VGG16 weights file not found: {path!r}. Pass the path of a torchvision VGG16 state dict, e.g. "
                "vgg16-397923af.pth from https://download.pytorch.org/models/vgg16-397923af.pth."
            )
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(f"Could not read VGG16 weights from {path!r} as a torch state dict: {err}") from err
        if not isinstance(state, Mapping):
            raise ValueError(f"{path!r} holds a {type(state).__name__}, not a VGG16 state dict (a mapping).")
        wanted = {f"features.{k}": v for k, v in self.features.state_dict().items()}
        missing = sorted(set(wanted) - set(state))
        if missing:
            found = sorted(k for k in state if isinstance(k, str))[:4]
            raise ValueError(
                f"{path!r} is not a torchvision VGG16 state dict: {len(missing)} keys are missing, e.g. {missing[:4]} "
                f"(found e.g. {found}). Expected torchvision's layout 'features.<index>.weight'."
            )
        for key, reference in wanted.items():
            value = state[key]
            if not isinstance(value, torch.Tensor) or value.shape != reference.shape:
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"{path!r}: {key} is {got}, VGG16 needs a tensor of shape {tuple(reference.shape)}.")
        self.features.load_state_dict({k[len("features.") :]: state[k] for k in wanted})
        self.weights_loaded = True

    def train(self, mode: bool = True) -> VGG16FeatureExtractor:
        """Stay in eval mode: the extractor is a fixed measurement, even inside a module set to train."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features at ``self.layer`` of images ``x`` with shape ``(B, 1 or 3, H, W)`` and values in [0, 1]."""
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(
                f"VGG16FeatureExtractor expects 2D images of shape (B, 1 or 3, H, W), got {tuple(x.shape)}."
            )
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.features((x - self.mean.to(x.dtype)) / self.std.to(x.dtype))
