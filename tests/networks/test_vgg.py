from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_genmed.networks.nets import VGG16_LAYER_NAMES, VGG16FeatureExtractor


def _manual_vgg16(x: torch.Tensor, state: dict, last_layer: str) -> torch.Tensor:
    """VGG16 written out with functional ops from the state dict, in torchvision's index order."""
    x = x.repeat(1, 3, 1, 1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (x - mean) / std
    for index, name in enumerate(VGG16_LAYER_NAMES):
        if name.startswith("conv"):
            x = F.conv2d(x, state[f"features.{index}.weight"], state[f"features.{index}.bias"], padding=1)
        elif name.startswith("relu"):
            x = F.relu(x)
        else:
            x = F.max_pool2d(x, 2)
        if name == last_layer:
            return x
    raise AssertionError(last_layer)


def test_layer_names_follow_torchvision_indices():
    assert len(VGG16_LAYER_NAMES) == 31
    assert VGG16_LAYER_NAMES.index("pool4") == 23
    assert VGG16_LAYER_NAMES.index("conv5_3") == 28
    assert VGG16_LAYER_NAMES.index("relu2_2") == 8


@pytest.mark.parametrize("layer, size, channels", [("pool4", 32, 512), ("relu2_2", 17, 128), ("conv1_1", 16, 64)])
def test_loaded_weights_give_the_manual_forward(vgg16_state_dict_file, layer, size, channels):
    path, state = vgg16_state_dict_file
    vgg = VGG16FeatureExtractor(weights_path=path, layer=layer)
    assert vgg.weights_loaded
    x = torch.rand(2, 1, size, size)
    features = vgg(x)
    assert features.shape[:2] == (2, channels)
    torch.testing.assert_close(features, _manual_vgg16(x, state, layer), rtol=1e-4, atol=1e-5)
    # a 3-channel copy of the image gives the same features as the 1-channel image
    torch.testing.assert_close(vgg(x.repeat(1, 3, 1, 1)), features)


def test_frozen_in_eval_mode_but_passes_gradients_to_input(vgg16_state_dict_file):
    vgg = VGG16FeatureExtractor(weights_path=vgg16_state_dict_file[0], layer="relu3_3")
    holder = torch.nn.Sequential(vgg).train()
    assert not vgg.training
    assert not any(p.requires_grad for p in vgg.parameters())
    x = torch.rand(1, 1, 16, 16, requires_grad=True)
    holder(x).square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_random_weights_are_flagged():
    assert not VGG16FeatureExtractor(layer="conv1_1").weights_loaded


def test_bad_inputs_raise(tmp_path, vgg16_state_dict_file):
    with pytest.raises(FileNotFoundError, match="vgg16-397923af"):
        VGG16FeatureExtractor(weights_path=tmp_path / "missing.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Could not read"):
        VGG16FeatureExtractor(weights_path=garbage)
    _, state = vgg16_state_dict_file
    wrapped = tmp_path / "wrapped.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, wrapped)
    with pytest.raises(ValueError, match="missing"):
        VGG16FeatureExtractor(weights_path=wrapped)
    wrong_shape = tmp_path / "wrong_shape.pth"
    torch.save({**state, "features.0.weight": torch.zeros(64, 1, 3, 3)}, wrong_shape)
    with pytest.raises(ValueError, match="features.0.weight"):
        VGG16FeatureExtractor(weights_path=wrong_shape)
    not_a_dict = tmp_path / "list.pth"
    torch.save([1, 2], not_a_dict)
    with pytest.raises(ValueError, match="not a VGG16 state dict"):
        VGG16FeatureExtractor(weights_path=not_a_dict)
    with pytest.raises(ValueError, match="Unknown VGG16 layer"):
        VGG16FeatureExtractor(layer="conv6_1")
    with pytest.raises(ValueError, match="1 or 3"):
        VGG16FeatureExtractor(layer="conv1_1")(torch.rand(1, 2, 8, 8))
