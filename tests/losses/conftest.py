from __future__ import annotations

import pytest
import torch

from monai_genmed.networks.nets import VGG16FeatureExtractor


@pytest.fixture(scope="session")
def vgg16_weights_path(tmp_path_factory):
    """Random VGG16 weights up to pool4 in torchvision's key layout, saved to disk (real ones cannot be fetched)."""
    torch.manual_seed(0)
    state = VGG16FeatureExtractor(layer="pool4").features.state_dict()
    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    torch.save({f"features.{k}": v for k, v in state.items()}, path)
    return path
