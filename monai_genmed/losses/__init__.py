from __future__ import annotations

from .adversarial import GANLoss, GANLossMode, gradient_penalty, r1_penalty
from .cycle import CycleConsistencyLoss, IdentityLoss
from .dagan import DAGANGeneratorLoss, DAGANLossKeys
from .frequency import FrequencyDomainLoss
from .perceptual import VGGPerceptualLoss
from .pixel import NMSERatioLoss
from .utils import apply_reduction

__all__ = [
    "CycleConsistencyLoss",
    "DAGANGeneratorLoss",
    "DAGANLossKeys",
    "FrequencyDomainLoss",
    "GANLoss",
    "GANLossMode",
    "IdentityLoss",
    "NMSERatioLoss",
    "VGGPerceptualLoss",
    "apply_reduction",
    "gradient_penalty",
    "r1_penalty",
]
