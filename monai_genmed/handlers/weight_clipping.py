"""WGAN's weight clipping: the critic's parameters are clamped to ``[-c, c]`` after each of its steps.

Arjovsky et al., "Wasserstein GAN", ICML 2017, https://arxiv.org/abs/1701.07875, algorithm 1: ``c = 0.01``,
RMSProp with learning rate 5e-5, ``n_critic = 5``. Clipping keeps the critic in a set of K-Lipschitz functions,
crudely; Gulrajani et al. 2017 (https://arxiv.org/abs/1704.00028, section 3) show it biases the critic towards
simple functions and makes training sensitive to ``c``, which the gradient penalty avoids.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from ignite.engine import Engine

from monai_genmed.engines.utils import GenerativeIterationEvents

__all__ = ["WeightClipping"]


class WeightClipping:
    """Clamp the parameters of the networks a discriminator step group trains to ``[-clip_value, clip_value]``.

    Attached to :class:`~monai_genmed.engines.GenerativeAdversarialTrainer`, it runs at every
    ``DISCRIMINATOR_STEP_COMPLETED`` on the networks of the group that just stepped (or on ``networks``), so it
    follows any critic group and ``n_critic``. Every parameter is clipped, norm layers' included, as in the paper.

    Args:
        clip_value: ``c``; ``None`` or 0 turns the handler off (a config can list it for every GAN loss and
            enable it for the Wasserstein one only).
        networks: names of the networks to clip; ``None``: those of the step group that stepped.

    Example::

        "handlers": [{"_target_": "monai_genmed.handlers.WeightClipping",
                      "clip_value": "$0.01 if @gan_loss_name == 'wasserstein' else None"}]
    """

    def __init__(self, clip_value: float | None = 0.01, networks: Sequence[str] | None = None) -> None:
        if clip_value is not None and clip_value < 0:
            raise ValueError(f"clip_value must be >= 0 (or None to turn clipping off), got {clip_value}.")
        if isinstance(networks, str):
            raise TypeError(f"networks is a list of names; write [{networks!r}].")
        self.clip_value = float(clip_value) if clip_value else None
        self.networks = None if networks is None else tuple(networks)

    @property
    def enabled(self) -> bool:
        """Whether the handler clips anything."""
        return self.clip_value is not None

    def attach(self, engine: Engine) -> None:
        if self.enabled:
            engine.add_event_handler(GenerativeIterationEvents.DISCRIMINATOR_STEP_COMPLETED, self)

    @torch.no_grad()
    def __call__(self, engine: Engine) -> None:
        group = getattr(engine.state, "step_group", None)
        names = self.networks if self.networks is not None else (group.networks if group is not None else ())
        networks = getattr(engine, "networks", {})
        unknown = [n for n in names if n not in networks]
        if unknown:
            raise KeyError(f"WeightClipping names networks {unknown}; the trainer has {sorted(networks)}.")
        for name in names:
            for parameter in networks[name].parameters():
                parameter.clamp_(-self.clip_value, self.clip_value)
