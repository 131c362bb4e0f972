from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F

from monai_genmed.losses import DAGANGeneratorLoss, DAGANLossKeys, VGGPerceptualLoss

LOGGER = "monai_genmed.losses.dagan"


@pytest.fixture
def batch():
    torch.manual_seed(0)
    target = torch.rand(2, 1, 32, 32)
    pred = (target + 0.1 * torch.randn_like(target)).clamp(0, 1).requires_grad_(True)
    return pred, target, torch.randn(2, 1)


def _hand_terms(pred, target, fake_logits):
    k_pred, k_target = torch.fft.fft2(pred), torch.fft.fft2(target)
    return {
        "pixel": F.mse_loss(pred, target),
        "frequency": ((k_pred.abs() - k_target.abs()) ** 2).mean(),  # DAGAN: |FFT2| of [0, 1] images, unnormalised
        "adversarial": F.softplus(-fake_logits).mean(),  # -log sigmoid(l): non-saturating
    }


def test_without_vgg_weights_gamma_is_zero_and_logged_once(batch, caplog):
    pred, target, fake_logits = batch
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        loss = DAGANGeneratorLoss()
        terms = loss(pred, target, fake_logits)
        loss(pred, target, fake_logits)
    assert len([r for r in caplog.records if r.name == LOGGER]) == 1
    assert "perceptual" in caplog.records[0].getMessage()
    assert not loss.perceptual_enabled and loss.effective_gamma == 0.0
    assert loss.perceptual_note == "off: no VGG16 weights given, gamma forced to 0"
    assert set(terms) == {k.value for k in DAGANLossKeys}
    hand = _hand_terms(pred, target, fake_logits)
    for key, value in hand.items():
        torch.testing.assert_close(terms[key], value)
    assert terms["perceptual"].item() == 0.0
    torch.testing.assert_close(terms["total"], 15 * hand["pixel"] + 0.1 * hand["frequency"] + hand["adversarial"])
    terms["total"].backward()
    assert pred.grad.abs().sum() > 0


def test_gamma_zero_by_choice_does_not_warn(caplog, vgg16_weights_path):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        loss = DAGANGeneratorLoss(gamma=0.0, vgg_weights_path=vgg16_weights_path)
    assert not caplog.records
    assert not loss.perceptual_enabled and loss.effective_gamma == 0.0 and loss.perceptual_note == "off: gamma=0"


def test_with_vgg_weights_the_perceptual_term_counts(batch, vgg16_weights_path, caplog):
    pred, target, fake_logits = batch
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        loss = DAGANGeneratorLoss(vgg_weights_path=vgg16_weights_path)
    assert not caplog.records
    assert loss.perceptual_enabled and loss.effective_gamma == 0.0025 and loss.perceptual_note == "on (VGG16 pool4)"
    terms = loss(pred, target, fake_logits)
    perceptual = VGGPerceptualLoss(vgg16_weights_path)(pred, target)
    assert perceptual > 0
    torch.testing.assert_close(terms["perceptual"], perceptual)
    hand = _hand_terms(pred, target, fake_logits)
    expected = 15 * hand["pixel"] + 0.1 * hand["frequency"] + 0.0025 * perceptual + hand["adversarial"]
    torch.testing.assert_close(terms["total"], expected)


def test_options(batch):
    pred, target, fake_logits = batch
    terms = DAGANGeneratorLoss(
        alpha=2.0,
        beta=3.0,
        gamma=0.0,
        adversarial_weight=0.5,
        pixel="nmse_ratio",
        frequency={"norm": "ortho", "magnitude": False},
        adversarial="least_squares",
    )(pred, target, fake_logits)
    nmse_ratio = ((pred - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)).mean()
    torch.testing.assert_close(terms["pixel"], nmse_ratio)
    torch.testing.assert_close(terms["frequency"], F.mse_loss(pred, target))  # Parseval
    torch.testing.assert_close(terms["adversarial"], 0.5 * ((fake_logits - 1) ** 2).mean())
    expected = 2.0 * terms["pixel"] + 3.0 * terms["frequency"] + 0.5 * terms["adversarial"]
    torch.testing.assert_close(terms["total"], expected)
    # without discriminator logits (pre-training, validation) the adversarial term is 0
    no_adversarial = DAGANGeneratorLoss(gamma=0.0)(pred, target)
    assert no_adversarial["adversarial"].item() == 0.0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="reduction"):
        DAGANGeneratorLoss(reduction="none")
    with pytest.raises(ValueError, match="reduction"):
        DAGANGeneratorLoss(frequency={"reduction": "sum"})
    with pytest.raises(ValueError):
        DAGANGeneratorLoss(pixel="l1")
    with pytest.raises(FileNotFoundError):
        DAGANGeneratorLoss(vgg_weights_path="/nonexistent/vgg16.pth")


def test_vgg_resize_is_passed_to_the_perceptual_term(batch, vgg16_weights_path):
    pred, target, _ = batch
    terms = DAGANGeneratorLoss(vgg_weights_path=vgg16_weights_path, vgg_layer="relu2_2", vgg_resize_to=(40, 40))(
        pred, target
    )
    resized = VGGPerceptualLoss(vgg16_weights_path, layer="relu2_2", resize_to=(40, 40))(pred, target)
    torch.testing.assert_close(terms["perceptual"], resized)
    assert not torch.allclose(resized, VGGPerceptualLoss(vgg16_weights_path, layer="relu2_2")(pred, target))
