from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_genmed.losses import VGGPerceptualLoss
from monai_genmed.networks.nets import VGG16FeatureExtractor


def test_without_weights_it_is_unavailable_and_refuses_to_run():
    loss = VGGPerceptualLoss()
    assert not loss.available
    with pytest.raises(RuntimeError, match="weights_path"):
        loss(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))


def test_feature_mse_with_loaded_weights(vgg16_weights_path):
    loss = VGGPerceptualLoss(weights_path=vgg16_weights_path)
    assert loss.available
    vgg = VGG16FeatureExtractor(vgg16_weights_path, layer="pool4")
    pred = torch.rand(2, 1, 32, 32, requires_grad=True)
    target = torch.rand(2, 1, 32, 32)
    value = loss(pred, target)
    torch.testing.assert_close(value, F.mse_loss(vgg(pred), vgg(target)))
    assert loss(target, target).item() == 0.0
    value.backward()
    assert pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())  # VGG stays frozen
    assert VGGPerceptualLoss(vgg16_weights_path, reduction="none")(pred, target).shape == (2, 512, 2, 2)


def test_resize_matches_resizing_first(vgg16_weights_path):
    loss = VGGPerceptualLoss(vgg16_weights_path, layer="relu2_2", resize_to=(32, 32))
    pred, target = torch.rand(1, 1, 20, 24), torch.rand(1, 1, 20, 24)
    resized = [F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False) for x in (pred, target)]
    torch.testing.assert_close(loss(pred, target), VGGPerceptualLoss(vgg16_weights_path, layer="relu2_2")(*resized))
