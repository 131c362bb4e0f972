"""The optimizer a GAN variant is trained with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

__all__ = ["gan_optimizer"]


def gan_optimizer(
    params: Iterable[torch.nn.Parameter], gan_loss_name: str, lr: float, betas: Sequence[float] = (0.5, 0.999)
) -> torch.optim.Optimizer:
    """RMSprop for the weight-clipped Wasserstein GAN, Adam for every other GAN loss.

    Arjovsky et al. 2017 (https://arxiv.org/abs/1701.07875, section 4) train the clipped critic and its generator
    with RMSprop (lr 5e-5), since momentum-based optimizers made that training unstable; WGAN-GP (Gulrajani et al.
    2017) goes back to Adam with ``betas=(0, 0.9)``, DCGAN (Radford et al. 2016) uses ``betas=(0.5, 0.999)``.

    Args:
        params: the parameters of the network to optimize.
        gan_loss_name: ``"wasserstein"`` selects RMSprop; any other name, Adam.
        lr: the learning rate.
        betas: Adam's betas (unused by RMSprop).
    """
    if gan_loss_name == "wasserstein":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, betas=betas)
