"""Monitoring of GAN training: discriminator accuracy, D(x) and D(G(z)), generator gradients, FD and diversity.

A GAN's losses say little about progress: both players' losses oscillate while samples improve or collapse.
:class:`GANMonitor` logs what does say something, every ``log_every`` iterations and per epoch:

- the discriminator's accuracy on real and on generated images, and the mean D(x) and D(G(z)). An accuracy
  near 100 % means the generator gets vanishing feedback; one that has sat at 50 % for long means D no longer
  tells real from fake, so its feedback is noise: training further then tends to degrade samples (stop
  criterion (a); Goodfellow, NIPS 2016 tutorial, https://arxiv.org/abs/1701.00160, section 3, on the
  non-convergence of the game);
- the generator's gradient norm (exploding or vanishing gradients);
- once per epoch, on one fixed seeded batch of latents: the Fréchet distance to real images
  (:class:`~monai_genmed.metrics.FrechetDistance`) and the MS-SSIM diversity
  (:func:`~monai_genmed.metrics.ms_ssim_diversity`, beside that of the real images); training stops when FD has
  not improved for ``fd_patience`` epochs (stop criterion (b)).
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from ignite.engine import Engine, Events
from monai.utils import StrEnum, look_up_option

from monai_genmed.losses import GANLossMode
from monai_genmed.metrics.generative import FrechetDistance, ms_ssim_diversity
from monai_genmed.utils.enums import GenerativeKeys

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

__all__ = ["GANMonitor", "GANMonitorKeys", "discriminator_logits"]

logger = logging.getLogger(__name__)

#: a module, its parameters, or ``engine -> parameters``
GeneratorParameters = torch.nn.Module | Iterable[torch.nn.Parameter] | Callable[[Engine], Iterable[torch.nn.Parameter]]

# score-based critics: D's output is a score, not a logit (no sigmoid), and a sample counts as judged real
# when its score is positive
_SCORE_MODES = (GANLossMode.WASSERSTEIN, GANLossMode.HINGE)


class GANMonitorKeys(StrEnum):
    """Names of what :class:`GANMonitor` writes to ``engine.state.metrics`` and TensorBoard."""

    D_ACCURACY = "gan_d_accuracy"
    D_ACCURACY_REAL = "gan_d_accuracy_real"
    D_ACCURACY_FAKE = "gan_d_accuracy_fake"
    D_REAL = "gan_d_real"
    D_FAKE = "gan_d_fake"
    G_GRAD_NORM = "gan_g_grad_norm"
    FD = "gan_fd"
    DIVERSITY = "gan_diversity"
    DIVERSITY_REAL = "gan_diversity_real"
    CPU_SECONDS = "gan_cpu_seconds"
    WALL_SECONDS = "gan_wall_seconds"


_ITERATION_KEYS = (
    GANMonitorKeys.D_ACCURACY,
    GANMonitorKeys.D_ACCURACY_REAL,
    GANMonitorKeys.D_ACCURACY_FAKE,
    GANMonitorKeys.D_REAL,
    GANMonitorKeys.D_FAKE,
    GANMonitorKeys.G_GRAD_NORM,
)
_EPOCH_KEYS = (*_ITERATION_KEYS, GANMonitorKeys.FD, GANMonitorKeys.DIVERSITY, GANMonitorKeys.DIVERSITY_REAL,
               GANMonitorKeys.CPU_SECONDS, GANMonitorKeys.WALL_SECONDS)  # fmt: skip


def discriminator_logits(
    output: Any, real_term: str = "d_real_logit", fake_term: str = "d_fake_logit"
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The discriminator's real and fake logits in a trainer output, or ``None`` if D did not run.

    Per-sample logits (``output["real_logits"]``, ``output["fake_logits"]``: ``GenerativeKeys.REAL_LOGITS`` and
    ``FAKE_LOGITS``) are preferred; otherwise the mean logits the objectives log as loss terms
    (``output["losses"]["d_real_logit"]`` and ``["d_fake_logit"]``).

    Args:
        output: ``engine.state.output`` of the generative trainer.
        real_term: name of the mean real logit in ``output["losses"]``.
        fake_term: name of the mean fake logit there.
    """
    if not isinstance(output, Mapping):
        return None
    real, fake = output.get(GenerativeKeys.REAL_LOGITS), output.get(GenerativeKeys.FAKE_LOGITS)
    if real is not None and fake is not None:
        return torch.as_tensor(real), torch.as_tensor(fake)
    losses = output.get(GenerativeKeys.LOSSES)
    if isinstance(losses, Mapping) and real_term in losses and fake_term in losses:
        return torch.as_tensor(losses[real_term]), torch.as_tensor(losses[fake_term])
    return None


