"""Training objectives: the model-specific maths that the generic adversarial trainer runs.

An objective says how generators turn a batch into outputs (:meth:`~AdversarialObjective.generate`) and how
each optimisation step's loss is computed from them (``generator_loss``, ``discriminator_loss``, or any method
a :class:`~monai_genmed.engines.StepGroup` names); the trainer owns the schedule, optimizers, mixed precision
and events. Networks reach an objective by name through ``networks`` (the trainer's dictionary), never through
imports, so one trainer serves DAGAN, pix2pix-style paired models, CycleGAN, autoencoders, VAEs and plain GANs.

What an objective sees and holds besides the batch:

- the engine state: the trainer calls :meth:`~AdversarialObjective.attach`, after which
  :attr:`~AdversarialObjective.engine_state` is the live ``engine.state`` (``epoch``, ``iteration``,
  ``max_epochs``, ``epoch_length``, and ``step_group`` while a step runs), so a loss can follow the schedule
  (adversarial warm-up, KL annealing, a term that starts later); weights given as callables of the state are
  evaluated through :meth:`~AdversarialObjective.scheduled`;
- its own state (an image pool, an EMA copy of a generator): an objective that overrides ``state_dict`` /
  ``load_state_dict`` is saved with the run under the checkpoint key ``"objective"`` and restored on resume;
  one that does not (the default) adds nothing to checkpoints.
"""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from ignite.engine import Engine, State
from monai.utils import CommonKeys, StrEnum

from monai_genmed.losses import GANLoss
from monai_genmed.utils.enums import GenerativeKeys

from .image_pool import ImagePool
from .utils import final_logits

__all__ = [
    "AdversarialObjective",
    "PairedAdversarialObjective",
    "ReconstructionObjective",
    "CycleGANObjective",
    "ObjectiveKeys",
]

Losses = dict[str, torch.Tensor]
#: a weight that is a number, or a function of the engine state (``epoch``, ``iteration``, ...) giving one
Weight = float | Callable[[State], float]
#: ``(discriminator, real, fake) -> penalty``, e.g. ``monai_genmed.losses.gradient_penalty``
Regularizer = Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor]


class ObjectiveKeys(StrEnum):
    """Output keys of the objectives besides MONAI's ``CommonKeys`` and ``GenerativeKeys``."""

    FAKE_A = "fake_a"
    FAKE_B = "fake_b"
    REC_A = "rec_a"
    REC_B = "rec_b"
    NETWORK_OUTPUT = "network_output"


