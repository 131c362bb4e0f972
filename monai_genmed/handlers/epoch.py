"""Tell an epoch-dependent object (an unpaired dataset, a sampler) which epoch starts."""

from __future__ import annotations

from typing import Any

from ignite.engine import Engine, Events

__all__ = ["SetEpochHandler"]


class SetEpochHandler:
    """Call ``target.set_epoch(epoch)`` when each epoch starts, 0-based, as for ``DistributedSampler``.

    :class:`~monai_genmed.data.UnpairedDataset` draws its A/B partners from ``(seed, epoch)``; with this handler
    every epoch gets new partners and a resumed run redraws exactly those of the epoch it resumes at.

    Args:
        target: any object with ``set_epoch(int)``.
    """

    def __init__(self, target: Any) -> None:
        if not callable(getattr(target, "set_epoch", None)):
            raise TypeError(f"SetEpochHandler needs an object with set_epoch(epoch), got {type(target).__name__}.")
        self.target = target

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        self.target.set_epoch(engine.state.epoch - 1)
