"""Objectives of unconditional generative models: a GAN that maps noise ``z`` to images.

Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, https://arxiv.org/abs/1406.2661: a generator
``G(z)``, ``z ~ N(0, I)``, against a discriminator that tells real images from ``G(z)``; the objective itself is a
:class:`~monai_genmed.losses.GANLoss` mode (minimax, non-saturating, least squares, Wasserstein, hinge). Around
it, the stabilisers a lecture on GAN training lists, each a constructor argument:

- instance noise (Sønderby et al., "Amortised MAP Inference for Image Super-resolution", ICLR 2017,
  https://arxiv.org/abs/1610.04490, section 4; Arjovsky and Bottou, ICLR 2017, https://arxiv.org/abs/1701.04862):
  Gaussian noise on every image D sees, real and generated, annealed to 0, so the two distributions overlap
  early and D's gradients do not vanish;
- a weight penalty on D (L2, ``weight_penalty * sum ||W||^2`` over its convolution and linear weights), which
  keeps D from growing over-confident;
- a discriminator regulariser: the WGAN-GP gradient penalty (Gulrajani et al. 2017,
  https://arxiv.org/abs/1704.00028) or R1 (:class:`~monai_genmed.engines.AdversarialObjective`);
- differentiable augmentation of everything D sees, real and generated, in D's and G's steps (DiffAugment,
  Zhao et al. 2020, https://arxiv.org/abs/2006.10738; :class:`~monai_genmed.engines.DiffAugment`);
- the unrolled GAN (Metz et al., "Unrolled Generative Adversarial Networks", ICLR 2017,
  https://arxiv.org/abs/1611.02163): G's loss is taken against a functional copy of D after ``k`` look-ahead
  gradient steps of D's loss, and G's gradient flows through those steps (the paper's full gradient, its eq. 12),
  so G is penalised for moves that D would answer at once, which the paper shows reduces mode collapse;
- WGAN's weight clipping is a handler (:class:`~monai_genmed.handlers.WeightClipping`), and ``n_critic`` the
  trainer's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from monai.utils import CommonKeys, StrEnum
from torch.func import functional_call

from monai_genmed.losses import GANLoss, LinearWarmup
from monai_genmed.utils.enums import GenerativeKeys

from .objectives import AdversarialObjective, Regularizer, Weight

__all__ = ["UnconditionalGANObjective", "LatentKeys", "adam_lookahead", "diversity_shortfall"]


def diversity_shortfall(fake: torch.Tensor, real: torch.Tensor, pool: int = 1) -> torch.Tensor:
    """How much less the generated images of a batch differ from each other than the real ones do, in [0, 1].

    Both batches are average-pooled by ``pool`` along every spatial axis (so that only structure at that scale
    counts: head size, pose, anatomy, not pixel texture) and split in halves paired sample by sample; with
    ``d(x) = mean_pairs mean|x_1 - x_2|``, returns ``max(0, 1 - d(fake) / d(real))``: 1 for a collapsed batch (all
    samples alike), 0 once the samples differ as much as the real images of the same step. A mode-seeking term
    (Mao et al., CVPR 2019, https://arxiv.org/abs/1903.05628) asks G for images that differ where latents differ;
    its unbounded pixel form ``1 / d(fake)`` keeps rewarding any difference, pixel noise included, so this one is
    clipped as the diversity-sensitive GAN's is (Yang et al., ICLR 2019, https://arxiv.org/abs/1901.09024), at the
    real images' own spread rather than a tuned constant."""
    half = min(fake.shape[0], real.shape[0]) // 2
    if half < 1:
        raise ValueError(f"the diversity term pairs samples of a batch; it needs at least 2, got {fake.shape[0]}.")
    if int(pool) < 1:
        raise ValueError(f"diversity pool must be an integer >= 1 (1: full resolution), got {pool!r}.")

    def spread(x: torch.Tensor) -> torch.Tensor:
        if pool > 1:
            x = torch.nn.functional.avg_pool3d(x, pool) if x.ndim == 5 else torch.nn.functional.avg_pool2d(x, pool)
        return (x[:half] - x[half : 2 * half]).abs().mean()

    reference = spread(real.detach()).clamp_min(1e-8)
    return torch.relu(1.0 - spread(fake) / reference)


def adam_lookahead(
    params: dict[str, torch.Tensor],
    grads: Sequence[torch.Tensor | None],
    originals: Sequence[torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    moments: dict[str, tuple[torch.Tensor, torch.Tensor]],
    step: int,
) -> dict[str, torch.Tensor]:
    """One differentiable Adam step of ``params`` (name -> tensor) from ``optimizer``'s own state, as D's optimizer
    would take it ``step`` steps from now (0: its next step): its learning rate, betas, eps and moment estimates.

    ``originals`` are the optimizer's parameters in the order of ``params`` (its state is keyed by them);
    ``moments`` carries the look-ahead's own moment estimates from one step to the next (filled here). A parameter
    without a gradient is left as it is. Weight decay and AMSGrad are not modelled (the step is Adam's)."""
    groups = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    out = {}
    for (name, value), grad, original in zip(params.items(), grads, originals):
        group = groups.get(id(original))
        if grad is None or group is None:
            out[name] = value
            continue
        beta1, beta2 = group["betas"]
        state = optimizer.state.get(original, {})
        m, v = moments.get(name) or (
            state.get("exp_avg", torch.zeros_like(value)).detach(),
            state.get("exp_avg_sq", torch.zeros_like(value)).detach(),
        )
        m, v = beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad * grad
        moments[name] = (m, v)
        t = int(float(state.get("step", 0))) + step + 1
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        out[name] = value - group["lr"] * m_hat / ((v_hat + 1e-30).sqrt() + group["eps"])
    return out


def _plain_adam(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """``optimizer`` if :func:`adam_lookahead` models its steps (Adam without AMSGrad, maximize or weight decay)."""
    if not all("betas" in g for g in optimizer.param_groups):
        raise ValueError(f"unroll_optimizer='adam' needs D's optimizer to be Adam, got {optimizer!r}.")
    unmodelled = sorted(
        {k for g in optimizer.param_groups for k in ("amsgrad", "maximize", "weight_decay") if g.get(k)}
    )
    if unmodelled:
        raise ValueError(
            f"unroll_optimizer='adam' takes plain Adam steps, but D's optimizer sets {unmodelled}; "
            "turn those off in D's optimizer (a weight penalty belongs in D's loss: --weight_penalty), "
            "or use unroll_optimizer='sgd'."
        )
    return optimizer


class LatentKeys(StrEnum):
    """Output keys of the latent-variable objectives besides MONAI's ``CommonKeys``."""

    LATENT = "latent"


class UnconditionalGANObjective(AdversarialObjective):
    """A GAN from noise: ``fake = G(z)``, ``z ~ N(0, I)`` of ``latent_dim``; D judges real images against ``fake``.

    ``z`` and the instance noise come from the objective's own seeded ``torch.Generator`` (never torch's global
    one), and :meth:`state_dict` holds their states, so a resumed run draws exactly what the uninterrupted one
    would (the trainer checkpoints it under ``"objective"``).

    Generator loss: ``adversarial = gan_loss.generator_loss(D(noisy(fake)))``. Discriminator loss:
    ``adversarial = gan_loss.discriminator_loss(D(noisy(real)), D(noisy(fake)))``, plus
    ``weight_penalty * sum ||W||^2`` (logged as ``weight_penalty``) and the regulariser (``regularizer``) on the
    images D saw. The mean logits are logged as ``real_logit`` and ``fake_logit``; the per-sample logits of the
    last discriminator step are :meth:`monitor_logits` (for :class:`~monai_genmed.handlers.GANMonitor`'s accuracy).

    Outputs: ``CommonKeys.IMAGE`` (and ``LABEL``) the real batch, ``CommonKeys.PRED`` the generated one,
    ``LatentKeys.LATENT`` the latents.

    Args:
        gan_loss: the GAN objective; default ``GANLoss("non_saturating")``.
        latent_dim: length of ``z``.
        generator: name of the generator network (``z -> image``, e.g.
            :class:`~monai_genmed.networks.nets.DCGANGenerator`).
        discriminator: name of the discriminator.
        image_key: batch key of the real images.
        instance_noise: standard deviation of the noise added to D's inputs at the first iteration, or a schedule
            (a callable of the engine state, e.g. :class:`~monai_genmed.losses.LinearWarmup`).
        instance_noise_epochs: with a number ``instance_noise``, the epochs over which it falls linearly to 0;
            ``None`` spreads that over the whole run (``max_epochs``).
        weight_penalty: weight of the L2 penalty on D's weights (0: none); a number or a schedule.
        discriminator_regularizer, regularizer_every, logits_fn: see
            :class:`~monai_genmed.engines.AdversarialObjective`.
        seed: seed of the latent generator (the instance noise uses ``seed + 1``).
        augment: a differentiable augmentation applied after the instance noise to every batch D sees, real and
            fake, in the discriminator's and the generator's steps (e.g. :class:`~monai_genmed.engines.DiffAugment`);
            ``None``: none. Its ``state_dict`` (when it has one) is checkpointed with the objective's.
        unroll_steps: ``k`` of the unrolled GAN, 0 (a plain GAN step) to 100: look-ahead steps of D taken, on a
            functional copy, before G's loss; they cost ``k`` extra forward and double-backward passes of D.
        unroll_learning_rate: learning rate of the look-ahead steps (plain gradient descent on D's adversarial loss
            of the current real batch and G's current samples; the paper unrolls D's own Adam). Needed when
            ``unroll_steps > 0`` with ``unroll_optimizer="sgd"``.
        unroll_optimizer: ``"sgd"`` (plain gradient steps of ``unroll_learning_rate``) or ``"adam"``: the
            look-ahead takes D's own optimizer's steps (:func:`adam_lookahead`: its learning rate, betas and moment
            estimates, from ``engine.state.d_optimizers``), so that it moves D as far as training will.
        diversity_weight: weight of :func:`diversity_shortfall` in G's loss: G is
            penalised while its samples of a batch differ from each other less than the batch's real images do, a
            direct remedy against mode collapse (logged as ``diversity_shortfall``); 0: off.
        diversity_pool: the average-pooling factor at which the diversity term compares samples (1: pixels).

    Example (WGAN-GP)::

        objective = UnconditionalGANObjective(GANLoss("wasserstein"), latent_dim=100,
                                              discriminator_regularizer=gradient_penalty)
        trainer = GenerativeAdversarialTrainer(..., generators={"generator": g}, discriminators={"discriminator": d},
                                               objective=objective, n_critic=5)
    """

    def __init__(
        self,
        gan_loss: GANLoss | None = None,
        latent_dim: int = 100,
        generator: str = "generator",
        discriminator: str = "discriminator",
        image_key: str = CommonKeys.IMAGE,
        instance_noise: Weight = 0.0,
        instance_noise_epochs: float | None = None,
        weight_penalty: Weight = 0.0,
        discriminator_regularizer: Regularizer | None = None,
        regularizer_every: int = 1,
        logits_fn: Callable[[Any], Any] | None = None,
        seed: int = 0,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        unroll_steps: int = 0,
        unroll_learning_rate: float | None = None,
        unroll_optimizer: str = "sgd",
        diversity_weight: float = 0.0,
        diversity_pool: int = 1,
    ) -> None:
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim}.")
        if not callable(instance_noise) and float(instance_noise) < 0:
            raise ValueError(f"instance_noise is a standard deviation, >= 0; got {instance_noise}.")
        if instance_noise_epochs is not None and instance_noise_epochs <= 0:
            raise ValueError(
                f"instance_noise_epochs must be > 0 (or None for the whole run), got {instance_noise_epochs}."
            )
        if isinstance(unroll_steps, bool) or not isinstance(unroll_steps, int) or not 0 <= unroll_steps <= 100:
            raise ValueError(
                f"unroll_steps (k of the unrolled GAN) must be an integer in [0, 100], got {unroll_steps!r}."
            )
        if unroll_optimizer not in ("sgd", "adam"):
            raise ValueError(f"unroll_optimizer must be 'sgd' or 'adam' (D's own Adam), got {unroll_optimizer!r}.")
        if (
            unroll_steps
            and unroll_optimizer == "sgd"
            and (unroll_learning_rate is None or not 0 < float(unroll_learning_rate) < float("inf"))
        ):
            raise ValueError(
                f"unroll_learning_rate must be a number > 0 when unroll_steps > 0, got {unroll_learning_rate!r}; "
                "set it (e.g. --unroll_learning_rate 0.01) or --unroll_steps 0."
            )
        if augment is not None and not callable(augment):
            raise TypeError(f"augment must be a callable on image batches (e.g. DiffAugment) or None, got {augment!r}.")
        if not 0.0 <= float(diversity_weight) < float("inf"):
            raise ValueError(f"diversity_weight must be a finite number >= 0 (0: off), got {diversity_weight!r}.")
        self.diversity_weight = float(diversity_weight)
        self.diversity_pool = int(diversity_pool)
        self.augment = augment
        self.unroll_steps = int(unroll_steps)
        self.unroll_learning_rate = None if unroll_learning_rate is None else float(unroll_learning_rate)
        self.unroll_optimizer = unroll_optimizer
        self.gan_loss = GANLoss("non_saturating") if gan_loss is None else gan_loss
        self.latent_dim = int(latent_dim)
        self.generator, self.discriminator = generator, discriminator
        self.generator_names, self.discriminator_names = (generator,), (discriminator,)
        self.image_key = image_key
        self.instance_noise, self.instance_noise_epochs = instance_noise, instance_noise_epochs
        self.weight_penalty = weight_penalty
        self._set_discriminator_options(logits_fn, discriminator_regularizer, regularizer_every)
        self.seed = int(seed)
        self.latent_generator = torch.Generator().manual_seed(self.seed)
        self.noise_generator = torch.Generator().manual_seed(self.seed + 1)
        self._last_logits: tuple[int, torch.Tensor, torch.Tensor] | None = None

    # -- sampling ------------------------------------------------------------------------------------------------

    def sample_latents(self, batch_size: int, like: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch_size, latent_dim)`` standard normal latents from the objective's generator (on ``like``'s
        device and dtype, drawn on the CPU so the stream does not depend on the device)."""
        z = torch.randn(batch_size, self.latent_dim, generator=self.latent_generator)
        return z if like is None else z.to(device=like.device, dtype=like.dtype)

    def noise_std(self) -> float:
        """The instance-noise standard deviation at the current iteration."""
        noise = self.instance_noise
        if callable(noise):
            return self.scheduled(noise)
        if float(noise) == 0.0:
            return 0.0
        state = self.engine_state
        if state is None:
            return float(noise)
        epochs = self.instance_noise_epochs
        if epochs is None:
            epochs = getattr(state, "max_epochs", None)
        return LinearWarmup(float(noise), 0.0, float(epochs or 1))(state)

    def _noisy(self, images: torch.Tensor) -> torch.Tensor:
        std = self.noise_std()
        if std <= 0:
            return images
        noise = torch.randn(images.shape, generator=self.noise_generator).to(device=images.device, dtype=images.dtype)
        return images + std * noise

    def discriminator_input(self, images: torch.Tensor) -> torch.Tensor:
        """What D sees of a batch, real or generated: instance noise, then the augmentation."""
        images = self._noisy(images)
        return images if self.augment is None else self.augment(images)

    def unrolled_discriminator(
        self, discriminator: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> Callable[[torch.Tensor], Any]:
        """D after ``unroll_steps`` look-ahead gradient steps on its adversarial loss, as a function of its input.

        The steps run on copies of D's parameters and buffers (``torch.func.functional_call``), so D itself, its
        optimizer and its spectral-norm power iterations are untouched; ``fake`` keeps G's graph and the steps
        keep theirs (``create_graph``), so G's gradient includes how D's answer depends on G (Metz et al. 2017).
        """
        params = {name: p.detach().requires_grad_(True) for name, p in discriminator.named_parameters()}
        buffers = {name: b.clone() for name, b in discriminator.named_buffers()}
        names = list(params)
        originals = [p for _, p in discriminator.named_parameters()]
        optimizer = self._discriminator_optimizer(originals) if self.unroll_optimizer == "adam" else None
        moments: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for step in range(self.unroll_steps):
            state = {**params, **buffers}
            real_logits = functional_call(discriminator, state, (self.discriminator_input(real),))
            fake_logits = functional_call(discriminator, state, (self.discriminator_input(fake),))
            loss = self.gan_loss.discriminator_loss(self.logits(real_logits), self.logits(fake_logits))
            grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=True, allow_unused=True)
            if optimizer is not None:
                params = adam_lookahead(params, grads, originals, optimizer, moments, step)
                continue
            params = {
                n: params[n] if g is None else params[n] - self.unroll_learning_rate * g for n, g in zip(names, grads)
            }
        state = {**params, **buffers}
        return lambda x: functional_call(discriminator, state, (x,))

    def _discriminator_optimizer(self, parameters: Sequence[torch.nn.Parameter]) -> torch.optim.Optimizer:
        """The trainer's optimizer holding D's parameters (``engine.state.d_optimizers``), for the Adam look-ahead."""
        state = self.engine_state
        optimizers = dict(getattr(state, "d_optimizers", None) or {}) if state is not None else {}
        wanted = {id(p) for p in parameters}
        for optimizer in optimizers.values():
            if any(id(p) in wanted for g in optimizer.param_groups for p in g["params"]):
                return _plain_adam(optimizer)
        raise RuntimeError(
            "unroll_optimizer='adam' takes D's own optimizer from the trainer (engine.state.d_optimizers), but the "
            "objective is not attached to a trainer whose d_optimizers hold D; attach it, or use "
            "unroll_optimizer='sgd'."
        )

    # -- the model's maths ---------------------------------------------------------------------------------------

    def generate(self, networks, batch):
        if self.image_key not in batch:
            raise KeyError(f"the batch has no {self.image_key!r} (it holds {sorted(map(str, batch))}); set image_key.")
        real = batch[self.image_key]
        z = self.sample_latents(real.shape[0], like=real)
        fake = networks[self.generator](z)
        if fake.shape[1:] != real.shape[1:]:
            raise ValueError(
                f"the generator makes images of shape {tuple(fake.shape[1:])}, the real ones are "
                f"{tuple(real.shape[1:])}; "
                "set the generator's image_size and out_channels to the data's (or resize the data, e.g. image_size)."
            )
        return {CommonKeys.IMAGE: real, CommonKeys.LABEL: real, CommonKeys.PRED: fake, LatentKeys.LATENT: z}

    def generator_loss(self, networks, batch, outputs):
        discriminator = networks[self.discriminator]
        fake = outputs[CommonKeys.PRED]
        if self.unroll_steps:
            discriminator = self.unrolled_discriminator(discriminator, outputs[CommonKeys.IMAGE], fake)
        logits = self.logits(discriminator(self.discriminator_input(fake)))
        adversarial = self.gan_loss.generator_loss(logits)
        terms = {GenerativeKeys.TOTAL: adversarial, "adversarial": adversarial}
        if self.diversity_weight and fake.shape[0] >= 2:
            shortfall = diversity_shortfall(fake, outputs[CommonKeys.IMAGE], self.diversity_pool)
            terms["diversity_shortfall"] = shortfall
            terms[GenerativeKeys.TOTAL] = adversarial + self.diversity_weight * shortfall
        return terms

    def discriminator_loss(self, networks, batch, outputs):
        discriminator = networks[self.discriminator]
        real_x = self.discriminator_input(outputs[CommonKeys.IMAGE])
        fake_x = self.discriminator_input(outputs[CommonKeys.PRED])
        real, fake = discriminator(real_x), discriminator(fake_x)
        adversarial = self.gan_loss.discriminator_loss(self.logits(real), self.logits(fake))
        terms = {
            GenerativeKeys.TOTAL: adversarial,
            "adversarial": adversarial,
            "real_logit": self.mean_logit(real),
            "fake_logit": self.mean_logit(fake),
        }
        weight = self.scheduled(self.weight_penalty)
        if weight:
            penalty = sum(p.pow(2).sum() for p in discriminator.parameters() if p.requires_grad and p.dim() > 1)
            terms["weight_penalty"] = penalty
            terms[GenerativeKeys.TOTAL] = terms[GenerativeKeys.TOTAL] + weight * penalty
        self.regularize(terms, discriminator, real_x, fake_x)
        state = self.engine_state
        iteration = int(state.iteration) if state is not None else -1
        self._last_logits = (iteration, self._detached_logits(real), self._detached_logits(fake))
        return terms

    def _detached_logits(self, output: Any) -> torch.Tensor:
        logits = self.logits(output) if self.logits_fn is not None else output
        if isinstance(logits, (list, tuple)):
            return torch.cat([x.detach().float().flatten() for x in logits])
        return logits.detach().float().flatten()

    def monitor_logits(self, output: Any = None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(real_logits, fake_logits)`` per sample of this iteration's discriminator step, or ``None`` if D did not
        step in it: an ``output_transform`` for :class:`~monai_genmed.handlers.GANMonitor`
        (``"output_transform": "$@objective.monitor_logits"``); ``output`` is ignored."""
        if self._last_logits is None:
            return None
        iteration, real, fake = self._last_logits
        state = self.engine_state
        if state is not None and iteration != int(state.iteration):
            return None
        return real, fake

    # -- state -----------------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The states of the latent and instance-noise generators, and the augmentation's (when it has one)."""
        state = {
            "latent_generator": self.latent_generator.get_state(),
            "noise_generator": self.noise_generator.get_state(),
        }
        if hasattr(self.augment, "state_dict"):
            state["augment"] = self.augment.state_dict()
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.latent_generator.set_state(torch.as_tensor(state_dict["latent_generator"]).cpu())
        self.noise_generator.set_state(torch.as_tensor(state_dict["noise_generator"]).cpu())
        if hasattr(self.augment, "load_state_dict"):
            if "augment" not in state_dict:
                raise ValueError(
                    "the checkpoint holds no augmentation state, but this run augments D's inputs; resume with the "
                    "settings of the run that wrote it (the augmentation off), or start a new run."
                )
            self.augment.load_state_dict(state_dict["augment"])
