"""The KL term of a variational autoencoder with a diagonal Gaussian posterior and a standard normal prior.

Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014, https://arxiv.org/abs/1312.6114, appendix B:
for ``q(z | x) = N(mu, diag(sigma^2))`` and ``p(z) = N(0, I)``,
``KL(q || p) = 0.5 * sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2)``. A beta-VAE (Higgins et al., ICLR 2017,
https://openreview.net/forum?id=Sy2fzU9gl) weights it by beta; KL warm-up (Bowman et al. 2016,
https://arxiv.org/abs/1511.06349; Sønderby et al. 2016, https://arxiv.org/abs/1602.02282) raises that weight
from 0 over the first epochs, e.g. with :class:`~monai_genmed.losses.LinearWarmup` in a
:class:`~monai_genmed.losses.WeightedLossSum`.
"""

from __future__ import annotations

import torch
from monai.utils import LossReduction, look_up_option
from torch.nn.modules.loss import _Loss

from .utils import apply_reduction

__all__ = ["GaussianKLLoss"]


class GaussianKLLoss(_Loss):
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per sample, summed over the latent dimensions.

    The network predicts the log-variance (as MONAI's ``VarAutoEncoder`` does), so ``sigma^2 = exp(logvar)`` is
    positive without a constraint. The per-sample sum is what the ELBO holds; the batch is then reduced by
    ``reduction`` (``"mean"``: the ELBO's KL averaged over the batch, to pair with a reconstruction term summed
    over each image's pixels and averaged over the batch).

    Args:
        reduction: "mean" or "sum" over the batch, or "none" for one value per sample.

    Example::

        kl = GaussianKLLoss()
        recon, mu, logvar, z = vae(images)
        loss = F.mse_loss(recon, images, reduction="sum") / len(images) + beta * kl(mu, logvar)
    """

    def __init__(self, reduction: str = LossReduction.MEAN) -> None:
        super().__init__(reduction=look_up_option(reduction, LossReduction).value)

    def forward(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL divergence of the posteriors ``(mu, logvar)``, each ``(B, latent...)``, from the standard normal.

        Returns:
            the reduced KL; with ``reduction="none"`` a ``(B,)`` tensor.
        """
        if mu.shape != logvar.shape:
            raise ValueError(
                f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}."
            )
        if mu.dim() < 1:
            raise ValueError("mu and logvar need a batch dimension, got scalars.")
        per_dimension = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar)
        per_sample = per_dimension.reshape(mu.shape[0], -1).sum(dim=1)
        return apply_reduction(per_sample, self.reduction)
