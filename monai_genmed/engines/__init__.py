from __future__ import annotations

from .adversarial_trainer import GenerativeAdversarialTrainer
from .augment import DiffAugment
from .image_pool import ImagePool
from .objectives import (
    AdversarialObjective,
    CycleGANObjective,
    ObjectiveKeys,
    PairedAdversarialObjective,
    ReconstructionObjective,
)
from .steps import StepGroup, StepOutputs, StepRole
from .utils import GenerativeIterationEvents, PrepareBatchKeys, PrepareBatchToDevice, detach_outputs, final_logits

__all__ = [
    "GenerativeAdversarialTrainer",
    "DiffAugment",
    "AdversarialObjective",
    "PairedAdversarialObjective",
    "ReconstructionObjective",
    "CycleGANObjective",
    "ObjectiveKeys",
    "ImagePool",
    "StepGroup",
    "StepOutputs",
    "StepRole",
    "GenerativeIterationEvents",
    "PrepareBatchKeys",
    "PrepareBatchToDevice",
    "detach_outputs",
    "final_logits",
]

from .generative_objectives import LatentKeys, UnconditionalGANObjective, adam_lookahead, diversity_shortfall

__all__ += ["UnconditionalGANObjective", "LatentKeys", "adam_lookahead", "diversity_shortfall"]

from .diffusion_objective import DenoisingDiffusionObjective

__all__ += ["DenoisingDiffusionObjective"]
