"""Weights that follow the training progress: callables of the engine state, for losses and objectives.

A weight of a :class:`~monai_genmed.losses.WeightedLossSum` term, or of an objective
(:meth:`~monai_genmed.engines.AdversarialObjective.scheduled`), may be a number or a function of
``engine.state``; the classes here are such functions, written in JSON configs. KL warm-up (Bowman et al. 2016,
https://arxiv.org/abs/1511.06349, section 3.1; Sønderby et al. 2016, https://arxiv.org/abs/1602.02282) raises
the KL weight of a VAE linearly from 0 to 1, so the decoder learns to use the code before the prior pulls the
posteriors together; annealed instance noise (Sønderby et al. 2017, https://arxiv.org/abs/1610.04490) lowers a
noise level to 0.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LinearWarmup", "training_progress"]


def training_progress(state: Any) -> float:
    """Epochs completed so far, with fractions, at the iteration being run: 0 at the first iteration.

    Uses ``state.iteration`` and ``state.epoch_length`` (Ignite's state, so the value changes within an epoch);
    a state without an epoch length counts whole epochs (``state.epoch - 1``). A plain number is returned as it is.
    """
    if isinstance(state, (int, float)):
        return float(state)
    iteration, epoch_length = getattr(state, "iteration", None), getattr(state, "epoch_length", None)
    if iteration is not None and epoch_length:
        return max(0.0, (int(iteration) - 1) / float(epoch_length))
    epoch = getattr(state, "epoch", None)
    if epoch is None:
        raise TypeError(
            f"a schedule needs an engine state with iteration/epoch_length or epoch, got {type(state).__name__}."
        )
    return max(0.0, float(epoch) - 1.0)


class LinearWarmup:
    """``start`` until ``delay`` epochs, then linear to ``end`` over ``epochs`` epochs, then ``end``.

    Progress is counted in epochs with fractions (:func:`training_progress`), so the value moves every
    iteration, and a resumed run (whose state holds the iteration) continues the schedule exactly. ``end`` may be
    below ``start``: ``LinearWarmup(0.1, 0.0, 10)`` anneals a noise level to 0 over ten epochs.

    Args:
        start: value at the first iteration.
        end: value after ``delay + epochs`` epochs.
        epochs: length of the ramp in epochs (0: a step from ``start`` to ``end`` at ``delay``).
        delay: epochs at ``start`` before the ramp begins.

    Example (a config's KL weight: beta rises from 0 to 1 over the first 5 epochs)::

        "kl_weight": {"_target_": "monai_genmed.losses.LinearWarmup", "start": 0.0, "end": 1.0, "epochs": 5}
    """

    def __init__(self, start: float = 0.0, end: float = 1.0, epochs: float = 1.0, delay: float = 0.0) -> None:
        if epochs < 0 or delay < 0:
            raise ValueError(f"epochs and delay must be >= 0, got {epochs} and {delay}.")
        self.start, self.end, self.epochs, self.delay = float(start), float(end), float(epochs), float(delay)

    def __call__(self, state: Any) -> float:
        """The value at ``state`` (an engine state, or a progress in epochs)."""
        progress = training_progress(state) - self.delay
        if progress < 0:
            return self.start
        if self.epochs == 0 or progress >= self.epochs:
            return self.end
        return self.start + (self.end - self.start) * progress / self.epochs

    def __repr__(self) -> str:
        return f"LinearWarmup(start={self.start:g}, end={self.end:g}, epochs={self.epochs:g}, delay={self.delay:g})"
