from __future__ import annotations

from .adversarial import GANLoss, GANLossMode, R1Penalty, discriminator_regularizer, gradient_penalty, r1_penalty
from .composite import LossTerm, WeightedLossSum
from .cycle import CycleConsistencyLoss, IdentityLoss
from .dagan import DAGANGeneratorLoss, DAGANLossKeys
from .frequency import FrequencyDomainLoss
from .kl import GaussianKLLoss
from .perceptual import VGGPerceptualLoss
from .pixel import NMSERatioLoss
from .schedules import LinearWarmup, training_progress
from .utils import apply_reduction

__all__ = [
    "CycleConsistencyLoss",
    "DAGANGeneratorLoss",
    "DAGANLossKeys",
    "FrequencyDomainLoss",
    "GANLoss",
    "GANLossMode",
    "GaussianKLLoss",
    "IdentityLoss",
    "LinearWarmup",
    "LossTerm",
    "NMSERatioLoss",
    "VGGPerceptualLoss",
    "WeightedLossSum",
    "apply_reduction",
    "discriminator_regularizer",
    "gradient_penalty",
    "r1_penalty",
    "R1Penalty",
    "training_progress",
]
