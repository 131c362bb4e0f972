"""The denoising diffusion objective (DDPM) on the generic engine.

Ho et al., "Denoising Diffusion Probabilistic Models", NeurIPS 2020, https://arxiv.org/abs/2006.11239, equation 14:
a network ``eps_theta(x_t, t)`` learns to predict the noise ``eps`` that the forward process mixed into a training
image, ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps``, with ``t`` uniform over the ``T`` steps and the
loss ``||eps - eps_theta(x_t, t)||^2``. The noise schedule is MONAI's scheduler (``DDPMScheduler.add_noise``) and the
network MONAI's ``DiffusionModelUNet``: this module only draws ``t`` and ``eps`` and states the loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.utils import CommonKeys

from monai_genmed.utils.enums import GenerativeKeys

from .objectives import AdversarialObjective, Losses, _require_keys

__all__ = ["DenoisingDiffusionObjective"]


class DenoisingDiffusionObjective(AdversarialObjective):
    """DDPM training: one step group, the network predicts the noise (or ``v``, or ``x_0``) of a noised image.

    Images in ``[0, 1]`` (the package's magnitude scaling) are mapped to ``[-1, 1]`` first, the range the schedule's
    unit-variance noise is made for; :class:`~monai_genmed.networks.nets.DiffusionSampler` maps samples back. The
    timesteps and the noise come from the objective's own seeded ``torch.Generator`` and :meth:`state_dict` holds
    its state, so a resumed run draws what the uninterrupted one would.

    Outputs: ``CommonKeys.IMAGE`` the batch, ``CommonKeys.PRED`` the network's prediction, ``CommonKeys.LABEL`` its
    target; the loss term is ``mse``.

    Args:
        scheduler: a MONAI noise scheduler (``monai.networks.schedulers.DDPMScheduler``); its ``prediction_type``
            (``"epsilon"``, ``"v_prediction"`` or ``"sample"``) sets the target.
        generator: name of the denoising network (``net(x_t, timesteps=t)``).
        image_key: batch key of the images.
        seed: seed of the timestep and noise draws.
    """

    def __init__(self, scheduler: Any, generator: str = "generator", image_key: str = CommonKeys.IMAGE, seed: int = 0):
        prediction = str(getattr(scheduler, "prediction_type", "epsilon"))
        if prediction not in ("epsilon", "v_prediction", "sample"):
            raise ValueError(f"scheduler.prediction_type must be epsilon, v_prediction or sample; got {prediction!r}.")
        self.scheduler, self.prediction_type = scheduler, prediction
        self.generator, self.image_key = generator, image_key
        self.generator_names = (generator,)
        self.noise_generator = torch.Generator().manual_seed(int(seed))

    def generate(self, networks: Mapping[str, torch.nn.Module], batch: Mapping[str, Any]) -> dict[str, Any]:
        _require_keys(batch, [self.image_key])
        image = batch[self.image_key]
        x0 = image.as_tensor() * 2.0 - 1.0 if hasattr(image, "as_tensor") else image * 2.0 - 1.0
        steps = int(self.scheduler.num_train_timesteps)
        # drawn on the CPU from the objective's generator, then moved: the same draws on any device
        t = torch.randint(0, steps, (x0.shape[0],), generator=self.noise_generator).to(x0.device)
        noise = torch.randn(x0.shape, generator=self.noise_generator).to(x0.device, x0.dtype)
        noisy = self.scheduler.add_noise(original_samples=x0, noise=noise, timesteps=t)
        pred = networks[self.generator](noisy, timesteps=t)
        if self.prediction_type == "epsilon":
            target = noise
        elif self.prediction_type == "v_prediction":
            target = self.scheduler.get_velocity(x0, noise, t)
        else:
            target = x0
        return {CommonKeys.IMAGE: image, CommonKeys.PRED: pred, CommonKeys.LABEL: target}

    def generator_loss(self, networks, batch, outputs) -> Losses:
        mse = torch.nn.functional.mse_loss(outputs[CommonKeys.PRED].float(), outputs[CommonKeys.LABEL].float())
        return {GenerativeKeys.TOTAL: mse, "mse": mse.detach()}

    def state_dict(self) -> dict[str, Any]:
        return {"noise_generator": self.noise_generator.get_state()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.noise_generator.set_state(state_dict["noise_generator"])