class AdversarialObjective(ABC):
    """Interface between a model's losses and :class:`~monai_genmed.engines.GenerativeAdversarialTrainer`.

    Each loss method takes ``(networks, batch, outputs)`` and returns a dictionary of named scalar terms that
    must contain ``GenerativeKeys.TOTAL`` (what is back-propagated); the other terms are logged. The trainer's
    default step groups call ``generator_loss`` and ``discriminator_loss``; custom step groups may name any
    other method (``encoder_loss`` of a VAE-GAN).

    Discriminator options shared by the adversarial objectives here (set by their constructors):

    - ``logits_fn``: maps a discriminator's output to what the adversarial losses take; ``None`` passes it on
      unchanged (a tensor, or a ``PatchDiscriminator``'s list of feature maps ending with the logits, for a
      loss that accepts lists); :func:`~monai_genmed.engines.final_logits` keeps only those logits.
    - ``discriminator_regularizer``: ``(discriminator, real, fake) -> tensor`` added to the discriminator loss
      and logged as its own term: a gradient penalty (WGAN-GP, Gulrajani et al. 2017,
      https://arxiv.org/abs/1704.00028; ``monai_genmed.losses.gradient_penalty``) or R1 (Mescheder et al. 2018,
      https://arxiv.org/abs/1801.04406; ``lambda d, real, fake: r1_penalty(d, real, 10.0)``). The
      ``discriminator`` it gets returns logits (after ``logits_fn``; a list's logits summed), whatever the
      network returns.
    - ``regularizer_every``: lazy regularisation (StyleGAN2, Karras et al. 2020, https://arxiv.org/abs/1912.04958,
      section 3.1): the penalty is computed every this many iterations and multiplied by it, so its average
      strength stays the same.
    """

    #: names of the generators and discriminators this objective uses
    generator_names: tuple[str, ...] = ()
    discriminator_names: tuple[str, ...] = ()
    logits_fn: Callable[[Any], Any] | None = None
    discriminator_regularizer: Regularizer | None = None
    regularizer_every: int = 1
    _engine: weakref.ReferenceType | None = None

    # -- what the trainer tells the objective --------------------------------------------------------------------

    def attach(self, engine: Engine) -> None:
        """Called by the trainer: from now on :attr:`engine_state` is ``engine.state``."""
        self._engine = weakref.ref(engine)  # weak: the engine owns the objective, not the other way round

    @property
    def engine_state(self) -> State | None:
        """The live state of the engine this objective is attached to (``None`` before :meth:`attach`)."""
        engine = None if self._engine is None else self._engine()
        return None if engine is None else engine.state

    def scheduled(self, weight: Weight) -> float:
        """``weight`` itself, or ``weight(engine_state)`` when it is callable (a schedule of the training progress)."""
        if callable(weight):
            if self.engine_state is None:
                raise RuntimeError(
                    f"{type(self).__name__}: a scheduled weight needs the engine state; attach it to a trainer."
                )
            return float(weight(self.engine_state))
        return float(weight)

    def check_networks(
        self, generators: Mapping[str, torch.nn.Module], discriminators: Mapping[str, torch.nn.Module]
    ) -> None:
        """Fail early, with the names, when the trainer lacks a network this objective needs."""
        missing = [n for n in self.generator_names if n not in generators]
        missing += [n for n in self.discriminator_names if n not in discriminators]
        if missing:
            raise KeyError(
                f"{type(self).__name__} needs networks {missing}; the trainer has generators {sorted(generators)} "
                f"and discriminators {sorted(discriminators)}. Name them in the config to match."
            )

    # -- state that is checkpointed with the run -----------------------------------------------------------------

    @property
    def has_state(self) -> bool:
        """Whether this objective holds state to checkpoint (it overrides :meth:`state_dict`)."""
        return type(self).state_dict is not AdversarialObjective.state_dict

    def state_dict(self) -> dict[str, Any]:
        """The objective's own state (image pools, EMA weights, ...); none by default."""
        return {}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        if state_dict:
            raise ValueError(
                f"the checkpoint holds objective state {sorted(state_dict)}, but {type(self).__name__} has none; "
                "resume with the objective of the run that wrote it."
            )

    # -- the model's maths ---------------------------------------------------------------------------------------

    @abstractmethod
    def generate(self, networks: Mapping[str, torch.nn.Module], batch: Mapping[str, Any]) -> dict[str, Any]:
        """Run the generators; returns every tensor the losses and image handlers need."""

    def generator_loss(
        self, networks: Mapping[str, torch.nn.Module], batch: Mapping[str, Any], outputs: Mapping[str, Any]
    ) -> Losses:
        """Generator loss terms (discriminators are frozen while this runs)."""
        raise NotImplementedError(f"{type(self).__name__} has no generator loss.")

    def discriminator_loss(
        self, networks: Mapping[str, torch.nn.Module], batch: Mapping[str, Any], outputs: Mapping[str, Any]
    ) -> Losses:
        """Discriminator loss terms on detached generator outputs; objectives without a discriminator need not
        override."""
        raise NotImplementedError(f"{type(self).__name__} has no discriminator loss.")

    # -- helpers for discriminators ------------------------------------------------------------------------------

    def _set_discriminator_options(
        self, logits_fn: Callable | None, regularizer: Regularizer | None, every: int
    ) -> None:
        if int(every) < 1:
            raise ValueError(f"regularizer_every must be a positive integer, got {every}.")
        self.logits_fn, self.discriminator_regularizer, self.regularizer_every = logits_fn, regularizer, int(every)

    def logits(self, output: Any) -> Any:
        """What the adversarial losses get from a discriminator output (see ``logits_fn``)."""
        return output if self.logits_fn is None else self.logits_fn(output)

    def mean_logit(self, output: Any) -> torch.Tensor:
        """Mean logit of a discriminator output, detached, for monitoring (a list's logits averaged)."""
        logits = self.logits(output) if self.logits_fn is not None else final_logits(output)
        if isinstance(logits, (list, tuple)):
            return torch.stack([x.detach().float().mean() for x in logits]).mean()
        return logits.detach().float().mean()

    def _scores(self, discriminator: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        def scores(x: torch.Tensor) -> torch.Tensor:
            output = discriminator(x)
            logits = self.logits(output) if self.logits_fn is not None else final_logits(output)
            if isinstance(logits, (list, tuple)):  # several scales: every logit counts
                return torch.stack([scale.sum() for scale in logits]).sum()
            return logits

        return scores

    def regularize(
        self,
        terms: Losses,
        discriminator: torch.nn.Module,
        real: torch.Tensor,
        fake: torch.Tensor,
        name: str = "regularizer",
    ) -> None:
        """Add ``regularizer_every * discriminator_regularizer(D, real, fake)`` to ``terms["total"]`` and log the
        penalty as ``terms[name]``, on the iterations the (lazy) regulariser is due."""
        if self.discriminator_regularizer is None:
            return
        state = self.engine_state
        if state is not None and (int(state.iteration) - 1) % self.regularizer_every != 0:
            return
        penalty = self.discriminator_regularizer(self._scores(discriminator), real, fake)
        terms[GenerativeKeys.TOTAL] = terms[GenerativeKeys.TOTAL] + self.regularizer_every * penalty
        terms[name] = penalty


def _require_keys(batch: Mapping[str, Any], keys: Sequence[str]) -> None:
    for key in keys:
        if key not in batch:
            raise KeyError(f"the batch has no {key!r} (it holds {sorted(map(str, batch))}); check the transforms.")


def _total(terms: torch.Tensor | Mapping[str, torch.Tensor], what: str) -> Losses:
    if isinstance(terms, torch.Tensor):
        return {GenerativeKeys.TOTAL: terms}
    terms = dict(terms)
    if GenerativeKeys.TOTAL not in terms:
        raise KeyError(f"the {what} must return a tensor or a dict with a 'total' term, got {sorted(terms)}.")
    return terms


class PairedAdversarialObjective(AdversarialObjective):
    """A conditional GAN on paired data: ``pred = G(input)``, D judges ``pred`` against ``target``.

    This is DAGAN's set-up (Yang et al. 2018, https://doi.org/10.1109/TMI.2017.2785879): the input is the
    zero-filled image, the target the fully sampled one; ``generator_loss`` would be a
    :class:`~monai_genmed.losses.DAGANGeneratorLoss` (pixel + frequency + perceptual + adversarial). It is also
    pix2pix's (with ``condition_discriminator=True``), the paired MR->CT baseline's, and WGAN-GP's with
    ``discriminator_regularizer=gradient_penalty`` and the trainer's ``n_critic=5``.

    Outputs: ``CommonKeys.IMAGE`` (and ``GenerativeKeys.INPUT``) the input, ``CommonKeys.LABEL`` (and
    ``GenerativeKeys.TARGET``) the target, ``CommonKeys.PRED`` the generated image, so MONAI handlers with
    ``from_engine(["pred", "label"])`` work on the trainer.

    Args:
        generator_loss: ``(pred, target, fake_logits) -> dict`` of named terms with ``"total"``.
        discriminator_loss: ``(real_logits, fake_logits) -> tensor``, e.g. ``GANLoss(...).discriminator_loss``.
        generator: name of the generator network.
        discriminator: name of the discriminator network.
        input_key: batch key of the generator input (DAGAN: ``"zero_filled"``).
        target_key: batch key of the reference image (DAGAN: ``"image"``).
        condition_discriminator: feed ``cat(input, image)`` to D instead of the image alone (pix2pix).
        extra_keys: batch keys passed to the generator as keyword arguments, e.g. ``("kspace_masked", "mask")``
            for a network with data consistency inside (as :class:`~monai_genmed.engines.PrepareBatchKeys` does).
        logits_fn, discriminator_regularizer, regularizer_every: see :class:`AdversarialObjective`; the
            regulariser gets D's inputs (concatenated with the condition for a conditional D) and logs as
            ``regularizer``.
    """

    def __init__(
        self,
        generator_loss: Callable[[torch.Tensor, torch.Tensor, Any], Mapping[str, torch.Tensor]],
        discriminator_loss: Callable[[Any, Any], torch.Tensor],
        generator: str = "generator",
        discriminator: str = "discriminator",
        input_key: str = CommonKeys.IMAGE,
        target_key: str = CommonKeys.LABEL,
        condition_discriminator: bool = False,
        logits_fn: Callable[[Any], Any] | None = None,
        discriminator_regularizer: Regularizer | None = None,
        regularizer_every: int = 1,
        extra_keys: Sequence[str] = (),
    ) -> None:
        self.g_loss, self.d_loss = generator_loss, discriminator_loss
        self.extra_keys = tuple(extra_keys)
        self.generator, self.discriminator = generator, discriminator
        self.generator_names, self.discriminator_names = (generator,), (discriminator,)
        self.input_key, self.target_key = input_key, target_key
        self.condition_discriminator = condition_discriminator
        self._set_discriminator_options(logits_fn, discriminator_regularizer, regularizer_every)

    def _discriminator_input(self, inputs: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return torch.cat([inputs, image], dim=1) if self.condition_discriminator else image

    def generate(self, networks, batch):
        _require_keys(batch, (self.input_key, self.target_key, *self.extra_keys))
        inputs, target = batch[self.input_key], batch[self.target_key]
        pred = networks[self.generator](inputs, **{k: batch[k] for k in self.extra_keys})
        return {
            GenerativeKeys.INPUT: inputs,
            GenerativeKeys.TARGET: target,
            GenerativeKeys.PRED: pred,
            CommonKeys.IMAGE: inputs,
            CommonKeys.LABEL: target,
        }

    def generator_loss(self, networks, batch, outputs):
        pred, target = outputs[GenerativeKeys.PRED], outputs[GenerativeKeys.TARGET]
        fake = networks[self.discriminator](self._discriminator_input(outputs[GenerativeKeys.INPUT], pred))
        return _total(self.g_loss(pred, target, self.logits(fake)), "generator loss")

    def discriminator_loss(self, networks, batch, outputs):
        discriminator = networks[self.discriminator]
        inputs = outputs[GenerativeKeys.INPUT]
        real_x = self._discriminator_input(inputs, outputs[GenerativeKeys.TARGET])
        fake_x = self._discriminator_input(inputs, outputs[GenerativeKeys.PRED])
        real, fake = discriminator(real_x), discriminator(fake_x)
        terms = {
            GenerativeKeys.TOTAL: self.d_loss(self.logits(real), self.logits(fake)),
            # mean logits: how far apart D holds real and generated images (convergence monitoring)
            "real_logit": self.mean_logit(real),
            "fake_logit": self.mean_logit(fake),
        }
        self.regularize(terms, discriminator, real_x, fake_x)
        return terms


class ReconstructionObjective(AdversarialObjective):
    """A generator trained on a loss alone, without a discriminator: ``pred = G(input)``, ``loss(pred, target)``.

    With the trainer's default groups and no discriminators this runs one step group: a plain autoencoder
    (``target_key=None``: the target is the input; e.g. MONAI's ``AutoEncoder``), a supervised reconstruction
    (zero-filled -> fully sampled), or a VAE (Kingma and Welling 2014, https://arxiv.org/abs/1312.6114). When the
    network returns a tuple, as MONAI's ``VarAutoEncoder`` does (reconstruction, mu, logvar, z), ``pred`` is its
    first element and the rest follows the target into the loss: ``loss(pred, target, mu, logvar, z)``; the whole
    tuple is in the outputs under ``ObjectiveKeys.NETWORK_OUTPUT``.

    Args:
        loss: ``(pred, target, *extra) -> tensor``, or a dict of named terms with ``"total"``.
        generator: name of the network.
        input_key: batch key of the network input.
        target_key: batch key of the target; ``None`` reconstructs the input.
        extra_keys: batch keys passed to the network as keyword arguments (see :class:`PairedAdversarialObjective`).
    """

    def __init__(
        self,
        loss: Callable[..., torch.Tensor | Mapping[str, torch.Tensor]],
        generator: str = "generator",
        input_key: str = CommonKeys.IMAGE,
        target_key: str | None = CommonKeys.LABEL,
        extra_keys: Sequence[str] = (),
    ) -> None:
        self.loss, self.generator = loss, generator
        self.extra_keys = tuple(extra_keys)
        self.generator_names = (generator,)
        self.input_key, self.target_key = input_key, target_key

    def generate(self, networks, batch):
        _require_keys(batch, [k for k in (self.input_key, self.target_key, *self.extra_keys) if k is not None])
        inputs = batch[self.input_key]
        target = inputs if self.target_key is None else batch[self.target_key]
        output = networks[self.generator](inputs, **{k: batch[k] for k in self.extra_keys})
        outputs = {CommonKeys.IMAGE: inputs, CommonKeys.LABEL: target}
        if isinstance(output, (list, tuple)):
            outputs[ObjectiveKeys.NETWORK_OUTPUT] = output
            output = output[0]
        outputs[CommonKeys.PRED] = output
        return outputs

    def generator_loss(self, networks, batch, outputs):
        extra = tuple(outputs.get(ObjectiveKeys.NETWORK_OUTPUT, (None,)))[1:]
        return _total(self.loss(outputs[CommonKeys.PRED], outputs[CommonKeys.LABEL], *extra), "loss")


class CycleGANObjective(AdversarialObjective):
    """CycleGAN on unpaired images of two domains A and B (e.g. MR and CT).

    Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV 2017
    (https://arxiv.org/abs/1703.10593); for MR->CT synthesis, Wolterink et al., "Deep MR to CT Synthesis using
    Unpaired Data", SASHIMI 2017 (https://arxiv.org/abs/1708.01155). Generators ``g_ab: A -> B`` and
    ``g_ba: B -> A``; discriminator ``d_b`` judges domain B (real B against ``g_ab``'s fakes), ``d_a`` domain A.

    Generator loss (terms are named by domain)::

        adversarial_b = adv(d_b(g_ab(a)))              adversarial_a = adv(d_a(g_ba(b)))
        cycle_a = |g_ba(g_ab(a)) - a|_1                cycle_b = |g_ab(g_ba(b)) - b|_1
        identity_b = |g_ab(b) - b|_1                   identity_a = |g_ba(a) - a|_1   (only if lambda_identity > 0)
        total = adversarial_weight * (adversarial_a + adversarial_b) + lambda_cycle * (cycle_a + cycle_b)
                + lambda_identity * (identity_a + identity_b)

    Discriminator loss: ``adversarial_b = adv.discriminator_loss(d_b(b), d_b(pool_b.query(fake_b)))``, the same
    for A, ``total`` their sum: each discriminator sees fakes from its own :class:`ImagePool` of 50 (Zhu et al.,
    section 4; both pools are the objective's checkpointed state).

    The paper's weights: ``lambda_cycle = 10``; the identity term (used for photo<->painting, section 5.2) is
    weighted ``0.5 * lambda_cycle = 5`` in the reference code when enabled; it needs as many channels in both
    domains. ``GANLoss("least_squares")`` is Mao et al.'s LSGAN with its factor 0.5: the discriminator loss is
    the reference code's, the generator's adversarial term half of its MSE (``adversarial_weight=2`` matches it).
    Any weight may be a function of the engine state (e.g. ``lambda s: 10.0 if s.epoch > 5 else 0.0``).

    Outputs: ``fake_b``, ``fake_a``, ``rec_a``, ``rec_b`` (:class:`ObjectiveKeys`), and ``CommonKeys.IMAGE``
    = real A, ``PRED`` = fake B, ``LABEL`` = real B. With unpaired data ``LABEL`` is *not* the ground truth of
    ``IMAGE``: a metric of ``pred`` against ``label`` is meaningless unless the data happen to be paired.

    Args:
        g_ab: name of the A -> B generator (MR->CT: e.g. ``"syn_ct"``).
        g_ba: name of the B -> A generator (``"syn_mr"``).
        d_a: name of domain A's discriminator (``"dis_mr"``).
        d_b: name of domain B's discriminator (``"dis_ct"``).
        key_a: batch key of domain A images (``"mr"``).
        key_b: batch key of domain B images (``"ct"``).
        adversarial_loss: an object with ``generator_loss(fake_logits)`` and
            ``discriminator_loss(real_logits, fake_logits)``; default ``GANLoss("least_squares")``.
        lambda_cycle: weight of the cycle-consistency terms.
        lambda_identity: weight of the identity terms (0 skips them).
        adversarial_weight: weight of the generators' adversarial terms.
        pool_size: images per discriminator's pool (0: the newest fakes only).
        seed: seed of the pools (domain A's pool uses ``seed``, B's ``seed + 1``).
        logits_fn, discriminator_regularizer, regularizer_every: see :class:`AdversarialObjective`; penalties
            are logged as ``regularizer_a`` and ``regularizer_b``.
    """

    def __init__(
        self,
        g_ab: str = "g_ab",
        g_ba: str = "g_ba",
        d_a: str = "d_a",
        d_b: str = "d_b",
        key_a: str = "a",
        key_b: str = "b",
        adversarial_loss: Any | None = None,
        lambda_cycle: Weight = 10.0,
        lambda_identity: Weight = 0.0,
        adversarial_weight: Weight = 1.0,
        pool_size: int = 50,
        seed: int = 0,
        logits_fn: Callable[[Any], Any] | None = None,
        discriminator_regularizer: Regularizer | None = None,
        regularizer_every: int = 1,
    ) -> None:
        names = [g_ab, g_ba, d_a, d_b]
        if len(set(names)) != 4:
            raise ValueError(f"CycleGAN needs four distinct network names, got g_ab, g_ba, d_a, d_b = {names}.")
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b
        self.generator_names, self.discriminator_names = (g_ab, g_ba), (d_a, d_b)
        self.key_a, self.key_b = key_a, key_b
        self.adversarial_loss = GANLoss("least_squares") if adversarial_loss is None else adversarial_loss
        self.lambda_cycle, self.lambda_identity = lambda_cycle, lambda_identity
        self.adversarial_weight = adversarial_weight
        self.pool_a, self.pool_b = ImagePool(pool_size, seed=seed), ImagePool(pool_size, seed=seed + 1)
        self._set_discriminator_options(logits_fn, discriminator_regularizer, regularizer_every)

    def generate(self, networks, batch):
        _require_keys(batch, (self.key_a, self.key_b))
        real_a, real_b = batch[self.key_a], batch[self.key_b]
        fake_b, fake_a = networks[self.g_ab](real_a), networks[self.g_ba](real_b)
        return {
            ObjectiveKeys.FAKE_B: fake_b,
            ObjectiveKeys.FAKE_A: fake_a,
            ObjectiveKeys.REC_A: networks[self.g_ba](fake_b),
            ObjectiveKeys.REC_B: networks[self.g_ab](fake_a),
            CommonKeys.IMAGE: real_a,
            CommonKeys.PRED: fake_b,
            CommonKeys.LABEL: real_b,
        }

    def generator_loss(self, networks, batch, outputs):
        real_a, real_b = batch[self.key_a], batch[self.key_b]
        adv = self.adversarial_loss
        terms: Losses = {
            "adversarial_b": adv.generator_loss(self.logits(networks[self.d_b](outputs[ObjectiveKeys.FAKE_B]))),
            "adversarial_a": adv.generator_loss(self.logits(networks[self.d_a](outputs[ObjectiveKeys.FAKE_A]))),
            "cycle_a": (outputs[ObjectiveKeys.REC_A] - real_a).abs().mean(),
            "cycle_b": (outputs[ObjectiveKeys.REC_B] - real_b).abs().mean(),
        }
        total = self.scheduled(self.adversarial_weight) * (terms["adversarial_a"] + terms["adversarial_b"])
        total = total + self.scheduled(self.lambda_cycle) * (terms["cycle_a"] + terms["cycle_b"])
        lambda_identity = self.scheduled(self.lambda_identity)
        if lambda_identity:
            if real_a.shape[1] != real_b.shape[1]:
                raise ValueError(
                    f"the identity term feeds B images to g_ab and A images to g_ba, so both domains need as many "
                    f"channels; got {real_a.shape[1]} ({self.key_a}) and {real_b.shape[1]} ({self.key_b}). Set "
                    "lambda_identity=0."
                )
            terms["identity_b"] = (networks[self.g_ab](real_b) - real_b).abs().mean()
            terms["identity_a"] = (networks[self.g_ba](real_a) - real_a).abs().mean()
            total = total + lambda_identity * (terms["identity_a"] + terms["identity_b"])
        terms[GenerativeKeys.TOTAL] = total
        return terms

    def discriminator_loss(self, networks, batch, outputs):
        terms: Losses = {}
        total = None
        for domain, name, real, fake, pool in (
            ("a", self.d_a, batch[self.key_a], outputs[ObjectiveKeys.FAKE_A], self.pool_a),
            ("b", self.d_b, batch[self.key_b], outputs[ObjectiveKeys.FAKE_B], self.pool_b),
        ):
            fake = pool.query(fake)
            discriminator = networks[name]
            loss = self.adversarial_loss.discriminator_loss(
                self.logits(discriminator(real)), self.logits(discriminator(fake))
            )
            part = {GenerativeKeys.TOTAL: loss}
            self.regularize(part, discriminator, real, fake, name=f"regularizer_{domain}")
            terms[f"adversarial_{domain}"] = loss
            terms.update({k: v for k, v in part.items() if k != GenerativeKeys.TOTAL})
            total = part[GenerativeKeys.TOTAL] if total is None else total + part[GenerativeKeys.TOTAL]
        terms[GenerativeKeys.TOTAL] = total
        return terms

    def state_dict(self) -> dict[str, Any]:
        """Both discriminators' image pools."""
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.pool_a.load_state_dict(state_dict["pool_a"])
        self.pool_b.load_state_dict(state_dict["pool_b"])
