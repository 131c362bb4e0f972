"""The two L1 terms of CycleGAN beside the adversarial ones: cycle consistency and identity.

Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV 2017,
https://arxiv.org/abs/1703.10593: eq. 2 (cycle consistency, weight lambda = 10, section 4) and section 5.2
(identity mapping loss after Taigman et al. 2017, https://arxiv.org/abs/1611.02200, weight 0.5 lambda).
Wolterink et al., "Deep MR to CT Synthesis using Unpaired Data", 2017, https://arxiv.org/abs/1708.01155,
train their MR <-> CT CycleGAN with the adversarial and cycle-consistency terms.
"""

from __future__ import annotations

import torch
from monai.utils import LossReduction, look_up_option
from torch.nn.modules.loss import _Loss

from .utils import apply_reduction

__all__ = ["CycleConsistencyLoss", "IdentityLoss"]


class _WeightedL1Loss(_Loss):
    """``weight * |input - target|``, reduced by ``reduction``."""

    def __init__(self, weight: float, reduction: str = LossReduction.MEAN) -> None:
        super().__init__(reduction=look_up_option(reduction, LossReduction).value)
        if not weight >= 0:
            raise ValueError(f"weight must be >= 0, got {weight}.")
        self.weight = float(weight)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if input.shape != target.shape:
            raise ValueError(
                f"{type(self).__name__}: input and target shapes differ: {tuple(input.shape)} and "
                f"{tuple(target.shape)}."
            )
        return apply_reduction(self.weight * (input - target).abs(), self.reduction)


class CycleConsistencyLoss(_WeightedL1Loss):
    """Cycle-consistency loss, ``lambda * |F(G(x)) - x|`` (CycleGAN's eq. 2 for one direction).

    The full CycleGAN objective has one term per direction (MR -> CT -> MR and CT -> MR -> CT), each with this
    weight; call the loss once for each.

    Args:
        weight: lambda (CycleGAN: 10).
        reduction: "mean" (the L1 averaged over every element, as CycleGAN), "sum" or "none" (elementwise).

    Example::

        cycle = CycleConsistencyLoss()
        loss = cycle(g_ct_to_mr(g_mr_to_ct(mr)), mr) + cycle(g_mr_to_ct(g_ct_to_mr(ct)), ct)
    """

    def __init__(self, weight: float = 10.0, reduction: str = LossReduction.MEAN) -> None:
        super().__init__(weight, reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss between ``input = F(G(x))``, the image brought back to its domain, and ``target = x``."""
        return super().forward(input, target)


class IdentityLoss(_WeightedL1Loss):
    """Identity-mapping loss, ``weight * |G(y) - y|``: a generator fed an image of its output domain keeps it.

    It regularises a generator towards preserving intensities (CycleGAN's section 5.2, e.g. the colour of
    paintings -> photos). Its default weight is CycleGAN's ``lambda_identity = 0.5`` times lambda = 10; the
    identity term needs both domains to have the same channel count. Set ``weight=0`` (or leave the term out)
    for the plain CycleGAN objective.

    Args:
        weight: the term's weight (CycleGAN: 0.5 * lambda = 5).
        reduction: "mean", "sum" or "none" (elementwise).

    Example::

        identity = IdentityLoss()
        loss = identity(g_mr_to_ct(ct), ct) + identity(g_ct_to_mr(mr), mr)
    """

    def __init__(self, weight: float = 5.0, reduction: str = LossReduction.MEAN) -> None:
        super().__init__(weight, reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss between ``input = G(y)``, the generator applied to an image of its target domain, and ``y``."""
        return super().forward(input, target)
