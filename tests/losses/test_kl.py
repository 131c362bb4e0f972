from __future__ import annotations

import math

import pytest
import torch

from monai_genmed.losses import GaussianKLLoss


def test_kl_matches_a_hand_value():
    # sample 1: mu = (1, 0), sigma^2 = (1, e): 0.5 * [(1 + 1 - 1 - 0) + (e + 0 - 1 - 1)] = 0.5 * (e - 1)
    # sample 2: the prior itself, KL = 0
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    per_sample = GaussianKLLoss(reduction="none")(mu, logvar)
    torch.testing.assert_close(per_sample, torch.tensor([0.5 * (math.e - 1), 0.0], dtype=torch.float64))
    assert GaussianKLLoss()(mu, logvar).item() == pytest.approx(0.25 * (math.e - 1), rel=1e-12)
    assert GaussianKLLoss(reduction="sum")(mu, logvar).item() == pytest.approx(0.5 * (math.e - 1), rel=1e-12)


def test_kl_matches_torch_distributions_and_is_minimal_at_the_prior():
    torch.manual_seed(0)
    mu, logvar = torch.randn(5, 20, dtype=torch.float64), torch.randn(5, 20, dtype=torch.float64)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).sum(1)
    torch.testing.assert_close(GaussianKLLoss(reduction="none")(mu, logvar), expected)
    # the gradient vanishes at mu = 0, logvar = 0 (sigma = 1), where the KL is 0
    at_prior = torch.zeros(3, 4, requires_grad=True), torch.zeros(3, 4, requires_grad=True)
    kl = GaussianKLLoss()(*at_prior)
    kl.backward()
    assert kl.item() == 0.0 and all(t.grad.abs().max() == 0 for t in at_prior)


def test_kl_shapes_are_checked():
    with pytest.raises(ValueError, match="same shape"):
        GaussianKLLoss()(torch.zeros(2, 3), torch.zeros(2, 4))
