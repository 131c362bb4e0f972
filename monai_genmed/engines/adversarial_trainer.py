"""A MONAI trainer for any number of named generators and discriminators.

Modelled on :class:`monai.engines.AdversarialTrainer` (networks on ``engine.state``, losses on logits, custom
iteration events, AMP with a gradient scaler) but generic in what it trains: the model-specific maths lives
in an :class:`~monai_genmed.engines.objectives.AdversarialObjective` (DAGAN, CycleGAN, WGAN-GP, ...), and the
trainer only runs the schedule:

1. generators forward (``objective.generate``) -- with gradients only when the generators step this iteration;
2. every ``n_critic``-th iteration, a generator step: discriminators frozen, ``objective.generator_loss``,
   backward, every generator optimizer steps;
3. a discriminator step on detached generator outputs: ``objective.discriminator_loss``, backward, every
   discriminator optimizer steps.

With ``n_critic = 5`` the critic sees five fresh batches per generator update, as in WGAN (Arjovsky et al. 2017,
https://arxiv.org/abs/1701.07875) and WGAN-GP (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028).
Generating, freezing and detaching once per iteration is the order of pix2pix/CycleGAN's reference code
(G forward, G step with D frozen, D step on detached fakes), which saves one generator forward per iteration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from ignite.engine import Engine, EventEnum
from ignite.metrics import Metric
from monai.engines import Trainer
from monai.engines.utils import default_metric_cmp_fn
from monai.engines.workflow import Workflow
from torch.optim import Optimizer
from torch.utils.data import DataLoader

from monai_genmed.utils.enums import GenerativeKeys

from .objectives import AdversarialObjective
from .utils import GenerativeIterationEvents, PrepareBatchToDevice

__all__ = ["GenerativeAdversarialTrainer"]

logger = logging.getLogger(__name__)


def _named(optimizers: Optimizer | Mapping[str, Optimizer] | None, prefix: str) -> dict[str, Optimizer]:
    if optimizers is None:
        return {}
    if isinstance(optimizers, Optimizer):
        return {prefix: optimizers}
    if isinstance(optimizers, Mapping) and all(isinstance(o, Optimizer) for o in optimizers.values()):
        return dict(optimizers)
    raise TypeError(f"{prefix} must be a torch Optimizer or a dict of them, got {type(optimizers).__name__}.")


def _set_requires_grad(networks: Iterable[torch.nn.Module], flag: bool) -> None:
    for net in networks:
        for p in net.parameters():
            p.requires_grad_(flag)


class GenerativeAdversarialTrainer(Trainer):
    """Adversarial training of named generators and discriminators, with their optimizers, on MONAI's workflow.

    Args:
        device: where to train.
        max_epochs: number of epochs.
        train_data_loader: batches of dictionaries (MONAI datasets).
        generators: name -> generator network.
        discriminators: name -> discriminator network (may be empty for non-adversarial models, e.g. a VAE).
        objective: the model's losses; see :class:`~monai_genmed.engines.objectives.AdversarialObjective`.
        g_optimizer: optimizer of the generators, or name -> optimizer.
        d_optimizer: optimizer of the discriminators, or name -> optimizer.
        n_critic: discriminator steps per generator step (1 for DAGAN and CycleGAN, 5 for WGAN).
        epoch_length: iterations per epoch, default ``len(train_data_loader)``.
        non_blocking: asynchronous host-to-device copies.
        prepare_batch: moves the batch dictionary to the device (default :class:`PrepareBatchToDevice`).
        iteration_update: replaces ``_iteration`` entirely (as in MONAI).
        postprocessing, key_train_metric, additional_metrics, metric_cmp_fn, train_handlers, event_names,
            event_to_attr, to_kwargs: as in :class:`monai.engines.Trainer`.
        amp: mixed precision. On CUDA float16 with a gradient scaler per network group; on CPU bfloat16
            autocast (no scaler needed).
        amp_dtype: override the autocast dtype.
        amp_kwargs: further ``torch.autocast`` arguments.
        optim_set_to_none: ``zero_grad(set_to_none=...)``.
        max_grad_norm: clip each group's gradient norm before stepping (None: no clipping).
    """

    def __init__(
        self,
        device: torch.device | str,
        max_epochs: int,
        train_data_loader: Iterable | DataLoader,
        generators: Mapping[str, torch.nn.Module],
        objective: AdversarialObjective,
        g_optimizer: Optimizer | Mapping[str, Optimizer],
        discriminators: Mapping[str, torch.nn.Module] | None = None,
        d_optimizer: Optimizer | Mapping[str, Optimizer] | None = None,
        n_critic: int = 1,
        epoch_length: int | None = None,
        non_blocking: bool = False,
        prepare_batch: Callable | None = None,
        iteration_update: Callable[[Engine, Any], Any] | None = None,
        postprocessing: Callable | None = None,
        key_train_metric: dict[str, Metric] | None = None,
        additional_metrics: dict[str, Metric] | None = None,
        metric_cmp_fn: Callable = default_metric_cmp_fn,
        train_handlers: Sequence | None = None,
        amp: bool = False,
        amp_dtype: torch.dtype | str | None = None,
        event_names: list[str | EventEnum | type[EventEnum]] | None = None,
        event_to_attr: dict | None = None,
        optim_set_to_none: bool = True,
        max_grad_norm: float | None = None,
        to_kwargs: dict | None = None,
        amp_kwargs: dict | None = None,
    ) -> None:
        if n_critic < 1:
            raise ValueError(f"n_critic must be a positive integer, got {n_critic}.")
        generators = dict(generators)
        discriminators = dict(discriminators or {})
        if not generators:
            raise ValueError("GenerativeAdversarialTrainer needs at least one generator.")
        clash = set(generators) & set(discriminators)
        if clash:
            raise ValueError(f"network names must be unique across generators and discriminators, both have {sorted(clash)}.")
        g_optimizers, d_optimizers = _named(g_optimizer, "g_optimizer"), _named(d_optimizer, "d_optimizer")
        if not g_optimizers:
            raise ValueError("g_optimizer is required.")
        if discriminators and not d_optimizers:
            raise ValueError("discriminators were given without d_optimizer.")
        device = torch.device(device) if isinstance(device, str) else device
        if amp_dtype is None:
            amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
        elif isinstance(amp_dtype, str):
            amp_dtype = getattr(torch, amp_dtype)
        super().__init__(
            device=device,
            max_epochs=max_epochs,
            data_loader=train_data_loader,
            epoch_length=epoch_length,
            non_blocking=non_blocking,
            prepare_batch=PrepareBatchToDevice() if prepare_batch is None else prepare_batch,
            iteration_update=iteration_update,
            postprocessing=postprocessing,
            key_metric=key_train_metric,
            additional_metrics=additional_metrics,
            metric_cmp_fn=metric_cmp_fn,
            handlers=None,  # attached below, once the networks are on engine.state
            amp=amp,
            event_names=event_names,
            event_to_attr=event_to_attr,
            decollate=False,  # outputs stay batched: image-grid and loss handlers read whole batches
            to_kwargs=to_kwargs,
            amp_kwargs=amp_kwargs,
        )
        self.register_events(*GenerativeIterationEvents)
        self.objective = objective
        self.n_critic = int(n_critic)
        self.optim_set_to_none = optim_set_to_none
        self.max_grad_norm = max_grad_norm
        self.amp_dtype = amp_dtype
        use_scaler = bool(amp) and amp_dtype == torch.float16
        self.state.generators = generators
        self.state.discriminators = discriminators
        self.state.g_optimizers = g_optimizers
        self.state.d_optimizers = d_optimizers
        self.state.g_scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
        self.state.d_scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
        objective.check_networks(generators, discriminators)
        if train_handlers is not None:
            self._register_handlers(train_handlers)

    @property
    def networks(self) -> dict[str, torch.nn.Module]:
        """Every network by name, generators first."""
        return {**self.state.generators, **self.state.discriminators}

    def checkpoint_objects(self) -> dict[str, Any]:
        """Everything a resumable checkpoint must hold: engine state, every network, optimizer and grad scaler."""
        objects: dict[str, Any] = {"trainer": self}
        objects.update({f"network_{k}": v for k, v in self.networks.items()})
        objects.update({f"optimizer_{k}": v for k, v in {**self.state.g_optimizers, **self.state.d_optimizers}.items()})
        objects.update({"g_scaler": self.state.g_scaler, "d_scaler": self.state.d_scaler})
        return objects

    def run(self) -> None:  # type: ignore[override]
        # Trainer.run would create a CUDA-only GradScaler; the scalers here live on engine.state.
        Workflow.run(self)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.state.device.type, dtype=self.amp_dtype, enabled=bool(self.amp), **self.amp_kwargs)

    def _update(self, group: str, compute_losses: Callable[[], Mapping[str, torch.Tensor]]) -> dict[str, float]:
        """One optimisation step of the generators (``group="g"``) or discriminators (``"d"``); returns logged terms."""
        state = self.state
        optimizers = state.g_optimizers if group == "g" else state.d_optimizers
        networks = state.generators if group == "g" else state.discriminators
        scaler = state.g_scaler if group == "g" else state.d_scaler
        loss_event, backward_event, step_event = (
            (
                GenerativeIterationEvents.GENERATOR_LOSS_COMPLETED,
                GenerativeIterationEvents.GENERATOR_BACKWARD_COMPLETED,
                GenerativeIterationEvents.GENERATOR_STEP_COMPLETED,
            )
            if group == "g"
            else (
                GenerativeIterationEvents.DISCRIMINATOR_LOSS_COMPLETED,
                GenerativeIterationEvents.DISCRIMINATOR_BACKWARD_COMPLETED,
                GenerativeIterationEvents.DISCRIMINATOR_STEP_COMPLETED,
            )
        )
        for opt in optimizers.values():
            opt.zero_grad(set_to_none=self.optim_set_to_none)
        with self._autocast():
            terms = compute_losses()
        self.fire_event(loss_event)
        loss = terms[GenerativeKeys.TOTAL]
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"non-finite {'generator' if group == 'g' else 'discriminator'} loss ({loss.item()}) at epoch "
                f"{state.epoch}, iteration {state.iteration}; lower the learning rate, check the inputs for NaN, "
                "or enable gradient clipping (max_grad_norm)."
            )
        scaler.scale(loss).backward()
        self.fire_event(backward_event)
        if self.max_grad_norm is not None:
            for opt in optimizers.values():
                scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_([p for net in networks.values() for p in net.parameters()], self.max_grad_norm)
        for opt in optimizers.values():
            scaler.step(opt)
        scaler.update()
        self.fire_event(step_event)
        return {f"{group}_{k}": float(v.detach()) for k, v in terms.items()}

    def _iteration(self, engine: GenerativeAdversarialTrainer, batchdata: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        batch = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs)
        state = engine.state
        networks = engine.networks
        for net in networks.values():
            net.train()
        generator_step = (state.iteration - 1) % engine.n_critic == 0
        losses: dict[str, float] = {}

        with engine._autocast(), torch.set_grad_enabled(generator_step):
            outputs = engine.objective.generate(networks, batch)
        engine.fire_event(GenerativeIterationEvents.GENERATOR_FORWARD_COMPLETED)

        if generator_step:
            _set_requires_grad(state.discriminators.values(), False)
            try:
                losses.update(engine._update("g", lambda: engine.objective.generator_loss(networks, batch, outputs)))
            finally:
                _set_requires_grad(state.discriminators.values(), True)

        outputs = {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in outputs.items()}
        if state.discriminators:
            losses.update(engine._update("d", lambda: engine.objective.discriminator_loss(networks, batch, outputs)))

        return {GenerativeKeys.LOSSES: losses, **outputs}
