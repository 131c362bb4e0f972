"""DAGAN's generator objective: pixel, frequency, perceptual and adversarial terms.

Yang et al., "DAGAN: Deep De-Aliasing Generative Adversarial Networks for Fast Compressed Sensing MRI
Reconstruction", IEEE TMI 37(6), 2018, https://doi.org/10.1109/TMI.2017.2785879:
``L = alpha * L_iMSE + beta * L_fMSE + gamma * L_VGG + L_GEN`` with alpha = 15, beta = 0.1, gamma = 0.0025.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.utils import LossReduction, StrEnum, look_up_option
from torch.nn.modules.loss import _Loss

from .adversarial import GANLoss, GANLossMode
from .frequency import FrequencyDomainLoss
from .perceptual import VGGPerceptualLoss
from .pixel import NMSERatioLoss

__all__ = ["DAGANLossKeys", "DAGANGeneratorLoss"]

logger = logging.getLogger(__name__)


class DAGANLossKeys(StrEnum):
    """Names of the terms that :class:`DAGANGeneratorLoss` returns."""

    PIXEL = "pixel"
    FREQUENCY = "frequency"
    PERCEPTUAL = "perceptual"
    ADVERSARIAL = "adversarial"
    TOTAL = "total"


class DAGANGeneratorLoss(_Loss):
    """DAGAN's generator loss, returned term by term.

    ``total = alpha * pixel + beta * frequency + gamma * perceptual + adversarial_weight * adversarial`` with

    - ``pixel``: MSE (``"mse"``, the paper's L_iMSE) or the norm ratio of DAGAN's code (``"nmse_ratio"``,
      :class:`~monai_genmed.losses.NMSERatioLoss`);
    - ``frequency``: :class:`~monai_genmed.losses.FrequencyDomainLoss` (DAGAN: magnitudes of the unnormalised
      FFT of [0, 1] images, for which beta = 0.1 was tuned);
    - ``perceptual``: :class:`~monai_genmed.losses.VGGPerceptualLoss` on VGG16 ``pool4``;
    - ``adversarial``: the generator term of :class:`~monai_genmed.losses.GANLoss` (DAGAN: non-saturating).

    ImageNet VGG16 weights cannot be downloaded here. Without ``vgg_weights_path`` the perceptual term is
    dropped: gamma is forced to 0, a warning is logged once, ``perceptual_enabled`` is False and
    ``effective_gamma`` is 0.0, so a trainer can write what was actually optimised; the ``perceptual`` entry
    is then a zero tensor. The same holds, without the warning, when ``gamma=0`` is asked for.

    Args:
        alpha: weight of the pixel term (paper: 15).
        beta: weight of the frequency term (paper: 0.1).
        gamma: weight of the perceptual term (paper: 0.0025).
        adversarial_weight: weight of the adversarial term (paper: 1).
        pixel: "mse" or "nmse_ratio".
        frequency: keyword arguments of :class:`~monai_genmed.losses.FrequencyDomainLoss` (its ``reduction`` is
            this loss's); ``None`` for its defaults (DAGAN's).
        vgg_weights_path: torchvision VGG16 state dict for the perceptual term, or ``None``.
        vgg_layer: VGG16 layer of the perceptual term (DAGAN: "pool4").
        vgg_resize_to: ``(H, W)`` the images are resized to before VGG (DAGAN: 244x244); ``None`` keeps their size.
        adversarial: a :class:`~monai_genmed.losses.GANLossMode` (DAGAN: "non_saturating").
        reduction: "mean" or "sum", applied inside each term.

    Example::

        loss_fn = DAGANGeneratorLoss(vgg_weights_path="vgg16-397923af.pth")
        terms = loss_fn(recon, target, disc(recon))
        terms["total"].backward()
    """

    def __init__(
        self,
        alpha: float = 15.0,
        beta: float = 0.1,
        gamma: float = 0.0025,
        adversarial_weight: float = 1.0,
        pixel: str = "mse",
        frequency: Mapping[str, Any] | None = None,
        vgg_weights_path: str | os.PathLike | None = None,
        vgg_layer: str = "pool4",
        vgg_resize_to: Sequence[int] | None = None,
        adversarial: str = GANLossMode.NON_SATURATING,
        reduction: str = LossReduction.MEAN,
    ) -> None:
        reduction = look_up_option(reduction, LossReduction)
        if reduction == LossReduction.NONE:
            raise ValueError('DAGANGeneratorLoss adds terms of different shapes: use reduction="mean" or "sum".')
        super().__init__(reduction=reduction.value)
        self.alpha, self.beta, self.adversarial_weight = float(alpha), float(beta), float(adversarial_weight)
        self.gamma = float(gamma)
        pixel_losses = {"mse": torch.nn.MSELoss, "nmse_ratio": NMSERatioLoss}
        self.pixel_loss = look_up_option(pixel, pixel_losses)(reduction=self.reduction)
        frequency_args = dict(frequency or {})
        if "reduction" in frequency_args:
            raise ValueError("Set the reduction of DAGANGeneratorLoss itself, not inside frequency.")
        self.frequency_loss = FrequencyDomainLoss(**frequency_args, reduction=self.reduction)
        self.adversarial_loss = GANLoss(mode=adversarial, reduction=self.reduction)
        self.perceptual_loss = VGGPerceptualLoss(
            weights_path=vgg_weights_path if self.gamma != 0 else None,
            layer=vgg_layer,
            reduction=self.reduction,
            resize_to=vgg_resize_to,
        )
        if self.gamma != 0 and not self.perceptual_loss.available:
            logger.warning(
                "DAGANGeneratorLoss: no VGG16 weights (vgg_weights_path=None), so the perceptual term is dropped "
                "and gamma is set to 0 instead of %s. Pass vgg_weights_path (a torchvision VGG16 state dict, e.g. "
                "vgg16-397923af.pth) to train with DAGAN's full objective.",
                self.gamma,
            )

    @property
    def perceptual_enabled(self) -> bool:
        """Whether the perceptual term contributes to the total."""
        return self.perceptual_loss.available

    @property
    def effective_gamma(self) -> float:
        """The perceptual weight actually used: ``gamma``, or 0.0 when the term is dropped."""
        return self.gamma if self.perceptual_enabled else 0.0

    @property
    def perceptual_note(self) -> str:
        """What became of the perceptual term, for a run's notes: on, off for want of VGG16 weights, or off as asked."""
        if self.perceptual_enabled:
            return f"on (VGG16 {self.perceptual_loss.layer})"
        return "off: no VGG16 weights given, gamma forced to 0" if self.gamma else "off: gamma=0"

    def forward(
        self, input: torch.Tensor, target: torch.Tensor, fake_logits: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Terms of the loss for reconstruction ``input`` of ``target``.

        Args:
            input: the generator's reconstruction, ``(B, C, *spatial)`` in [0, 1].
            target: the fully sampled image, same shape.
            fake_logits: the discriminator's logits on ``input``; ``None`` (e.g. generator pre-training or
                validation) makes the adversarial term 0.

        Returns:
            a dict with the keys of :class:`DAGANLossKeys`; ``"total"`` is the weighted sum to back-propagate.
        """
        zero = input.new_zeros(())
        pixel = self.pixel_loss(input, target)
        frequency = self.frequency_loss(input, target)
        perceptual = self.perceptual_loss(input, target) if self.perceptual_enabled else zero
        adversarial = zero if fake_logits is None else self.adversarial_loss.generator_loss(fake_logits)
        total = (
            self.alpha * pixel
            + self.beta * frequency
            + self.effective_gamma * perceptual
            + self.adversarial_weight * adversarial
        )
        # plain string keys: they go into metric files and loggers as they are
        return {
            DAGANLossKeys.PIXEL.value: pixel,
            DAGANLossKeys.FREQUENCY.value: frequency,
            DAGANLossKeys.PERCEPTUAL.value: perceptual,
            DAGANLossKeys.ADVERSARIAL.value: adversarial,
            DAGANLossKeys.TOTAL.value: total,
        }
