from __future__ import annotations

from .adversarial_trainer import GenerativeAdversarialTrainer
from .objectives import AdversarialObjective, PairedAdversarialObjective
from .utils import GenerativeIterationEvents, PrepareBatchKeys, PrepareBatchToDevice

__all__ = [
    "GenerativeAdversarialTrainer",
    "AdversarialObjective",
    "PairedAdversarialObjective",
    "GenerativeIterationEvents",
    "PrepareBatchKeys",
    "PrepareBatchToDevice",
]
