from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine

from monai_genmed.losses import (
    DAGANGeneratorLoss,
    FrequencyDomainLoss,
    GANLoss,
    GaussianKLLoss,
    LinearWarmup,
    LossTerm,
    VGGPerceptualLoss,
    WeightedLossSum,
)


def test_dagan_generator_loss_is_one_weighted_sum_with_the_same_value(vgg16_weights_path):
    torch.manual_seed(0)
    pred, target, fake_logits = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32), torch.randn(2, 1)
    dagan = DAGANGeneratorLoss(vgg_weights_path=vgg16_weights_path, vgg_resize_to=None)
    gan = GANLoss("non_saturating")
    total = WeightedLossSum(
        input_names=["pred", "target", "fake_logits"],
        terms={
            "pixel": {"loss": torch.nn.MSELoss(), "weight": 15.0},
            "frequency": {"loss": FrequencyDomainLoss(), "weight": 0.1},
            "perceptual": {"loss": VGGPerceptualLoss(weights_path=vgg16_weights_path, layer="pool4"), "weight": 0.0025},
            "adversarial": {"loss": gan.generator_loss, "inputs": ["fake_logits"], "optional": True},
        },
    )
    expected, got = dagan(pred, target, fake_logits), total(pred, target, fake_logits)
    assert expected["perceptual"] > 0  # the full objective, VGG term included
    for key in ("pixel", "frequency", "perceptual", "adversarial", "total"):
        torch.testing.assert_close(got[key], expected[key])
    # without logits (generator pre-training, validation) both drop the adversarial term
    torch.testing.assert_close(total(pred, target, None)["total"], dagan(pred, target)["total"])


def test_vae_loss_with_kl_warm_up_follows_the_trainer_state():
    torch.manual_seed(0)
    recon, target = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    mu, logvar, z = torch.randn(2, 4), torch.randn(2, 4), torch.randn(2, 4)
    loss = WeightedLossSum(
        input_names=["pred", "target", "mu", "logvar", "z"],
        terms={
            "reconstruction": LossTerm(torch.nn.MSELoss(), weight=64.0),
            "kl": LossTerm(GaussianKLLoss(), weight=LinearWarmup(0.0, 1.0, epochs=2), inputs=["mu", "logvar"]),
        },
        log_weights=True,
    )
    engine = Engine(lambda *_: None)
    engine.state.iteration, engine.state.epoch_length, engine.state.epoch = 1, 10, 1
    loss.attach(engine)
    mse, kl = torch.nn.functional.mse_loss(recon, target), GaussianKLLoss()(mu, logvar)
    first = loss(recon, target, mu, logvar, z)
    torch.testing.assert_close(first["total"], 64.0 * mse)  # the KL weight starts at 0
    assert first["kl_weight"].item() == 0.0 and "reconstruction_weight" not in first
    torch.testing.assert_close(first["kl"], kl)  # logged unweighted
    engine.state.iteration = 11  # one epoch done: half way up
    torch.testing.assert_close(loss(recon, target, mu, logvar, z)["total"], 64.0 * mse + 0.5 * kl)
    engine.state.iteration = 500
    torch.testing.assert_close(loss(recon, target, mu, logvar, z)["total"], 64.0 * mse + kl)
    # an explicit state wins over the attached engine's
    torch.testing.assert_close(loss(recon, target, mu, logvar, z, state=0.5)["total"], 64.0 * mse + 0.25 * kl)


def test_misconfigured_sums_are_clear_errors():
    mse = torch.nn.MSELoss()
    with pytest.raises(ValueError, match="not among input_names"):
        WeightedLossSum({"kl": {"loss": GaussianKLLoss(), "inputs": ["mu", "logvar"]}})
    with pytest.raises(ValueError, match="'total'"):
        WeightedLossSum({"total": {"loss": mse}})
    scheduled = WeightedLossSum({"mse": {"loss": mse, "weight": LinearWarmup()}})
    with pytest.raises(RuntimeError, match="train_handlers"):
        scheduled(torch.zeros(1), torch.zeros(1))
    strict = WeightedLossSum({"adv": {"loss": mse, "inputs": ["pred", "logits"]}}, input_names=["pred", "logits"])
    with pytest.raises(ValueError, match="optional"):
        strict(torch.zeros(1), None)
    with pytest.raises(TypeError, match="list of input names"):
        LossTerm(mse, inputs="pred")
