"""Training objectives: the model-specific maths that the generic adversarial trainer runs.

An objective says how generators turn a batch into outputs and how generator and discriminator losses are
computed from them; the trainer owns the schedule, optimizers, mixed precision and events. Networks reach an
objective by name through ``networks`` (the trainer's dictionary), never through imports, so one trainer
serves DAGAN, pix2pix-style paired models, CycleGAN and plain GANs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

import torch

from monai_genmed.utils.enums import GenerativeKeys, KspaceKeys

__all__ = ["AdversarialObjective", "PairedAdversarialObjective"]

Losses = dict[str, torch.Tensor]


class AdversarialObjective(ABC):
    """Interface between a model's losses and :class:`~monai_genmed.engines.GenerativeAdversarialTrainer`.

    Each loss method returns a dictionary of named scalar terms that must contain ``GenerativeKeys.TOTAL``
    (what is back-propagated); the other terms are logged.
    """

    #: names of the generators and discriminators this objective uses
    generator_names: tuple[str, ...] = ()
    discriminator_names: tuple[str, ...] = ()

    def check_networks(self, generators: Mapping[str, torch.nn.Module], discriminators: Mapping[str, torch.nn.Module]) -> None:
        """Fail early, with the names, when the trainer lacks a network this objective needs."""
        missing = [n for n in self.generator_names if n not in generators]
        missing += [n for n in self.discriminator_names if n not in discriminators]
        if missing:
            raise KeyError(
                f"{type(self).__name__} needs networks {missing}; the trainer has generators {sorted(generators)} "
                f"and discriminators {sorted(discriminators)}. Name them in the config to match."
            )

    @abstractmethod
    def generate(self, networks: Mapping[str, torch.nn.Module], batch: Mapping[str, Any]) -> dict[str, Any]:
        """Run the generators; returns every tensor the losses and image handlers need."""

    @abstractmethod
    def generator_loss(
        self, networks: Mapping[str, torch.nn.Module], batch: Mapping[str, Any], outputs: Mapping[str, Any]
    ) -> Losses:
        """Generator loss terms (discriminators are frozen while this runs)."""

    def discriminator_loss(
        self, networks: Mapping[str, torch.nn.Module], batch: Mapping[str, Any], outputs: Mapping[str, Any]
    ) -> Losses:
        """Discriminator loss terms on detached generator outputs; objectives without a discriminator need not override."""
        raise NotImplementedError(f"{type(self).__name__} has no discriminator loss.")


class PairedAdversarialObjective(AdversarialObjective):
    """A conditional GAN on paired data: ``pred = G(input)``, D judges ``pred`` against ``target``.

    This is DAGAN's set-up (Yang et al. 2018, https://doi.org/10.1109/TMI.2017.2785879): the input is the
    zero-filled image, the target the fully sampled one; ``generator_loss`` would be a
    :class:`~monai_genmed.losses.DAGANGeneratorLoss` (pixel + frequency + perceptual + adversarial). It is also
    pix2pix's (with ``condition_discriminator=True``) and the paired MR->CT baseline's.

    Args:
        generator_loss: ``(pred, target, fake_logits) -> dict`` of named terms with ``"total"``.
        discriminator_loss: ``(real_logits, fake_logits) -> tensor``, e.g. ``GANLoss(...).discriminator_loss``.
        generator: name of the generator network.
        discriminator: name of the discriminator network.
        input_key: batch key of the generator input.
        target_key: batch key of the reference image.
        condition_discriminator: feed ``cat(input, image)`` to D instead of the image alone (pix2pix).
    """

    def __init__(
        self,
        generator_loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Mapping[str, torch.Tensor]],
        discriminator_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        generator: str = "generator",
        discriminator: str = "discriminator",
        input_key: str = KspaceKeys.ZERO_FILLED,
        target_key: str = KspaceKeys.IMAGE,
        condition_discriminator: bool = False,
    ) -> None:
        self.g_loss, self.d_loss = generator_loss, discriminator_loss
        self.generator, self.discriminator = generator, discriminator
        self.generator_names, self.discriminator_names = (generator,), (discriminator,)
        self.input_key, self.target_key = input_key, target_key
        self.condition_discriminator = condition_discriminator

    def _judge(self, networks: Mapping[str, torch.nn.Module], inputs: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        x = torch.cat([inputs, image], dim=1) if self.condition_discriminator else image
        return networks[self.discriminator](x)

    def generate(self, networks, batch):
        for key in (self.input_key, self.target_key):
            if key not in batch:
                raise KeyError(f"the batch has no {key!r} (it holds {sorted(map(str, batch))}); check the transforms.")
        inputs = batch[self.input_key]
        return {
            GenerativeKeys.INPUT: inputs,
            GenerativeKeys.TARGET: batch[self.target_key],
            GenerativeKeys.PRED: networks[self.generator](inputs),
        }

    def generator_loss(self, networks, batch, outputs):
        pred, target = outputs[GenerativeKeys.PRED], outputs[GenerativeKeys.TARGET]
        fake_logits = self._judge(networks, outputs[GenerativeKeys.INPUT], pred)
        terms = dict(self.g_loss(pred, target, fake_logits))
        if GenerativeKeys.TOTAL not in terms:
            raise KeyError(f"the generator loss must return a 'total' term, got {sorted(terms)}.")
        return terms

    def discriminator_loss(self, networks, batch, outputs):
        inputs = outputs[GenerativeKeys.INPUT]
        real_logits = self._judge(networks, inputs, outputs[GenerativeKeys.TARGET])
        fake_logits = self._judge(networks, inputs, outputs[GenerativeKeys.PRED])
        return {
            GenerativeKeys.TOTAL: self.d_loss(real_logits, fake_logits),
            # mean logits: how far apart D holds real and generated images (convergence monitoring)
            "real_logit": real_logits.detach().float().mean(),
            "fake_logit": fake_logits.detach().float().mean(),
        }
