from __future__ import annotations

import pytest
import torch

from monai_genmed.networks.nets import VGG16FeatureExtractor


@pytest.fixture(scope="session")
def vgg16_state_dict_file(tmp_path_factory):
    """A random VGG16 state dict in torchvision's layout (features.* and classifier.* keys), saved to disk."""
    torch.manual_seed(0)
    features = VGG16FeatureExtractor(layer="pool5").features
    state = {f"features.{k}": v.clone() for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.randn(4, 8)  # torchvision files carry the classifier: it must be ignored
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save(state, path)
    return path, state
