from __future__ import annotations

import pytest
import torch

from monai_genmed.losses import CycleConsistencyLoss, IdentityLoss

X = torch.tensor([[0.5, -1.0], [0.0, 0.25]], dtype=torch.float64).view(1, 1, 2, 2)
X_BACK = torch.tensor([[0.3, -1.0], [0.5, -0.25]], dtype=torch.float64).view(1, 1, 2, 2)  # |diff| = 0.2, 0, 0.5, 0.5


def test_cycle_consistency_hand_values():
    assert CycleConsistencyLoss()(X_BACK, X).item() == pytest.approx(10 * 1.2 / 4, rel=1e-12)  # lambda = 10
    assert CycleConsistencyLoss(weight=2.0, reduction="sum")(X_BACK, X).item() == pytest.approx(2.4, rel=1e-12)
    elementwise = CycleConsistencyLoss(weight=1.0, reduction="none")(X_BACK, X)
    torch.testing.assert_close(elementwise.flatten(), torch.tensor([0.2, 0.0, 0.5, 0.5], dtype=torch.float64))
    assert CycleConsistencyLoss()(X, X).item() == 0.0


def test_identity_default_weight_is_half_lambda():
    assert IdentityLoss()(X_BACK, X).item() == pytest.approx(5 * 1.2 / 4, rel=1e-12)
    assert IdentityLoss(weight=0.0)(X_BACK, X).item() == 0.0


def test_gradient_is_the_weighted_l1_subgradient():
    x_back = X_BACK.clone().requires_grad_(True)
    CycleConsistencyLoss(reduction="sum")(x_back, X).backward()
    torch.testing.assert_close(x_back.grad.flatten(), torch.tensor([-10.0, 0.0, 10.0, -10.0], dtype=torch.float64))


@pytest.mark.parametrize("loss", [CycleConsistencyLoss, IdentityLoss])
def test_bad_inputs_raise(loss):
    with pytest.raises(ValueError, match="shapes differ"):
        loss()(X, X[..., :1])
    with pytest.raises(ValueError, match="weight"):
        loss(weight=-1.0)
    with pytest.raises(ValueError):
        loss(reduction="median")
