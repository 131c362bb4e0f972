"""A MONAI trainer for any number of named networks, optimised in named step groups.

Modelled on :class:`monai.engines.AdversarialTrainer` (networks on ``engine.state``, losses on logits, custom
iteration events, AMP with a gradient scaler) but generic in what it trains: the model-specific maths lives
in an :class:`~monai_genmed.engines.objectives.AdversarialObjective` (DAGAN, CycleGAN, WGAN-GP, VAE-GAN, an
autoencoder, ...), and the trainer only runs the schedule. One iteration:

1. ``objective.generate`` runs the generators, with gradients only when a step group of this iteration
   back-propagates through its outputs;
2. every :class:`~monai_genmed.engines.StepGroup` due at this iteration runs in order: its frozen networks stop
   requiring gradients, its optimizers are zeroed, its loss method of the objective is computed (on the
   outputs with their graph, detached, or regenerated), scaled, back-propagated, clipped, and its optimizers
   step; the frozen networks are released again.

Without ``step_groups`` the trainer builds the two groups of a GAN from ``g_optimizer``, ``d_optimizer`` and
``n_critic``: ``"g"`` (the generators, on ``generator_loss``, discriminators frozen, every ``n_critic``-th
iteration) and ``"d"`` (the discriminators, on ``discriminator_loss`` of the detached outputs, every
iteration), or only ``"g"`` when there are no discriminators. With ``n_critic = 5`` the critic sees five fresh
batches per generator update, as in WGAN (Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875) and WGAN-GP
(Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028). Generating, freezing and detaching once per
iteration is the order of pix2pix/CycleGAN's reference code (G forward, G step with D frozen, D step on
detached fakes), which saves one generator forward per iteration.
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
from .steps import StepGroup, StepOutputs, StepRole
from .utils import GenerativeIterationEvents, PrepareBatchToDevice, detach_outputs

__all__ = ["GenerativeAdversarialTrainer"]

logger = logging.getLogger(__name__)

_ROLE_EVENTS = {
    StepRole.GENERATOR: (
        GenerativeIterationEvents.GENERATOR_LOSS_COMPLETED,
        GenerativeIterationEvents.GENERATOR_BACKWARD_COMPLETED,
        GenerativeIterationEvents.GENERATOR_STEP_COMPLETED,
    ),
    StepRole.DISCRIMINATOR: (
        GenerativeIterationEvents.DISCRIMINATOR_LOSS_COMPLETED,
        GenerativeIterationEvents.DISCRIMINATOR_BACKWARD_COMPLETED,
        GenerativeIterationEvents.DISCRIMINATOR_STEP_COMPLETED,
    ),
}


def _freeze(networks: Iterable[torch.nn.Module]) -> list[torch.nn.Parameter]:
    """Stop gradients of every parameter that requires them; returns those, to release exactly them again
    (parameters a user froze on purpose, e.g. a pre-trained encoder, stay frozen)."""
    frozen = [p for net in networks for p in net.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    return frozen


def _check_not_empty(data_loader: Any) -> None:
    try:
        batches = len(data_loader)
    except TypeError:  # an iterable without a length: nothing to check before running
        return
    if batches > 0:
        return
    dataset = getattr(data_loader, "dataset", None)
    try:
        samples: int | str = len(dataset) if dataset is not None else "unknown"
    except TypeError:
        samples = "unknown"
    batch_size, drop_last = getattr(data_loader, "batch_size", None), getattr(data_loader, "drop_last", None)
    raise ValueError(
        f"the training data loader yields no batch (batch_size={batch_size}, dataset length={samples}, "
        f"drop_last={drop_last}), so nothing would be trained. Lower batch_size to at most the dataset length, "
        "add data, or set drop_last=False."
    )


def default_step_groups(
    generators: Mapping[str, torch.nn.Module],
    discriminators: Mapping[str, torch.nn.Module],
    g_optimizer: Optimizer | Mapping[str, Optimizer] | None,
    d_optimizer: Optimizer | Mapping[str, Optimizer] | None,
    n_critic: int,
) -> list[StepGroup]:
    """A GAN's two groups (or the generators' alone): see the module docstring."""
    if n_critic < 1:
        raise ValueError(f"n_critic must be a positive integer, got {n_critic}.")
    if g_optimizer is None:
        raise ValueError("g_optimizer is required (or give step_groups).")
    if discriminators and d_optimizer is None:
        raise ValueError("discriminators were given without d_optimizer.")
    groups = [
        StepGroup(
            "g",
            list(generators),
            g_optimizer,
            "generator_loss",
            every=n_critic,
            frozen=list(discriminators),
            outputs=StepOutputs.GRAPH,
            role=StepRole.GENERATOR,
        )
    ]
    if discriminators:
        groups.append(
            StepGroup(
                "d",
                list(discriminators),
                d_optimizer,
                "discriminator_loss",
                outputs=StepOutputs.DETACHED,
                role=StepRole.DISCRIMINATOR,
            )
        )
    elif d_optimizer is not None:
        logger.warning("d_optimizer was given without discriminators; it is not used.")
    return groups


def check_step_groups(groups: Sequence[StepGroup], networks: Mapping[str, torch.nn.Module], objective: Any) -> None:
    """Unique group names and optimizer names, known networks, and loss methods the objective has."""
    if not groups:
        raise ValueError("step_groups is empty: the trainer needs at least one step group.")
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise ValueError(f"step group names must be unique, got {names}.")
    seen: dict[str, str] = {}
    for group in groups:
        unknown = [n for n in (*group.networks, *(group.frozen or ())) if n not in networks]
        if unknown:
            raise KeyError(f"step group {group.name!r} names networks {unknown}; the trainer has {sorted(networks)}.")
        for opt_name in group.optimizers:
            if opt_name in seen:
                raise ValueError(
                    f"optimizer name {opt_name!r} is used by step groups {seen[opt_name]!r} and {group.name!r}."
                )
            seen[opt_name] = group.name
        if isinstance(group.loss, str) and not callable(getattr(objective, group.loss, None)):
            raise AttributeError(
                f"step group {group.name!r} calls {type(objective).__name__}.{group.loss}, which does not exist; "
                "name one of the objective's loss methods (generator_loss, discriminator_loss, ...)."
            )


class GenerativeAdversarialTrainer(Trainer):
    """Training of named generators and discriminators in named step groups, on MONAI's workflow.

    Args:
        device: where to train.
        max_epochs: number of epochs.
        train_data_loader: batches of dictionaries (MONAI datasets). An empty loader (e.g. ``batch_size``
            larger than the dataset with ``drop_last=True``) is an error when the run starts.
        generators: name -> generator network (every network that is not a discriminator: an encoder, a decoder).
        objective: the model's losses; see :class:`~monai_genmed.engines.objectives.AdversarialObjective`. The
            trainer attaches it (``objective.attach(trainer)``), so it sees ``engine.state``.
        g_optimizer: optimizer of the generators, or name -> optimizer (default step groups).
        discriminators: name -> discriminator network (none for non-adversarial models, e.g. an autoencoder).
        d_optimizer: optimizer of the discriminators, or name -> optimizer (default step groups).
        n_critic: discriminator steps per generator step (1 for DAGAN and CycleGAN, 5 for WGAN; default groups).
        epoch_length: iterations per epoch, default ``len(train_data_loader)``.
        non_blocking: asynchronous host-to-device copies.
        prepare_batch: moves the batch dictionary to the device (default :class:`PrepareBatchToDevice`).
        iteration_update: replaces ``_iteration`` entirely (as in MONAI).
        postprocessing, key_train_metric, additional_metrics, metric_cmp_fn, train_handlers, event_names,
            event_to_attr, to_kwargs: as in :class:`monai.engines.Trainer`.
        amp: mixed precision. On CUDA float16 with a gradient scaler per step group; on CPU bfloat16
            autocast (no scaler needed).
        amp_dtype: override the autocast dtype.
        amp_kwargs: further ``torch.autocast`` arguments.
        optim_set_to_none: ``zero_grad(set_to_none=...)``.
        max_grad_norm: clip each group's gradient norm before stepping (None: no clipping).
        step_groups: the iteration's :class:`~monai_genmed.engines.StepGroup` list (or their keyword
            dictionaries), instead of ``g_optimizer``/``d_optimizer``/``n_critic``; e.g. three for a VAE-GAN.

    ``engine.state`` holds ``generators``, ``discriminators``, ``step_groups``, ``optimizers`` (every one by
    name), ``g_optimizers``/``d_optimizers`` (those of the generator and discriminator groups), ``scalers``
    (group name -> gradient scaler; ``g_scaler``/``d_scaler`` for the default groups) and ``step_group`` (the
    group that is running, else ``None``). Logged loss terms are ``engine.state.output["losses"]``, named
    ``{group}_{term}`` (``g_total``, ``d_real_logit``).

    A plain autoencoder needs no groups: ``generators={"generator": ...}``, ``g_optimizer`` and a
    :class:`~monai_genmed.engines.ReconstructionObjective` run the single group ``"g"``. A VAE-GAN declares
    its three in a bundle config (the objective defines ``encoder_loss`` and ``decoder_loss``)::

        "step_groups": [
            {"_target_": "monai_genmed.engines.StepGroup", "name": "encoder", "networks": ["encoder"],
             "optimizers": "@encoder_optimizer", "loss": "encoder_loss"},
            {"_target_": "monai_genmed.engines.StepGroup", "name": "decoder", "networks": ["decoder"],
             "optimizers": "@decoder_optimizer", "loss": "decoder_loss", "outputs": "regenerate",
             "role": "generator"},
            {"_target_": "monai_genmed.engines.StepGroup", "name": "d", "networks": ["discriminator"],
             "optimizers": "@d_optimizer", "loss": "discriminator_loss", "outputs": "detached",
             "role": "discriminator"}
        ]
    """

    def __init__(
        self,
        device: torch.device | str,
        max_epochs: int,
        train_data_loader: Iterable | DataLoader,
        generators: Mapping[str, torch.nn.Module],
        objective: AdversarialObjective,
        g_optimizer: Optimizer | Mapping[str, Optimizer] | None = None,
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
        step_groups: Sequence[StepGroup | Mapping[str, Any]] | None = None,
    ) -> None:
        generators = dict(generators)
        discriminators = dict(discriminators or {})
        if not generators:
            raise ValueError("GenerativeAdversarialTrainer needs at least one generator.")
        clash = set(generators) & set(discriminators)
        if clash:
            raise ValueError(
                f"network names must be unique across generators and discriminators, both have {sorted(clash)}."
            )
        if step_groups is None:
            groups = default_step_groups(generators, discriminators, g_optimizer, d_optimizer, n_critic)
        else:
            if g_optimizer is not None or d_optimizer is not None or n_critic != 1:
                raise ValueError(
                    "give either step_groups or g_optimizer/d_optimizer/n_critic: with step_groups each group names "
                    "its own optimizers and how often it runs (every)."
                )
            groups = [g if isinstance(g, StepGroup) else StepGroup(**g) for g in step_groups]
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
        objective.check_networks(generators, discriminators)
        check_step_groups(groups, {**generators, **discriminators}, objective)
        for group in groups:
            if group.scaler is None:
                group.scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
        state = self.state
        state.generators = generators
        state.discriminators = discriminators
        state.step_groups = groups
        state.step_group = None
        state.optimizers = {k: v for g in groups for k, v in g.optimizers.items()}
        state.g_optimizers = {k: v for g in groups if g.role == StepRole.GENERATOR for k, v in g.optimizers.items()}
        state.d_optimizers = {k: v for g in groups if g.role == StepRole.DISCRIMINATOR for k, v in g.optimizers.items()}
        state.scalers = {g.name: g.scaler for g in groups}
        state.g_scaler, state.d_scaler = state.scalers.get("g"), state.scalers.get("d")
        if hasattr(objective, "attach"):
            objective.attach(self)
        if train_handlers is not None:
            self._register_handlers(train_handlers)

    @property
    def networks(self) -> dict[str, torch.nn.Module]:
        """Every network by name, generators first."""
        return {**self.state.generators, **self.state.discriminators}

    def checkpoint_objects(self) -> dict[str, Any]:
        """Everything a resumable checkpoint must hold: engine state, every network, optimizer and grad scaler,
        and the objective's state under ``"objective"`` when it has any (so checkpoints of stateless objectives,
        e.g. DAGAN's, keep the keys they always had)."""
        objects: dict[str, Any] = {"trainer": self}
        objects.update({f"network_{k}": v for k, v in self.networks.items()})
        objects.update({f"optimizer_{k}": v for k, v in self.state.optimizers.items()})
        objects.update({f"{k}_scaler": v for k, v in self.state.scalers.items()})
        if getattr(self.objective, "has_state", hasattr(self.objective, "state_dict")):
            objects["objective"] = self.objective
        return objects

    def run(self) -> None:  # type: ignore[override]
        _check_not_empty(self.data_loader)
        # Trainer.run would create a CUDA-only GradScaler; the scalers here live on the step groups.
        Workflow.run(self)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.state.device.type, dtype=self.amp_dtype, enabled=bool(self.amp), **self.amp_kwargs)

    def _fire(self, group: StepGroup, stage: int, event: GenerativeIterationEvents) -> None:
        self.fire_event(event)
        if group.role is not None:
            self.fire_event(_ROLE_EVENTS[group.role][stage])

    def _step(
        self, group: StepGroup, batch: Mapping[str, Any], outputs: dict[str, Any], retain_graph: bool
    ) -> tuple[dict[str, float], dict[str, Any]]:
        """One optimisation step of ``group``; returns its logged terms and the (possibly regenerated) outputs."""
        state = self.state
        networks = self.networks
        loss_fn = getattr(self.objective, group.loss) if isinstance(group.loss, str) else group.loss
        state.step_group = group
        frozen = _freeze(networks[n] for n in group.frozen_networks(list(networks)))
        try:
            if group.outputs == StepOutputs.REGENERATE:
                with self._autocast():
                    outputs = self.objective.generate(networks, batch)
                self.fire_event(GenerativeIterationEvents.GENERATOR_FORWARD_COMPLETED)
            seen = detach_outputs(outputs) if group.outputs == StepOutputs.DETACHED else outputs
            for opt in group.optimizers.values():
                opt.zero_grad(set_to_none=self.optim_set_to_none)
            with self._autocast():
                terms = loss_fn(networks, batch, seen)
            self._fire(group, 0, GenerativeIterationEvents.GROUP_LOSS_COMPLETED)
            loss = terms[GenerativeKeys.TOTAL]
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"non-finite {group.role.value if group.role else 'step'} loss ({loss.item()}) of step group "
                    f"{group.name!r} at epoch {state.epoch}, iteration {state.iteration}; lower the learning rate, "
                    "check the inputs for NaN, or enable gradient clipping (max_grad_norm)."
                )
            try:
                group.scaler.scale(loss).backward(retain_graph=retain_graph)
            except RuntimeError as e:
                if "modified by an inplace operation" not in str(e) or group.outputs != StepOutputs.GRAPH:
                    raise
                raise RuntimeError(
                    f"step group {group.name!r} back-propagates through outputs generated before an earlier group "
                    f"of this iteration stepped its networks ({e}); give {group.name!r} outputs='regenerate'."
                ) from e
            self._fire(group, 1, GenerativeIterationEvents.GROUP_BACKWARD_COMPLETED)
            if self.max_grad_norm is not None:
                for opt in group.optimizers.values():
                    group.scaler.unscale_(opt)
                params = [p for n in group.networks for p in networks[n].parameters()]
                torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
            for opt in group.optimizers.values():
                group.scaler.step(opt)
            group.scaler.update()
            self._fire(group, 2, GenerativeIterationEvents.GROUP_STEP_COMPLETED)
        finally:
            for p in frozen:
                p.requires_grad_(True)
            state.step_group = None
        return {f"{group.name}_{k}": float(v.detach()) for k, v in terms.items()}, outputs

    def _iteration(self, engine: GenerativeAdversarialTrainer, batchdata: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        batch = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs)
        state = engine.state
        for net in engine.networks.values():
            net.train()
        running = [g for g in state.step_groups if g.runs_at(state.iteration)]
        modes = [g.outputs for g in running]
        # the first generate needs a graph only if a group uses it before any group regenerates its own
        first_regenerate = modes.index(StepOutputs.REGENERATE) if StepOutputs.REGENERATE in modes else len(modes)
        with engine._autocast(), torch.set_grad_enabled(StepOutputs.GRAPH in modes[:first_regenerate]):
            outputs = engine.objective.generate(engine.networks, batch)
        engine.fire_event(GenerativeIterationEvents.GENERATOR_FORWARD_COMPLETED)

        losses: dict[str, float] = {}
        for i, group in enumerate(running):
            later = modes[i + 1 :]
            until = later.index(StepOutputs.REGENERATE) if StepOutputs.REGENERATE in later else len(later)
            retain = group.outputs != StepOutputs.DETACHED and StepOutputs.GRAPH in later[:until]
            terms, outputs = engine._step(group, batch, outputs, retain_graph=retain)
            losses.update(terms)
        return {GenerativeKeys.LOSSES: losses, **detach_outputs(outputs)}
