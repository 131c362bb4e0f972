"""Learning-rate schedules of generative models, as ``torch.optim.lr_scheduler`` classes (like ``monai.optimizers``)."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["LinearDecayLR"]


class LinearDecayLR(LambdaLR):
    """Constant learning rate, then linear decay to zero: CycleGAN's schedule ("linear" ``lr_policy``).

    Zhu et al. 2017, https://arxiv.org/abs/1703.10593, section 4: "keep the same learning rate for the first 100
    epochs and linearly decay the rate to zero over the next 100 epochs" (``total_epochs=200``). The factor on
    the initial learning rate for epoch ``e`` (counted from 0) is

        ``1 - max(0, e + 1 - decay_start_epoch) / (total_epochs - decay_start_epoch + 1)``

    as in CycleGAN's code: 1 for the first ``decay_start_epoch`` epochs, then ``k / (n + 1)`` for the ``n``
    decay epochs, ``k = n, ..., 1``, and 0 from epoch ``total_epochs`` on. Call :meth:`step` once per epoch,
    after the epoch. ``state_dict`` / ``load_state_dict`` carry the epoch count (and the schedule's two lengths),
    so a resumed run continues the schedule where it stopped.

    Args:
        optimizer: the wrapped optimizer.
        total_epochs: epochs of the whole schedule; the rate reaches 0 here.
        decay_start_epoch: epochs at the initial rate before the decay starts; default ``total_epochs // 2``.
        last_epoch: the index of the last epoch when resuming without a state dict (-1 to start afresh).

    Example::

        scheduler = LinearDecayLR(optimizer, total_epochs=200)  # 100 epochs at lr, then 100 decaying ones
        for epoch in range(200):
            train_one_epoch()
            scheduler.step()
    """

    def __init__(
        self, optimizer: Optimizer, total_epochs: int, decay_start_epoch: int | None = None, last_epoch: int = -1
    ) -> None:
        if isinstance(total_epochs, bool) or not isinstance(total_epochs, int) or total_epochs < 1:
            raise ValueError(f"total_epochs must be an integer >= 1, got {total_epochs!r}.")
        start = total_epochs // 2 if decay_start_epoch is None else decay_start_epoch
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= total_epochs:
            raise ValueError(
                f"decay_start_epoch must be an integer in [0, total_epochs={total_epochs}], got {decay_start_epoch!r}."
            )
        self.total_epochs = total_epochs
        self.decay_start_epoch = start
        super().__init__(optimizer, self.factor, last_epoch)

    def factor(self, epoch: int) -> float:
        """The factor on the initial learning rate at ``epoch`` (counted from 0)."""
        decay_epochs = self.total_epochs - self.decay_start_epoch
        return max(0.0, 1.0 - max(0, epoch + 1 - self.decay_start_epoch) / (decay_epochs + 1))
