"""Named optimisation steps that :class:`~monai_genmed.engines.GenerativeAdversarialTrainer` schedules.

A model's iteration is a list of step groups run in order. Each group trains some networks with its optimizers
on one loss method of the objective, every ``every``-th iteration, with the other networks frozen. DAGAN and
pix2pix are two groups (generator, then discriminator on detached outputs); WGAN-GP is the same two with the
generator group every fifth iteration; a VAE-GAN (Larsen et al. 2016, https://arxiv.org/abs/1512.09300) is
three (encoder, decoder, discriminator); a plain autoencoder or VAE is one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from monai.utils import StrEnum, look_up_option
from torch.optim import Optimizer

__all__ = ["StepOutputs", "StepRole", "StepGroup"]


class StepOutputs(StrEnum):
    """How a step group sees the outputs of ``objective.generate``.

    - ``graph``: the iteration's outputs with their autograd graph, so the loss back-propagates into the
      generators (the generator step of a GAN). When a later group of the same iteration also uses the graph,
      the graph is retained; that later group must not need networks an earlier group has already stepped
      (their weights were changed in place), or it should use ``regenerate``.
    - ``detached``: the same outputs cut from the graph (the discriminator step of a GAN).
    - ``regenerate``: ``objective.generate`` is run again for this group, with its frozen networks frozen, on
      the weights as they are after the earlier groups' steps (the decoder step of a VAE-GAN after the encoder
      step). The new outputs replace the iteration's outputs for the groups that follow.
    """

    GRAPH = "graph"
    DETACHED = "detached"
    REGENERATE = "regenerate"


class StepRole(StrEnum):
    """Which of the generator or discriminator events of :class:`~monai_genmed.engines.GenerativeIterationEvents`
    a step group fires besides its generic group events (so WGAN weight clipping on
    ``DISCRIMINATOR_STEP_COMPLETED`` works for any critic group)."""

    GENERATOR = "generator"
    DISCRIMINATOR = "discriminator"


class StepGroup:
    """One named optimisation step of an iteration: which networks it trains, with what, on which loss, how often.

    Args:
        name: name of the group; it prefixes the logged loss terms (``"g"`` gives ``g_total``) and the
            checkpoint key of its gradient scaler (``g_scaler``).
        networks: names of the networks this group trains (their gradients are clipped by ``max_grad_norm``).
        optimizers: the optimizer, or name -> optimizer, that steps them. A single optimizer is named
            ``f"{name}_optimizer"``; names are checkpoint keys (``optimizer_{name}``) and must be unique.
        loss: name of the objective's loss method (``"generator_loss"``), or a callable with its signature
            ``(networks, batch, outputs) -> dict`` of named terms with ``"total"``.
        every: run on iterations ``1, 1 + every, 1 + 2 * every, ...`` (counted over the whole run, so a resumed
            run keeps the rhythm). WGAN's generator group has ``every=5`` (``n_critic``).
        frozen: names of the networks whose parameters do not require gradients during this group (so a
            loss through them computes no weight gradients for them); ``None``: every network the group does not
            train.
        outputs: how the group sees the generated outputs, a :class:`StepOutputs`.
        role: a :class:`StepRole` whose events the group also fires, or ``None`` for the group events only.
        scaler: the AMP gradient scaler; ``None`` lets the trainer create one (enabled for float16 autocast).
    """

    def __init__(
        self,
        name: str,
        networks: Sequence[str],
        optimizers: Optimizer | Mapping[str, Optimizer],
        loss: str | Callable[..., Mapping[str, torch.Tensor]],
        every: int = 1,
        frozen: Sequence[str] | None = None,
        outputs: str = StepOutputs.GRAPH,
        role: str | None = None,
        scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"a step group needs a non-empty string name, got {name!r}.")
        if isinstance(networks, str):
            raise TypeError(f"step group {name!r}: networks is a list of names; write [{networks!r}].")
        if int(every) < 1:
            raise ValueError(f"step group {name!r}: every must be a positive integer, got {every}.")
        self.name = name
        self.networks = tuple(networks)
        self.optimizers = _named_optimizers(optimizers, f"{name}_optimizer", name)
        if not self.optimizers:
            raise ValueError(f"step group {name!r} has no optimizer.")
        self.loss = loss
        self.every = int(every)
        self.frozen = None if frozen is None else tuple(frozen)
        self.outputs = look_up_option(outputs, StepOutputs)
        self.role = None if role is None else look_up_option(role, StepRole)
        self.scaler = scaler

    def runs_at(self, iteration: int) -> bool:
        """Whether the group steps at this (1-based, run-wide) iteration."""
        return (iteration - 1) % self.every == 0

    def frozen_networks(self, all_networks: Sequence[str]) -> tuple[str, ...]:
        """The names frozen during this group, given every network of the trainer."""
        if self.frozen is not None:
            return self.frozen
        return tuple(n for n in all_networks if n not in self.networks)

    def __repr__(self) -> str:
        return (
            f"StepGroup(name={self.name!r}, networks={list(self.networks)}, optimizers={list(self.optimizers)}, "
            f"every={self.every}, outputs={self.outputs.value!r}, role={self.role and self.role.value!r})"
        )


def _named_optimizers(optimizers: Any, default_name: str, group: str) -> dict[str, Optimizer]:
    if isinstance(optimizers, Optimizer):
        return {default_name: optimizers}
    if isinstance(optimizers, Mapping) and all(isinstance(o, Optimizer) for o in optimizers.values()):
        return dict(optimizers)
    raise TypeError(
        f"step group {group!r}: optimizers must be an Optimizer or a dict of them, not {type(optimizers).__name__}."
    )