def _flat_logits(value: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """All logits of a tensor or a list of them (several discriminators), flattened, as float64."""
    if isinstance(value, (list, tuple)):
        return torch.cat([torch.as_tensor(v).detach().flatten() for v in value]).double().cpu()
    return torch.as_tensor(value).detach().flatten().double().cpu()


class TrainingClock:
    """Cumulative process CPU seconds (all threads) and wall seconds of a training, from :meth:`start` on."""

    def __init__(self) -> None:
        self.cpu_seconds, self.wall_seconds = 0.0, 0.0
        self._mark: tuple[float, float] | None = None

    @property
    def running(self) -> bool:
        return self._mark is not None

    def start(self) -> None:
        self._mark = (time.process_time(), time.perf_counter())

    def lap(self) -> tuple[float, float]:
        """Add the time since the last mark; returns the totals ``(cpu_seconds, wall_seconds)``."""
        cpu, wall = time.process_time(), time.perf_counter()
        self.cpu_seconds += cpu - self._mark[0]
        self.wall_seconds += wall - self._mark[1]
        self._mark = (cpu, wall)
        return self.cpu_seconds, self.wall_seconds


class GANMonitor:
    """Ignite handler that monitors a GAN's training and stops it when feedback is gone or FD stalls.

    Attach it to the trainer (``monitor.attach(trainer)``, or list it in a bundle's ``train_handlers``). Every
    iteration it reads the discriminator's logits from ``engine.state.output`` (:func:`discriminator_logits`, or
    ``output_transform``); every ``log_every`` iterations and at each epoch's end it writes the means over that
    span to ``engine.state.metrics`` (:class:`GANMonitorKeys`), the log and TensorBoard.

    Accuracy and D's outputs: :func:`discriminator_scores`.

    Stop criteria (either may be off):

    (a) ``patience_iterations``: D's accuracy, averaged over the last ``accuracy_window`` iterations, has stayed
        within ``accuracy_tolerance`` of 50 % for that many consecutive iterations;
    (b) ``fd_patience``: the epoch FD has not improved (by more than ``fd_min_delta``) for that many epochs.

    Either calls ``engine.terminate()`` with a log line that says why (:attr:`stop_reason`). In the checkpointer's
    ``extra_objects`` its counters, best FD, curves and training time travel in :meth:`state_dict`, and a run
    resumed after a stop ends at once, saying so. Each epoch also logs the training's CPU and wall seconds so far.

    Args:
        log_every: iterations per logged span; ``real_label``: the least-squares target of real samples.
        mode: the GAN objective (:class:`~monai_genmed.losses.GANLossMode`), for the threshold and D's scale.
        output_transform: ``engine.state.output -> (real_logits, fake_logits)`` or ``None`` when D did not run;
            default :func:`discriminator_logits`.
        generator_parameters: parameters whose gradient norm is logged (a module, parameters or ``engine ->
            parameters``; default all of ``engine.state.generators``), read at ``GENERATOR_BACKWARD_COMPLETED`` (the
            largest of an iteration), else at ``ITERATION_COMPLETED`` from the gradients still there.
        sample_fn: ``latents -> images`` (in the feature network's range, e.g. [0, 1]) for FD and diversity; a
            module is switched to eval mode while sampling.
        latents: the fixed latents; default ``torch.randn(latent_shape)`` from ``latent_seed``.
        latent_shape: shape of the default latents, e.g. ``(512, 128)``.
        latent_seed: seed of the default latents (their own generator; the global RNG is untouched).
        sample_batch_size: latents per ``sample_fn`` call.
        frechet_distance: the FD measure; its reference is set from ``real_images`` unless it has one already.
        real_images: real images for the FD reference and the real diversity (same count as the latents is best).
        diversity_pairs: random pairs of :func:`~monai_genmed.metrics.ms_ssim_diversity` (0: no diversity).
        accuracy_tolerance, accuracy_window: criterion (a)'s band around 50 % and the iterations it averages.
        patience_iterations: criterion (a), ``None`` to disable.
        fd_patience: criterion (b), in epochs, ``None`` to disable.
        fd_min_delta: the improvement that resets criterion (b).
        summary_writer, tag_prefix: an optional TensorBoard ``SummaryWriter`` and the prefix of its tags.
        plot_path: if given, :meth:`plot` writes the curves there when the run ends.
    """

    def __init__(
        self,
        log_every: int = 50,
        mode: str = GANLossMode.NON_SATURATING,
        real_label: float = 1.0,
        output_transform: Callable[[Any], tuple[Any, Any] | None] = discriminator_logits,
        generator_parameters: GeneratorParameters | None = None,
        sample_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        latents: torch.Tensor | None = None,
        latent_shape: Sequence[int] | None = None,
        latent_seed: int = 0,
        sample_batch_size: int = 64,
        frechet_distance: FrechetDistance | None = None,
        real_images: torch.Tensor | None = None,
        diversity_pairs: int = 256,
        accuracy_tolerance: float = 0.05,
        accuracy_window: int = 50,
        patience_iterations: int | None = None,
        fd_patience: int | None = None,
        fd_min_delta: float = 0.0,
        summary_writer: SummaryWriter | None = None,
        tag_prefix: str = "gan/",
        plot_path: str | None = None,
    ) -> None:
        if log_every < 1 or accuracy_window < 1:
            raise ValueError(f"log_every ({log_every}) and accuracy_window ({accuracy_window}) must be >= 1.")
        if patience_iterations is not None and patience_iterations < 1:
            raise ValueError(f"patience_iterations must be >= 1 or None, got {patience_iterations}.")
        if fd_patience is not None and fd_patience < 1:
            raise ValueError(f"fd_patience must be >= 1 or None, got {fd_patience}.")
        if fd_patience is not None and (sample_fn is None or frechet_distance is None):
            raise ValueError("fd_patience needs sample_fn and frechet_distance, to measure FD every epoch.")
        if sample_fn is not None and latents is None and latent_shape is None:
            raise ValueError("sample_fn needs latents or latent_shape, e.g. latent_shape=(512, 128).")
        self.log_every = int(log_every)
        self.mode = look_up_option(mode, GANLossMode)
        self.threshold = real_label / 2 if self.mode == GANLossMode.LEAST_SQUARES else 0.0
        self.output_transform = output_transform
        self.generator_parameters = generator_parameters
        self.sample_fn = sample_fn
        if latents is None and latent_shape is not None:
            latents = torch.randn(tuple(latent_shape), generator=torch.Generator().manual_seed(int(latent_seed)))
        self.latents = latents
        self.sample_batch_size = int(sample_batch_size)
        self.frechet_distance = frechet_distance
        self.real_images = real_images
        self.diversity_pairs = int(diversity_pairs)
        self.accuracy_tolerance = float(accuracy_tolerance)
        self.patience_iterations = patience_iterations
        self.fd_patience = fd_patience
        self.fd_min_delta = float(fd_min_delta)
        self.summary_writer = summary_writer
        self.tag_prefix = tag_prefix
        self.plot_path = plot_path
        self._params: list[torch.nn.Parameter] | None = None
        self._engine: Engine | None = None
        self._grad_norm_pending: float | None = None
        self._warned_no_logits = False
        self._accuracy_window: deque[float] = deque(maxlen=int(accuracy_window))
        self._span: dict[str, list[float]] = {k: [] for k in _ITERATION_KEYS}
        self._epoch: dict[str, list[float]] = {k: [] for k in _ITERATION_KEYS}
        self.balanced_iterations = 0
        self.best_fd = math.inf
        self.epochs_without_improvement = 0
        self.diversity_real: float | None = None
        self.stop_reason: str | None = None
        self._resumed_stopped = False
        self.clock = TrainingClock()  #: training time so far, carried across resumes
        #: curves for :meth:`plot`: ``"iteration"`` (span means, key -> list, with "iteration"), ``"epoch"``
        self.history: dict[str, dict[str, list[float]]] = {"iteration": {}, "epoch": {}}

    # ----------------------------------------------------------------------------------------------- wiring
    def attach(self, engine: Engine) -> None:
        """Subscribe to the trainer's events (the gradient norm to ``GENERATOR_BACKWARD_COMPLETED`` if the
        engine has it, else read at ``ITERATION_COMPLETED`` from the gradients still present)."""
        self._engine = engine
        engine.add_event_handler(Events.STARTED, self._started)
        engine.add_event_handler(Events.EPOCH_STARTED, self._epoch_started)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._iteration_completed)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._epoch_completed)
        engine.add_event_handler(Events.COMPLETED, self._completed)
        self._grad_event = generator_backward_event(engine)
        if self._grad_event is not None:
            engine.add_event_handler(self._grad_event, self._generator_backward)

    def _parameters(self, engine: Engine) -> list[torch.nn.Parameter]:
        if self._params is None:
            self._params = generator_parameters_of(self.generator_parameters, engine)
        return self._params

    # ----------------------------------------------------------------------------------------------- events
    def _started(self, engine: Engine) -> None:
        self.clock.start()
        if self.frechet_distance is not None and self.frechet_distance.reference_features is None:
            if self.real_images is None:
                raise ValueError(
                    "GANMonitor: the FrechetDistance has no reference; pass real_images=<real slices> or call "
                    "frechet_distance.set_reference(real_slices) first."
                )
            self.frechet_distance.set_reference(self.real_images)
        if (
            self.sample_fn is not None
            and self.real_images is not None
            and self.diversity_real is None
            and self.diversity_pairs > 0
        ):
            self.diversity_real = ms_ssim_diversity(self.real_images, num_pairs=self.diversity_pairs)

    def _epoch_started(self, engine: Engine) -> None:
        if self._resumed_stopped:
            self._resumed_stopped = False
            logger.warning(
                f"GANMonitor: the resumed run had stopped ({self.stop_reason}); not training further. Raise the "
                "patience to continue it, or delete the checkpoints to start afresh."
            )
            engine.terminate()

    def _generator_backward(self, engine: Engine) -> None:
        norm = gradient_norm(self._parameters(engine), engine)
        if norm is not None:
            self._grad_norm_pending = norm if self._grad_norm_pending is None else max(self._grad_norm_pending, norm)

    def _iteration_completed(self, engine: Engine) -> None:
        values: dict[str, float] = {}
        logits = self.output_transform(engine.state.output)
        if logits is not None:
            values.update(discriminator_scores(*logits, mode=self.mode, threshold=self.threshold))
        elif not self._warned_no_logits and engine.state.iteration >= self.log_every:
            self._warned_no_logits = True
            logger.warning(
                "GANMonitor: the trainer output carries no discriminator logits (neither 'real_logits'/'fake_logits' "
                "nor losses 'd_real_logit'/'d_fake_logit'); pass output_transform= to say where they are."
            )
        norm = self._grad_norm_pending
        self._grad_norm_pending = None
        if norm is None and self._grad_event is None:
            norm = gradient_norm(
                self._parameters(engine), engine
            )  # fallback: the gradients the generator step left behind
        if norm is not None:
            values[GANMonitorKeys.G_GRAD_NORM] = norm
        for key, value in values.items():
            self._span[key].append(value)
            self._epoch[key].append(value)
        if GANMonitorKeys.D_ACCURACY in values:
            self._check_balance(engine, values[GANMonitorKeys.D_ACCURACY])
        if engine.state.iteration % self.log_every == 0:
            self._write_span(engine)

    def _check_balance(self, engine: Engine, accuracy: float) -> None:
        self._accuracy_window.append(accuracy)
        if self.patience_iterations is None or len(self._accuracy_window) < self._accuracy_window.maxlen:
            return
        window, tolerance = self._accuracy_window, self.accuracy_tolerance
        self.balanced_iterations, mean = balanced_streak(window, tolerance, self.balanced_iterations)
        if self.balanced_iterations >= self.patience_iterations and self.stop_reason is None:
            self._stop(engine, _balance_reason(tolerance, len(window), mean, self.balanced_iterations))

    def _write_span(self, engine: Engine) -> None:
        means = {k: sum(v) / len(v) for k, v in self._span.items() if v}
        self._span = {k: [] for k in _ITERATION_KEYS}
        if not means:
            return
        self._publish(engine, "iteration", _ITERATION_KEYS, means, "", f"iteration {engine.state.iteration}")

    def _publish(
        self, engine: Engine, part: str, keys: Sequence[str], means: dict[str, float], tag: str, label: str
    ) -> None:
        """``means`` into the engine's metrics, :attr:`history` (``part``), TensorBoard and the log."""
        step = engine.state.iteration if part == "iteration" else engine.state.epoch
        curves = self.history[part]
        curves.setdefault(part, []).append(float(step))
        for key in keys:
            curves.setdefault(str(key), []).append(means.get(key))
        engine.state.metrics.update(means)
        if self.summary_writer is not None:
            for key, value in means.items():
                self.summary_writer.add_scalar(f"{self.tag_prefix}{tag}{key}", value, step)
        logger.info(f"GANMonitor {label}: " + _format(means))

    def _epoch_completed(self, engine: Engine) -> None:
        means = {k: sum(v) / len(v) for k, v in self._epoch.items() if v}
        self._epoch = {k: [] for k in _ITERATION_KEYS}
        if self.sample_fn is not None:
            device = getattr(engine.state, "device", None) or "cpu"
            images = sample_images(self.sample_fn, self.latents, self.sample_batch_size, device)
            if self.frechet_distance is not None:
                means[GANMonitorKeys.FD] = float(self.frechet_distance(images))
            if self.diversity_pairs > 0:
                means[GANMonitorKeys.DIVERSITY] = ms_ssim_diversity(images, num_pairs=self.diversity_pairs)
            if self.diversity_real is not None:
                means[GANMonitorKeys.DIVERSITY_REAL] = self.diversity_real
        if self.clock.running:  # the epoch's training and this measurement, so rows compare at equal cost
            means[GANMonitorKeys.CPU_SECONDS], means[GANMonitorKeys.WALL_SECONDS] = self.clock.lap()
        name = f" ({self.frechet_distance.name})" if self.frechet_distance is not None else ""
        self._publish(engine, "epoch", _EPOCH_KEYS, means, "epoch/", f"epoch {engine.state.epoch}{name}")
        if GANMonitorKeys.FD in means:
            self._check_fd(engine, means[GANMonitorKeys.FD])

    def _check_fd(self, engine: Engine, fd: float) -> None:
        if fd < self.best_fd - self.fd_min_delta:
            self.best_fd, self.epochs_without_improvement = fd, 0
            return
        self.epochs_without_improvement += 1
        patience = self.fd_patience
        if patience is not None and self.epochs_without_improvement >= patience and self.stop_reason is None:
            self._stop(
                engine,
                f"{self.frechet_distance.name} has not improved on its best {self.best_fd:.4g} for "
                f"{self.epochs_without_improvement} epochs (now {fd:.4g})",
            )

    def _stop(self, engine: Engine, reason: str) -> None:
        self.stop_reason = f"epoch {engine.state.epoch}, iteration {engine.state.iteration}: {reason}"
        logger.warning(f"GANMonitor stops training at {self.stop_reason}.")
        engine.terminate()

    def _completed(self, engine: Engine) -> None:
        if self.plot_path is not None:
            self.plot(self.plot_path)

    # ----------------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Counters, best FD, the accuracy window and the curves (plain types: ``weights_only`` loading)."""
        return {
            "balanced_iterations": self.balanced_iterations,
            "accuracy_window": list(self._accuracy_window),
            "best_fd": self.best_fd,
            "epochs_without_improvement": self.epochs_without_improvement,
            "diversity_real": self.diversity_real,
            "stop_reason": self.stop_reason,
            "cpu_seconds": self.clock.cpu_seconds,
            "wall_seconds": self.clock.wall_seconds,
            "history": {part: {k: list(v) for k, v in curves.items()} for part, curves in self.history.items()},
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`; a run that had stopped ends at its next epoch start, with a log line."""
        self.balanced_iterations = int(state_dict["balanced_iterations"])
        self._accuracy_window.clear()
        self._accuracy_window.extend(float(a) for a in state_dict["accuracy_window"])
        self.best_fd = float(state_dict["best_fd"])
        self.epochs_without_improvement = int(state_dict["epochs_without_improvement"])
        self.diversity_real = state_dict.get("diversity_real")
        self.stop_reason = state_dict.get("stop_reason")
        self.clock.cpu_seconds = float(state_dict.get("cpu_seconds", 0.0))
        self.clock.wall_seconds = float(state_dict.get("wall_seconds", 0.0))
        self.history = {part: {k: list(v) for k, v in curves.items()} for part, curves in state_dict["history"].items()}
        self._resumed_stopped = self.stop_reason is not None

    def plot(self, path: str) -> str:
        """Write a PNG of the curves (D accuracy, D outputs, generator gradient norm, FD and diversity)."""
        from .gan_monitor_plot import plot_gan_curves

        return plot_gan_curves(self.history, path, mode=str(self.mode), tolerance=self.accuracy_tolerance)


def balanced_streak(window: Sequence[float], tolerance: float, streak: int) -> tuple[int, float]:
    """``(streak, mean)``: the mean D accuracy of ``window`` and the count of consecutive checks it lay within
    ``tolerance`` of 50 % (``streak + 1``), or 0 when it did not."""
    mean = sum(window) / len(window)
    return (streak + 1 if abs(mean - 0.5) <= tolerance else 0), mean


def _balance_reason(tolerance: float, window: int, mean: float, streak: int) -> str:
    return (
        f"discriminator accuracy within {tolerance:.0%} of 50 % (mean over {window} iterations: {mean:.1%}) for "
        f"{streak} iterations: D's feedback carries no signal any more"
    )


def _format(values: Mapping[str, float]) -> str:
    return ", ".join(f"{str(k).removeprefix('gan_')} {v:.4g}" for k, v in values.items())


def generator_backward_event(engine: Engine) -> Any:
    """The engine's ``GENERATOR_BACKWARD_COMPLETED`` event, or None where it has none."""
    try:  # the engine layer sits above handlers only for this optional event
        from monai_genmed.engines.utils import GenerativeIterationEvents
    except ImportError:
        return None
    event = getattr(GenerativeIterationEvents, "GENERATOR_BACKWARD_COMPLETED", None)
    if event is None or event not in getattr(engine, "_allowed_events", ()):
        return None
    return event


def generator_parameters_of(source: GeneratorParameters | None, engine: Engine) -> list[torch.nn.Parameter]:
    """The parameters ``source`` names (see :class:`GANMonitor`'s ``generator_parameters``) on ``engine``."""
    if source is None:
        generators = getattr(engine.state, "generators", None) or {}
        source = [p for net in generators.values() for p in net.parameters()]
    elif isinstance(source, torch.nn.Module):
        source = source.parameters()
    elif callable(source):
        source = source(engine)
    return list(source)


def gradient_norm(parameters: Sequence[torch.nn.Parameter], engine: Engine) -> float | None:
    """The L2 norm of the gradients of ``parameters`` (unscaled by the running step group's AMP scaler), or None."""
    grads = [p.grad.detach() for p in parameters if p.grad is not None]
    if not grads:
        return None
    norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.double()) for g in grads])))
    # with AMP float16 the gradients are still scaled when backward completes
    group = getattr(engine.state, "step_group", None)
    scaler = getattr(group, "scaler", None)
    if scaler is not None and scaler.is_enabled():
        norm /= float(scaler.get_scale())
    return norm


def discriminator_scores(real: torch.Tensor, fake: torch.Tensor, mode: str, threshold: float) -> dict[str, float]:
    """D's accuracy on real and generated samples and its mean outputs, as :class:`GANMonitor` reads them.

    A real sample counts as recognised when its logit is above the decision threshold, a generated one
    when below: threshold 0 for the BCE modes (``minimax``, ``non_saturating``: sigmoid 0.5) and for the
    ``hinge`` critic (its margins sit at -1 and +1), ``real_label / 2`` for ``least_squares`` (midway between its
    targets), and for a ``wasserstein`` critic, whose scores carry an arbitrary offset that drifts during training,
    the midpoint of the batch's mean real and mean generated score (with the sign instead, a critic whose scores
    all drifted above 0 would read as exactly 50 % whatever it does). D(x) and D(G(z)) are sigmoid probabilities
    for the BCE modes and the raw outputs otherwise (read a Wasserstein critic's gap, D(x) - D(G(z)), which
    estimates the Wasserstein distance). With per-sample (or per-patch) logits the accuracy is the fraction of
    correct ones in the batch; with the mean logits only, it is whether the batch's mean is on the right side
    (for a Wasserstein critic: whether the real mean is above the generated one), so only its average over many
    iterations is meaningful, and D(x) is the sigmoid of the mean logit.
    """
    real, fake = _flat_logits(real), _flat_logits(fake)
    if mode == GANLossMode.WASSERSTEIN:
        threshold = 0.5 * float(real.mean() + fake.mean())
    acc_real = float((real > threshold).double().mean())
    acc_fake = float((fake < threshold).double().mean())
    if mode in _SCORE_MODES or mode == GANLossMode.LEAST_SQUARES:
        d_real, d_fake = float(real.mean()), float(fake.mean())
    else:
        d_real, d_fake = float(torch.sigmoid(real).mean()), float(torch.sigmoid(fake).mean())
    return {
        GANMonitorKeys.D_ACCURACY: 0.5 * (acc_real + acc_fake),
        GANMonitorKeys.D_ACCURACY_REAL: acc_real,
        GANMonitorKeys.D_ACCURACY_FAKE: acc_fake,
        GANMonitorKeys.D_REAL: d_real,
        GANMonitorKeys.D_FAKE: d_fake,
    }


@torch.no_grad()
def sample_images(
    sample_fn: Callable[[torch.Tensor], torch.Tensor], latents: torch.Tensor, batch_size: int, device: Any
) -> torch.Tensor:
    """``sample_fn`` of every latent, in batches, on CPU; a module is switched to eval mode while sampling."""
    module = sample_fn if isinstance(sample_fn, torch.nn.Module) else None
    was_training = module.training if module is not None else False
    if module is not None:
        module.eval()
    try:
        chunks = [torch.as_tensor(sample_fn(z.to(device))).detach().float().cpu() for z in latents.split(batch_size)]
    finally:
        if module is not None:
            module.train(was_training)
    return torch.cat(chunks)
