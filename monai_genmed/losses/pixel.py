"""Image-domain reconstruction losses.

The DAGAN paper's pixel loss ("L_iMSE", Yang et al., IEEE TMI 2018, https://doi.org/10.1109/TMI.2017.2785879)
is the plain mean squared error: use ``torch.nn.MSELoss``. Its released code uses a normalised error instead,
:class:`NMSERatioLoss`.
"""

from __future__ import annotations

import torch
from monai.utils import LossReduction, look_up_option
from torch.nn.modules.loss import _Loss

from .utils import apply_reduction

__all__ = ["NMSERatioLoss"]


class NMSERatioLoss(_Loss):
    """Per-sample ratio of error norm to target norm, ``||pred - target||_2 / (||target||_2 + eps)``.

    This is the pixel loss of DAGAN's released code (``g_nmse``: the norms run over each sample's channels and
    pixels, the ratio is averaged over the batch). Unlike the MSE it does not depend on the image's intensity
    scale, and it is a norm ratio, not a squared one: its square is the NMSE metric.

    Args:
        eps: added to the target norm so that an all-zero target does not divide by zero.
        reduction: "mean" (DAGAN), "sum" or "none" (one value per sample).
    """

    def __init__(self, eps: float = 1e-8, reduction: str = LossReduction.MEAN) -> None:
        super().__init__(reduction=look_up_option(reduction, LossReduction).value)
        self.eps = eps

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss between ``input`` (the prediction) and ``target``, both ``(B, ...)``."""
        if input.shape != target.shape:
            raise ValueError(f"input and target shapes differ: {tuple(input.shape)} and {tuple(target.shape)}.")
        error = torch.linalg.vector_norm((input - target).flatten(1), dim=1)
        reference = torch.linalg.vector_norm(target.flatten(1), dim=1)
        return apply_reduction(error / (reference + self.eps), self.reduction)
