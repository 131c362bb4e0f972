"""VGG16 perceptual loss that reads its weights from a local file.

DAGAN's perceptual loss ("L_VGG", Yang et al., IEEE TMI 2018, https://doi.org/10.1109/TMI.2017.2785879): the MSE
between VGG16 ``pool4`` features of reconstruction and target (Johnson et al., ECCV 2016,
https://arxiv.org/abs/1603.08155). MONAI's ``monai.losses.PerceptualLoss`` fetches its networks through
torchvision or torch.hub downloads; this one never downloads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.utils import LossReduction, ensure_tuple, look_up_option
from torch.nn.modules.loss import _Loss

from monai_genmed.networks.nets.vgg import VGG16FeatureExtractor

__all__ = ["VGGPerceptualLoss"]


class VGGPerceptualLoss(_Loss):
    """MSE between VGG16 features of prediction and target, with ImageNet weights from ``weights_path``.

    A perceptual loss with random VGG weights would measure nothing useful, so without ``weights_path`` the
    loss does not pretend: ``available`` is False and calling it raises. Callers (e.g.
    :class:`~monai_genmed.losses.DAGANGeneratorLoss`) check ``available`` and drop the term.

    Inputs are 2D images in [0, 1], ``(B, 1 or 3, H, W)``; see
    :class:`~monai_genmed.networks.nets.VGG16FeatureExtractor` for the normalisation. DAGAN resized its
    images to 244x244 before VGG: set ``resize_to=(244, 244)`` to do the same (bilinear).

    Args:
        weights_path: torchvision-format VGG16 state dict, e.g. ``vgg16-397923af.pth``. ``None``: unavailable.
        layer: feature layer (DAGAN: ``"pool4"``).
        reduction: "mean", "sum" or "none" (elementwise over the feature maps).
        resize_to: optional ``(H, W)`` the images are resized to before VGG.
    """

    def __init__(
        self,
        weights_path: str | os.PathLike | None = None,
        layer: str = "pool4",
        reduction: str = LossReduction.MEAN,
        resize_to: Sequence[int] | None = None,
    ) -> None:
        super().__init__(reduction=look_up_option(reduction, LossReduction).value)
        self.weights_path = weights_path
        self.layer = layer
        self.resize_to = None if resize_to is None else tuple(int(s) for s in ensure_tuple(resize_to))
        self.extractor = None if weights_path is None else VGG16FeatureExtractor(weights_path, layer=layer)

    @property
    def available(self) -> bool:
        """Whether pretrained weights were loaded, i.e. whether the loss can be computed."""
        return self.extractor is not None

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Feature MSE between ``input`` (the prediction) and ``target``, both ``(B, 1 or 3, H, W)`` in [0, 1]."""
        if self.extractor is None:
            raise RuntimeError(
                "VGGPerceptualLoss has no VGG16 weights (weights_path=None): pass weights_path, the path of a "
                "torchvision VGG16 state dict such as vgg16-397923af.pth, or drop the perceptual term."
            )
        if input.shape != target.shape:
            raise ValueError(f"input and target shapes differ: {tuple(input.shape)} and {tuple(target.shape)}.")
        if self.resize_to is not None:
            input = F.interpolate(input, size=self.resize_to, mode="bilinear", align_corners=False)
            target = F.interpolate(target, size=self.resize_to, mode="bilinear", align_corners=False)
        with torch.no_grad():
            target_features = self.extractor(target)
        return F.mse_loss(self.extractor(input), target_features, reduction=self.reduction)
