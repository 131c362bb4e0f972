"""Sampling a trained denoising diffusion model as a network: noise image in, image out.

MONAI ships the parts (``DiffusionModelUNet``, ``DDPMScheduler``/``DDIMScheduler``, ``DiffusionInferer``); this wrapper
puts them behind the one-input ``forward`` that the bundle tools (``verify_net_in_out``, the sampling config, the
Fréchet-distance validation) expect of a generator, so a diffusion model is sampled like the package's GANs and VAEs.
:class:`TracedDenoiser` is what ``ckpt_export`` saves of such a model: one denoising step, not the sampling loop.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from monai.inferers import DiffusionInferer
from monai.networks.schedulers import DDIMScheduler, DDPMScheduler

__all__ = ["DiffusionSampler", "TracedDenoiser"]


class DiffusionSampler(torch.nn.Module):
    """Run the reverse process of ``network`` from a noise image ``x_T`` to a sample in ``[0, 1]``.

    DDPM sampling (Ho et al. 2020, https://arxiv.org/abs/2006.11239) walks all training steps and adds fresh noise at
    each (drawn from torch's global generator, as MONAI's scheduler does); DDIM (Song et al. 2021,
    https://arxiv.org/abs/2010.02502) with ``eta = 0`` is deterministic given ``x_T`` and takes a subset of the steps,
    so ``num_inference_steps`` of 20-50 trade a little quality for a 20-50 times shorter sampling. The network works
    in ``[-1, 1]`` (see :class:`~monai_genmed.engines.DenoisingDiffusionObjective`); samples are mapped back to the
    package's ``[0, 1]`` magnitude range and clipped to it.

    The state dict is the network's alone (``network.*``): one file serves every sampler setting.

    Args:
        network: the denoising network, ``network(x_t, timesteps=t)`` (MONAI's ``DiffusionModelUNet``).
        num_train_timesteps: ``T`` of the training schedule.
        sampler: ``"ddim"`` or ``"ddpm"``.
        num_inference_steps: steps of the reverse process (DDPM: ``T`` by default; DDIM: 50).
        schedule: MONAI's beta schedule name, as in training (``"linear_beta"``, ``"scaled_linear_beta"``, ...).
        prediction_type: what the network predicts, as in training.
        schedule_args: more arguments of the schedule (``beta_start``, ``beta_end``).
    """

    def __init__(
        self,
        network: torch.nn.Module,
        num_train_timesteps: int = 1000,
        sampler: str = "ddim",
        num_inference_steps: int | None = None,
        schedule: str = "linear_beta",
        prediction_type: str = "epsilon",
        **schedule_args: Any,
    ) -> None:
        super().__init__()
        sampler = str(sampler).lower()
        if sampler not in ("ddim", "ddpm"):
            raise ValueError(f"sampler must be 'ddim' or 'ddpm', got {sampler!r}.")
        if int(num_train_timesteps) < 1:
            raise ValueError(f"num_train_timesteps must be >= 1, got {num_train_timesteps}.")
        steps = int(num_inference_steps) if num_inference_steps is not None else (50 if sampler == "ddim" else None)
        if steps is not None and not 1 <= steps <= int(num_train_timesteps):
            raise ValueError(
                f"num_inference_steps must be between 1 and num_train_timesteps ({num_train_timesteps}), got {steps}."
            )
        self.network = network
        common = dict(num_train_timesteps=int(num_train_timesteps), schedule=schedule, prediction_type=prediction_type)
        if sampler == "ddim":
            self.scheduler = DDIMScheduler(**common, clip_sample=True, **schedule_args)
        else:
            self.scheduler = DDPMScheduler(**common, clip_sample=True, **schedule_args)
        self.sampler = sampler
        self.num_inference_steps = steps or int(num_train_timesteps)
        self.scheduler.set_timesteps(self.num_inference_steps)
        self.inferer = DiffusionInferer(self.scheduler)

    @torch.no_grad()
    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        """``noise``: ``x_T``, a ``(batch, channels, *spatial)`` standard normal draw. Returns samples in ``[0, 1]``."""
        if noise.ndim < 3:
            raise ValueError(
                f"DiffusionSampler takes noise images (batch, channels, *spatial), got shape {tuple(noise.shape)}."
            )
        self.scheduler.set_timesteps(self.num_inference_steps, device=noise.device)
        sample = self.inferer.sample(
            input_noise=noise, diffusion_model=self.network, scheduler=self.scheduler, verbose=False
        )
        return ((sample + 1.0) / 2.0).clamp(0.0, 1.0)


class TracedDenoiser(torch.nn.Module):
    """A diffusion model's denoising network, traced, behind a scriptable ``forward(x_t, timesteps)``.

    What ``ckpt_export`` saves of a diffusion bundle: one evaluation of the network (the predicted noise, velocity or
    image at step ``t``), for a sampling loop written elsewhere; not :class:`DiffusionSampler`'s loop, whose scheduler
    is Python. MONAI's ``DiffusionModelUNet`` cannot be scripted (its attention blocks), and ``ckpt_export --use_trace
    True`` feeds a network one random tensor where the denoiser takes two, so this module traces ``network`` when it is
    built, on a zero image of ``example_shape`` and zero timesteps, and ``ckpt_export`` (without ``--use_trace``)
    scripts the wrapper around the trace.

    The trace records the network's operations with the image and the timesteps as inputs, so any batch size and any
    timesteps (one per image) give the network's output; the spatial size and channels are those of
    ``example_shape`` (the shape checks inside the network were evaluated once, at tracing). The trace is taken in
    eval mode and keeps the network's parameters, under the same names behind ``network.``: a
    :class:`DiffusionSampler` checkpoint (``network.*``) loads into it, before or after tracing.

    Args:
        network: the denoising network, ``network(x_t, timesteps)`` (MONAI's ``DiffusionModelUNet``).
        example_shape: ``(batch, channels, *spatial)`` of the image to trace with.
    """

    def __init__(self, network: torch.nn.Module, example_shape: Sequence[int]) -> None:
        super().__init__()
        shape = [int(s) for s in example_shape]
        if len(shape) < 3 or min(shape) < 1:
            raise ValueError(f"example_shape must be (batch, channels, *spatial), got {list(example_shape)}.")
        example = (torch.zeros(shape), torch.zeros(shape[0], dtype=torch.long))
        network.eval()
        with torch.no_grad(), warnings.catch_warnings():
            # the network's own shape checks turn tensors into Python booleans: fixed for example_shape, as documented
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            self.network = torch.jit.trace(network, example)

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """``x``: the noisy images ``x_t``, ``(batch, channels, *spatial)`` in the network's range (``[-1, 1]`` here);
        ``timesteps``: ``(batch,)`` integer steps. Returns what the network predicts (the noise, for ``epsilon``)."""
        return self.network(x, timesteps)
