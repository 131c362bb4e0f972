from __future__ import annotations

import pytest
import torch

from monai_genmed.optimizers import gan_optimizer


@pytest.mark.parametrize("gan_loss_name", ["non_saturating", "wasserstein_gp", "hinge"])
def test_adam_with_the_given_betas_for_every_loss_but_clipped_wasserstein(gan_loss_name):
    optimizer = gan_optimizer([torch.nn.Parameter(torch.zeros(2))], gan_loss_name, lr=1e-4, betas=[0.0, 0.9])
    assert type(optimizer) is torch.optim.Adam
    assert optimizer.param_groups[0]["lr"] == 1e-4 and tuple(optimizer.param_groups[0]["betas"]) == (0.0, 0.9)


def test_rmsprop_for_the_weight_clipped_wasserstein_gan():
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = gan_optimizer(iter([weight]), "wasserstein", lr=5e-5, betas=[0.5, 0.999])
    assert type(optimizer) is torch.optim.RMSprop and optimizer.param_groups[0]["lr"] == 5e-5
    reference = torch.optim.RMSprop([reference_weight := torch.nn.Parameter(torch.ones(3))], lr=5e-5)
    for opt, w in ((optimizer, weight), (reference, reference_weight)):
        w.grad = torch.tensor([1.0, -2.0, 0.5])
        opt.step()
    assert torch.equal(weight, reference_weight)  # RMSprop's own defaults otherwise
