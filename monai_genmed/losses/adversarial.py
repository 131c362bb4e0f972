"""GAN objectives on discriminator logits, and gradient penalties on the discriminator.

- minimax and non-saturating: Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014,
  https://arxiv.org/abs/1406.2661.
- least squares: Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017,
  https://arxiv.org/abs/1611.04076.
- Wasserstein: Arjovsky et al., "Wasserstein GAN", ICML 2017, https://arxiv.org/abs/1701.07875; gradient penalty:
  Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017, https://arxiv.org/abs/1704.00028.
- hinge: Lim and Ye, "Geometric GAN", 2017, https://arxiv.org/abs/1705.02894.
- R1 penalty: Mescheder et al., "Which Training Methods for GANs do actually Converge?", ICML 2018,
  https://arxiv.org/abs/1801.04406.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from monai.utils import LossReduction, StrEnum, look_up_option
from torch.nn.modules.loss import _Loss

from .utils import apply_reduction

__all__ = ["GANLossMode", "GANLoss", "gradient_penalty", "r1_penalty", "R1Penalty", "discriminator_regularizer"]


class GANLossMode(StrEnum):
    """The GAN objectives that :class:`GANLoss` implements."""

    MINIMAX = "minimax"
    NON_SATURATING = "non_saturating"
    LEAST_SQUARES = "least_squares"
    WASSERSTEIN = "wasserstein"
    HINGE = "hinge"


Logits = torch.Tensor | Sequence[torch.Tensor]


class GANLoss(_Loss):
    """Discriminator and generator losses of the usual GAN objectives, from raw discriminator logits.

    With ``D = sigmoid(logit)``:

    ==================  ===================================================  ==================================
    mode                discriminator loss                                   generator loss
    ==================  ===================================================  ==================================
    ``minimax``         ``BCE(real, r) + BCE(fake, 0)``                      ``-BCE(fake, 0) = log(1 - D(G(z)))``
    ``non_saturating``  ``BCE(real, r) + BCE(fake, 0)``                      ``BCE(fake, 1) = -log D(G(z))``
    ``least_squares``   ``0.5 * (real - r)^2 + 0.5 * fake^2``                ``0.5 * (fake - 1)^2``
    ``wasserstein``     ``mean(fake) - mean(real)``                          ``-mean(fake)``
    ``hinge``           ``mean(relu(1 - real)) + mean(relu(1 + fake))``      ``-mean(fake)``
    ==================  ===================================================  ==================================

    ``r`` is ``real_label`` (1 unless one-sided label smoothing is asked for: Salimans et al. 2016,
    https://arxiv.org/abs/1606.03498, use 0.9). Smoothing touches only the discriminator's real target; the
    generator's target stays 1. The minimax generator loss is the original objective, whose gradient vanishes
    when the discriminator confidently rejects fakes; the non-saturating one (Goodfellow et al. 2014, and
    DAGAN's choice) has the same fixed point and strong gradients there. The least-squares losses follow Mao et
    al.'s objective with labels a=0, b=r, c=1, including its factor 0.5 (implementations that drop it, e.g.
    pix2pix's generator, are the same up to a weight of 2). The Wasserstein critic outputs a score, not a
    logit; pair it with :func:`gradient_penalty`. The hinge loss is that of Lim and Ye, "Geometric GAN", 2017,
    https://arxiv.org/abs/1705.02894, as used by Miyato et al. 2018 (https://arxiv.org/abs/1802.05957) and
    BigGAN, on the raw scores; MONAI's ``PatchAdversarialLoss(criterion="hinge")`` differs: it applies a tanh to
    the scores first, and its generator term is ``relu(1 - tanh(fake))`` rather than ``-fake``.

    Lists. Every method also takes a list (or tuple) of logit tensors, one per discriminator, as MONAI's
    ``PatchAdversarialLoss`` does (e.g. the first output of MONAI's ``MultiScalePatchDiscriminator``): each
    discriminator's term is reduced on its own, then the terms are averaged (``"mean"``) or added (``"sum"``);
    ``"none"`` returns the list of elementwise terms. A list is *not* read as MONAI's ``PatchDiscriminator``
    output (its layers' features, the logits last): pass ``disc(x)[-1]`` for that one. Because a silent average
    over feature maps would train nonsense, a list whose tensors differ in channel count is rejected.

    ``reduction`` ("mean", "sum", "none") applies to every term; with "none" the discriminator loss is
    elementwise and needs real and fake logits of the same shape.

    Args:
        mode: one of :class:`GANLossMode`.
        real_label: discriminator target for real samples (BCE and least-squares modes).
        reduction: "mean", "sum" or "none".

    Example::

        gan = GANLoss("non_saturating")
        d_loss = gan.discriminator_loss(disc(real), disc(fake.detach()))
        g_loss = gan.generator_loss(disc(fake))
    """

    def __init__(
        self, mode: str = GANLossMode.NON_SATURATING, real_label: float = 1.0, reduction: str = LossReduction.MEAN
    ) -> None:
        super().__init__(reduction=look_up_option(reduction, LossReduction).value)
        self.mode = look_up_option(mode, GANLossMode)
        if self.mode in (GANLossMode.WASSERSTEIN, GANLossMode.HINGE) and real_label != 1.0:
            raise ValueError(
                "real_label (label smoothing) has no meaning for the Wasserstein critic or the hinge loss; "
                "leave it at 1.0."
            )
        if not 0.0 < real_label <= 1.0:
            raise ValueError(f"real_label must be in (0, 1], got {real_label}; 0.9 is the usual one-sided smoothing.")
        self.real_label = float(real_label)

    def _term(self, logits: torch.Tensor, target: float, sign: float) -> torch.Tensor:
        """Elementwise loss pushing ``logits`` towards label ``target``; ``sign`` is -1 for real, +1 for fake
        (it only matters for the score-based modes, Wasserstein and hinge)."""
        if self.mode == GANLossMode.WASSERSTEIN:
            return sign * logits
        if self.mode == GANLossMode.HINGE:
            return F.relu(1.0 + sign * logits)
        if self.mode == GANLossMode.LEAST_SQUARES:
            return 0.5 * (logits - target) ** 2
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target), reduction="none")

    def _generator_term(self, fake_logits: torch.Tensor) -> torch.Tensor:
        if self.mode == GANLossMode.MINIMAX:
            return -self._term(fake_logits, 0.0, 1.0)
        if self.mode in (GANLossMode.WASSERSTEIN, GANLossMode.HINGE):
            return -fake_logits
        return self._term(fake_logits, 1.0, -1.0)

    def _over_discriminators(
        self, logits: Logits, term: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor | list[torch.Tensor]:
        """``term`` reduced for one logit tensor; for a list, per discriminator, then averaged or summed."""
        if isinstance(logits, torch.Tensor):
            return apply_reduction(term(logits), self.reduction)
        per_discriminator = [apply_reduction(term(item), self.reduction) for item in _logit_list(logits)]
        if self.reduction == LossReduction.NONE:
            return per_discriminator
        stacked = torch.stack(per_discriminator)
        return stacked.mean() if self.reduction == LossReduction.MEAN else stacked.sum()

    def forward(
        self, logits: Logits, target_is_real: bool, for_discriminator: bool = True
    ) -> torch.Tensor | list[torch.Tensor]:
        """One term of the objective, as MONAI's ``PatchAdversarialLoss`` takes it.

        Args:
            logits: discriminator output (logits; scores for Wasserstein and hinge), or a list of them, one per
                discriminator.
            target_is_real: for the discriminator, whether ``logits`` come from real samples. The generator always
                wants its fakes taken for real, so ``for_discriminator=False`` needs ``target_is_real=True``.
            for_discriminator: discriminator term (True) or generator term (False).

        Returns:
            the reduced loss; with ``reduction="none"`` the elementwise loss (a list of them for a list input).
        """
        if not for_discriminator:
            if not target_is_real:
                raise ValueError("The generator loss treats fakes as real: call it with target_is_real=True.")
            return self.generator_loss(logits)
        if target_is_real:
            return self._over_discriminators(logits, lambda x: self._term(x, self.real_label, -1.0))
        return self._over_discriminators(logits, lambda x: self._term(x, 0.0, 1.0))

    def discriminator_loss(self, real_logits: Logits, fake_logits: Logits) -> torch.Tensor | list[torch.Tensor]:
        """Discriminator (critic) loss: the real term plus the fake term (see the class table).

        ``real_logits`` and ``fake_logits`` are both tensors or both lists with one tensor per discriminator.
        """
        real_list = None if isinstance(real_logits, torch.Tensor) else _logit_list(real_logits)
        fake_list = None if isinstance(fake_logits, torch.Tensor) else _logit_list(fake_logits)
        if (real_list is None) != (fake_list is None) or (
            real_list is not None and fake_list is not None and len(real_list) != len(fake_list)
        ):
            raise ValueError(
                "real_logits and fake_logits must both be tensors or lists of the same length (one tensor per "
                f"discriminator), got {_describe(real_logits)} and {_describe(fake_logits)}."
            )
        if self.reduction == LossReduction.NONE:
            pairs = zip(real_list, fake_list) if real_list is not None else [(real_logits, fake_logits)]
            for real, fake in pairs:
                if real.shape != fake.shape:
                    raise ValueError(
                        f"reduction='none' adds real and fake terms elementwise: shapes {tuple(real.shape)} and "
                        f"{tuple(fake.shape)} differ; use reduction='mean' or equal batches."
                    )
        real_term = self(real_logits, target_is_real=True)
        fake_term = self(fake_logits, target_is_real=False)
        if isinstance(real_term, list):
            return [r + f for r, f in zip(real_term, fake_term)]
        return real_term + fake_term

    def generator_loss(self, fake_logits: Logits) -> torch.Tensor | list[torch.Tensor]:
        """Generator loss on the discriminator's logits of generated samples (see the class table)."""
        return self._over_discriminators(fake_logits, self._generator_term)


def _logit_list(logits: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Check a list of logit tensors, one per discriminator, and return it as a list."""
    if not isinstance(logits, (list, tuple)) or not logits or not all(isinstance(x, torch.Tensor) for x in logits):
        raise TypeError(f"logits must be a tensor or a non-empty list of tensors, got {_describe(logits)}.")
    channels = {x.shape[1] for x in logits if x.dim() > 1}
    if len(channels) > 1:
        raise ValueError(
            "a list of logits holds one tensor per discriminator, all with the same channels; got "
            f"{_describe(logits)}. "
            "This looks like MONAI's PatchDiscriminator output (every layer's features, the logits last): pass "
            "disc(x)[-1] instead."
        )
    return list(logits)


def _describe(logits: object) -> str:
    if isinstance(logits, torch.Tensor):
        return f"a tensor of shape {tuple(logits.shape)}"
    if isinstance(logits, (list, tuple)):
        shapes = [tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__ for x in logits]
        return f"a {type(logits).__name__} of {shapes}"
    return type(logits).__name__


def _input_gradient_norms(discriminator: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm of d discriminator(inputs) / d inputs, kept in the graph for a second backward."""
    inputs = inputs.detach().requires_grad_(True)
    outputs = discriminator(inputs)
    (grads,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grads.flatten(1).norm(2, dim=1)


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
    reduction: str = LossReduction.MEAN,
) -> torch.Tensor:
    """WGAN-GP gradient penalty, ``weight * (||grad_x D(x)||_2 - 1)^2`` at random points between real and fake.

    Gulrajani et al. 2017 (https://arxiv.org/abs/1704.00028), their lambda = 10. Each sample gets its own
    ``epsilon ~ U[0, 1]``, ``x = epsilon * real + (1 - epsilon) * fake``. The gradient graph is kept
    (``create_graph=True``), so the penalty back-propagates into the discriminator's parameters. The paper
    warns against batch norm in the critic (the penalty is per sample); use layer or instance norm there.

    Args:
        discriminator: the critic, a callable from a batch to scores.
        real: real samples ``(B, ...)``.
        fake: generated samples, same shape (detached here: the penalty trains the critic only).
        weight: lambda.
        generator: draws epsilon; ``None`` uses torch's default generator. Pass one to leave the global
            random state untouched and get reproducible penalties.
        reduction: "mean", "sum" or "none" (per sample).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}.")
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    device = generator.device if generator is not None else real.device
    epsilon = torch.rand(shape, generator=generator, device=device).to(device=real.device, dtype=real.dtype)
    interpolated = epsilon * real.detach() + (1 - epsilon) * fake.detach()
    norms = _input_gradient_norms(discriminator, interpolated)
    return apply_reduction(weight * (norms - 1) ** 2, reduction)


def r1_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    gamma: float = 10.0,
    reduction: str = LossReduction.MEAN,
) -> torch.Tensor:
    """R1 regulariser, ``gamma / 2 * ||grad_x D(x)||^2`` on real samples (Mescheder et al. 2018,
    https://arxiv.org/abs/1801.04406; StyleGAN uses gamma = 10 at 1024 px, smaller at lower resolutions).

    Args:
        discriminator: a callable from a batch to logits.
        real: real samples ``(B, ...)``.
        gamma: the regularisation weight.
        reduction: "mean", "sum" or "none" (per sample).
    """
    norms = _input_gradient_norms(discriminator, real)
    return apply_reduction(gamma / 2 * norms**2, reduction)


class R1Penalty:
    """:func:`r1_penalty` as a discriminator regulariser ``(discriminator, real, fake) -> penalty`` of an objective
    (``discriminator_regularizer``), with ``gamma`` checked when it is built (a config's ``r1_gamma``).

    Args:
        gamma: the regularisation weight, >= 0 (Mescheder et al. 2018 use 10; StyleGAN2 at 64x64 px, 0.05-1).
    """

    def __init__(self, gamma: float = 10.0) -> None:
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0 <= float(gamma) < float("inf"):
            raise ValueError(f"r1_gamma must be a finite number >= 0, got {gamma!r}.")
        self.gamma = float(gamma)

    def __call__(
        self, discriminator: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor:
        return r1_penalty(discriminator, real, self.gamma)

    def __repr__(self) -> str:
        return f"R1Penalty(gamma={self.gamma})"


def discriminator_regularizer(
    gan_loss_name: str, gradient_penalty_weight: float = 10.0, r1_gamma: float = 0.0
) -> Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor] | None:
    """The discriminator regulariser ``(discriminator, real, fake) -> penalty`` that a GAN variant calls for.

    - ``"wasserstein_gp"`` (WGAN-GP, Gulrajani et al. 2017): :func:`gradient_penalty` with
      ``weight=gradient_penalty_weight`` (their lambda = 10), drawn from torch's default generator.
    - ``"wasserstein"`` (weight clipping, Arjovsky et al. 2017): none; the clipping is what bounds the critic.
    - any other loss: :class:`R1Penalty` when ``r1_gamma`` is non-zero, none otherwise.

    Args:
        gan_loss_name: a :class:`GANLossMode` value, or ``"wasserstein_gp"`` for WGAN-GP.
        gradient_penalty_weight: lambda of the gradient penalty.
        r1_gamma: the R1 weight; 0 switches R1 off.

    Returns:
        the regulariser (an objective's ``discriminator_regularizer``), or ``None`` for none.
    """
    if gan_loss_name == "wasserstein_gp":
        return functools.partial(gradient_penalty, weight=gradient_penalty_weight)
    if r1_gamma and gan_loss_name != "wasserstein":
        return R1Penalty(r1_gamma)
    return None
