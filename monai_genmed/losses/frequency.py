"""A k-space (frequency-domain) MSE between a reconstruction and its target.

DAGAN's frequency loss (Yang et al., IEEE TMI 2018, https://doi.org/10.1109/TMI.2017.2785879, "L_fMSE").
"""

from __future__ import annotations

import torch
from monai.utils import LossReduction, look_up_option
from torch.nn.modules.loss import _Loss

from .utils import apply_reduction

__all__ = ["FrequencyDomainLoss"]

_FFT_NORMS = ("backward", "ortho", "forward")


class FrequencyDomainLoss(_Loss):
    """Mean squared error between the FFTs of prediction and target over the last ``spatial_dims`` dimensions.

    With ``magnitude=True`` the loss compares ``|FFT(pred)|`` with ``|FFT(target)|``, as DAGAN's code does; with
    ``magnitude=False`` it compares the complex spectra, ``|FFT(pred) - FFT(target)|^2``.

    Scale: DAGAN applies an unnormalised FFT (``norm="backward"``) to images scaled to [0, 1] and weights the
    loss by beta = 0.1; that weight was calibrated for this scale, which grows with the number of pixels (by
    Parseval, the complex backward loss is ``H * W`` times the image MSE). With ``norm="ortho"`` the complex loss
    equals the image-domain MSE exactly; the magnitude loss is never larger than the complex one
    (``||a| - |b|| <= |a - b|``) and ignores phase, so it is blind to circular shifts.

    No ``fftshift`` is applied: the loss sums over all frequencies, so their order does not matter.

    Args:
        norm: ``torch.fft`` normalisation, "backward" (DAGAN), "ortho" or "forward".
        magnitude: compare magnitudes (DAGAN) rather than complex values.
        spatial_dims: how many trailing dimensions to transform (2 for slices, 3 for volumes).
        reduction: "mean", "sum" or "none" (elementwise squared errors, the input's shape).
    """

    def __init__(
        self,
        norm: str = "backward",
        magnitude: bool = True,
        spatial_dims: int = 2,
        reduction: str = LossReduction.MEAN,
    ) -> None:
        super().__init__(reduction=look_up_option(reduction, LossReduction).value)
        if norm not in _FFT_NORMS:
            raise ValueError(f"norm must be one of {_FFT_NORMS}, got {norm!r}.")
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims}.")
        self.norm = norm
        self.magnitude = magnitude
        self.spatial_dims = spatial_dims

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss between ``input`` (the prediction) and ``target``, both ``(B, C, *spatial)`` with real values."""
        if input.shape != target.shape:
            raise ValueError(f"input and target shapes differ: {tuple(input.shape)} and {tuple(target.shape)}.")
        if input.ndim < self.spatial_dims + 1:
            raise ValueError(
                f"FrequencyDomainLoss(spatial_dims={self.spatial_dims}) needs at least {self.spatial_dims + 1} "
                f"dimensions (batch and spatial), got shape {tuple(input.shape)}."
            )
        dims = tuple(range(-self.spatial_dims, 0))
        # FFT in float32 at least: half-precision FFTs are restricted to power-of-two sizes
        dtype = torch.promote_types(input.dtype, torch.float32)
        k_input = torch.fft.fftn(input.to(dtype), dim=dims, norm=self.norm)
        k_target = torch.fft.fftn(target.to(dtype), dim=dims, norm=self.norm)
        if self.magnitude:
            squared = (k_input.abs() - k_target.abs()) ** 2
        else:  # |z|^2 as re^2 + im^2: no square root, so no undefined gradient where the spectra agree
            squared = torch.view_as_real(k_input - k_target).square().sum(-1)
        return apply_reduction(squared, self.reduction)
